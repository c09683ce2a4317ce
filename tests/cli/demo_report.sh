#!/usr/bin/env bash
# pqify demo --quick --keep end to end: its fleet table and counts, checked
# against Kafka itself (kcat) and logrecv's own metrics; every SVG it wrote
# rendered by rsvg-convert (Debian librsvg2-bin) into a PNG of the declared size;
# the HTML report holding the three figures and both tables; Ctrl-C stopping it
# with no service left running.
set -uo pipefail
pqify=${1:?usage: demo_report.sh PQIFY}
command -v rsvg-convert >/dev/null || { echo "FAIL: rsvg-convert missing (scripts/dev installs librsvg2-bin)"; exit 1; }
out=$(mktemp -d "${TMPDIR:-/tmp}/pqify-demo-test.XXXXXX")
demo=""
trap '[ -n "$demo" ] && kill "$demo" 2>/dev/null; rm -rf "$out"' EXIT
fails=0 checks=0
check() { # check WHAT GOT WANT
  checks=$((checks + 1))
  if [ "$2" != "$3" ]; then fails=$((fails + 1)); echo "FAIL: $1: got '$2', want '$3'"; fi
}
has() { # has WHAT TEXT REGEX
  checks=$((checks + 1))
  grep -Eq -- "$3" <<<"$2" || { fails=$((fails + 1)); echo "FAIL: $1: no line matches /$3/"; }
}

command -v kcat >/dev/null || { echo "FAIL: kcat missing (scripts/dev installs it)"; exit 1; }
command -v curl >/dev/null || { echo "FAIL: curl missing"; exit 1; }
# --keep: the fleet stays up for the checks below, then Ctrl-C (SIGINT) ends it
timeout 150 "$pqify" demo --quick --keep --out "$out/run" >"$out/stdout" 2>"$out/stderr" &
demo=$!
for ((i = 0; i < 1500; i++)); do
  grep -q 'Ctrl-C stops it' "$out/stdout" 2>/dev/null && break
  kill -0 "$demo" 2>/dev/null || break
  sleep 0.1
done
text=$(cat "$out/stdout")
dir="$out/run"
has "the demo came to --keep" "$text" 'Ctrl-C stops it'

# the fleet table: every hop that runs; the Kafka hop says why it is not PQ
has "client -> serve row" "$text" '^client -> serve +X25519MLKEM768 +yes +no +[0-9]+ '
has "keyless -> keyserver row" "$text" '^keyless -> keyserver +X25519MLKEM768 +yes +no +[0-9]+ \(server\) +a ping; an ECDSA P-256 signature, verified$'
has "logfwd -> logrecv row" "$text" '^logfwd -> logrecv +X25519MLKEM768 +yes +no +[0-9]+ \(server\) +2000 access-log lines, each acked'
has "logrecv -> Kafka row" "$text" '^logrecv -> Kafka +- +no +- +- +2000 events in topic logs.access, read back; not PQ: the mock broker speaks plaintext'
has "forwarded and read back" "$text" '^forwarded 2000, read back from Kafka 2000: every line arrived$'
boot=$(sed -n 's/^  pqify-kafka kafka-mock  pid [0-9]*  \([^ ]*\) .*/\1/p' "$out/stdout")
admin=$(sed -n 's/^  pqify-kafka logrecv  pid [0-9]*  [^ ]*  admin 127.0.0.1:\([0-9]*\) .*/\1/p' "$out/stdout")
# the demo's counts against Kafka itself, read by kcat: every line once
topic() { timeout 30 kcat -C -e -q -b "$boot" -t "$1" -f '%s\n' 2>"$out/kcat.err"; }
check "messages in logs.access (kcat)" "$(topic logs.access | wc -l)" 2000
check "distinct lines in logs.access (kcat)" "$(topic logs.access | grep -o 'GET /item/[0-9]*' | sort -u | wc -l)" 2000
# Fig. 2: 15 timed batches of 500 events on each stream after an untimed one,
# every one acked, so in Kafka
check "events of Fig. 2's pq stream (kcat)" "$(topic logs.pq | wc -l)" 8000
check "events of Fig. 2's classical stream (kcat)" "$(topic logs.classical | wc -l)" 8000
# Fig. 1's handshakes as logrecv counted them: 1 (logfwd) + 60 + 1 (Fig. 2) PQ, 60 + 1 classical
m=$(curl -s "http://127.0.0.1:$admin/metrics")
check "logrecv's X25519MLKEM768 handshakes" \
  "$(sed -n 's/^pqify_tls_handshakes_total{role="server",group="X25519MLKEM768",pq="true",hrr="false"} //p' <<<"$m")" 62
