#!/usr/bin/env bash
# Proxy mode end to end (issue 10): pqify serve --keyless -> keyserver A (holds no
# key; --upstream, or upstreams: in keyserver.yaml) -> keyserver B (holds the key).
#  - a Node 24 handshake with serve completes; B signed it, A forwarded it;
#  - both hops negotiated X25519MLKEM768 (each key server's handshake metrics; each
#    has exactly one kind of TLS client here);
#  - 1,000 pipelined signs through A from the client library: answered exactly once
#    under their own ids, every signature verified with libcrypto;
#  - an SKI nobody holds goes upstream and comes back as error 2;
#  - keyserver.yaml's upstreams: with an SKI list routes the same way.
. "$(dirname "$0")/../interop/lib.sh"
. "$(dirname "$0")/lib_e2e.sh"
need_node
need_tool curl
[ -x "$PQIFY_KEYLESS_LOAD" ] || { say "FAIL: keyless_load not built"; exit 1; }

# start_ks <name> <args...>: sets <name>_port, <name>_adm
start_ks() {
  local name=$1 log="$casedir/ks-$1.stderr"
  shift
  timeout 300 "$PQIFY_BIN" keyserver --admin 127.0.0.1:0 --cert "$certs/server-p256.pem" \
    --key "$certs/server-p256.key" --ca "$certs/ca.pem" "$@" 2>"$log" >/dev/null &
  local p=$!
  pids+=("$p")
  wait_for "$log" '^listening on ' 10 || { fail "keyserver $name did not start"; return 1; }
  pids+=("$(pgrep -P "$p" -n)")
  printf -v "${name}_port" '%s' "$(sed -n 's/^listening on .*:\([0-9]*\)$/\1/p' "$log" | head -1)"
  printf -v "${name}_adm" '%s' "$(sed -n 's/^pqify keyserver: admin endpoint on [^ ]*:\([0-9]*\) .*/\1/p' "$log" | head -1)"
}
metrics() { curl -s --max-time 10 "http://127.0.0.1:$1/metrics"; }
hop_client=(--upstream-cert "$certs/client-p256.pem" --upstream-key "$certs/client-p256.key"
  --upstream-ca "$certs/ca.pem" --upstream-servername localhost)
ski_of() { openssl x509 -in "$1" -noout -ext subjectKeyIdentifier | sed -n 2p | tr -d ' :\n'; }


begin "serve -> keyserver A (--upstream) -> keyserver B, both hops PQ"
d="$casedir"
mkdir -p "$d/keysA" "$d/keysB"
cp "$certs/server-p256.key" "$d/keysB/"
openssl pkey -in "$certs/server-p256.key" -pubout -out "$d/p256.pub" 2>/dev/null
ski=$(ski_of "$certs/server-p256.pem")
start_ks B --listen 127.0.0.1:0 --keys "$d/keysB" --workers 2 &&
  start_ks A --listen 127.0.0.1:0 --keys "$d/keysA" --workers 1 --upstream "127.0.0.1:$B_port" "${hop_client[@]}" && {
  expect_match "A says where it forwards" "$(cat "$d/ks-A.stderr")" \
    "^pqify keyserver: upstream 127.0.0.1:$B_port: the default for keys not held here$"
  start_serve --cert "$certs/server-p256.pem" --keyless "127.0.0.1:$A_port" --workers 1 \
    --keyless-cert "$certs/client-p256.pem" --keyless-key "$certs/client-p256.key" \
    --keyless-ca "$certs/ca.pem" --keyless-servername localhost
  expect "Node 24 through serve -> A -> B" "$(node_tls "$srv_port")" "ok TLSv1.3"
  mA=$(metrics "$A_adm")
  mB=$(metrics "$B_adm")
  expect_match "A forwarded it" "$mA" '^pqify_keyless_forwarded_total 1$'
  expect_match "A answered it (from upstream)" "$mA" '^pqify_keyless_requests_total\{opcode="ecdsa-sha256",result="ok"\} 1$'
  expect_match "B signed it" "$mB" '^pqify_keyless_requests_total\{opcode="ecdsa-sha256",result="ok"\} 1$'
  expect_match "hop serve->A is X25519MLKEM768" "$mA" '^pqify_tls_handshakes_total\{role="server",group="X25519MLKEM768",pq="true",hrr="false"\} [1-9]'
  expect_match "hop A->B is X25519MLKEM768" "$mB" '^pqify_tls_handshakes_total\{role="server",group="X25519MLKEM768",pq="true",hrr="false"\} [1-9]'
  for m in "$mA" "$mB"; do
    if grep -E '^pqify_tls_handshakes_total\{role="server",group="[^"]*",pq="false"' <<<"$m" | grep -qv ' 0$'; then
      fail "a classical handshake on a hop"
    else
      pass
    fi
  done
  stop_serve TERM

  timeout 150 "$PQIFY_KEYLESS_LOAD" sign 1000 "127.0.0.1:$A_port" "$certs/ca.pem" "$certs/client-p256.pem" \
    "$certs/client-p256.key" "$ski" "$d/p256.pub" >"$d/load.out" 2>&1
  expect "keyless_load through the proxy" "$?" 0
  expect_match "1,000 through the proxy: once each, all verified" "$(grep '^requests' "$d/load.out")" \
    '^requests 1000 answered-once 1000 twice 0 never 0 verified 1000 errors 0 '
  expect_match "A forwarded them all" "$(metrics "$A_adm")" '^pqify_keyless_forwarded_total 1001$'

  timeout 30 "$PQIFY_KEYLESS_LOAD" unknown 1 "127.0.0.1:$A_port" "$certs/ca.pem" "$certs/client-p256.pem" \
    "$certs/client-p256.key" "$(printf 'cd%.0s' {1..20})" - >"$d/unknown.out" 2>&1
  expect_match "an SKI nobody holds: error 2 through the proxy" "$(cat "$d/unknown.out")" ' errors 1 wire-error 2 '
  expect_match "B said so" "$(metrics "$B_adm")" '^pqify_keyless_requests_total\{opcode="ecdsa-sha256",result="key not found"\} 1$'
}

