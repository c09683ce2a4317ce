#!/usr/bin/env bash
# pqify demo --quick end to end. With --keep: its fleet table (one row per hop:
# client -> edge over HTTP/1.1 and HTTP/2, edge -> key server, edge -> connector,
# connector -> origin, logfwd -> logrecv, logrecv -> Kafka) and its counts, checked
# against Kafka itself (kcat) and each service's own /metrics; curl through the
# running fleet; every SVG it wrote rendered by rsvg-convert (Debian librsvg2-bin)
# into a PNG of the declared size; the HTML report holding the three figures and
# both tables; Ctrl-C stopping every service by pid and removing the fleet's
# folder. Without --keep: exit 0, the report written, the fleet's folder gone.
set -uo pipefail
pqify=${1:?usage: demo_report.sh PQIFY}
command -v rsvg-convert >/dev/null || { echo "FAIL: rsvg-convert missing (scripts/dev installs librsvg2-bin)"; exit 1; }
command -v kcat >/dev/null || { echo "FAIL: kcat missing (scripts/dev installs it)"; exit 1; }
command -v curl >/dev/null || { echo "FAIL: curl missing"; exit 1; }
out=$(mktemp -d "${TMPDIR:-/tmp}/pqify-demo-test.XXXXXX")
# the fleet's folder goes under TMPDIR: this test's own, so that a leftover is seen
export TMPDIR="$out/tmp"
mkdir -p "$TMPDIR"
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
metric() { # metric ADMIN_PORT SAMPLE: the value of that exact sample
  curl -s --max-time 5 "http://127.0.0.1:$1/metrics" | awk -v s="$2" 'index($0, s " ") == 1 { print $2 }'
}

# --keep: the fleet stays up for the checks below, then Ctrl-C (SIGINT) ends it
report="$out/report"
timeout 150 "$pqify" demo --quick --keep --out "$report" >"$out/stdout" 2>"$out/stderr" &
demo=$!
for ((i = 0; i < 1500; i++)); do
  grep -q 'Ctrl-C stops it' "$out/stdout" 2>/dev/null && break
  kill -0 "$demo" 2>/dev/null || break
  sleep 0.1
done
text=$(cat "$out/stdout")
has "the demo came to --keep" "$text" 'Ctrl-C stops it'
fleet=$(sed -n 's/^Started on loopback (configs and logs in \(.*\)):$/\1/p' <<<"$text")
has "the fleet's folder is under TMPDIR" "$fleet" "^$TMPDIR/pqify-demo\."

# the fleet table: a row per hop, each PQ but the mock Kafka, which says why
pq='X25519MLKEM768 +yes +no +[0-9]+'
has "client -> edge HTTP/1.1 row" "$text" \
  "^client -> edge +$pq \(client\) +20 GETs over HTTP/1.1 keep-alive \(ALPN http/1.1\), 20 answered 200"
has "client -> edge HTTP/2 row" "$text" \
  "^client -> edge +$pq \(client\) +20 GETs over HTTP/2, all in flight \(ALPN h2\), 20 answered 200"
has "edge -> key server row" "$text" "^edge -> key server +$pq \(server\) +2 ECDSA P-256 signatures .*; [0-9]+ handshakes?$"
has "edge -> connector row" "$text" "^edge -> connector +$pq \(client\) +40 requests as HTTP/2 streams .*; 4 handshakes$"
has "connector -> origin row" "$text" \
  "^connector -> origin +$pq \(server\) +40 GETs, HTTP/1.1 over TLS to pqify serve --www \(0 origin errors\); [0-9]+ handshakes?$"
has "logfwd -> logrecv row" "$text" "^logfwd -> logrecv +$pq \(client\) +40 access-log events \(stream access\), acked; 1 handshake$"
has "logrecv -> Kafka row" "$text" \
  '^logrecv -> Kafka +- +no +- +- +40 events in topic logs.access, read back; not PQ: the mock broker speaks plaintext'
has "the counts" "$text" \
  '^requests sent 40 \(20 HTTP/1.1, 20 HTTP/2\), answered 200: 40; access-log events read back from Kafka: 40: every request answered and logged$'

