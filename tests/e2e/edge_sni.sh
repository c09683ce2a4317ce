#!/usr/bin/env bash
# pqify edge's certificates: (issue 12): three certificates chosen by SNI, the first
# the default; one of them (k.test) keeps its private key on a pqify keyserver and is
# signed there through the keyless client, asynchronously.
#  - openssl s_client -servername a.test / b.test / k.test / none / an unknown name:
#    the leaf's SHA-256 fingerprint equals `openssl x509 -fingerprint` of the file
#    that should answer (none and unknown: the first, a.pem);
#  - k.test through curl (HTTP/1.1 and HTTP/2) and Node 24 (X25519MLKEM768): 200;
#    the key server's /metrics count exactly those signatures; the edge's access log
#    and /metrics name the certificate that answered;
#  - the key server killed: k.test's handshakes fail, the edge's log names k.pem and
#    its key server, while a.test and b.test keep answering 200;
#  - SIGHUP with b.test's certificate replaced: new handshakes get the new leaf.
. "$(dirname "$0")/../interop/lib.sh"
. "$(dirname "$0")/lib_e2e.sh"
. "$(dirname "$0")/lib_edge.sh"
need_node
need_tool curl
need_tool nginx
need_tool openssl

chmod 755 "$work"   # nginx's workers run as nobody
www="$work/www"
mkdir -p "$www"
echo hello >"$www/index.html"

# A PKI of its own: the names a.test, b.test, k.test are the test's.
pki="$work/pki"
mkdir -p "$pki" "$pki/keys"
ossl() { openssl "$@" 2>>"$pki/openssl.log" >/dev/null; }
ossl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$pki/ca.key" \
  -out "$pki/ca.pem" -subj "/CN=pqify edge sni test CA" -days 30
leaf() { # leaf <file> <name> <genpkey args...>
  local n=$1 name=$2
  shift 2
  ossl genpkey "$@" -out "$pki/$n.key"
  ossl req -new -key "$pki/$n.key" -subj "/CN=$name" -out "$pki/$n.csr"
  printf 'subjectAltName=DNS:%s\nbasicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth\n' \
    "$name" >"$pki/$n.ext"
  ossl x509 -req -in "$pki/$n.csr" -CA "$pki/ca.pem" -CAkey "$pki/ca.key" -CAcreateserial \
    -days 30 -extfile "$pki/$n.ext" -out "$pki/$n.pem"
}
leaf a a.test -algorithm EC -pkeyopt ec_paramgen_curve:P-256
leaf b b.test -algorithm RSA -pkeyopt rsa_keygen_bits:2048
leaf b2 b.test -algorithm EC -pkeyopt ec_paramgen_curve:P-384
leaf k k.test -algorithm EC -pkeyopt ec_paramgen_curve:P-256
mv "$pki/k.key" "$pki/keys/k.key"   # the edge never sees k.test's key
fp() { openssl x509 -in "$1" -noout -fingerprint -sha256 2>/dev/null; }

# seen_fp <servername|-> : the fingerprint of the leaf the edge sent
seen_fp() {
  local sn=()
  [ "$1" != - ] && sn=(-servername "$1")
  timeout 20 openssl s_client -connect "127.0.0.1:$edge_port" "${sn[@]}" </dev/null 2>/dev/null |
    openssl x509 -noout -fingerprint -sha256 2>/dev/null
}
# get <name> [curl args]: the status of GET / as <name>
get() {
  local n=$1
  shift
  timeout 30 curl -s -o /dev/null -w '%{http_code}' --max-time 20 --cacert "$pki/ca.pem" \
    --resolve "$n:$edge_port:127.0.0.1" "$@" "https://$n:$edge_port/" 2>/dev/null
}
node_get() { # node_get <name> <alpn>: "GROUP STATUS"
  timeout 30 "$node" --input-type=module -e '
    import tls from "node:tls"; import fs from "node:fs";
    const [port, ca, name] = process.argv.slice(1);
    const s = tls.connect({host: "127.0.0.1", port: +port, ca: fs.readFileSync(ca), servername: name,
      ecdhCurve: "X25519MLKEM768", ALPNProtocols: ["http/1.1"]});
    s.setTimeout(20000, () => { console.log("timeout"); process.exit(1); });
    s.on("error", (e) => { console.log("error " + e.message); process.exit(1); });
    s.on("secureConnect", () => {
      s.write("GET / HTTP/1.1\r\nHost: " + name + "\r\nConnection: close\r\n\r\n"); });
    let got = ""; s.on("data", (d) => got += d);
    s.on("end", () => { const k = s.getEphemeralKeyInfo();
      console.log(k ? k.name + " " + got.split("\r\n")[0] : "error closed before the handshake ended"); });
  ' "$edge_port" "$pki/ca.pem" "$1" 2>&1
}

begin "origin and key server"
start_nginx "$www" || finish
ks_log="$casedir/keyserver.stderr"
timeout 300 "$PQIFY_BIN" keyserver --listen 127.0.0.1:0 --keys "$pki/keys" --cert "$certs/server-p256.pem" \
  --key "$certs/server-p256.key" --ca "$certs/ca.pem" --admin 127.0.0.1:0 --workers 1 2>"$ks_log" >/dev/null &
