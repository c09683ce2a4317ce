#!/usr/bin/env bash
# The keyless client library under faults (issue 10), against real pqify keyserver
# processes, through tests/keyless/keyless_load.c (every signature verified with
# libcrypto against the public key the openssl CLI wrote):
#  - 10,000 ECDSA P-256 signs submitted at once while the key server is killed
#    with SIGKILL a third of the way in and restarted on the same port: the client
#    reconnects, resends what the dead connections carried, and every request is
#    answered exactly once with a signature that verifies;
#  - an SKI nobody holds is answered with error 2 (key not found);
#  - a client without a certificate is refused by the key server (mutual TLS): its
#    request gets no answer and ends at its deadline, completed once.
. "$(dirname "$0")/../interop/lib.sh"
. "$(dirname "$0")/lib_e2e.sh"
[ -x "$PQIFY_KEYLESS_LOAD" ] || { say "FAIL: keyless_load not built"; exit 1; }

mkkey() { # mkkey <dir> <name> <genpkey args>: key in dir/keys, NAME.pub and NAME.ski beside
  openssl genpkey $3 -out "$1/keys/$2.key" 2>/dev/null &&
    openssl pkey -in "$1/keys/$2.key" -pubout -out "$1/$2.pub" 2>/dev/null &&
    openssl req -x509 -new -key "$1/keys/$2.key" -subj "/CN=$2" -days 2 -out "$1/$2-cert.pem" 2>/dev/null &&
    openssl x509 -in "$1/$2-cert.pem" -noout -ext subjectKeyIdentifier | sed -n 2p | tr -d ' :\n' >"$1/$2.ski"
}

# start_ks <listen> <log>: pqify keyserver (ks_pid, ks_pq_pid, ks_port)
start_ks() {
  timeout 300 "$PQIFY_BIN" keyserver --listen "$1" --keys "$d/keys" --cert "$certs/server-p256.pem" \
    --key "$certs/server-p256.key" --ca "$certs/ca.pem" --workers 1 --admin 127.0.0.1:0 2>"$2" >/dev/null &
  ks_pid=$!
  pids+=("$ks_pid")
  wait_for "$2" '^listening on ' 10 || { fail "pqify keyserver did not start"; return 1; }
  ks_port=$(sed -n 's/^listening on .*:\([0-9]*\)$/\1/p' "$2" | head -1)
  ks_pq_pid=$(pgrep -P "$ks_pid" -n)
  pids+=("$ks_pq_pid")
}

load() { # load <mode> <n> <servers> <cert> <key> <ski> <pub>
  timeout 150 "$PQIFY_KEYLESS_LOAD" "$1" "$2" "$3" "$certs/ca.pem" "$4" "$5" "$6" "$7"
}

begin "10,000 signs through the client while the key server is killed -9 and restarted"
d="$casedir"
mkdir -p "$d/keys"
mkkey "$d" p256 "-algorithm EC -pkeyopt ec_paramgen_curve:P-256" || fail "openssl key"
start_ks 127.0.0.1:0 "$d/ks1.stderr" && {
  load sign 10000 "127.0.0.1:$ks_port" "$certs/client-p256.pem" "$certs/client-p256.key" \
    "$(cat "$d/p256.ski")" "$d/p256.pub" >"$d/load.out" 2>"$d/load.err" &
  load_pid=$!
  pids+=("$load_pid")
  if wait_for "$d/load.out" '^midway' 100; then
    kill -9 "$ks_pq_pid"
    wait "$ks_pid" 2>/dev/null
    sleep 0.3 # the client sees its connections die and backs off
    start_ks "127.0.0.1:$ks_port" "$d/ks2.stderr"
  else
    fail "the load never got a third of the way"
  fi
  wait "$load_pid"
  expect "keyless_load exit" "$?" 0
  sum=$(grep '^requests' "$d/load.out")
  say "  $sum; $(grep "^out-of-order" "$d/load.out")"
  expect_match "10,000 answered exactly once, 10,000 verified" "$sum" \
    '^requests 10000 answered-once 10000 twice 0 never 0 verified 10000 errors 0 '
  expect_match "the client resent what the dead connections carried" "$sum" ' resent [1-9][0-9]* '
  expect_match "the client reconnected to the restarted server" "$sum" ' connects ([3-9]|[1-9][0-9]+) '
  expect_match "no request ran out of time" "$sum" ' expired 0 '

  load unknown 1 "127.0.0.1:$ks_port" "$certs/client-p256.pem" "$certs/client-p256.key" \
    "$(printf 'ab%.0s' {1..20})" - >"$d/unknown.out" 2>&1
  expect "unknown SKI: answered once" "$?" 0
  expect_match "unknown SKI: error 2 (key not found)" "$(cat "$d/unknown.out")" ' errors 1 wire-error 2 '

  load nocert 1 "127.0.0.1:$ks_port" - - "$(cat "$d/p256.ski")" - >"$d/nocert.out" 2>&1
  expect "no certificate: answered once (by its deadline)" "$?" 0
  nc=$(cat "$d/nocert.out")
  # TLS 1.3: the client's side completes before the server checks (and refuses) the
  # missing certificate, so connections come and go; none ever carries an answer
  expect_match "no certificate: never answered, nothing up at the end" "$nc" ' wire-error 0 .* expired 1 up 0$'
  expect_match "no certificate: the deadline in words" "$nc" '^first error: keyless: no answer from a key server before the deadline$'
}

finish
