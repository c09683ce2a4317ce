#!/usr/bin/env bash
# The shared-key handshake (Forward v1 HELO/PING/PONG) and @fluent-org/logger as the
# independent peer on both ends (issue 11), counted by sequence number:
#  - logrecv with `security.shared_key`: Node's FluentClient with the key over
#    X25519MLKEM768 gets its acks; with a wrong key it is refused with words in the
#    log, and a pqify logfwd with the right key, sending at the same time, loses
#    nothing; a logfwd with a wrong key says the receiver refused it;
#  - pqify logfwd delivering to Node's FluentServer over TLS 1.3 that offers only
#    X25519MLKEM768 (Node 24, OpenSSL 3.5), with the shared key, gzip: every line
#    arrives, every batch acked, logfwd exits 0 and names the group.
. "$(dirname "$0")/../interop/lib.sh"
. "$(dirname "$0")/lib_logs.sh"
need_node
need_tool python3
fluent="$peers_js/fluent_peer.mjs"
peers="${PQIFY_PEERS_DIR:-$src_root/.peers}"
export FLUENT_TLS_CA="$certs/ca.pem"

seqs() {  # seqs <jsonl files...>: missing=N duplicates=N over record.seq or message seq=N
  python3 - "$@" <<'PY'
import json, sys, collections, re
first, n = int(sys.argv[1]), int(sys.argv[2])
seen = collections.Counter()
for f in sys.argv[3:]:
    for line in open(f):
        if not line.startswith("{"): continue
        r = json.loads(line)["record"]
        s = r.get("seq")
        if s is None:
            m = re.fullmatch(r"seq=(\d+)", r.get("message", ""))
            if not m: continue
            s = int(m.group(1))
        seen[int(s)] += 1
missing = [s for s in range(first, first + n) if seen[s] == 0]
print(f"missing={len(missing)} first_missing={missing[:5]}")
print(f"duplicates={sum(k - 1 for k in seen.values() if k > 1)}", file=sys.stderr)
PY
}

begin "logrecv with a shared key: right keys served, a wrong key refused in words, others unaffected"
mkdir -p "$casedir/sink"
cat >"$casedir/logrecv.yaml" <<YAML
listen: 127.0.0.1:0
tls: {cert: "$certs/server-p256.pem", key: "$certs/server-p256.key"}
sink: file:$casedir/sink
security: {shared_key: "s3cret-k3y", self_hostname: logrecv-test}
YAML
"$PQIFY_BIN" logrecv --config "$casedir/logrecv.yaml" 2>"$casedir/logrecv.stderr" &
r_pid=$!; pids+=("$r_pid")
if wait_for "$casedir/logrecv.stderr" '^listening on ' 10; then
  r_port=$(sed -n 's/^listening on .*:\([0-9]*\)$/\1/p' "$casedir/logrecv.stderr")
  fwd_cfg() {  # fwd_cfg <file> <key> <host>
    printf 'to: ["127.0.0.1:%s"]\ntls: {ca: "%s", server_name: localhost}\nspool: {dir: "%s"}\nsecurity: {shared_key: "%s", self_hostname: %s}\nack_timeout: 5s\n' \
      "$r_port" "$certs/ca.pem" "$casedir/spool-$3" "$2" "$3" >"$1"
  }
  fwd_cfg "$casedir/good.yaml" s3cret-k3y fwd-good
  fwd_cfg "$casedir/bad.yaml" wrong-key fwd-bad
  # a good forwarder streaming while the wrong keys arrive
  python3 -c 'import sys, time
