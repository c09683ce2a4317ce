#!/usr/bin/env bash
# pqify connect (client) against the Node 24 / OpenSSL 3.5 server
# (tests/peers/tls_server.mjs): every group Node has x every suite, HRR,
# pq modes, certificate types and checks, mutual TLS, ALPN, SNI, and data
# round trips. Both sides must report the same group and HRR.
. "$(dirname "$0")/lib.sh"
need_node

srv="cert=$certs/server-p256.pem key=$certs/server-p256.key"
payload="$work/line.txt"
printf 'hello over post-quantum TLS\n' >"$payload"

# check_ok <group> <hrr yes|no> [cipher]: the pqify line, the Node view, the echo.
check_ok() {
  local g=$1 hrr=$2 cs=${3:-}
  expect "pqify exit status" "$cli_rc" 0
  expect_group "pqify group" "$(field "$cli_line" group)" "$g"
  expect "pqify pq" "$(field "$cli_line" pq)" "$(is_pq_group "$g")"
  expect "pqify hrr" "$(field "$cli_line" hrr)" "$hrr"
  expect_group "node group" "$(jfield "$srv_log" accepted group)" "$g"
  expect "node hrr" "$(jfield "$srv_log" accepted hrr)" "$([ "$hrr" = yes ] && echo true || echo false)"
  if [ -n "$cs" ]; then
    expect "pqify cipher" "$(field "$cli_line" cipher)" "$cs"
    expect "node cipher" "$(jfield "$srv_log" accepted cipher)" "$cs"
  fi
  expect_match "handshake_us" "$(field "$cli_line" handshake_us)" '^[0-9]+$'
  expect "data round trip" "$(cmp -s "$cli_out" "$payload" && echo same || echo differs)" same
}

for g in $node_groups; do
  for cs in $suites; do
    begin "group $g, suite $cs"
    node_server $srv groups=$g ciphersuites=$cs || continue
    pqify_connect "$srv_port" "$payload" --ca "$certs/ca.pem" --servername localhost --groups "$g"
    wait_server
    check_ok "$g" no "$cs"
  done
done

begin "defaults: two shares, X25519MLKEM768 without HRR"
node_server $srv && {
  pqify_connect "$srv_port" "$payload" --ca "$certs/ca.pem" --servername localhost
  wait_server
  check_ok X25519MLKEM768 no
  expect "shares pqify sent" "$(grep -o '"key_shares":\[[^]]*\]' "$srv_log" | head -1)" \
    '"key_shares":["X25519MLKEM768","X25519"]'
}

begin "preferred against a classical server: X25519 share used, no HRR"
node_server $srv groups=X25519:P-256 && {
  pqify_connect "$srv_port" "$payload" --ca "$certs/ca.pem" --servername localhost
  wait_server
  check_ok X25519 no
}

# HRR as client: the server wants a group pqify listed but sent no share for.
begin "HRR to SecP256r1MLKEM768"
node_server $srv groups=SecP256r1MLKEM768 && {
  pqify_connect "$srv_port" "$payload" --ca "$certs/ca.pem" --servername localhost \
    --groups X25519MLKEM768,X25519,SecP256r1MLKEM768
  wait_server
  check_ok SecP256r1MLKEM768 yes
  expect "hellos sent" "$(grep -o '"key_shares":\[[^]]*\]' "$srv_log" | tr '\n' ' ')" \
    '"key_shares":["X25519MLKEM768","X25519"] "key_shares":["SecP256r1MLKEM768"] '
}
begin "HRR to P-384 with default groups"
node_server $srv groups=P-384 && {
  pqify_connect "$srv_port" "$payload" --ca "$certs/ca.pem" --servername localhost
  wait_server
  check_ok P-384 yes
}
begin "HRR to MLKEM1024 with default groups"
node_server $srv groups=MLKEM1024 && {
  pqify_connect "$srv_port" "$payload" --ca "$certs/ca.pem" --servername localhost
  wait_server
  check_ok MLKEM1024 yes
}

begin "pq=off: classical even though the server prefers ML-KEM"
node_server $srv && {
  pqify_connect "$srv_port" "$payload" --ca "$certs/ca.pem" --servername localhost --pq off
  wait_server
  check_ok X25519 no
}
begin "pq=required against a PQ server"
node_server $srv && {
  pqify_connect "$srv_port" "$payload" --ca "$certs/ca.pem" --servername localhost --pq required
  wait_server
  check_ok X25519MLKEM768 no
}
begin "pq=required against a classical-only server is refused"
node_server $srv groups=X25519:P-256:P-384 && {
  pqify_connect "$srv_port" "$payload" --ca "$certs/ca.pem" --servername localhost --pq required
  wait_server
  expect "pqify exit status" "$cli_rc" 1
  expect "no connected line" "$cli_line" ""
  expect_match "error says why" "$(cat "$cli_err")" 'post-quantum.*insufficient_security|insufficient_security.*post-quantum'
  expect "one error line" "$(grep -c . "$cli_err")" 1
}

