#!/usr/bin/env bash
# pqify keyserver end to end (issue 10): a Node 24 gokeyless client (OpenSSL 3.5,
# tests/e2e/keyless_client.mjs) over mutual TLS: signatures verified by Node, the
# hop is X25519MLKEM768, unknown SKI -> 2, no client certificate and a
# classical-only client get no answer, SIGHUP reloads the keys, SIGTERM exits 0,
# /metrics counts the requests and passes promtool, --config keyserver.yaml.
. "$(dirname "$0")/../interop/lib.sh"
. "$(dirname "$0")/lib_e2e.sh"
need_node
need_tool promtool
need_tool curl
kc="$e2e_dir/keyless_client.mjs"

# mkkey <dir> <name> <genpkey args>: NAME.key in dir/keys, NAME.pub and NAME.ski beside.
mkkey() {
  openssl genpkey $3 -out "$1/keys/$2.key" 2>/dev/null &&
    openssl pkey -in "$1/keys/$2.key" -pubout -out "$1/$2.pub" 2>/dev/null &&
    openssl req -x509 -new -key "$1/keys/$2.key" -subj "/CN=$2" -days 2 -out "$1/$2-cert.pem" 2>/dev/null &&
    openssl x509 -in "$1/$2-cert.pem" -noout -ext subjectKeyIdentifier | sed -n 2p | tr -d ' :\n' >"$1/$2.ski"
}

# start_ks <args...>: like start_serve, for pqify keyserver (ks_pid, pq_pid, srv_port, adm_port).
start_ks() {
  srv_log="$casedir/keyserver.stderr"
  timeout 300 "$PQIFY_BIN" keyserver "$@" 2>"$srv_log" >/dev/null &
  srv_pid=$!
  pids+=("$srv_pid")
  if ! wait_for "$srv_log" '^listening on ' 10; then
    fail "pqify keyserver did not start listening"
    return 1
  fi
  srv_port=$(sed -n 's/^listening on .*:\([0-9]*\)$/\1/p' "$srv_log" | head -1)
  pq_pid=$(pgrep -P "$srv_pid" -n)
  pids+=("$pq_pid")
  adm_port=$(sed -n 's/^pqify keyserver: admin endpoint on [^ ]*:\([0-9]*\) .*/\1/p' "$srv_log" | head -1)
}

client() { # client <cert|-> <key|-> <groups> <jobs...>: sets out
  out=$(timeout 30 "$node" "$kc" "$srv_port" "$certs/ca.pem" "$@" 2>&1)
}

