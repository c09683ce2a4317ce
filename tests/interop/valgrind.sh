#!/usr/bin/env bash
# pqify under valgrind memcheck (label `valgrind`): a representative interop subset
# with Node 24 as the peer, pqify as client and as server, X25519MLKEM768 and a
# classical group, and mutual TLS. Any memcheck error (invalid access, use of
# uninitialised memory in a branch, a definite or indirect leak) makes pqify exit
# 99, which fails the exit-status checks; the stderr logs are shown on failure.
. "$(dirname "$0")/lib.sh"
need_node
need_tool valgrind

export PQIFY_WRAPPER="valgrind -q --error-exitcode=99 --leak-check=full --show-leak-kinds=definite,indirect --errors-for-leak-kinds=definite,indirect --track-origins=yes"
T=${PQIFY_VALGRIND_TIMEOUT:-90}

payload="$work/line.txt"
printf 'hello over post-quantum TLS, under memcheck\n' >"$payload"
nsrv="cert=$certs/server-p256.pem key=$certs/server-p256.key"
psrv=(--cert "$certs/server-p256.pem" --key "$certs/server-p256.key")

no_memcheck_report() {  # no_memcheck_report <log>
  if grep -Eq '^==[0-9]+== ' "$1"; then fail "memcheck reported in $(basename "$1")"; else pass; fi
}

client_case() {  # client_case <group> [pqify args...]
  local g=$1
  shift
  pqify_connect "$srv_port" "$payload" --ca "$certs/ca.pem" --servername localhost --groups "$g" "$@"
  wait_server
  expect "pqify connect exit status under valgrind" "$cli_rc" 0
  expect_group "pqify group" "$(field "$cli_line" group)" "$g"
  expect "data round trip" "$(cmp -s "$cli_out" "$payload" && echo same || echo differs)" same
  no_memcheck_report "$cli_err"
}

for g in X25519MLKEM768 X25519; do
  begin "pqify connect under valgrind, $g"
  node_server $nsrv groups=$g && client_case "$g"
done
begin "pqify connect under valgrind, mutual TLS"
node_server $nsrv ca=$certs/ca.pem && client_case X25519MLKEM768 \
  --cert "$certs/client-p256.pem" --key "$certs/client-p256.key"

server_case() {  # server_case <group> [node args...]
  local g=$1
  shift
  node_client "$srv_port" ca=$certs/ca.pem groups=$g "$@"
  wait_server
  expect "node exit status" "$nc_rc" 0
  expect "pqify serve --once exit status under valgrind" "$srv_rc" 0
  expect_group "pqify group" "$(field "$(grep -m1 '^accepted ' "$srv_log")" group)" "$g"
  expect "echo came back intact" "$(jfield "$nc_log" done ok)" true
  no_memcheck_report "$srv_log"
}

for g in X25519MLKEM768 P-256; do
  begin "pqify serve under valgrind, $g"
  pqify_serve "${psrv[@]}" && server_case "$g"
done
begin "pqify serve under valgrind, mutual TLS"
pqify_serve "${psrv[@]}" --ca "$certs/ca.pem" && server_case X25519MLKEM768 \
  cert=$certs/client-p256.pem key=$certs/client-p256.key

finish
