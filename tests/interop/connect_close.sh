#!/usr/bin/env bash
# pqify connect at the end of a connection: after stdin ends it sends close_notify
# and waits for the server's close at most --timeout seconds (a Node server that
# never closes); and the line it prints when a server refuses it for want of a
# client certificate is the very line docs/serve-connect.md shows.
. "$(dirname "$0")/lib.sh"
need_node

begin "a server that never closes: connect exits after --timeout, saying so"
printf 'hello\n' >"$work/in"
node_server cert="$certs/server-p256.pem" key="$certs/server-p256.key" neverClose=true && {
  # within $T (timeout's 124 would mean it hung); --timeout 1 bounds the wait
  pqify_connect "$srv_port" "$work/in" --ca "$certs/ca.pem" --servername localhost --timeout 1
  expect "exit status (not 124: it did not hang)" "$cli_rc" 1
  expect_match "connected first" "$cli_line" '^connected version=TLSv1\.3 '
  expect "the echo still came" "$(cat "$cli_out")" "hello"
  expect_match "says why" "$(tail -1 "$cli_err")" \
    '^pqify connect: the server did not close the connection within 1 s of our close_notify \(stdin ended\)$'
  kill "$srv_pid" 2>/dev/null
}

begin "a server that closes: exit 0, no waiting line"
node_server cert="$certs/server-p256.pem" key="$certs/server-p256.key" && {
  pqify_connect "$srv_port" "$work/in" --ca "$certs/ca.pem" --servername localhost --timeout 5
  expect "exit status" "$cli_rc" 0
  expect "one line" "$(grep -c . "$cli_err")" 1
  wait_server
}

begin "refused for want of a client certificate: the line docs/serve-connect.md shows"
doc_line=$(grep -m1 '^pqify connect: .*certificate_required$' "$src_root/docs/serve-connect.md")
expect_match "the doc shows one" "$doc_line" 'certificate_required$'
pqify_serve --cert "$certs/server-p256.pem" --key "$certs/server-p256.key" --ca "$certs/ca.pem" && {
  pqify_connect "$srv_port" "$work/in" --ca "$certs/ca.pem" --servername localhost
  wait_server
  expect "exit status" "$cli_rc" 1
  expect "the documented line" "$(grep -v '^connected ' "$cli_err")" "$doc_line"
}

finish
