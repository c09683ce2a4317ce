#!/usr/bin/env bash
# The legacy round-3 Kyber groups (DESIGN.md "Groups"), pqify to pqify: no
# other peer here speaks them. Each must work when named on both sides, with
# and without a HelloRetryRequest, and none may be on by default.
. "$(dirname "$0")/lib.sh"

srv=(--cert "$certs/server-p256.pem" --key "$certs/server-p256.key")
payload="$work/line.txt"
printf 'kyber, for old times sake\n' >"$payload"

for g in X25519Kyber768Draft00 X25519Kyber512Draft00 P256Kyber768Draft00 P256Kyber512; do
  begin "$g named on both sides"
  pqify_serve "${srv[@]}" --groups "$g" || continue
  pqify_connect "$srv_port" "$payload" --ca "$certs/ca.pem" --servername localhost --groups "$g"
  wait_server
  acc=$(grep -m1 '^accepted ' "$srv_log")
  expect "connect exit" "$cli_rc" 0
  expect "serve exit" "$srv_rc" 0
  expect "client group" "$(field "$cli_line" group)" "$g"
  expect "server group" "$(field "$acc" group)" "$g"
  expect "client pq" "$(field "$cli_line" pq)" yes
  expect "server pq" "$(field "$acc" pq)" yes
  expect "hrr" "$(field "$cli_line" hrr)/$(field "$acc" hrr)" no/no
  expect "echo" "$(cat "$cli_out")" "$(cat "$payload")"

  begin "$g reached through HRR"
  pqify_serve "${srv[@]}" --groups "$g" || continue
  pqify_connect "$srv_port" "$payload" --ca "$certs/ca.pem" --servername localhost \
    --groups "X25519MLKEM768,X25519,$g"
  wait_server
  acc=$(grep -m1 '^accepted ' "$srv_log")
  expect "connect exit" "$cli_rc" 0
  expect "client group" "$(field "$cli_line" group)" "$g"
  expect "server group" "$(field "$acc" group)" "$g"
  expect "hrr" "$(field "$cli_line" hrr)/$(field "$acc" hrr)" yes/yes
  expect "echo" "$(cat "$cli_out")" "$(cat "$payload")"

  begin "$g is not on by default (server side)"
  pqify_serve "${srv[@]}" || continue
  pqify_connect "$srv_port" "$payload" --ca "$certs/ca.pem" --servername localhost --groups "$g"
  wait_server
  expect "connect exit" "$cli_rc" 1
  expect "serve exit" "$srv_rc" 1
  expect_match "connect says why" "$(cat "$cli_err")" 'handshake .*failed: '
  expect "no accepted line" "$(grep -c '^accepted ' "$srv_log")" 0
done

begin "a default client offers no legacy group"
pqify_serve "${srv[@]}" --groups X25519Kyber768Draft00,P256Kyber512 && {
  pqify_connect "$srv_port" "$payload" --ca "$certs/ca.pem" --servername localhost
  wait_server
  expect "connect exit" "$cli_rc" 1
  expect "serve exit" "$srv_rc" 1
}

begin "pq=required keeps legacy groups (they are post-quantum)"
pqify_serve "${srv[@]}" --groups P256Kyber768Draft00 --pq required && {
  pqify_connect "$srv_port" "$payload" --ca "$certs/ca.pem" --servername localhost \
    --groups P256Kyber768Draft00 --pq required
  wait_server
  expect "connect exit" "$cli_rc" 0
  expect "client group" "$(field "$cli_line" group)" P256Kyber768Draft00
}

finish