port_of() { sed -n "s/^  $1  pid [0-9]*  127.0.0.1:\([0-9]*\) .*/\1/p" <<<"$text"; }
admin_of() { sed -n "s/^  $1  pid [0-9]* .*  admin 127.0.0.1:\([0-9]*\) .*/\1/p" <<<"$text" | head -1; }
boot=$(sed -n 's/^  pqify-kafka kafka-mock  pid [0-9]*  \([^ ]*\) .*/\1/p' <<<"$text")
edge=$(port_of 'pqify edge')
# the demo's counts against Kafka itself, read by kcat: one event per request, each path once
topic() { timeout 30 kcat -C -e -q -b "$boot" -t "$1" -f '%s\n' 2>>"$out/kcat.err"; }
check "events in logs.access (kcat)" "$(topic logs.access | wc -l)" 40
check "distinct request paths in logs.access (kcat)" \
  "$(topic logs.access | grep -Eo '"/demo/(http1|h2)/[0-9]+"' | sort -u | wc -l)" 40
# each service's own count
check "the key server's ECDSA signs" \
  "$(metric "$(admin_of 'pqify keyserver')" 'pqify_keyless_requests_total{opcode="ecdsa-sha256",result="ok"}')" 2
check "the edge's access-log lines" "$(metric "$(admin_of 'pqify edge')" pqify_edge_access_log_lines_total)" 40
check "the origin's connections (pqify serve)" "$(grep -c '^accepted .*group=X25519MLKEM768 pq=yes' "$fleet/origin.log")" \
  "$(metric "$(admin_of 'pqify serve --www')" 'pqify_tls_handshakes_total{role="server",group="X25519MLKEM768",pq="true",hrr="false"}')"
check "the edge's certificate: its key only on the key server" "$(ls "$fleet/keys")" edge.key
# Fig. 1's handshakes as logrecv counted them: logfwd's and 60 PQ, logfwd-classical's and 60 X25519
lr=$(admin_of 'pqify-kafka logrecv')
check "logrecv's X25519MLKEM768 handshakes" \
  "$(metric "$lr" 'pqify_tls_handshakes_total{role="server",group="X25519MLKEM768",pq="true",hrr="false"}')" 61
check "logrecv's X25519 handshakes" "$(metric "$lr" 'pqify_tls_handshakes_total{role="server",group="x25519",pq="false",hrr="false"}')" 61
# Fig. 2: every line written into the two forwarders is in Kafka, and the batches
# the demo printed are the forwarders' own counts
for s in pq classical; do
  row=$(grep -E "^$s +[0-9]+ +[0-9]+ +[0-9]+ +[0-9.]+$" <<<"$text")
  has "Fig. 2 row $s" "$row" .
  read -r _ sent acked batches _ <<<"$row"
  check "Fig. 2 $s: acked = written" "$acked" "$sent"
  check "Fig. 2 $s: events in logs.$s (kcat)" "$(topic "logs.$s" | wc -l)" "$sent"
  a=$(admin_of 'pqify logfwd'); [ "$s" = classical ] && a=$(sed -n 's/^  pqify logfwd  pid [0-9]*  unix socket classical  admin 127.0.0.1:\([0-9]*\) .*/\1/p' <<<"$text")
  # the forwarder's count holds one batch more: the stream's first line, sent untimed
  check "Fig. 2 $s: batches + 1 = logfwd's histogram count" \
    "$(metric "$a" "pqify_logfwd_batch_send_duration_seconds_count{stream=\"$s\"}")" "$((batches + 1))"
done
points=$(sed -n 's/^Fig. 2 draws \([0-9]*\) half-second means of the pq stream and \([0-9]*\) of the classical one.$/\1 \2/p' <<<"$text")
read -r p_pq p_cl <<<"$points"
[ "${p_pq:-0}" -ge 5 ] && [ "${p_cl:-0}" -ge 5 ] && checks=$((checks + 1)) ||
  { fails=$((fails + 1)); echo "FAIL: Fig. 2 points: '$points', want 5 or more per stream"; }
# the running fleet, as --keep's commands say: curl (classical) through edge, tunnel and origin
for v in --http1.1 --http2; do
  got=$(curl -s $v --max-time 20 --cacert "$fleet/ca.pem" --resolve "localhost:$edge:127.0.0.1" -w '\n%{http_code} %{http_version}' "https://localhost:$edge/curl")
  has "curl $v through the kept fleet" "$got" "^200 ${v#--http}$"
  has "curl $v reached the origin (its page of facts)" "$got" 'group=X25519MLKEM768'
