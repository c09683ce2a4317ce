"""Raw TCP and byte-by-byte TLS peers for the end-to-end tests of `pqify serve`.

  python3 raw.py hold PORT N      N connections that send nothing; prints "held N",
                                  waits for a line on stdin, then reports how many
                                  the server has closed ("closed K") within 15 s.
  python3 raw.py onebyte PORT CA  a TLS 1.3 handshake (Python's ssl, OpenSSL 3.0, an
                                  independent stack) whose every byte goes out in its
                                  own TCP segment (TCP_NODELAY, one send per byte);
                                  then an echo. Prints "onebyte ok GROUPLESS-CIPHER".
Every wait is bounded; exit 1 with "FAIL ..." on anything unexpected.
"""
import select
import socket
import ssl
import sys
import time


def fail(msg):
    print("FAIL " + msg, flush=True)
    sys.exit(1)


def connect(port):
    s = socket.create_connection(("127.0.0.1", port), timeout=10)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return s


def hold(port, n):
    socks = []
    for _ in range(n):
        socks.append(connect(port))
    print(f"held {len(socks)}", flush=True)
    sys.stdin.readline()
    closed = set()
    deadline = time.time() + 15
    while len(closed) < len(socks) and time.time() < deadline:
        live = [s for s in socks if s.fileno() not in closed]
        r, _, _ = select.select(live[:1000], [], [], 0.5)
        for s in r:
            try:
                if s.recv(1) == b"":
                    closed.add(s.fileno())
            except ConnectionError:
                closed.add(s.fileno())
    print(f"closed {len(closed)}", flush=True)


def onebyte(port, ca):
    ctx = ssl.create_default_context(cafile=ca)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_3
    incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
    tls = ctx.wrap_bio(incoming, outgoing, server_hostname="localhost")
    s = connect(port)
    segments = 0

    def send_bytes():
        nonlocal segments
        data = outgoing.read()
        for i in range(len(data)):
            s.sendall(data[i:i + 1])
            segments += 1
            time.sleep(0.0005)   # one segment each, not coalesced by the sender

    deadline = time.time() + 30
    while True:
        try:
            tls.do_handshake()
            break
        except ssl.SSLWantReadError:
            send_bytes()
            if time.time() > deadline:
                fail("handshake took more than 30 s")
            chunk = s.recv(65536)
            if not chunk:
                fail("server closed during the handshake")
            incoming.write(chunk)
    send_bytes()
    tls.write(b"one byte at a time")
    send_bytes()
    got = b""
    while len(got) < 18 and time.time() < deadline:
        try:
            got += tls.read(64)
        except ssl.SSLWantReadError:
            chunk = s.recv(65536)
            if not chunk:
                break
            incoming.write(chunk)
    if got != b"one byte at a time":
        fail(f"echo came back as {got!r}")
    print(f"onebyte ok segments={segments} version={tls.version()} cipher={tls.cipher()[0]}", flush=True)


if __name__ == "__main__":
    if sys.argv[1] == "hold":
        hold(int(sys.argv[2]), int(sys.argv[3]))
    elif sys.argv[1] == "onebyte":
        onebyte(int(sys.argv[2]), sys.argv[3])
    else:
        fail("unknown mode " + sys.argv[1])