for i in range(3000):
    print(f"seq={i}", flush=(i % 50 == 0))
    if i % 50 == 0: time.sleep(0.02)' |
    "$PQIFY_BIN" logfwd --config "$casedir/good.yaml" --tag fwd --batch-ms 20 2>"$casedir/logfwd-good.stderr" &
  g_pid=$!; pids+=("$g_pid")
  out=$(FLUENT_SEQ_BASE=10000 timeout 60 "$node" "$fluent" "$peers" client "$r_port" PackedForward 200 s3cret-k3y 2>"$casedir/node-good.stderr")
  expect "node with the key: group" "$(sed -n 1p <<<"$out")" "tls X25519MLKEM768"
  expect "node with the key: acks" "$(sed -n 2p <<<"$out")" "acked 200"
  FLUENT_SEQ_BASE=20000 FLUENT_ACK_TIMEOUT_MS=3000 timeout 30 "$node" "$fluent" "$peers" client "$r_port" Forward 10 wrong-key \
    >"$casedir/node-bad.out" 2>&1
  rc=$?
  # (13: Node's exit when the connect promise never settles: the server closed after PONG)
  expect "node with a wrong key fails" "$([ "$rc" -ne 0 ] && ! grep -q '^acked' "$casedir/node-bad.out" && echo yes)" yes
  if wait_for "$casedir/logrecv.stderr" 'msg="closing connection" .*reason="shared_key mismatch" hostname=node-client' 10; then pass
  else fail "no words for the wrong key"; fi
  printf 'seq=30000\n' >"$casedir/bad.in"
  "$PQIFY_BIN" logfwd --config "$casedir/bad.yaml" --tag bad <"$casedir/bad.in" 2>"$casedir/logfwd-bad.stderr" &
  b_pid=$!; pids+=("$b_pid")
  wait_for "$casedir/logfwd-bad.stderr" 'refused our shared key' 20
  expect_match "logfwd with a wrong key says so" "$(cat "$casedir/logfwd-bad.stderr")" 'msg="the receiver refused our shared key" reason="shared_key mismatch"'
  kill -9 "$b_pid" 2>/dev/null; wait "$b_pid" 2>/dev/null
  for ((i = 0; i < 600; i++)); do kill -0 "$g_pid" 2>/dev/null || break; sleep 0.05; done
  wait "$g_pid"; expect "the good logfwd exits 0" "$?" 0
  expect_match "it was accepted" "$(cat "$casedir/logfwd-good.stderr")" 'msg="shared key accepted"'
  expect "the good logfwd's lines" "$(seqs 0 3000 "$casedir"/sink/fwd.jsonl* 2>>"$casedir/report")" "missing=0 first_missing=[]"
  expect "node's events" "$(seqs 10000 200 "$casedir"/sink/pqify.test.jsonl* 2>>"$casedir/report")" "missing=0 first_missing=[]"
  expect "nothing from the wrong keys" "$(cat "$casedir"/sink/*.jsonl | grep -c -E '"seq":2[0-9]{4}|seq=30000')" 0
  say "  $(tr '\n' ' ' <"$casedir/report")"
else
  fail "logrecv did not start"
fi
stop_pid "$r_pid"

begin "pqify logfwd -> Node's FluentServer over TLS (X25519MLKEM768 only), shared key, counted"
mkfifo "$casedir/server.in"
FLUENT_TLS_CERT="$certs/server-p256.pem" FLUENT_TLS_KEY="$certs/server-p256.key" \
  timeout 120 "$node" "$fluent" "$peers" server "k3y-2" <"$casedir/server.in" >"$casedir/server.out" 2>"$casedir/server.stderr" &
n_pid=$!; pids+=("$n_pid")
exec 7>"$casedir/server.in"
if wait_for "$casedir/server.out" '^listening on ' 20; then
  n_port=$(sed -n 's/^listening on .*:\([0-9]*\)$/\1/p' "$casedir/server.out")
  printf 'to: ["127.0.0.1:%s"]\ntls: {ca: "%s", server_name: localhost}\nspool: {dir: "%s"}\nsecurity: {shared_key: "k3y-2", self_hostname: fwd-to-node}\ncompression: gzip\nbatch: {max_events: 500}\n' \
    "$n_port" "$certs/ca.pem" "$casedir/spool" >"$casedir/logfwd.yaml"
  python3 -c 'for i in range(5000): print(f"seq={i}")' |
    timeout 60 "$PQIFY_BIN" logfwd --config "$casedir/logfwd.yaml" --tag to.node 2>"$casedir/logfwd.stderr"
  expect "logfwd exit (everything acked by FluentServer)" "$?" 0
  expect_match "the group" "$(cat "$casedir/logfwd.stderr")" 'msg=connected .*group=X25519MLKEM768 pq=yes'
  expect_match "shared key accepted" "$(cat "$casedir/logfwd.stderr")" 'msg="shared key accepted"'
  expect "every line at FluentServer" "$(seqs 0 5000 "$casedir/server.out" 2>>"$casedir/report")" "missing=0 first_missing=[]"
  expect "the tag" "$(grep -c '"tag":"to.node"' "$casedir/server.out")" 5000
  say "  $(cat "$casedir/report")"
else
  fail "FluentServer did not start"
fi
exec 7>&-
for ((i = 0; i < 100; i++)); do kill -0 "$n_pid" 2>/dev/null || break; sleep 0.05; done
kill "$n_pid" 2>/dev/null; wait "$n_pid" 2>/dev/null

finish