begin "keyserver with flags: Node signs through it over X25519MLKEM768 mutual TLS"
d="$casedir"
mkdir -p "$d/keys"
mkkey "$d" p256 "-algorithm EC -pkeyopt ec_paramgen_curve:P-256" || fail "openssl key"
mkkey "$d" ed "-algorithm ED25519" || fail "openssl key"
start_ks --listen 127.0.0.1:0 --keys "$d/keys" --cert "$certs/server-p256.pem" \
  --key "$certs/server-p256.key" --ca "$certs/ca.pem" --admin 127.0.0.1:0 && {
  client "$certs/client-p256.pem" "$certs/client-p256.key" X25519MLKEM768 ping \
    "ecdsa:$(cat "$d/p256.ski"):$d/p256.pub" "ed25519:$(cat "$d/ed.ski"):$d/ed.pub" unknown
  expect "node's answers" "$out" "$(printf 'group X25519MLKEM768\npong\nverified ecdsa\nverified ed25519\nerror 2')"

  client - - X25519MLKEM768 ping
  expect_match "a client without a certificate gets no answer" "$out" '^closed'
  if grep -q '^pong' <<<"$out"; then fail "answered a client without a certificate"; else pass; fi

  client "$certs/client-p256.pem" "$certs/client-p256.key" X25519 ping
  expect_match "a classical-only client is refused (pq required)" "$out" '^closed'
  if grep -q '^pong' <<<"$out"; then fail "answered a classical-only client"; else pass; fi

  curl -s "http://127.0.0.1:$adm_port/metrics" >"$d/metrics.txt"
  promtool check metrics <"$d/metrics.txt" >"$d/promtool.out" 2>&1
  expect "promtool check metrics" "$?" 0
  m=$(cat "$d/metrics.txt")
  expect_match "ECDSA sign counted" "$m" '^pqify_keyless_requests_total\{opcode="ecdsa-sha256",result="ok"\} 1$'
  expect_match "a request without a certificate never reached the workers" "$m" '^pqify_keyless_requests_total\{opcode="ping",result="pong"\} 1$'
  expect_match "Ed25519 sign counted" "$m" '^pqify_keyless_requests_total\{opcode="ed25519",result="ok"\} 1$'
  expect_match "unknown SKI counted" "$m" '^pqify_keyless_requests_total\{opcode="ecdsa-sha256",result="key not found"\} 1$'
  expect_match "the handshake counted by group" "$m" \
    '^pqify_tls_handshakes_total\{role="server",group="X25519MLKEM768",pq="true",hrr="false"\} [1-9]'
  # every ECDSA request the workers handled: the sign and the unknown SKI
  expect_match "latency histogram" "$m" '^pqify_keyless_sign_duration_seconds_count\{opcode="ecdsa-sha256"\} 2$'

  # pqify keyless ping|sign, the signature verified by the openssl CLI.
  kl=(--cert "$certs/client-p256.pem" --key "$certs/client-p256.key" --ca "$certs/ca.pem" --servername localhost)
  ping_out=$(timeout 20 "$PQIFY_BIN" keyless ping "127.0.0.1:$srv_port" "${kl[@]}" 2>"$d/ping.err")
  expect_match "pqify keyless ping" "$ping_out" '^pong in [0-9.]+ ms group X25519MLKEM768$'
  printf 'signed by pqify keyless sign' >"$d/msg"
  dg=$(openssl dgst -sha256 -hex "$d/msg" | sed 's/.* //')
  timeout 20 "$PQIFY_BIN" keyless sign "127.0.0.1:$srv_port" "${kl[@]}" --ski "$(cat "$d/p256.ski")" \
    --op ecdsa-sha256 --payload "$dg" >"$d/sig.hex" 2>"$d/sign.err"
  expect "pqify keyless sign exit" "$?" 0
  python3 -c 'import sys; sys.stdout.buffer.write(bytes.fromhex(open(sys.argv[1]).read().strip()))' "$d/sig.hex" >"$d/sig.bin"
  openssl dgst -sha256 -verify "$d/p256.pub" -signature "$d/sig.bin" "$d/msg" >"$d/verify.out" 2>&1
  expect "openssl verifies pqify keyless sign's signature" "$?" 0
  timeout 20 "$PQIFY_BIN" keyless sign "127.0.0.1:$srv_port" "${kl[@]}" --ski "$(printf 'ab%.0s' {1..20})" \
    --op ecdsa-sha256 --payload "$dg" >/dev/null 2>"$d/sign2.err"
  expect "an unknown SKI: exit 1" "$?" 1
  expect "the error in words" "$(cat "$d/sign2.err")" "pqify keyless: the key server answered error 2 (key not found)"

  # SIGHUP: a key added to the directory signs after the reload.
  mkkey "$d" p256b "-algorithm EC -pkeyopt ec_paramgen_curve:P-256" || fail "openssl key"
  client "$certs/client-p256.pem" "$certs/client-p256.key" X25519MLKEM768 "ecdsa:$(cat "$d/p256b.ski"):$d/p256b.pub"
  expect "before the reload the new key is unknown" "$out" "$(printf 'group X25519MLKEM768\nerror 2')"
  kill -HUP "$pq_pid"
  wait_for "$srv_log" '^pqify keyserver: reloaded 3 keys$' 10 || fail "no reload line"
  client "$certs/client-p256.pem" "$certs/client-p256.key" X25519MLKEM768 "ecdsa:$(cat "$d/p256b.ski"):$d/p256b.pub"
  expect "after the reload it signs" "$out" "$(printf 'group X25519MLKEM768\nverified ecdsa')"

  kill -TERM "$pq_pid"
  wait "$srv_pid" 2>/dev/null
  expect "SIGTERM: exit 0" "$?" 0
}

begin "keyserver --config keyserver.yaml"
d="$casedir"
mkdir -p "$d/keys"
mkkey "$d" p256 "-algorithm EC -pkeyopt ec_paramgen_curve:P-256" || fail "openssl key"
cat >"$d/keyserver.yaml" <<YAML
listen: 127.0.0.1:0
tls:
  cert: $certs/server-p256.pem
  key: $certs/server-p256.key
  ca: $certs/ca.pem
  pq: required
admin:
  listen: 127.0.0.1:0
keys:
  dir: $d/keys
workers: 2
YAML
"$PQIFY_BIN" keyserver --config "$d/keyserver.yaml" --check-config 2>"$d/check.out"
expect "--check-config" "$?" 0
printf 'listen: 127.0.0.1:0\ntls:\n  cert: %s\n  kye: x\n' "$certs/server-p256.pem" >"$d/bad.yaml"
"$PQIFY_BIN" keyserver --config "$d/bad.yaml" 2>"$d/bad.out"
expect "a bad file: exit 2" "$?" 2
expect_match "the error names file, line and key" "$(cat "$d/bad.out")" 'bad.yaml:4: tls.kye: unknown key'
start_ks --config "$d/keyserver.yaml" && {
  client "$certs/client-p256.pem" "$certs/client-p256.key" X25519MLKEM768 "ecdsa:$(cat "$d/p256.ski"):$d/p256.pub"
  expect "signs from the config" "$out" "$(printf 'group X25519MLKEM768\nverified ecdsa')"
  kill -TERM "$pq_pid"
  wait "$srv_pid" 2>/dev/null
  expect "SIGTERM: exit 0" "$?" 0
}

finish
