#!/usr/bin/env bash
# pqify serve --keyless end to end (issue 10): pqify serve holds only certificates;
# their private keys live on pqify keyserver, and every CertificateVerify is signed
# there through the keyless client library over post-quantum mutual TLS.
#  - Node 24 (OpenSSL 3.5), curl and openssl s_client complete handshakes with an
#    ECDSA P-256, an RSA-2048 (RSA-PSS signatures) and an Ed25519 certificate;
#  - the key server's /metrics count exactly those signatures, by opcode, and its
#    handshakes with serve (the only TLS client it has) were X25519MLKEM768;
#  - a serve whose hop is limited to classical groups (--keyless-pq off) is refused
#    by the key server (pq: required): its clients' handshakes fail, nothing is signed;
#  - the same through serve.yaml's keyless: block.
. "$(dirname "$0")/../interop/lib.sh"
. "$(dirname "$0")/lib_e2e.sh"
need_node
need_tool curl

# start_ks <args...>: pqify keyserver (ks_pid, ks_pq_pid, ks_port, ks_adm)
start_ks() {
  ks_log="$casedir/keyserver.stderr"
  timeout 300 "$PQIFY_BIN" keyserver "$@" 2>"$ks_log" >/dev/null &
  ks_pid=$!
  pids+=("$ks_pid")
  wait_for "$ks_log" '^listening on ' 10 || { fail "pqify keyserver did not start"; return 1; }
  ks_port=$(sed -n 's/^listening on .*:\([0-9]*\)$/\1/p' "$ks_log" | head -1)
  ks_pq_pid=$(pgrep -P "$ks_pid" -n)
  pids+=("$ks_pq_pid")
  ks_adm=$(sed -n 's/^pqify keyserver: admin endpoint on [^ ]*:\([0-9]*\) .*/\1/p' "$ks_log" | head -1)
}

ks_metrics() { curl -s --max-time 10 "http://127.0.0.1:$ks_adm/metrics"; }

hop=(--keyless-cert "$certs/client-p256.pem" --keyless-key "$certs/client-p256.key"
  --keyless-ca "$certs/ca.pem" --keyless-servername localhost)

# node_tls <port> <sigalgs>: one handshake and one HTTP request; prints "ok SIGTYPE STATUS"
node_tls() {
  timeout 30 "$node" --input-type=module -e '
    import tls from "node:tls"; import fs from "node:fs";
    const [port, ca, sigalgs] = process.argv.slice(1);
    const s = tls.connect({host: "127.0.0.1", port: +port, ca: fs.readFileSync(ca),
      servername: "localhost", sigalgs, ecdhCurve: "X25519MLKEM768"});
    s.setTimeout(20000, () => { console.log("timeout"); process.exit(1); });
    s.on("error", (e) => { console.log("error " + e.message); process.exit(1); });
    s.on("secureConnect", () => { s.write("GET / HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"); });
    let got = ""; s.on("data", (d) => got += d);
    s.on("end", () => { console.log("ok " + s.getProtocol() + " " + got.split("\r\n")[0]); });
  ' "$1" "$certs/ca.pem" "$2" 2>&1
}

