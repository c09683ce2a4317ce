#!/usr/bin/env bash
# One `pqify serve` process holds 5,000 concurrent idle TLS connections from
# Node 24 (X25519MLKEM768) while a new client is still served (issue 9's proof).
. "$(dirname "$0")/../interop/lib.sh"
. "$(dirname "$0")/lib_e2e.sh"
need_node

# 5,000 sockets on each side, plus the loops' own descriptors.
ulimit -n 12000 || { say "FAIL: cannot raise RLIMIT_NOFILE to 12000 (hard limit $(ulimit -Hn))"; exit 1; }

begin "5,000 idle TLS connections in one serve process, a new client still served"
# --timeout 120: on a loaded runner Node takes longer than the default 10 s to
# finish some of 100 concurrent handshakes; this test is about holding them.
start_serve --cert "$certs/server-p256.pem" --key "$certs/server-p256.key" --workers 1 --timeout 120 \
  --max-connections 6000 --admin 127.0.0.1:0 && {
  fifo="$casedir/go"
  mkfifo "$fifo"
  timeout 520 "$node" "$clients" idle "$srv_port" "$certs/ca.pem" 5000 <"$fifo" >"$casedir/node.out" 2>&1 &
  node_pid=$!
  pids+=("$node_pid")
  exec 8>"$fifo"
  if wait_for "$casedir/node.out" '^(still-open|FAIL)' 510; then
    out=$(cat "$casedir/node.out")
    expect_match "Node held 5,000 connections" "$out" '^held 5000 group X25519MLKEM768$'
    expect_match "a new client was served meanwhile" "$out" '^fresh ok$'
    expect_match "none of the 5,000 was dropped" "$out" '^still-open 5000$'
    # The server's own count, from its /metrics (no other process in between).
    open=$(curl -s -m 10 "http://127.0.0.1:$adm_port/metrics" | awk '$1 == "pqify_serve_connections" { printf "%d", $2 }')
    expect_match "serve counts them open" "$open" '^500[01]$'
    expect "accepted lines" "$(grep -c '^accepted peer=' "$srv_log")" 5001
    expect "one serve process, no children" "$(pgrep -P "$pq_pid" | wc -l)" 0
  else
    fail "Node did not finish opening 5,000 connections"
  fi
  echo go >&8
  exec 8>&-
  wait "$node_pid" 2>/dev/null
  if kill -0 "$pq_pid" 2>/dev/null; then pass; else fail "pqify serve died"; fi
  stop_serve TERM
  expect "serve exit after SIGTERM" "$srv_rc" 0
}

finish
