#!/usr/bin/env bash
# The negative corpus (tests/tls/negative_corpus.h) as real TCP traffic to
# `pqify serve`: one long-running server per variant the corpus needs, and
# tls_negative_tcp sending every case, checking the alert that comes back and that
# the next good client is served. Afterwards each server must still be running, and
# its log must hold no sanitizer or crash report.
. "$(dirname "$0")/lib.sh"
: "${PQIFY_NEGATIVE_TCP:?PQIFY_NEGATIVE_TCP (the tls_negative_tcp driver) must be set; CTest sets it}"

all_groups="X25519MLKEM768,SecP256r1MLKEM768,SecP384r1MLKEM1024,MLKEM512,MLKEM768,MLKEM1024,X25519Kyber768Draft00,X25519Kyber512Draft00,P256Kyber768Draft00,P256Kyber512,x25519,secp256r1,secp384r1"
base=(--cert "$certs/server-p256.pem" --key "$certs/server-p256.key" --timeout 5)

for variant in default all required off mtls; do
  begin "hostile TCP traffic, server variant $variant"
  extra=()
  client=()
  case $variant in
    all) extra=(--groups "$all_groups") ;;
    required) extra=(--pq required) ;;
    off) extra=(--pq off) ;;
    mtls) extra=(--ca "$certs/ca.pem"); client=("$certs/client-p256.pem" "$certs/client-p256.key") ;;
  esac
  log="$casedir/pqify-serve.stderr"
  # no --once: a forking server that must outlive every hostile connection
  timeout 600 ${PQIFY_WRAPPER:-} "$PQIFY_BIN" serve --listen 127.0.0.1:0 "${base[@]}" "${extra[@]}" \
    2>"$log" >/dev/null &
  pid=$!
  pids+=("$pid")
  if ! wait_for "$log" '^listening on ' 10; then
    fail "pqify serve did not start listening"
    continue
  fi
  port=$(sed -n 's/^listening on .*:\([0-9]*\)$/\1/p' "$log" | head -1)
  timeout 300 "$PQIFY_NEGATIVE_TCP" "$variant" "$port" "$certs/ca.pem" "${client[@]}" >"$casedir/driver.out" 2>&1
  rc=$?
  summary=$(tail -n 1 "$casedir/driver.out")
  say "  $summary"
  expect "tls_negative_tcp $variant exit status" "$rc" 0
  if kill -0 "$pid" 2>/dev/null; then pass; else fail "pqify serve ($variant) is gone"; fi
  if grep -Eq 'AddressSanitizer|runtime error|LeakSanitizer|Segmentation|Aborted|^==[0-9]+== ' "$log"; then
    fail "a crash or sanitizer report in the pqify serve log"
  else
    pass
  fi
  expect_match "failed handshakes were logged" "$(grep -c 'handshake with .* failed' "$log")" '^[1-9][0-9]*$'
  kill "$pid" 2>/dev/null
  wait "$pid" 2>/dev/null
done

finish