begin "serve --keyless: Node, curl and openssl s_client against P-256, RSA-2048 (PSS) and Ed25519"
d="$casedir"
mkdir -p "$d/keys"
cp "$certs/server-p256.key" "$certs/server-rsa.key" "$certs/server-ed25519.key" "$d/keys/"
start_ks --listen 127.0.0.1:0 --keys "$d/keys" --cert "$certs/server-p256.pem" \
  --key "$certs/server-p256.key" --ca "$certs/ca.pem" --admin 127.0.0.1:0 --workers 2 && {
  # type opcode(as in /metrics) s_client-sigalg s_client-words node-sigalgs
  while read -r kt op sigalg words nsig; do
    start_serve --cert "$certs/server-$kt.pem" --keyless "127.0.0.1:$ks_port" "${hop[@]}" --www --workers 1
    expect "serve says where it signs ($kt)" "$(grep '^pqify serve: keyless:' "$srv_log")" \
      "pqify serve: keyless: signing through 127.0.0.1:$ks_port (pq required)"
    out=$(node_tls "$srv_port" "$nsig")
    expect "Node 24 handshake with the $kt certificate" "$out" "ok TLSv1.3 HTTP/1.1 200 OK"
    code=$(timeout 30 curl -s -o /dev/null -w '%{http_code}' --cacert "$certs/ca.pem" \
      --resolve "localhost:$srv_port:127.0.0.1" "https://localhost:$srv_port/" 2>"$d/curl-$kt.err")
    expect "curl over the $kt certificate" "$code" "200"
    printf 'GET / HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n' |
      timeout 30 openssl s_client -connect "127.0.0.1:$srv_port" -servername localhost \
        -CAfile "$certs/ca.pem" -verify_return_error -sigalgs "$sigalg" -brief -ign_eof >"$d/sc-$kt.out" 2>&1
    expect "openssl s_client exit ($kt)" "$?" 0
    sc=$(cat "$d/sc-$kt.out")
    expect_match "s_client verified the chain ($kt)" "$sc" '^Verification: OK$'
    expect_match "s_client saw a $words signature" "$sc" "^Signature type: $words\$"
    expect_match "s_client got the page ($kt)" "$sc" '^HTTP/1.1 200 OK'
    m=$(ks_metrics)
    expect_match "the key server signed 3 $op ($kt)" "$m" "^pqify_keyless_requests_total\\{opcode=\"$op\",result=\"ok\"\\} 3\$"
    stop_serve TERM
    expect "serve --keyless exits 0 on SIGTERM ($kt)" "$srv_rc" 0
  done <<'CASES'
p256 ecdsa-sha256 ecdsa_secp256r1_sha256 ECDSA ecdsa_secp256r1_sha256
rsa rsa-pss-sha256 rsa_pss_rsae_sha256 RSA-PSS rsa_pss_rsae_sha256
ed25519 ed25519 ed25519 ed25519 ed25519
CASES
  m=$(ks_metrics)
  # serve is the key server's only TLS client here: every handshake it saw was the hop
  expect_match "the serve->keyserver hop is X25519MLKEM768" "$m" \
    '^pqify_tls_handshakes_total\{role="server",group="X25519MLKEM768",pq="true",hrr="false"\} [1-9]'
  if grep -E '^pqify_tls_handshakes_total\{role="server",group="(x25519|secp256r1)"' <<<"$m" | grep -qv ' 0$'; then
    fail "a classical handshake on the hop"
  else
    pass
  fi

  # A hop limited to classical groups: the key server (pq: required) refuses it,
  # so serve cannot sign and its client's handshake fails.
  hs() { ks_metrics | grep -E '^pqify_tls_handshakes_total\{role="server"' | awk '{s += $2} END {print s + 0}'; }
  hs_before=$(hs)
  start_serve --cert "$certs/server-p256.pem" --keyless "127.0.0.1:$ks_port" "${hop[@]}" \
    --keyless-pq off --timeout 3 --workers 1
  timeout 20 openssl s_client -connect "127.0.0.1:$srv_port" -servername localhost \
    -CAfile "$certs/ca.pem" -brief </dev/null >"$d/sc-classical.out" 2>&1
  if [ $? -eq 0 ] && grep -q '^CONNECTION ESTABLISHED' "$d/sc-classical.out"; then
    fail "a handshake completed through a classical hop"
  else
    pass
  fi
  m=$(ks_metrics)
  expect_match "the key server signed nothing more" "$m" '^pqify_keyless_requests_total\{opcode="ecdsa-sha256",result="ok"\} 3$'
  expect "the key server completed no handshake with the classical hop" "$(hs)" "$hs_before"
  expect_match "serve says why its handshake failed" "$(cat "$srv_log")" 'handshake with 127.0.0.1:[0-9]+ failed'
  stop_serve TERM

}

begin "serve --config serve.yaml with a keyless: block"
d="$casedir"
mkdir -p "$d/keys"
cp "$certs/server-p256.key" "$d/keys/"
start_ks --listen 127.0.0.1:0 --keys "$d/keys" --cert "$certs/server-p256.pem" \
  --key "$certs/server-p256.key" --ca "$certs/ca.pem" --admin 127.0.0.1:0 --workers 1 && {
  cat >"$d/serve.yaml" <<YAML
listen: 127.0.0.1:0
www: true
workers: 1
tls:
  cert: $certs/server-p256.pem
keyless:
  servers: [127.0.0.1:$ks_port]
  cert: $certs/client-p256.pem
  key: $certs/client-p256.key
  ca: $certs/ca.pem
  server_name: localhost
  pq: required
YAML
  "$PQIFY_BIN" serve --config "$d/serve.yaml" --check-config 2>"$d/check.out"
  expect "--check-config with keyless:" "$?" 0
  start_serve --config "$d/serve.yaml"
  out=$(node_tls "$srv_port" ecdsa_secp256r1_sha256)
  expect "Node through the YAML-configured keyless serve" "$out" "ok TLSv1.3 HTTP/1.1 200 OK"
  expect_match "signed on the key server" "$(ks_metrics)" '^pqify_keyless_requests_total\{opcode="ecdsa-sha256",result="ok"\} 1$'
  stop_serve TERM
}

finish