begin "keyserver.yaml upstreams: with an SKI list"
d="$casedir"
mkdir -p "$d/keysA" "$d/keysB"
cp "$certs/server-p256.key" "$d/keysB/"
openssl pkey -in "$certs/server-p256.key" -pubout -out "$d/p256.pub" 2>/dev/null
ski=$(ski_of "$certs/server-p256.pem")
start_ks B --listen 127.0.0.1:0 --keys "$d/keysB" --workers 1 && {
  cat >"$d/keyserver.yaml" <<YAML
listen: 127.0.0.1:0
tls:
  cert: $certs/server-p256.pem
  key: $certs/server-p256.key
  ca: $certs/ca.pem
admin:
  listen: 127.0.0.1:0
keys:
  dir: $d/keysA
upstreams:
  - servers: [127.0.0.1:$B_port]
    skis: [$ski]
upstream_tls:
  cert: $certs/client-p256.pem
  key: $certs/client-p256.key
  ca: $certs/ca.pem
  server_name: localhost
workers: 1
YAML
  "$PQIFY_BIN" keyserver --config "$d/keyserver.yaml" --check-config 2>"$d/check.out"
  expect "--check-config with upstreams:" "$?" 0
  timeout 300 "$PQIFY_BIN" keyserver --config "$d/keyserver.yaml" 2>"$d/ks-A.stderr" >/dev/null &
  p=$!
  pids+=("$p")
  wait_for "$d/ks-A.stderr" '^listening on ' 10 || fail "keyserver A did not start"
  pids+=("$(pgrep -P "$p" -n)")
  A_port=$(sed -n 's/^listening on .*:\([0-9]*\)$/\1/p' "$d/ks-A.stderr" | head -1)
  timeout 60 "$PQIFY_KEYLESS_LOAD" sign 100 "127.0.0.1:$A_port" "$certs/ca.pem" "$certs/client-p256.pem" \
    "$certs/client-p256.key" "$ski" "$d/p256.pub" >"$d/load.out" 2>&1
  expect_match "the listed SKI goes to B" "$(grep '^requests' "$d/load.out")" \
    '^requests 100 answered-once 100 twice 0 never 0 verified 100 errors 0 '
  timeout 30 "$PQIFY_KEYLESS_LOAD" unknown 1 "127.0.0.1:$A_port" "$certs/ca.pem" "$certs/client-p256.pem" \
    "$certs/client-p256.key" "$(printf 'cd%.0s' {1..20})" - >"$d/unknown.out" 2>&1
  expect_match "an unlisted SKI (no default upstream): error 2 from A" "$(cat "$d/unknown.out")" ' errors 1 wire-error 2 '
  expect_match "B never saw it" "$(metrics "$B_adm")" '^pqify_keyless_requests_total\{opcode="ecdsa-sha256",result="ok"\} 100$'
  if metrics "$B_adm" | grep -q 'result="key not found"'; then fail "B saw the unlisted SKI"; else pass; fi
  printf 'upstreams:\n  - servers: [127.0.0.1:1]\n    skis: [zz]\n' >"$d/bad.yaml"
  "$PQIFY_BIN" keyserver --config "$d/bad.yaml" --cert x --key y --ca z --keys "$d/keysA" 2>"$d/bad.out"
  expect_match "a bad SKI is named" "$(cat "$d/bad.out")" "upstreams\\[0\\]\\.skis\\[0\\]: 'zz' is not 40 hex digits"
}

finish