ks_tpid=$!
pids+=("$ks_tpid")
wait_for "$ks_log" '^listening on ' 10 || { fail "pqify keyserver did not start"; finish; }
ks_port=$(sed -n 's/^listening on .*:\([0-9]*\)$/\1/p' "$ks_log" | head -1)
ks_adm=$(sed -n 's/^pqify keyserver: admin endpoint on [^ ]*:\([0-9]*\) .*/\1/p' "$ks_log" | head -1)
ks_pid=$(pgrep -P "$ks_tpid" -n)
pids+=("$ks_pid")
ks_signed() {
  curl -s --max-time 10 "http://127.0.0.1:$ks_adm/metrics" |
    sed -n 's/^pqify_keyless_requests_total{opcode="ecdsa-sha256",result="ok"} \([0-9]*\)$/\1/p'
}

write_yaml() { # write_yaml <b's cert> <b's key>
  cat >"$work/edge.yaml" <<YAML
listen: [127.0.0.1:0]
admin: {listen: 127.0.0.1:0}
tls: {handshake_timeout: 3s}
certificates:
  - {cert: $pki/a.pem, key: $pki/a.key}
  - {cert: $1, key: $2}
  - cert: $pki/k.pem
    keyless:
      servers: [127.0.0.1:$ks_port]
      cert: $certs/client-p256.pem
      key: $certs/client-p256.key
      ca: $certs/ca.pem
      server_name: localhost
routes:
  - {origin: "http://127.0.0.1:$ngx_port"}
access_log: {file: $work/access.jsonl}
YAML
}
write_yaml "$pki/b.pem" "$pki/b.key"

begin "edge with three certificates"
"$PQIFY_BIN" edge --config "$work/edge.yaml" --check-config >"$casedir/check.out" 2>&1
expect "--check-config accepts certificates: with keyless:" "$?" 0
start_edge --config "$work/edge.yaml" || finish
log=$(cat "$edge_log")
expect_match "the edge lists the default certificate" "$log" "certificate 0 $pki/a.pem \\(the default\\): local key"
expect_match "the edge lists the keyless certificate" "$log" "certificate 2 $pki/k.pem: keyless through 127.0.0.1:$ks_port"

begin "SNI picks the certificate"
for c in "a.test a" "b.test b" "k.test k" "- a" "other.test a"; do
  set -- $c
  expect "leaf for SNI $1 is $2.pem" "$(seen_fp "$1")" "$(fp "$pki/$2.pem")"
done
[ -n "$(fp "$pki/a.pem")" ] && [ "$(fp "$pki/a.pem")" != "$(fp "$pki/b.pem")" ] && pass || fail "fingerprints are empty or equal"
# s_client made one k.test handshake, signed on the key server
expect "the key server signed k.test's one s_client handshake" "$(ks_signed)" 1

begin "keyless k.test through curl and Node 24"
expect "curl HTTP/1.1 to k.test" "$(get k.test --http1.1)" 200
expect "curl HTTP/2 to k.test" "$(get k.test --http2)" 200
expect "Node 24 to k.test over X25519MLKEM768" "$(node_get k.test)" "X25519MLKEM768 HTTP/1.1 200 OK"
expect "curl to a.test (local key)" "$(get a.test)" 200
expect "the key server signed exactly the 4 k.test handshakes" "$(ks_signed)" 4
expect "the edge counts 4 handshakes answered by k.pem" \
  "$(metric "^pqify_edge_certificate_handshakes_total\\{certificate=\"$pki/k.pem\",result=\"ok\"\\}")" 4
expect_match "the access log names k.pem and the SNI" "$(grep -c "\"sni\":\"k.test\",\"certificate\":\"$pki/k.pem\"" "$work/access.jsonl")" '^3$'
expect_match "the access log names a.pem for a.test" "$(grep -c "\"sni\":\"a.test\",\"certificate\":\"$pki/a.pem\"" "$work/access.jsonl")" '^1$'

begin "key server killed: k.test fails, the others answer"
kill "$ks_pid" "$ks_tpid" 2>/dev/null
wait "$ks_tpid" 2>/dev/null
code=$(get k.test)
[ "$code" != 200 ] && pass || fail "k.test answered $code with its key server dead"
expect "a.test still answers" "$(get a.test)" 200
expect "b.test still answers (HTTP/2)" "$(get b.test --http2)" 200
expect_match "Node 24 to k.test fails" "$(node_get k.test)" '^error'
wait_for "$edge_log" "certificate $pki/k.pem, its key server did not sign" 10
expect_match "the edge says k.pem's key server did not sign" "$(cat "$edge_log")" \
  "handshake with 127.0.0.1:[0-9]+ failed: .*\\(certificate $pki/k.pem, its key server did not sign\\)"
say "  $(grep -m1 "did not sign" "$edge_log")"
expect "the failures are counted for k.pem" \
  "$(metric "^pqify_edge_certificate_handshakes_total\\{certificate=\"$pki/k.pem\",result=\"sign_failed\"\\}")" 2
expect "a.test after the failures" "$(get a.test --http1.1)" 200

begin "SIGHUP replaces b.test's certificate"
write_yaml "$pki/b2.pem" "$pki/b2.key"
kill -HUP "$edge_pid"
for i in $(seq 1 50); do
  [ "$(metric '^pqify_edge_reloads_total')" = 1 ] && break
  sleep 0.1
done
expect "the reload took effect" "$(metric '^pqify_edge_reloads_total')" 1
expect "b.test now gets b2.pem" "$(seen_fp b.test)" "$(fp "$pki/b2.pem")"
expect "a.test keeps a.pem" "$(seen_fp a.test)" "$(fp "$pki/a.pem")"
expect "b.test over HTTP/2 after the reload" "$(get b.test --http2)" 200
stop_edge TERM
expect "the edge exits 0 on SIGTERM" "$edge_rc" 0

finish
