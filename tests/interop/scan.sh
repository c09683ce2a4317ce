#!/usr/bin/env bash
# pqify scan against servers configured in known ways: pqify serve (preferred,
# required, off, --groups lists), Node 24 / OpenSSL 3.5 (PQ-preferred,
# classical-only, one hybrid, an order that forces a HelloRetryRequest) and
# Debian's openssl s_server 3.0 (classical). Each case asserts the whole group
# matrix, the preference probe and the HRR-upgrade probe against what the server
# was told to accept; the expectations come from the server's configuration, not
# from pqify.
. "$(dirname "$0")/lib.sh"
need_node
need_tool openssl

# Every group of DESIGN.md "Groups", in pqify's spelling.
all_groups="X25519MLKEM768 SecP256r1MLKEM768 SecP384r1MLKEM1024 MLKEM768 MLKEM1024 MLKEM512
x25519 secp256r1 secp384r1 X25519Kyber768Draft00 X25519Kyber512Draft00 P256Kyber768Draft00
P256Kyber512"

# scan <port> [args...]: pqify scan --json; sets scan_json, scan_rc.
scan() {
  local port=$1
  shift
  scan_json="$casedir/scan.json"
  timeout "$T" "$PQIFY_BIN" scan "127.0.0.1:$port" --insecure --timeout 5 --json "$@" \
    >"$scan_json" 2>"$casedir/scan.stderr"
  scan_rc=$?
}

# jq-like: evaluate a JS expression over the scan JSON (as j).
sget() {
  "$node" -e '
    const j = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));
    process.stdout.write(String(new Function("j", "return " + process.argv[2])(j)));' \
    "$scan_json" "$1" 2>>"$casedir/sget.stderr" || printf 'UNPARSABLE'
}

# expect_scan <groups selected in 1-RTT> <preferred group|-> <pref hrr yes|no>
#             <upgrade group|-> <upgrade hrr yes|no> <verdict word>
# Every group not in the first list must be refused.
expect_scan() {
  local ok=" $1 " want_matrix="" g
  for g in $all_groups; do
    case $ok in
      *" $g "*) want_matrix+="$g=1-RTT " ;;
      *) want_matrix+="$g=no " ;;
    esac
  done
  expect "scan exit status" "$scan_rc" 0
  expect "group count" "$(sget 'j.groups.length')" 13
  expect "group matrix" "$(sget 'j.groups.map(g => g.name + "=" + g.result).join(" ") + " "')" \
    "$want_matrix"
  expect "preference group" "$(sget 'j.preference.group')" "$2"
  expect "preference hrr" "$(sget 'j.preference.hrr ? "yes" : "no"')" "$3"
  expect "upgrade group" "$(sget 'j.upgrade.group')" "$4"
  expect "upgrade hrr" "$(sget 'j.upgrade.hrr ? "yes" : "no"')" "$5"
  expect "verdict" "$(sget 'j.verdict.split(":")[0]')" "$6"
  # a ClientHello that worked is reported for each selected group
  expect "hello sizes of selected groups" \
    "$(sget 'j.groups.filter(g => g.result !== "no").every(g => g.hello_bytes > 100)')" true
  # the refusals carry the reason
  expect "refusals say why" \
    "$(sget 'j.groups.filter(g => g.result === "no").every(g => g.error.length > 0)')" true
}

# pqify_server <args...>: a long-running pqify serve; sets srv_port.
pqify_server() {
  srv_log="$casedir/pqify-serve.stderr"
  timeout "$T" "$PQIFY_BIN" serve --listen 127.0.0.1:0 --cert "$certs/server-p256.pem" \
    --key "$certs/server-p256.key" "$@" 2>"$srv_log" >/dev/null &
  srv_pid=$!
  pids+=("$srv_pid")
  wait_for "$srv_log" '^listening on ' 10 || { fail "pqify serve did not start"; return 1; }
  srv_port=$(sed -n 's/^listening on .*:\([0-9]*\)$/\1/p' "$srv_log" | head -1)
}

stop_server() { kill "$srv_pid" 2>/dev/null; wait "$srv_pid" 2>/dev/null; }

nonlegacy="X25519MLKEM768 SecP256r1MLKEM768 SecP384r1MLKEM1024 MLKEM768 MLKEM1024 MLKEM512"
classical="x25519 secp256r1 secp384r1"

# ---- pqify serve ---------------------------------------------------------------

begin "pqify serve --pq preferred"
if pqify_server; then
  scan "$srv_port"
  expect_scan "$nonlegacy $classical" X25519MLKEM768 no X25519MLKEM768 yes quantum-safe
  stop_server
fi

begin "pqify serve --pq required"
if pqify_server --pq required; then
  scan "$srv_port"
  expect_scan "$nonlegacy" X25519MLKEM768 no X25519MLKEM768 yes quantum-safe
  expect_match "classical refused with insufficient_security" \
    "$(sget 'j.groups.find(g => g.name === "x25519").error')" 'insufficient_security'
  stop_server