check "logrecv's X25519 handshakes" \
  "$(sed -n 's/^pqify_tls_handshakes_total{role="server",group="x25519",pq="false",hrr="false"} //p' <<<"$m")" 61
# the key server's own count of what it signed for the demo
ks_admin=$(sed -n 's/^  pqify keyserver  pid [0-9]*  [^ ]*  admin 127.0.0.1:\([0-9]*\) .*/\1/p' "$out/stdout")
m=$(curl -s "http://127.0.0.1:$ks_admin/metrics")
check "key server's ECDSA signs" \
  "$(sed -n 's/^pqify_keyless_requests_total{opcode="ecdsa-sha256",result="ok"} //p' <<<"$m")" 1
# the echo hop, and pqify serve's own line for it
check "echoed through serve" "$(cat "$dir/connect.out")" "hello through pqify"
has "serve's accepted line" "$(cat "$dir/serve.log")" 'accepted .*group=X25519MLKEM768 pq=yes hrr=no'
# Table 1's two ratios and Fig. 1/2's rows
has "Table 1 Kyber-512 row" "$text" '^Kyber-512 encaps / P-256 ECDH +[0-9.]+ +[0-9.]+ +[0-9.]+x$'
has "Table 1 ML-KEM-768 row" "$text" '^ML-KEM-768 encaps / X25519 +[0-9.]+ +[0-9.]+ +[0-9.]+x$'
has "Fig. 1 rows" "$text" '^X25519MLKEM768 +[0-9]+ +[0-9]+ +[0-9]+$'
has "Fig. 2 rows" "$text" '^classical +[0-9.]+ +[0-9.]+$'

# every SVG renders, at the size it declares, with its series drawn
for f in table1 fig1 fig2; do
  svg="$dir/$f.svg"
  if rsvg-convert "$svg" -o "$out/$f.png" 2>"$out/$f.err"; then
    checks=$((checks + 1))
    # the PNG's IHDR: width and height, big-endian, at bytes 16..23
    check "$f.png size" "$(python3 -c 'import struct,sys; d=open(sys.argv[1],"rb").read(24); print("%d x %d" % struct.unpack(">II", d[16:24]) if d[:8]==b"\x89PNG\r\n\x1a\n" else "not a PNG")' "$out/$f.png")" "760 x 440"
  else
    fails=$((fails + 1)); echo "FAIL: rsvg-convert $f.svg: $(cat "$out/$f.err")"
  fi
done
check "Fig. 1 curves" "$(grep -c '<polyline class="series"' "$dir/fig1.svg")" 2
# a CDF step line: two points per handshake, 60 handshakes per group
pts=$(grep -m1 '<polyline class="series"' "$dir/fig1.svg" | grep -o '[0-9.]*,[0-9.]*' | wc -l)
check "Fig. 1 points on the PQ curve" "$pts" 120
check "Fig. 2 lines" "$(grep -c '<polyline class="series"' "$dir/fig2.svg")" 2
check "Fig. 2 batches drawn" "$(grep -c '<circle ' "$dir/fig2.svg")" 30
check "Table 1 bars" "$(grep -c '<rect class="bar"' "$dir/table1.svg")" 2

# the report: printed path, the figures and tables inside
has "report path printed" "$text" "^report: $dir/report.html$"
html=$(cat "$dir/report.html")
for f in table1.svg fig1.svg fig2.svg; do has "report holds $f" "$html" "<img src=\"$f\""; done
has "report's fleet table" "$html" '<td>logfwd -&gt; logrecv</td><td>X25519MLKEM768</td><td>yes</td>'
has "report's Table 1" "$html" '<td>Kyber-512 encaps / P-256 ECDH</td>'

# Ctrl-C: the demo stops every service by pid and exits 130
pids=$(sed -n 's/^  pqify[a-z-]* [a-z-]*  pid \([0-9]*\) .*/\1/p' "$out/stdout")
check "services listed" "$(wc -w <<<"$pids")" 4
kill -INT "$demo"
wait "$demo"
check "demo exit status after Ctrl-C" "$?" 130
for p in $pids; do
  checks=$((checks + 1))
  if kill -0 "$p" 2>/dev/null; then fails=$((fails + 1)); echo "FAIL: pid $p still running"; kill "$p"; fi
done

echo "$checks checks, $fails failed"
[ "$fails" -eq 0 ] || { echo "--- stdout"; cat "$out/stdout"; echo "--- stderr"; cat "$out/stderr"; exit 1; }
