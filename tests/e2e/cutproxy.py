#!/usr/bin/env python3
"""A TCP proxy on loopback that can cut the network between two peers.

  cutproxy.py UPSTREAM_PORT     prints "listening on 127.0.0.1:PORT", then forwards.
  SIGUSR1: blackhole: bytes in either direction are read and dropped (the peers see a
           silent network, as when a link or a firewall drops packets), new connections
           are accepted and held without an upstream.
  SIGUSR2: restore: every connection open is reset (as a NAT that lost its state does),
           and new connections are forwarded again.
Bounded: it exits after 300 s whatever happens (the test also kills it by pid).
"""
import os
import selectors
import signal
import socket
import struct
import sys
import time

up_port = int(sys.argv[1])
state = {"cut": False, "reset": False}
signal.signal(signal.SIGUSR1, lambda *_: state.update(cut=True))
signal.signal(signal.SIGUSR2, lambda *_: state.update(cut=False, reset=True))

lsn = socket.socket()
lsn.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
lsn.bind(("127.0.0.1", 0))
lsn.listen(64)
lsn.setblocking(False)
print(f"listening on 127.0.0.1:{lsn.getsockname()[1]}", flush=True)
sel = selectors.DefaultSelector()
sel.register(lsn, selectors.EVENT_READ, None)
peer = {}  # socket -> its other end (None while held in a blackhole)


def drop(s):
    other = peer.pop(s, None)
    for x in (s, other):
        if x is None:
            continue
        try:
            sel.unregister(x)
        except (KeyError, ValueError):
            pass
        try:  # SO_LINGER 0: close sends a RST
            x.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        except OSError:
            pass
        x.close()
        peer.pop(x, None)


deadline = time.time() + 300
while time.time() < deadline:
    if state["reset"]:
        state["reset"] = False
        for s in list(peer):
            if s in peer:
                drop(s)
    for key, _ in sel.select(timeout=0.05):
        s = key.fileobj
        if s is lsn:
            try:
                c, _ = lsn.accept()
            except BlockingIOError:
                continue
            if state["cut"]:
                peer[c] = None
                sel.register(c, selectors.EVENT_READ, None)
                continue
            try:
                u = socket.create_connection(("127.0.0.1", up_port), timeout=2)
            except OSError:
                c.close()
                continue
            peer[c], peer[u] = u, c
            sel.register(c, selectors.EVENT_READ, None)
            sel.register(u, selectors.EVENT_READ, None)
            continue
        if s not in peer:
            continue
        try:
            data = s.recv(65536)
        except OSError:
            data = b""
        if not data:
            drop(s)
            continue
        if state["cut"] or peer[s] is None:
            continue  # dropped on the floor
        try:
            peer[s].sendall(data)
        except OSError:
            drop(s)
