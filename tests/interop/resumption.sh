#!/usr/bin/env bash
# Session resumption (RFC 8446 §4.6.1, §4.2.11, psk_dhe_ke) against Node 24 /
# OpenSSL 3.5 in both roles, and pqify against itself: the second connection
# must be resumed on both sides, and still negotiate the post-quantum group.
. "$(dirname "$0")/lib.sh"
need_node

srv_node="cert=$certs/server-p256.pem key=$certs/server-p256.key"
payload="$work/line.txt"
printf 'resumed over post-quantum TLS\n' >"$payload"

# serve_many <args...>: `pqify serve` without --once (each connection in a forked
# child that shares the parent's ticket secret); sets srv_pid, srv_port, srv_log.
serve_many() {
  srv_log="$casedir/pqify-serve.stderr"
  timeout "$T" ${PQIFY_WRAPPER:-} "$PQIFY_BIN" serve --listen 127.0.0.1:0 "$@" 2>"$srv_log" >/dev/null &
  srv_pid=$!
  pids+=("$srv_pid")
  if ! wait_for "$srv_log" '^listening on ' 10; then
    srv_port=0
    fail "pqify serve did not start listening"
    return 1
  fi
  srv_port=$(sed -n 's/^listening on .*:\([0-9]*\)$/\1/p' "$srv_log" | head -1)
}

# accepted_n <n>: the n-th `accepted` line of pqify serve (waits for it).
accepted_n() {
  local i
  for ((i = 0; i < 100; i++)); do
    [ "$(grep -c '^accepted ' "$srv_log" 2>/dev/null)" -ge "$1" ] && break
    sleep 0.05
  done
  grep '^accepted ' "$srv_log" | sed -n "${1}p"
}

# jline <file> <event> <n>: the n-th JSON line of that event.
jline() {
  grep "\"event\":\"$2\"" "$1" | sed -n "${3}p"
}
# jget <json-line> <key>
jget() {
  printf '%s' "$1" | grep -oE "\"$2\":(\"[^\"]*\"|[-a-z0-9.]+)" | head -1 |
    sed -e "s/^\"$2\"://" -e 's/^"\(.*\)"$/\1/'
}

stop_server() {
  kill "$srv_pid" 2>/dev/null
  wait "$srv_pid" 2>/dev/null
}

# ---- Node client -> pqify serve ------------------------------------------------

node_resumes_against_pqify() {
  local groups=$1 want_hrr=$2
  serve_many --cert "$certs/server-p256.pem" --key "$certs/server-p256.key" || return
  node_client "$srv_port" ca="$certs/ca.pem" servername=localhost resume=true \
    ${groups:+groups=$groups}
  local first second
  first=$(accepted_n 1)
  second=$(accepted_n 2)
  stop_server
  expect "node client exit" "$nc_rc" 0
  expect "node got a ticket" "$(jfield "$nc_log" resumption ticket_received)" true
  expect "node: first connection resumed" "$(jfield "$nc_log" resumption first_resumed)" false
  expect "node: second connection resumed" "$(jfield "$nc_log" resumption second_resumed)" true
  expect "node: second group" "$(jget "$(jline "$nc_log" connected 2)" group)" X25519MLKEM768
  expect "node: second hrr" "$(jget "$(jline "$nc_log" connected 2)" hrr)" "$want_hrr"
  expect "pqify: first resumed" "$(field "$first" resumed)" no
  expect "pqify: second resumed" "$(field "$second" resumed)" yes
  expect "pqify: second group" "$(field "$second" group)" X25519MLKEM768
  expect "pqify: second pq" "$(field "$second" pq)" yes
  expect "pqify: client_cert still parsed" "$(field "$second" client_cert)" -
  expect "both echoes" "$(grep -c '"ok":true' "$nc_log")" 2
}

begin "Node client resumes with pqify serve (X25519MLKEM768 both times)"
node_resumes_against_pqify "" false

# Node sends an X25519 share first; pqify asks for X25519MLKEM768 with an HRR,
# and the second hello carries the PSK with a binder over the HRR transcript.
begin "Node client resumes through a HelloRetryRequest"
node_resumes_against_pqify "X25519:X25519MLKEM768" true

# ---- pqify connect --resume -> Node server ------------------------------------

