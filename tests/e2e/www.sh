#!/usr/bin/env bash
# pqify serve --www (issue 9's hostile findings): ALPN never agrees to h2 (it
# answers HTTP/1.1 only), requests are parsed by http-parser: Content-Length: -1 is
# 400, a 9 KB header is 431, a good request 200. Node 24 is the client.
. "$(dirname "$0")/../interop/lib.sh"
. "$(dirname "$0")/lib_e2e.sh"
need_node

begin "--www offers http/1.1 only"
start_serve --cert "$certs/server-p256.pem" --key "$certs/server-p256.key" --www && {
  out=$(timeout 30 "$node" "$clients" alpn "$srv_port" "$certs/ca.pem" 2>&1)
  expect_match "h2 and http/1.1 offered: http/1.1 chosen" "$out" '^both http/1.1$'
  expect_match "h2 only: refused, not agreed" "$out" '^h2only refused'

  http() { printf '%s\n' "$1" | timeout 30 "$node" "$clients" http "$srv_port" "$certs/ca.pem" 2>&1; }
  expect "a good request" "$(http 'GET / HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n')" \
    "status HTTP/1.1 200 OK"
  expect "Content-Length: -1" \
    "$(http 'POST / HTTP/1.1\r\nHost: localhost\r\nContent-Length: -1\r\n\r\nGET / HTTP/1.1\r\n\r\n')" \
    "status HTTP/1.1 400 Bad Request"
  expect "a 9 KB header" "$(http 'GET / HTTP/1.1\r\nHost: localhost\r\nX-Big: @PAD9216@\r\n\r\n')" \
    "status HTTP/1.1 431 Request Header Fields Too Large"
  expect_match "the 431 is logged" "$(cat "$srv_log")" 'sent an HTTP request head over 8192 bytes'
  stop_serve TERM
  expect "serve exit" "$srv_rc" 0
}

begin "--www with --alpn h2 is refused as a usage error"
"$PQIFY_BIN" serve --listen 127.0.0.1:0 --cert "$certs/server-p256.pem" --key "$certs/server-p256.key" \
  --www --alpn h2,http/1.1 >/dev/null 2>"$casedir/err"
expect "exit status" "$?" 2
expect_match "says why" "$(head -1 "$casedir/err")" "must not offer h2"

finish