for k in p256 p384 rsa rsapss ed25519; do
  begin "server certificate $k"
  node_server cert=$certs/server-$k.pem key=$certs/server-$k.key || continue
  pqify_connect "$srv_port" "$payload" --ca "$certs/ca.pem" --servername localhost
  wait_server
  check_ok X25519MLKEM768 no
done

begin "IP address: certificate checked against the IP SAN, no SNI sent (RFC 6066 §3)"
node_server $srv && {
  pqify_connect "$srv_port" "$payload" --ca "$certs/ca.pem"
  wait_server
  check_ok X25519MLKEM768 no
  expect "node servername" "$(jfield "$srv_log" accepted servername)" null
}

begin "SNI sent"
node_server $srv && {
  pqify_connect "$srv_port" "$payload" --ca "$certs/ca.pem" --servername localhost
  wait_server
  expect "node servername" "$(jfield "$srv_log" accepted servername)" localhost
}

begin "wrong server name is refused"
node_server $srv && {
  pqify_connect "$srv_port" "$payload" --ca "$certs/ca.pem" --servername wrong.example
  wait_server
  expect "pqify exit status" "$cli_rc" 1
  expect_match "error says why" "$(cat "$cli_err")" 'handshake .*failed: .*(name|bad_certificate)'
}

begin "unknown CA is refused"
node_server $srv && {
  pqify_connect "$srv_port" "$payload" --ca "$certs/other-ca.pem" --servername localhost
  wait_server
  expect "pqify exit status" "$cli_rc" 1
  expect_match "error says why" "$(cat "$cli_err")" 'handshake .*failed: .*unknown_ca'
}

for k in p256 rsa rsapss; do
  begin "mutual TLS, client certificate $k"
  node_server $srv ca=$certs/ca.pem || continue
  pqify_connect "$srv_port" "$payload" --ca "$certs/ca.pem" --servername localhost \
    --cert "$certs/client-$k.pem" --key "$certs/client-$k.key"
  wait_server
  check_ok X25519MLKEM768 no
  want=pqify-test-client
  [ "$k" = rsa ] && want=pqify-test-client-rsa
  [ "$k" = rsapss ] && want=pqify-test-client-rsapss
  expect "node saw the client certificate" "$(jfield "$srv_log" accepted client_cert)" "$want"
  expect "node authorized it" "$(jfield "$srv_log" accepted authorized)" true
done

begin "mutual TLS without a client certificate: the server's alert is reported"
node_server $srv ca=$certs/ca.pem && {
  pqify_connect "$srv_port" "$payload" --ca "$certs/ca.pem" --servername localhost
  wait_server
  expect "pqify exit status" "$cli_rc" 1
  expect_match "error names the alert" "$(grep -v '^connected' "$cli_err")" 'certificate_required'
}

begin "ALPN: server preference among the client's protocols"
node_server $srv alpn=h2,http/1.1 && {
  pqify_connect "$srv_port" "$payload" --ca "$certs/ca.pem" --servername localhost --alpn http/1.1,h2
  wait_server
  check_ok X25519MLKEM768 no
  expect "pqify alpn" "$(field "$cli_line" alpn)" h2
  expect "node alpn" "$(jfield "$srv_log" accepted alpn)" h2
}
begin "ALPN: no overlap -> no_application_protocol"
node_server $srv alpn=h2 && {
  pqify_connect "$srv_port" "$payload" --ca "$certs/ca.pem" --servername localhost --alpn spdy/3
  wait_server
  expect "pqify exit status" "$cli_rc" 1
  expect_match "error names the alert" "$(cat "$cli_err")" 'no_application_protocol'
}
begin "ALPN: none offered"
node_server $srv alpn=h2 && {
  pqify_connect "$srv_port" "$payload" --ca "$certs/ca.pem" --servername localhost
  wait_server
  check_ok X25519MLKEM768 no
  expect "pqify alpn" "$(field "$cli_line" alpn)" -
}

begin "300 KB round trip (many records each way)"
big="$work/big.txt"
make_payload "$big" 300000
node_server $srv && {
  pqify_connect "$srv_port" "$big" --ca "$certs/ca.pem" --servername localhost
  wait_server
  expect "pqify exit status" "$cli_rc" 0
  expect "data round trip" "$(cmp -s "$cli_out" "$big" && echo same || echo differs)" same
  expect "node echoed" "$(jfield "$srv_log" closed echoed)" 300000
}

finish