done
has "the kcat command printed" "$text" "^  kcat -C -e -b $boot -t logs.access"
has "the scan command printed" "$text" "^  pqify scan 127.0.0.1:$edge --ca $fleet/ca.pem --servername localhost$"

# Table 1's two ratios and Fig. 1's rows
has "Table 1 Kyber-512 row" "$text" '^Kyber-512 encaps / P-256 ECDH +[0-9.]+ +[0-9.]+ +[0-9.]+x$'
has "Table 1 ML-KEM-768 row" "$text" '^ML-KEM-768 encaps / X25519 +[0-9.]+ +[0-9.]+ +[0-9.]+x$'
has "Fig. 1 rows" "$text" '^X25519MLKEM768 +[0-9]+ +[0-9]+ +[0-9]+$'

# every SVG renders, at the size it declares, with its series drawn
for f in table1 fig1 fig2; do
  svg="$report/$f.svg"
  if rsvg-convert "$svg" -o "$out/$f.png" 2>"$out/$f.err"; then
    checks=$((checks + 1))
    # the PNG's IHDR: width and height, big-endian, at bytes 16..23
    check "$f.png size" "$(od -An -tu1 -j16 -N8 "$out/$f.png" | awk '{ printf "%d x %d", $1*16777216+$2*65536+$3*256+$4, $5*16777216+$6*65536+$7*256+$8 }')" "760 x 440"
  else
    fails=$((fails + 1)); echo "FAIL: rsvg-convert $f.svg: $(cat "$out/$f.err")"
  fi
done
check "Fig. 1 curves" "$(grep -c '<polyline class="series"' "$report/fig1.svg")" 2
# a CDF step line: two points per handshake, 60 handshakes per group
pts=$(grep -m1 '<polyline class="series"' "$report/fig1.svg" | grep -o '[0-9.]*,[0-9.]*' | wc -l)
check "Fig. 1 points on the PQ curve" "$pts" 120
check "Fig. 2 lines" "$(grep -c '<polyline class="series"' "$report/fig2.svg")" 2
check "Fig. 2 points drawn" "$(grep -c '<circle ' "$report/fig2.svg")" "$((p_pq + p_cl))"
check "Table 1 bars" "$(grep -c '<rect class="bar"' "$report/table1.svg")" 2

# the report: printed path, the figures and tables inside
has "report path printed" "$text" "^report: $report/report.html$"
html=$(cat "$report/report.html")
for f in table1.svg fig1.svg fig2.svg; do has "report holds $f" "$html" "<img src=\"$f\""; done
has "report's fleet table" "$html" '<td>edge -&gt; key server</td><td>X25519MLKEM768</td><td>yes</td>'
has "report's Table 1" "$html" '<td>Kyber-512 encaps / P-256 ECDH</td>'

# Ctrl-C: the demo stops every service by pid, removes the fleet's folder, exits 130
pids=$(sed -n 's/^  pqify[a-z -]*  pid \([0-9]*\) .*/\1/p' <<<"$text")
check "services listed" "$(wc -w <<<"$pids")" 8
kill -INT "$demo"
wait "$demo"
check "demo exit status after Ctrl-C" "$?" 130
demo=""
for p in $pids; do
  checks=$((checks + 1))
  if kill -0 "$p" 2>/dev/null; then fails=$((fails + 1)); echo "FAIL: pid $p still running"; kill "$p"; fi
done
check "the fleet's folder after Ctrl-C" "$(ls -A "$TMPDIR")" ""

# without --keep: the demo ends by itself, its fleet's folder gone, its report there
timeout 150 "$pqify" demo --quick --out "$out/report2" >"$out/stdout2" 2>"$out/stderr2"
check "demo exit status" "$?" 0
check "the fleet's folder after the demo" "$(ls -A "$TMPDIR")" ""
for f in report.html table1.svg fig1.svg fig2.svg; do
  checks=$((checks + 1))
  [ -s "$out/report2/$f" ] || { fails=$((fails + 1)); echo "FAIL: $f not in --out"; }
done

echo "$checks checks, $fails failed"
[ "$fails" -eq 0 ] || { echo "--- stdout"; cat "$out/stdout"; echo "--- stderr"; cat "$out/stderr"; cat "$out/stderr2"; exit 1; }
