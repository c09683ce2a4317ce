#!/usr/bin/env bash
# pqify edge with bodies far larger than its memory (issue 12): 1 GiB down from nginx
# and 1 GiB up to the Python origin (which hashes what it got), over HTTP/1.1 and
# HTTP/2, through one edge whose peak RSS (VmHWM, /proc) must stay under 64 MiB: the
# bodies stream under flow control instead of piling up in the edge.
. "$(dirname "$0")/../interop/lib.sh"
. "$(dirname "$0")/lib_e2e.sh"
. "$(dirname "$0")/lib_edge.sh"
need_tool curl
need_tool nginx

chmod 755 "$work"
mkdir -p "$work/www"
truncate -s 1G "$work/www/1g.bin"   # zeros, without a GiB on disk
gib=1073741824
zero_sha=$(head -c $gib /dev/zero | sha256sum | cut -d' ' -f1)

# Under AddressSanitizer (the CI's ASan stage) freed blocks wait in a 256 MiB quarantine,
# which RSS counts: a small quarantine keeps the bound about the edge, not about ASan.
export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}quarantine_size_mb=1:thread_local_quarantine_size_kb=64"

begin "origins and edge"
start_nginx "$work/www" || finish
start_upload_origin || finish
start_edge --listen 127.0.0.1:0 --cert "$certs/server-p256.pem" --key "$certs/server-p256.key" \
  --admin 127.0.0.1:0 --route "*/up=http://127.0.0.1:$up_port" --route "*=http://127.0.0.1:$ngx_port" || finish
# the limit on a body is the config's (1 GiB by default): the upload is exactly that

# 1 GiB down over HTTP/2 and up over HTTP/1.1; the other two ways with 256 MiB (the
# test budget: each GiB takes 15-25 s of this shared machine), all through one edge.
truncate -s 256M "$work/www/256m.bin"
q=268435456
q_sha=$(head -c $q /dev/zero | sha256sum | cut -d' ' -f1)

# down <version> <file> <sha>
down() {
  SECONDS=0
  out=$(ecurl $1 "https://localhost:$edge_port/$2" | sha256sum | cut -d' ' -f1)
  expect "$1 download of $2, hashed by the client" "$out" "$3"
  say "$1 down $2: ${SECONDS}s"
}
# up <version> <file> <bytes> <sha>
up() {
  SECONDS=0
  out=$(ecurl $1 -X POST -T "$work/www/$2" "https://localhost:$edge_port/up" |
    python3 -c 'import json,sys; d=json.load(sys.stdin); print(d["bytes"], d["sha256"])')
  expect "$1 upload of $2, hashed by the origin" "$out" "$3 $4"
  say "$1 up $2: ${SECONDS}s"
}

begin "1 GiB down (HTTP/2) and up (HTTP/1.1)"
down --http2 1g.bin "$zero_sha"
up --http1.1 1g.bin "$gib" "$zero_sha"

begin "256 MiB down (HTTP/1.1) and up (HTTP/2)"
down --http1.1 256m.bin "$q_sha"
up --http2 256m.bin "$q" "$q_sha"

begin "the edge's peak memory"
hwm=$(awk '/^VmHWM:/ {print $2}' "/proc/$edge_pid/status")
say "edge VmHWM after 2.5 GiB relayed: ${hwm} kB"
[ -n "$hwm" ] && [ "$hwm" -lt 65536 ] && pass || fail "VmHWM ${hwm} kB is not under 64 MiB"
stop_edge TERM
expect "SIGTERM exit status" "$edge_rc" 0
finish
