#!/usr/bin/env bash
# pqify serve/connect as commands: help, usage errors (exit 2), and the one
# clear line with exit status 1 when there is nothing to talk to.
. "$(dirname "$0")/lib.sh"

for cmd in serve connect; do
  begin "pqify $cmd --help"
  "$PQIFY_BIN" "$cmd" --help >"$casedir/help.out" 2>&1
  expect "exit status" "$?" 0
  expect_match "usage line" "$(head -1 "$casedir/help.out")" "^usage: pqify $cmd "
  expect_match "documents --pq" "$(cat "$casedir/help.out")" '--pq MODE'
done

begin "listed by pqify --help"
"$PQIFY_BIN" --help >"$casedir/help.out" 2>&1
expect_match "serve" "$(cat "$casedir/help.out")" '^  serve '
expect_match "connect" "$(cat "$casedir/help.out")" '^  connect '

begin "usage errors exit 2"
"$PQIFY_BIN" connect >/dev/null 2>"$casedir/e1"; expect "connect without target" "$?" 2
"$PQIFY_BIN" connect localhost >/dev/null 2>"$casedir/e2"; expect "connect without port" "$?" 2
"$PQIFY_BIN" connect 127.0.0.1:1 --cert x >/dev/null 2>"$casedir/e3"; expect "--cert without --key" "$?" 2
"$PQIFY_BIN" connect 127.0.0.1:1 --bogus >/dev/null 2>"$casedir/e4"; expect "unknown option" "$?" 2
"$PQIFY_BIN" serve --listen 127.0.0.1:0 >/dev/null 2>"$casedir/e5"; expect "serve without cert" "$?" 2
expect_match "says what is missing" "$(cat "$casedir/e5")" '--cert and --key are required'

begin "bad --pq word"
"$PQIFY_BIN" connect 127.0.0.1:1 --pq sometimes </dev/null >/dev/null 2>"$casedir/err"
expect "exit status" "$?" 1
expect_match "message" "$(cat "$casedir/err")" "--pq must be preferred, required or off"

begin "nothing listening: one line, exit 1"
# A port that was just free: start a server, note its port, stop it.
pqify_serve --cert "$certs/server-p256.pem" --key "$certs/server-p256.key"
port=$srv_port
kill "$srv_pid" 2>/dev/null
wait_server
timeout "$T" "$PQIFY_BIN" connect "127.0.0.1:$port" </dev/null >/dev/null 2>"$casedir/err"
expect "exit status" "$?" 1
expect "one line" "$(grep -c . "$casedir/err")" 1
expect_match "message" "$(cat "$casedir/err")" "^pqify connect: cannot connect to 127\.0\.0\.1:$port: Connection refused"

begin "a client that never speaks: the handshake times out"
pqify_serve --cert "$certs/server-p256.pem" --key "$certs/server-p256.key" --timeout 1 && {
  exec 9<>"/dev/tcp/127.0.0.1/$srv_port"
  wait_server
  exec 9>&-
  expect "serve exit" "$srv_rc" 1
  expect_match "says why" "$(cat "$srv_log")" '^pqify serve: handshake with 127\.0\.0\.1:[0-9]+ failed: the handshake timed out$'
}

begin "plaintext HTTP to the TLS port is refused with a reason"
pqify_serve --cert "$certs/server-p256.pem" --key "$certs/server-p256.key" && {
  exec 9<>"/dev/tcp/127.0.0.1/$srv_port"
  printf 'GET / HTTP/1.0\r\n\r\n' >&9
  wait_server
  exec 9>&-
  expect "serve exit" "$srv_rc" 1
  expect_match "says why" "$(cat "$srv_log")" '^pqify serve: handshake with 127\.0\.0\.1:[0-9]+ failed: .+'
}

begin "unreadable key file"
"$PQIFY_BIN" serve --listen 127.0.0.1:0 --cert "$certs/server-p256.pem" --key /nonexistent.key \
  >/dev/null 2>"$casedir/err"
expect "exit status" "$?" 1
expect_match "names the file and why" "$(cat "$casedir/err")" '^pqify serve: --key /nonexistent\.key: No such file or directory$'

finish
