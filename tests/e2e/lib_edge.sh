# Helpers of the edge's end-to-end tests (sourced after interop/lib.sh and
# lib_e2e.sh): nginx and a Python upload origin on loopback, and pqify edge itself.
# Every process is started under timeout and killed by pid on exit.
edge_origin_py="$e2e_dir/edge_origin.py"
edge_raw_py="$e2e_dir/edge_raw.py"
edge_node_js="$e2e_dir/edge_node.mjs"

# free_port: a port the kernel had free a moment ago (for nginx, which cannot report
# a port 0 it was given).
free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# start_nginx <root> [extra http-block config]: nginx serving root; sets ngx_port, ngx_pid.
start_nginx() {
  local root=$1 extra=${2:-} d="$casedir/nginx" i
  mkdir -p "$d"
  for i in 1 2 3 4 5; do
    ngx_port=$(free_port)
    cat >"$d/nginx.conf" <<NGX
worker_processes 1;
daemon off;
pid $d/nginx.pid;
error_log $d/error.log;
events { worker_connections 4096; }
http {
  access_log off;
  client_body_temp_path $d/cb; proxy_temp_path $d/pt; fastcgi_temp_path $d/ft;
  uwsgi_temp_path $d/ut; scgi_temp_path $d/st;
  keepalive_requests 100000;
  sendfile on;
  $extra
  server { listen 127.0.0.1:$ngx_port; root $root; }
}
NGX
    timeout 600 nginx -c "$d/nginx.conf" -p "$d" 2>>"$d/stderr" &
    ngx_pid=$!
    pids+=("$ngx_pid")
    local j
    for j in $(seq 1 40); do
      if curl -s -o /dev/null "http://127.0.0.1:$ngx_port/" 2>/dev/null; then return 0; fi
      kill -0 "$ngx_pid" 2>/dev/null || break
      sleep 0.05
    done
    kill "$ngx_pid" 2>/dev/null
  done
  fail "nginx did not start"
  return 1
}

# start_upload_origin [--unix PATH]: the Python origin; sets up_port (or up_sock).
start_upload_origin() {
  local log="$casedir/origin-$RANDOM.out"
  timeout 600 python3 "$edge_origin_py" "$@" >"$log" 2>&1 &
  pids+=("$!")
  wait_for "$log" '^listening on ' 10 || { fail "upload origin did not start"; return 1; }
  up_port=$(sed -n 's/^listening on 127.0.0.1:\([0-9]*\)$/\1/p' "$log")
}

# start_edge <args...>: pqify edge on 127.0.0.1:0; sets edge_pid (pqify's own pid),
# edge_port, adm_port, edge_log.
start_edge() {
  edge_log="$casedir/edge-$RANDOM.stderr"
  timeout 600 ${EDGE_WRAP:-} "$PQIFY_BIN" edge "$@" 2>"$edge_log" >/dev/null &
  local tpid=$!
  pids+=("$tpid")
  edge_tpid=$tpid
  if ! wait_for "$edge_log" '^listening on ' 10; then
    fail "pqify edge did not start listening"
    return 1
  fi
  edge_port=$(sed -n 's/^listening on .*:\([0-9]*\)$/\1/p' "$edge_log" | head -1)
  adm_port=$(sed -n 's/^pqify edge: admin endpoint on [^ ]*:\([0-9]*\) .*/\1/p' "$edge_log" | head -1)
  edge_pid=$(pgrep -P "$tpid" -n)
  pids+=("$edge_pid")
}

# stop_edge <signal>: sets edge_rc.
stop_edge() {
  kill "-$1" "$edge_pid" 2>/dev/null
  wait "$edge_tpid" 2>/dev/null
  edge_rc=$?
}

# ecurl <args...>: curl to the edge as host localhost (the certificate's name).
ecurl() {
  curl -sS --max-time 60 --cacert "$certs/ca.pem" --resolve "localhost:$edge_port:127.0.0.1" "$@"
}

# raw_send <bytes> [wait]: edge_raw.py; sets raw_out (status line, closed|open, count).
raw_send() {
  raw_out=$(timeout 30 python3 "$edge_raw_py" "$edge_port" "$certs/ca.pem" send "$@" 2>&1)
}

metric() { # metric <regex>: the sum of matching samples on /metrics
  curl -s "http://127.0.0.1:$adm_port/metrics" | grep -E "$1" | awk '{s+=$NF} END {printf "%d", s}'
}

# start_connector_flags <origin URL>: pqify tunnel from flags alone (no file) to the
# edge's tunnels: listener on 127.0.0.1:$hub_port as tunnel $name (client-p256.pem),
# waiting for its 4 connections; sets tun_tpid (the timeout wrapper), tun_pid, tun_log.
start_connector_flags() {
  tun_log="$casedir/tunnel-$RANDOM.stderr"
  timeout 300 "$PQIFY_BIN" tunnel --edge "127.0.0.1:$hub_port" --name "$name" --cert "$certs/client-p256.pem" \
    --key "$certs/client-p256.key" --ca "$certs/ca.pem" --servername localhost --url "$1" 2>"$tun_log" >/dev/null &
  tun_tpid=$!
  pids+=("$tun_tpid")
  wait_for "$tun_log" "registered connection=.* ready=4/4" 15 || { fail "the connector did not register 4 connections"; return 1; }
  tun_pid=$(pgrep -P "$tun_tpid" -n)
  pids+=("$tun_pid")
}
