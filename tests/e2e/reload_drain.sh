#!/usr/bin/env bash
# pqify serve's signals (issue 9): SIGHUP with a new certificate (new connections
# see it, an established one keeps working), SIGTERM drains with close_notify and
# exits 0, and /metrics passes promtool (Debian's prometheus package).
. "$(dirname "$0")/../interop/lib.sh"
. "$(dirname "$0")/lib_e2e.sh"
need_node
need_tool promtool
need_tool curl

fp() { openssl x509 -in "$1" -noout -fingerprint -sha256 | sed 's/^.*=//'; }

begin "SIGHUP with a new certificate: new connections see it, established ones keep working"
cp "$certs/server-p256.pem" "$casedir/cert.pem"
cp "$certs/server-p256.key" "$casedir/key.pem"
start_serve --cert "$casedir/cert.pem" --key "$casedir/key.pem" && {
  fifo="$casedir/go"
  mkfifo "$fifo"
  timeout 60 "$node" "$clients" reload "$srv_port" "$certs/ca.pem" <"$fifo" >"$casedir/node.out" 2>&1 &
  node_pid=$!
  pids+=("$node_pid")
  exec 8>"$fifo"
  wait_for "$casedir/node.out" '^(first|FAIL)' 20
  expect "first connection: the old certificate" "$(head -1 "$casedir/node.out")" "first $(fp "$certs/server-p256.pem") one"
  # Both files replaced (a new key type too), then the signal.
  cp "$certs/server-p384.pem" "$casedir/cert.pem"
  cp "$certs/server-p384.key" "$casedir/key.pem"
  kill -HUP "$pq_pid"
  wait_for "$srv_log" '^pqify serve: reloaded ' 10 || fail "no reload line"
  echo go >&8
  exec 8>&-
  wait "$node_pid" 2>/dev/null
  out=$(cat "$casedir/node.out")
  expect_match "a new connection sees the new certificate" "$out" "^second $(fp "$certs/server-p384.pem") two$"
  expect_match "the established connection still echoes" "$out" "^established $(fp "$certs/server-p256.pem") three$"
  if kill -0 "$pq_pid" 2>/dev/null; then pass; else fail "pqify serve died on SIGHUP"; fi

  # A reload that cannot work keeps the previous certificate.
  printf 'not a key\n' >"$casedir/key.pem"
  kill -HUP "$pq_pid"
  wait_for "$srv_log" '^pqify serve: reload failed; still serving the previous certificate$' 10 ||
    fail "a broken key file was not reported"
  good_client
  expect "still served after a failed reload" "$cli_rc" 0
  stop_serve TERM
  expect "serve exit" "$srv_rc" 0
}

begin "SIGTERM drains: every connection ends with close_notify, exit 0; /metrics passes promtool"
start_serve --cert "$certs/server-p256.pem" --key "$certs/server-p256.key" --admin 127.0.0.1:0 && {
  timeout 60 "$node" "$clients" drain "$srv_port" "$certs/ca.pem" 20 >"$casedir/node.out" 2>&1 &
  node_pid=$!
  pids+=("$node_pid")
  wait_for "$casedir/node.out" '^(held|FAIL)' 30
  expect "held" "$(head -1 "$casedir/node.out")" "held 20"
  curl -s "http://127.0.0.1:$adm_port/metrics" >"$casedir/metrics.txt"
  promtool check metrics <"$casedir/metrics.txt" >"$casedir/promtool.out" 2>&1
  expect "promtool check metrics" "$?" 0
  expect_match "the handshakes are counted" "$(cat "$casedir/metrics.txt")" \
    '^pqify_tls_handshakes_total\{role="server",group="X25519MLKEM768",pq="true",hrr="false"\} 20$'
  expect "/ready before SIGTERM" "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$adm_port/ready")" 200
  stop_serve TERM
  expect "serve exit after SIGTERM" "$srv_rc" 0
  wait "$node_pid" 2>/dev/null
  expect "each connection ended with close_notify, none reset" "$(tail -1 "$casedir/node.out")" "ended 20 errors 0"
}

finish
