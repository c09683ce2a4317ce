"""Raw HTTP/1.1 over TLS for tests/e2e/edge.sh: bytes the edge must refuse, sent as
given (Python's ssl, OpenSSL 3.0: an independent TLS stack, classical X25519).

  python3 edge_raw.py PORT CA send 'BYTES' [WAIT_S]
      BYTES uses Python escapes (\\r\\n ...). Sends them, reads until the edge
      closes or WAIT_S (default 10) passes. Prints the status line of the first
      response ("HTTP/1.1 400 Bad Request", or "none"), then "closed" or "open",
      then the number of responses seen.
"""
import socket
import ssl
import sys
import time


def main():
    port, ca, mode = int(sys.argv[1]), sys.argv[2], sys.argv[3]
    if mode != "send":
        print("FAIL unknown mode")
        sys.exit(1)
    data = sys.argv[4].encode().decode("unicode_escape").encode("latin-1")
    wait = float(sys.argv[5]) if len(sys.argv) > 5 else 10.0
    ctx = ssl.create_default_context(cafile=ca)
    ctx.set_alpn_protocols(["http/1.1"])
    raw = socket.create_connection(("127.0.0.1", port), timeout=10)
    s = ctx.wrap_socket(raw, server_hostname="localhost")
    s.sendall(data)
    got = b""
    closed = False
    deadline = time.time() + wait
    s.settimeout(0.2)
    while time.time() < deadline:
        try:
            b = s.recv(65536)
        except socket.timeout:
            continue
        except (ssl.SSLError, ConnectionError, OSError):
            closed = True
            break
        if not b:
            closed = True
            break
        got += b
    first = got.split(b"\r\n", 1)[0].decode("latin-1") if got else "none"
    print(first)
    print("closed" if closed else "open")
    print(got.count(b"HTTP/1.1 "))


if __name__ == "__main__":
    main()
