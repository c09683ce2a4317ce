#!/usr/bin/env python3
"""The origin test_http_origin talks to: Python's http.server (an independent
HTTP/1.1 implementation) on loopback, port 0, printing `listening on HOST:PORT`.

  GET /hello          "hello", and X-Conn: the number of the TCP connection it came on
  GET /conns          how many TCP connections the server has accepted
  GET /big?n=N        N bytes of the pattern (byte i = i*7 % 251)
  GET /bye            "bye" with keep-alive fields; 0.3 s later the server closes the connection
  POST /check         reads a Content-Length or chunked body (decoded here), answers
                      "ok N" when it is N bytes of the pattern, else "bad ..."
"""
import http.server
import socketserver
import sys
import threading
import time

lock = threading.Lock()
accepted = 0


def pattern(start, n):
    return bytes(((start + i) * 7) % 251 for i in range(n))


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def setup(self):
        global accepted
        super().setup()
        with lock:
            accepted += 1
            self.conn_no = accepted

    def log_message(self, *a):
        pass

    def answer(self, body, close=False):
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("X-Conn", str(self.conn_no))
        self.end_headers()
        self.wfile.write(body)
        self.wfile.flush()
        if close:
            # a moment later, so the client has pooled the connection by then
            time.sleep(0.3)
            self.close_connection = True

    def do_GET(self):
        if self.path == "/hello":
            self.answer(b"hello")
        elif self.path == "/conns":
            self.answer(str(accepted).encode())
        elif self.path == "/bye":
            self.answer(b"bye", close=True)
        elif self.path.startswith("/big?n="):
            n = int(self.path[7:])
            self.send_response(200)
            self.send_header("Content-Length", str(n))
            self.end_headers()
            block = pattern(0, 251 * 256)   # the pattern repeats every 251 bytes
            sent = 0
            while sent < n:
                k = min(len(block), n - sent)
                self.wfile.write(block[:k])
                sent += k
        else:
            self.send_error(404)

    def read_body(self):
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            out = bytearray()
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip(), 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    return bytes(out), "chunked"
                out += self.rfile.read(size)
                if self.rfile.read(2) != b"\r\n":
                    raise ValueError("chunk without CRLF")
        n = int(self.headers.get("Content-Length", "0"))
        return self.rfile.read(n), "length"

    def do_POST(self):
        body, how = self.read_body()
        ok = body == pattern(0, len(body))
        self.answer(("ok %d %s" % (len(body), how) if ok else "bad %d" % len(body)).encode())


class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True


srv = Server(("127.0.0.1", 0), Handler)
print("listening on 127.0.0.1:%d" % srv.server_address[1], flush=True)
srv.serve_forever()
