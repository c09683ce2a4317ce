"""A small upload origin for tests/e2e/edge*.sh (Python's http.server, HTTP/1.1 keep-alive).

POST/PUT any path: reads the body (Content-Length or chunked) in pieces, answers
200 with JSON {"bytes": N, "sha256": hex, "headers": {...}} - the bytes it received,
counted here, independently of the edge.  GET /echo-headers: the request's headers as
JSON.  GET /slow?ms=N: waits N ms before answering.  GET /sized?n=N: N bytes of 'x'
sent without Content-Length (chunked).  Prints "listening on 127.0.0.1:PORT" (or the
socket path with --unix)."""
import hashlib
import json
import os
import socket
import sys
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from socketserver import ThreadingUnixStreamServer


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *a):
        pass

    def _reply(self, code, body, ctype="application/json"):
        self.send_response(code)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _read_body(self):
        h = hashlib.sha256()
        n = 0
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            while True:
                line = self.rfile.readline(100)
                size = int(line.split(b";")[0].strip(), 16)
                if size == 0:
                    while self.rfile.readline(1000) not in (b"\r\n", b"\n", b""):
                        pass
                    break
                left = size
                while left:
                    b = self.rfile.read(min(left, 1 << 20))
                    if not b:
                        raise ConnectionError("short chunk")
                    h.update(b)
                    n += len(b)
                    left -= len(b)
                self.rfile.readline(10)
        else:
            left = int(self.headers.get("Content-Length", "0"))
            while left:
                b = self.rfile.read(min(left, 1 << 20))
                if not b:
                    raise ConnectionError("short body")
                h.update(b)
                n += len(b)
                left -= len(b)
        return n, h.hexdigest()

    def do_POST(self):
        n, digest = self._read_body()
        body = json.dumps({"bytes": n, "sha256": digest,
                           "headers": {k: v for k, v in self.headers.items()}}).encode()
        self._reply(200, body)

    do_PUT = do_POST

    def do_GET(self):
        u = urllib.parse.urlparse(self.path)
        q = urllib.parse.parse_qs(u.query)
        if u.path == "/echo-headers":
            self._reply(200, json.dumps({"path": self.path, "headers": [[k, v] for k, v in self.headers.items()]}).encode())
        elif u.path == "/slow":
            time.sleep(int(q.get("ms", ["1000"])[0]) / 1000)
            self._reply(200, b"slow\n", "text/plain")
        elif u.path == "/sized":
            n = int(q.get("n", ["0"])[0])
            self.send_response(200)
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            while n:
                k = min(n, 65536)
                self.wfile.write(b"%x\r\n" % k + b"x" * k + b"\r\n")
                n -= k
            self.wfile.write(b"0\r\n\r\n")
        else:
            self._reply(200, json.dumps({"path": self.path}).encode())


class UnixHandler(Handler):
    def address_string(self):
        return "unix"


def main():
    if len(sys.argv) > 2 and sys.argv[1] == "--unix":
        path = sys.argv[2]
        if os.path.exists(path):
            os.unlink(path)
        srv = ThreadingUnixStreamServer(path, UnixHandler)
        print("listening on %s" % path, flush=True)
    else:
        srv = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        print("listening on 127.0.0.1:%d" % srv.server_address[1], flush=True)
    srv.daemon_threads = True
    srv.serve_forever()


if __name__ == "__main__":
    main()