fi

begin "pqify serve --pq off"
if pqify_server --pq off; then
  scan "$srv_port"
  expect_scan "$classical" x25519 no x25519 no "not quantum-safe"
  stop_server
fi

begin "pqify serve --groups SecP256r1MLKEM768,P256Kyber512,secp256r1"
if pqify_server --groups SecP256r1MLKEM768,P256Kyber512,secp256r1; then
  scan "$srv_port"
  # the default hello lists SecP256r1MLKEM768 without a share: HRR to it; the
  # upgrade probe offers only X25519 and X25519MLKEM768: nothing in common
  expect_scan "SecP256r1MLKEM768 secp256r1 P256Kyber512" SecP256r1MLKEM768 yes - no quantum-safe
  stop_server
fi

# ---- Node 24 / OpenSSL 3.5 -------------------------------------------------------------
# OpenSSL 3.5 group lists: ':' puts groups in one tuple (any share the client
# sent is taken at once), '/' starts a lower-priority tuple (the server asks by
# HelloRetryRequest for a higher tuple it has no share for).

node_long_server() {
  node_server cert="$certs/server-p256.pem" key="$certs/server-p256.key" once=false "$@"
}

begin "Node PQ-preferred (X25519MLKEM768/X25519)"
if node_long_server groups=X25519MLKEM768/X25519; then
  scan "$srv_port"
  expect_scan "X25519MLKEM768 x25519" X25519MLKEM768 no X25519MLKEM768 yes quantum-safe
  stop_server
fi

begin "Node PQ first in one tuple (X25519MLKEM768:X25519): no HRR for PQ"
if node_long_server groups=X25519MLKEM768:X25519; then
  scan "$srv_port"
  expect_scan "X25519MLKEM768 x25519" X25519MLKEM768 no x25519 no quantum-safe
  stop_server
fi

begin "Node classical-only (X25519:P-256:P-384)"
if node_long_server groups=X25519:P-256:P-384; then
  scan "$srv_port"
  expect_scan "$classical" x25519 no x25519 no "not quantum-safe"
  stop_server
fi

begin "Node classical first (X25519/X25519MLKEM768)"
if node_long_server groups=X25519/X25519MLKEM768; then
  scan "$srv_port"
  expect_scan "X25519MLKEM768 x25519" x25519 no x25519 no "not by default"
  stop_server
fi

begin "Node single hybrid (SecP256r1MLKEM768)"
if node_long_server groups=SecP256r1MLKEM768; then
  scan "$srv_port"
  expect_scan "SecP256r1MLKEM768" SecP256r1MLKEM768 yes - no quantum-safe
  stop_server
fi

begin "Node HRR-forcing order (SecP384r1MLKEM1024/X25519MLKEM768/X25519)"
if node_long_server groups=SecP384r1MLKEM1024/X25519MLKEM768/X25519; then
  scan "$srv_port"
  # pqify's default hello lists SecP384r1MLKEM1024 without a share
  expect_scan "SecP384r1MLKEM1024 X25519MLKEM768 x25519" SecP384r1MLKEM1024 yes \
    X25519MLKEM768 yes quantum-safe
  stop_server
fi

# ---- Debian openssl s_server 3.0 (classical) ----------------------------------------

begin "openssl s_server 3.0 (X25519:P-256:P-384)"
srv_log="$casedir/s_server.out"
# -rev answers on the connection and leaves stdin alone (stdin EOF would stop it)
timeout "$T" openssl s_server -accept 127.0.0.1:0 -tls1_3 -rev -cert "$certs/server-p256.pem" \
  -key "$certs/server-p256.key" -groups X25519:P-256:P-384 >"$srv_log" 2>&1 &
srv_pid=$!
pids+=("$srv_pid")
if wait_for "$srv_log" '^ACCEPT' 10; then
  srv_port=$(sed -n 's/^ACCEPT .*:\([0-9]*\)$/\1/p' "$srv_log")
  scan "$srv_port"
  expect_scan "$classical" x25519 no x25519 no "not quantum-safe"
  stop_server
else
  fail "openssl s_server did not start"
fi

# ---- the text form and the failure line -----------------------------------------------

begin "text output and unreachable server"
if pqify_server; then
  out=$(timeout "$T" "$PQIFY_BIN" scan "127.0.0.1:$srv_port" --ca "$certs/ca.pem" \
    --servername localhost 2>&1)
  expect_match "certificate line" "$out" 'certificate verified against --ca'
  expect_match "table row" "$out" '^X25519MLKEM768 +yes +no +1-RTT +[0-9]+'
  expect_match "verdict line" "$out" '^verdict: quantum-safe: '
  stop_server
fi
out=$(timeout "$T" "$PQIFY_BIN" scan 127.0.0.1:1 --insecure 2>&1)
expect "unreachable exit status" "$?" 1
expect_match "unreachable says why" "$out" '^pqify scan: cannot reach 127.0.0.1:1: '

finish