begin "pqify connect --resume against the Node server"
node_server $srv_node once=false && {
  pqify_connect "$srv_port" "$payload" --ca "$certs/ca.pem" --servername localhost --resume
  stop_server
  l1=$(grep '^connected ' "$cli_err" | sed -n 1p)
  l2=$(grep '^connected ' "$cli_err" | sed -n 2p)
  expect "pqify exit status" "$cli_rc" 0
  expect "pqify: first resumed" "$(field "$l1" resumed)" no
  expect "pqify: second resumed" "$(field "$l2" resumed)" yes
  expect "pqify: second group" "$(field "$l2" group)" X25519MLKEM768
  expect "pqify: second pq" "$(field "$l2" pq)" yes
  expect "node: first resumed" "$(jget "$(jline "$srv_log" accepted 1)" resumed)" false
  expect "node: second resumed" "$(jget "$(jline "$srv_log" accepted 2)" resumed)" true
  expect "node: second group" "$(jget "$(jline "$srv_log" accepted 2)" group)" X25519MLKEM768
  expect "data round trip" "$(cmp -s "$cli_out" "$payload" && echo same || echo differs)" same
}

# The Node server asks for another group: the second hello after the HRR carries
# the PSK with a binder over the new transcript.
begin "pqify connect --resume, Node server that prefers SecP256r1MLKEM768 (HRR, then PSK)"
node_server $srv_node once=false groups=SecP256r1MLKEM768 && {
  pqify_connect "$srv_port" "$payload" --ca "$certs/ca.pem" --servername localhost --resume \
    --groups X25519MLKEM768,X25519,SecP256r1MLKEM768
  stop_server
  l2=$(grep '^connected ' "$cli_err" | sed -n 2p)
  expect "pqify exit status" "$cli_rc" 0
  expect "pqify: second resumed" "$(field "$l2" resumed)" yes
  expect "pqify: second hrr" "$(field "$l2" hrr)" yes
  expect "pqify: second group" "$(field "$l2" group)" SecP256r1MLKEM768
  expect "node: second resumed" "$(jget "$(jline "$srv_log" accepted 2)" resumed)" true
}

# ---- mutual TLS -------------------------------------------------------------------

begin "Node client with a certificate resumes with pqify serve --ca (subject remembered)"
serve_many --cert "$certs/server-p256.pem" --key "$certs/server-p256.key" --ca "$certs/ca.pem" && {
  node_client "$srv_port" ca="$certs/ca.pem" servername=localhost resume=true \
    cert="$certs/client-p256.pem" key="$certs/client-p256.key"
  first=$(accepted_n 1)
  second=$(accepted_n 2)
  stop_server
  expect "node client exit" "$nc_rc" 0
  expect "node: second connection resumed" "$(jfield "$nc_log" resumption second_resumed)" true
  expect "pqify: second resumed" "$(field "$second" resumed)" yes
  expect "pqify: client_cert of the full handshake" "$(field "$first" client_cert)" "$(field "$second" client_cert)"
  expect_match "pqify: client_cert" "$(field "$second" client_cert)" 'CN=pqify-test-client'
}

begin "pqify connect --resume with a client certificate against the Node server"
node_server $srv_node once=false ca="$certs/ca.pem" && {
  pqify_connect "$srv_port" "$payload" --ca "$certs/ca.pem" --servername localhost --resume \
    --cert "$certs/client-p256.pem" --key "$certs/client-p256.key"
  stop_server
  l2=$(grep '^connected ' "$cli_err" | sed -n 2p)
  expect "pqify exit status" "$cli_rc" 0
  expect "pqify: second resumed" "$(field "$l2" resumed)" yes
  expect "node: second resumed" "$(jget "$(jline "$srv_log" accepted 2)" resumed)" true
  expect "node: client cert of the resumed session" "$(jget "$(jline "$srv_log" accepted 2)" authorized)" true
}

# ---- pqify against itself ---------------------------------------------------------

begin "pqify connect --resume against pqify serve"
serve_many --cert "$certs/server-p256.pem" --key "$certs/server-p256.key" && {
  pqify_connect "$srv_port" "$payload" --ca "$certs/ca.pem" --servername localhost --resume
  second=$(accepted_n 2)
  stop_server
  l2=$(grep '^connected ' "$cli_err" | sed -n 2p)
  expect "pqify exit status" "$cli_rc" 0
  expect "client: second resumed" "$(field "$l2" resumed)" yes
  expect "server: second resumed" "$(field "$second" resumed)" yes
  expect "server: second group" "$(field "$second" group)" X25519MLKEM768
  expect "data round trip" "$(cmp -s "$cli_out" "$payload" && echo same || echo differs)" same
}

finish
