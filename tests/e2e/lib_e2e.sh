# Helpers of the end-to-end tests (sourced after tests/interop/lib.sh): a
# long-running `pqify serve` (no --once) on an ephemeral loopback port, killed by
# pid on exit like every other process the tests start.
e2e_dir=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
clients="$e2e_dir/clients.mjs"
raw="$e2e_dir/raw.py"

# start_serve <args...>: sets srv_pid (timeout's), pq_pid (pqify's), srv_port, srv_log (and adm_port with --admin).
# SERVE_WRAP: a command put in front of pqify (e.g. prlimit for a lower fd limit).
start_serve() {
  srv_log="$casedir/pqify-serve.stderr"
  timeout 300 ${SERVE_WRAP:-} "$PQIFY_BIN" serve --listen 127.0.0.1:0 "$@" 2>"$srv_log" >/dev/null &
  srv_pid=$!
  pids+=("$srv_pid")
  if ! wait_for "$srv_log" '^listening on ' 10; then
    srv_port=0
    fail "pqify serve did not start listening"
    return 1
  fi
  srv_port=$(sed -n 's/^listening on .*:\([0-9]*\)$/\1/p' "$srv_log" | head -1)
  # Signals go to pqify itself: timeout(1) passes on only the first one it gets.
  pq_pid=$(pgrep -P "$srv_pid" -n)
  pids+=("$pq_pid")
  adm_port=$(sed -n 's/^pqify serve: admin endpoint on .*:\([0-9]*\) .*/\1/p' "$srv_log" | head -1)
}

# stop_serve <signal>: send it and wait (bounded by the timeout above); sets srv_rc.
stop_serve() {
  kill "-$1" "$pq_pid" 2>/dev/null
  wait "$srv_pid" 2>/dev/null
  srv_rc=$?
}

# stop_pid <pid>: SIGTERM, up to 15 s for it to exit, then SIGKILL; sets stop_rc.
stop_pid() {
  kill -TERM "$1" 2>/dev/null
  local i
  for ((i = 0; i < 300; i++)); do kill -0 "$1" 2>/dev/null || break; sleep 0.05; done
  kill -9 "$1" 2>/dev/null
  wait "$1" 2>/dev/null
  stop_rc=$?
}

# good_client: one echo through pqify connect; sets cli_rc and cli_out.
good_client() {
  cli_out=$(printf 'ping\n' | timeout 20 "$PQIFY_BIN" connect "127.0.0.1:$srv_port" \
    --ca "$certs/ca.pem" --servername localhost "$@" 2>"$casedir/connect.stderr")
  cli_rc=$?
}

# node_tls <port>: one Node 24 handshake (X25519MLKEM768 only, the test CA, name
# localhost) to 127.0.0.1:<port>; prints "ok TLSv1.3", "error ..." or "timeout".
node_tls() {
  timeout 30 "$node" --input-type=module -e '
    import tls from "node:tls"; import fs from "node:fs";
    const [port, ca] = process.argv.slice(1);
    const s = tls.connect({host: "127.0.0.1", port: +port, ca: fs.readFileSync(ca),
      servername: "localhost", ecdhCurve: "X25519MLKEM768"});
    s.setTimeout(20000, () => { console.log("timeout"); process.exit(1); });
    s.on("error", (e) => { console.log("error " + e.message); process.exit(1); });
    s.on("secureConnect", () => { console.log("ok " + s.getProtocol()); s.end(); });
  ' "$1" "$certs/ca.pem" 2>&1
}
