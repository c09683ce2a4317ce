#!/usr/bin/env bash
# A real deployment, in a temporary root: `cmake --install` of this build tree
# (DESTDIR, prefix /usr), then every service that exists today started from the
# installed binaries and the installed example settings, with certificates issued
# by the commands docs/deploy.md gives. Checks: the files a package needs are
# there; the headers, static libraries and pqify.pc build and link a program that
# round-trips ML-KEM-768; OpenSSL loads the installed provider; a man page per
# command; each systemd unit passes `systemd-analyze verify` (and a broken copy
# does not) with a sandbox exposure level under 2; the installed pqify-bench finds
# the installed provider, not the build tree's ($PQIFY_PROVIDER overrides); then a
# fleet from the installed examples: keyserver, logrecv, logfwd (a file input and
# the socket the edge logs into), the edge (its certificate's key on the key
# server), a tunnel connector to a plain-HTTP origin; curl (HTTP/1.1, HTTP/2) and
# pqify connect through edge -> tunnel -> origin, their access-log lines counted in
# logrecv's sink; every admin endpoint ready, every internal hop X25519MLKEM768;
# SIGTERM stops each (by pid) with exit 0.
set -uo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
source "$here/../interop/lib.sh"
: "${PQIFY_BUILD_DIR:?PQIFY_BUILD_DIR (the build tree to install) must be set; CTest sets it}"
need_tool openssl
need_tool curl
need_tool systemd-analyze
need_tool help2man
need_tool pkg-config
need_tool man
need_tool python3

root="$work/root"          # DESTDIR
prefix=/usr
etc="$work/etc/pqify"      # stands for /etc/pqify
var="$work/var"            # stands for /var
mkdir -p "$etc/keys" "$var/log/pqify-logrecv" "$var/lib/pqify-logfwd" "$var/run/pqify-logfwd" "$var/log/app"

begin "cmake --install into a temporary root"
if DESTDIR="$root" cmake --install "$PQIFY_BUILD_DIR" --prefix "$prefix" >"$casedir/install.log" 2>&1; then
  pass
else
  fail "cmake --install failed"
  finish
fi
bin="$root$prefix/bin"
pq="$bin/pqify"
units="$root$prefix/lib/systemd/system"
examples="$root$prefix/share/pqify/examples"
libdir=$(dirname "$(find "$root$prefix" -name pqify.pc -path '*/pkgconfig/*' | head -1)")
libdir=${libdir%/pkgconfig}
provider=$(find "$root" -name pqify.so -path '*ossl-modules*' | head -1)
for f in "$pq" "$bin/pqify-kafka" "$bin/pqify-bench"; do
  if [ -x "$f" ]; then pass; else fail "$f not installed or not executable"; fi
done
for f in include/pqify/kem.h include/pqify/tls.h include/pqify/net.h include/pqify/net/service.h \
         include/pqify/logs.h include/pqify/keyless.h; do
  [ -f "$root$prefix/$f" ] && pass || fail "$prefix/$f not installed"
done
for l in kem tls net keyless logs; do
  [ -f "$libdir/libpqify_$l.a" ] && pass || fail "libpqify_$l.a not installed (libdir $libdir)"
done
for u in keyserver edge tunnel logfwd logrecv; do
  [ -f "$units/pqify-$u.service" ] && pass || fail "pqify-$u.service not installed"
done
for e in keyserver.yaml logrecv.yaml logfwd.yaml serve.yaml edge.yaml tunnel.yaml; do
  [ -f "$examples/$e" ] && pass || fail "example $e not installed"
done
[ -n "$provider" ] && pass || fail "pqify.so not installed under an ossl-modules directory"
# The installed production binary, like the built one, never links libssl.
expect "libssl in the installed pqify's NEEDED" "$(readelf -d "$pq" | grep -c 'libssl')" 0

begin "a man page per command, from --help"
commands=$("$pq" --help | sed -n '/^commands:/,/^$/s/^  \([a-z0-9-]*\)  .*/\1/p')
expect_match "commands listed" "$commands" "keyserver"
for c in pqify pqify-kafka $(printf 'pqify-%s ' $commands); do
  page="$root$prefix/share/man/man1/$c.1"
  title=$c; grep -qx "${c#pqify-}" <<<"$commands" && title="pqify ${c#pqify-}"
  if [ -f "$page" ]; then
    # rendered by man itself: the NAME section names the command
    text=$(MANWIDTH=100 man -l "$page" 2>"$casedir/man.stderr" | sed -n '/^NAME/,/^DESCRIPTION/p')
    # a NAME line that fills the width is justified with extra spaces
    expect_match "man $c NAME" "$text" "^ *${title// / +} +- "
  else
    fail "no man page $c.1"
  fi
done

begin "headers, static libraries and pqify.pc build a program"
cat >"$casedir/roundtrip.c" <<'EOF'
#include <stdio.h>
#include <string.h>
#include <pqify/kem.h>
#include <pqify/tls.h>
int main(void)
{
    static uint8_t ek[PQIFY_MLKEM768_EK_BYTES], dk[PQIFY_MLKEM768_DK_BYTES];
    static uint8_t ct[PQIFY_MLKEM768_CT_BYTES], ss1[32], ss2[32];
    if (pqify_mlkem768_keypair(ek, dk) || pqify_mlkem768_encaps(ct, ss1, ek) ||
        pqify_mlkem768_decaps(ss2, ct, dk))
        return 1;
    pqify_tls_config *c = pqify_tls_config_new();
    if (c == NULL)
        return 1;
    pqify_tls_config_free(c);
    printf("%s\n", memcmp(ss1, ss2, 32) == 0 ? "same secret" : "different secrets");
    return 0;
}
EOF
pcflags=$(PKG_CONFIG_PATH="$libdir/pkgconfig" pkg-config --define-variable=prefix="$root$prefix" \
          --cflags --libs pqify 2>"$casedir/pkg-config.stderr")
expect "pkg-config pqify" "$?" 0
# a sanitizer build's archives need the compiler and runtime they were built with
san=""; [ "${PQIFY_SANITIZED:-0}" = 1 ] && san="-fsanitize=address,undefined"
if ${PQIFY_CC:-cc} -std=c11 $san -o "$casedir/roundtrip" "$casedir/roundtrip.c" $pcflags 2>"$casedir/cc.stderr"; then
  expect "program built on the installed library" "$("$casedir/roundtrip")" "same secret"
else
  fail "cc with \$(pkg-config --cflags --libs pqify) failed"
fi
for m in pqify-keyless pqify-logs; do
  PKG_CONFIG_PATH="$libdir/pkgconfig" pkg-config --define-variable=prefix="$root$prefix" --libs "$m" \
    >/dev/null 2>>"$casedir/pkg-config.stderr"
  expect "pkg-config $m resolves" "$?" 0
done

begin "OpenSSL loads the installed provider"
# a sanitizer build's pqify.so needs the sanitizer runtime preloaded into openssl
pre=()
[ -n "${PQIFY_PROVIDER_PRELOAD:-}" ] &&
  pre=(env "LD_PRELOAD=$PQIFY_PROVIDER_PRELOAD" LD_BIND_NOW=1 "ASAN_OPTIONS=detect_leaks=0:verify_asan_link_order=0")
out=$("${pre[@]+"${pre[@]}"}" openssl list -providers -provider-path "$(dirname "$provider")" -provider pqify 2>&1)
expect_match "openssl list -providers" "$out" "status: active"
expect_match "openssl list -providers" "$out" "pqify"

begin "systemd-analyze verify each unit"
# verify resolves ExecStart in --root, with systemd's own targets and /bin/kill there.
mkdir -p "$root/bin" "$root/etc/pqify/keys"
cp /bin/kill "$root/bin/"
cp -a /lib/systemd/system/*.target /lib/systemd/system/*.slice "$units/" 2>/dev/null
for u in "$units"/pqify-*.service; do
  name=$(basename "$u")
  svc=${name#pqify-}; svc=${svc%.*}
  # a unit whose command is not built yet (edge, tunnel) has no man page to find
  man=yes; grep -qx "$svc" <<<"$commands" || man=no
  out=$(MANPATH="$root$prefix/share/man" systemd-analyze verify --man=$man --root="$root" "$name" 2>&1)
  rc=$?
  expect "systemd-analyze verify $name: exit" "$rc" 0
  expect "systemd-analyze verify $name: what it said" "$out" ""
  if [ "${name##*.}" = service ]; then
    level=$(systemd-analyze security --offline=true --root="$root" "$name" 2>&1 |
            sed -n 's/.*Overall exposure level for .*: \([0-9.]*\) .*/\1/p')
    if [ -n "$level" ] && awk -v l="$level" 'BEGIN { exit !(l < 2.0) }'; then pass
    else fail "$name: sandbox exposure level '$level', want under 2.0 (systemd-analyze security --offline)"; fi
  fi
done
# the check itself: a unit with a mistyped setting and a bad signal is reported
sed -e 's/^KillSignal=SIGTERM/KillSignal=SIGTERMX/' -e 's/^NoNewPrivileges=yes/NoNewPrivilege=yes/' \
  "$units/pqify-keyserver.service" >"$units/pqify-broken.service"
out=$(systemd-analyze verify --man=no --root="$root" pqify-broken.service 2>&1)
expect_match "verify of a broken unit" "$out" "Unknown key 'NoNewPrivilege'"
expect_match "verify of a broken unit" "$out" "SIGTERMX"
rm -f "$units/pqify-broken.service"

begin "certificates from the internal CA, with docs/deploy.md's commands"
ca_script=$(sed -n '/<!-- ca:begin -->/,/<!-- ca:end -->/p' "$src_root/docs/deploy.md" | sed '/^```/d; /^<!--/d')
expect_match "docs/deploy.md's CA block" "$ca_script" "issue\(\)"
(
  cd "$etc" || exit 1
  eval "$ca_script"
  issue keyserver serverAuth DNS:localhost,IP:127.0.0.1
  issue logrecv serverAuth DNS:localhost,IP:127.0.0.1
  issue serve serverAuth DNS:localhost,IP:127.0.0.1
  # the edge: a client of the key servers and the listener of the tunnels
  issue edge1 serverAuth,clientAuth DNS:localhost,IP:127.0.0.1
  issue logfwd clientAuth DNS:logfwd1.internal
  issue app1 clientAuth DNS:app1.internal
  # the edge's public certificate; its key goes to the key server only
  issue www serverAuth DNS:localhost
  mv www.key keys/www.key
) >"$casedir/ca.log" 2>&1
expect "the CA commands" "$?" 0
for n in keyserver logrecv serve edge1 logfwd app1 www; do
  out=$(openssl verify -CAfile "$etc/internal-ca.pem" "$etc/$n.pem" 2>&1)
  expect "openssl verify $n.pem" "$out" "$etc/$n.pem: OK"
done

# settings: the installed examples with this test's paths and free ports
# (the credentials the units hand over are the files themselves here)
settings() {  # settings <example> <out>
  sed -e "s#/etc/pqify#$etc#g" -e "s#/var/log/pqify-logrecv#$var/log/pqify-logrecv#g" \
      -e "s#/var/lib/pqify-logfwd#$var/lib/pqify-logfwd#g" -e "s#/run/pqify-logfwd#$var/run/pqify-logfwd#g" \
      -e "s#/var/log/app#$var/log/app#g" \
      -e "s#/run/credentials/pqify-edge.service/edge-client-key#$etc/edge1.key#g" \
      -e "s#/run/credentials/pqify-tunnel.service/tunnel-key#$etc/app1.key#g" \
      -e 's#0\.0\.0\.0:[0-9]*#127.0.0.1:0#' -e 's#127\.0\.0\.1:[1-9][0-9]*#127.0.0.1:0#' \
      -e 's#[a-z0-9]*\.internal:[0-9]*#127.0.0.1:0#g' -e 's#[a-z0-9]*\.internal#localhost#g' \
      -e 's#www\.example\.com#localhost#g' \
      "$examples/$1" >"$2"
}
for s in keyserver logrecv serve logfwd edge tunnel; do
  settings "$s.yaml" "$work/$s.yaml"
done

begin "--check-config on each example"
for s in keyserver logrecv serve logfwd edge tunnel; do
  "$pq" "$s" --config "$work/$s.yaml" --check-config >"$casedir/$s.out" 2>&1
  expect "pqify $s --check-config (installed example)" "$?" 0
done

# start_svc <name> <args...>: the installed pqify, stderr to a file; sets
# <name>_pid, <name>_port and <name>_admin from its announce lines.
start_svc() {
  local name=$1; shift
  local log="$work/$name.stderr"
  timeout 120 "$pq" "$@" 2>"$log" >/dev/null &
  local p=$!
  pids+=("$p")
  printf -v "${name}_pid" '%s' "$p"
  if ! wait_for "$log" '^listening on ' 15; then
    fail "$name did not start listening"; sed 's/^/  | /' "$log" | head -20
    return 1
  fi
  printf -v "${name}_port" '%s' "$(sed -n 's/^listening on .*:\([0-9]*\)$/\1/p' "$log" | head -1)"
  printf -v "${name}_admin" '%s' "$(sed -n 's/^pqify [a-z]*: admin endpoint on .*:\([0-9]*\) .*/\1/p' "$log" | head -1)"
}

# stop_svc <name>: SIGTERM to pqify itself (timeout passes it on), exit 0 expected.
stop_svc() {
  local p; eval "p=\$${1}_pid"
  local child; child=$(pgrep -P "$p" -n)
  kill -TERM "${child:-$p}" 2>/dev/null
  wait "$p"
  expect "$1 exit status after SIGTERM" "$?" 0
}

# admin_check <name>: /ready answers 200 and /metrics counts a PQ server handshake
admin_check() {
  local port; eval "port=\$${1}_admin"
  expect "$1 /ready" "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$port/ready")" 200
  local m; m=$(curl -s "http://127.0.0.1:$port/metrics")
  expect_match "$1 /metrics: a PQ server handshake" "$m" \
    'pqify_tls_handshakes_total\{[^}]*role="server"[^}]*group="X25519MLKEM768"[^}]*\} [1-9]'
}

begin "the installed pqify-bench finds the installed provider"
out=$("$bin/pqify-bench" provider --help)
expect_match "pqify-bench provider's default, with the build tree still there" "$out" "here: $provider\)"
out=$(PQIFY_PROVIDER=/elsewhere/pqify.so "$bin/pqify-bench" provider --help)
expect_match "\$PQIFY_PROVIDER overrides it" "$out" "here: /elsewhere/pqify.so\)"

begin "pqify keyserver from keyserver.yaml"
ks_up=no
if start_svc keyserver keyserver --config "$work/keyserver.yaml"; then
  ks_up=yes
  out=$("$pq" keyless ping "127.0.0.1:$keyserver_port" --cert "$etc/edge1.pem" --key "$etc/edge1.key" \
        --ca "$etc/internal-ca.pem" 2>"$casedir/ping.stderr")
  expect_match "keyless ping through the installed key server" "$out" '^pong in [0-9.]+ ms group X25519MLKEM768$'
  # a signature by the key in keys/, checked by openssl against its public key
  ski=$(openssl pkey -in "$etc/keys/www.key" -pubout -outform DER 2>/dev/null | tail -c 65 |
        openssl dgst -sha1 -binary | od -An -tx1 | tr -d ' \n')
  printf 'installed' >"$work/msg"
  digest=$(openssl dgst -sha256 -binary "$work/msg" | od -An -tx1 | tr -d ' \n')
  sig=$("$pq" keyless sign "127.0.0.1:$keyserver_port" --cert "$etc/edge1.pem" --key "$etc/edge1.key" \
        --ca "$etc/internal-ca.pem" --ski "$ski" --op ecdsa-sha256 --payload "$digest" 2>"$casedir/sign.stderr")
  python3 -c 'import sys; sys.stdout.buffer.write(bytes.fromhex(sys.argv[1]))' "$sig" >"$work/sig.der"
  openssl pkey -in "$etc/keys/www.key" -pubout -out "$work/www.pub" 2>/dev/null
  out=$(openssl dgst -sha256 -verify "$work/www.pub" -signature "$work/sig.der" "$work/msg" 2>&1)
  expect "openssl verifies the key server's signature" "$out" "Verified OK"
  admin_check keyserver
fi

begin "pqify logrecv from logrecv.yaml, fed by pqify logfwd from logfwd.yaml"
sink="$var/log/pqify-logrecv"
lines() { cat "$sink/$1.jsonl" 2>/dev/null | wc -l; }
await_lines() { # await_lines <stream> <n>: up to 15 s
  local i
  for i in $(seq 1 150); do
    [ "$(lines "$1")" -ge "$2" ] && return 0
    sleep 0.1
  done
  return 1
}
lr_up=no fwd_up=no
if start_svc logrecv logrecv --config "$work/logrecv.yaml"; then
  lr_up=yes
  # logfwd.yaml's receivers (the second, the failover) both at this logrecv; it
  # tails /var/log/app/*.log and listens on the socket the edge logs into
  sed -i -e "s#^to: .*#to: [\"127.0.0.1:$logrecv_port\", \"127.0.0.1:$logrecv_port\"]#" "$work/logfwd.yaml"
  expect_match "logfwd.yaml's inputs" "$(cat "$work/logfwd.yaml")" "path: $var/run/pqify-logfwd/access.sock, tag: access"
  seq 1 500 | sed 's/^/event /' >"$var/log/app/app.log"
  # as the unit runs it: --spool and --key beside --config
  if start_svc logfwd logfwd --config "$work/logfwd.yaml" --spool "$var/lib/pqify-logfwd/spool" \
       --key "$etc/logfwd.key"; then
    fwd_up=yes
    await_lines app 500
    expect "events of app.log in the installed logrecv's file sink" "$(grep -c '"message":"event [0-9]*"' "$sink/app.jsonl" 2>/dev/null)" 500
    expect "distinct events" "$(grep -o '"event [0-9]*"' "$sink/app.jsonl" 2>/dev/null | sort -u | wc -l)" 500
    m=$(curl -s "http://127.0.0.1:$logfwd_admin/metrics")
    expect_match "logfwd's hop is X25519MLKEM768" "$m" \
      'pqify_tls_handshakes_total\{role="client",group="X25519MLKEM768",pq="true",hrr="false"\} [1-9]'
  fi
  admin_check logrecv
fi

begin "pqify edge from edge.yaml and pqify tunnel from tunnel.yaml, to a plain-HTTP origin"
www="$work/www"
mkdir -p "$www"
echo "served through the installed fleet" >"$www/index.html"
timeout 120 python3 -c '
import functools, http.server, sys
srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0),
    functools.partial(http.server.SimpleHTTPRequestHandler, directory=sys.argv[1]))
open(sys.argv[2] + ".tmp", "w").write(str(srv.server_address[1]))
__import__("os").rename(sys.argv[2] + ".tmp", sys.argv[2])
srv.serve_forever()' "$www" "$work/origin.port" 2>"$work/origin.stderr" &
origin_pid=$!
pids+=("$origin_pid")
for i in $(seq 1 100); do [ -s "$work/origin.port" ] && break; sleep 0.1; done
origin_port=$(cat "$work/origin.port" 2>/dev/null)
edge_up=no tun_up=no
if [ "$ks_up" = yes ] && [ "$fwd_up" = yes ] && [ -n "$origin_port" ]; then
  # the key servers: this one; the tunnels' port: any (the edge says which)
  sed -i -e "s#servers: \[.*\]#servers: [127.0.0.1:$keyserver_port]#" "$work/edge.yaml"
  if start_svc edge edge --config "$work/edge.yaml"; then
    edge_up=yes
    hub=$(sed -n 's/^pqify edge: tunnels on .*:\([0-9]*\) .*/\1/p' "$work/edge.stderr" | head -1)
    expect_match "the edge's certificate is keyless" "$(cat "$work/edge.stderr")" \
      "certificate 0 $etc/www.pem \\(the default\\): keyless through 127.0.0.1:$keyserver_port"
    sed -i -e "s#^edge: .*#edge: [\"127.0.0.1:$hub\"]#" -e "s#http://localhost:8080#http://127.0.0.1:$origin_port#" \
      "$work/tunnel.yaml"
    if start_svc tunnel tunnel --config "$work/tunnel.yaml"; then
      tun_up=yes
      for i in $(seq 1 150); do
        [ "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$tunnel_admin/ready")" = 200 ] && break
        sleep 0.1
      done
      expect "the connector's /ready" "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$tunnel_admin/ready")" 200
      expect_match "the tunnel hop is X25519MLKEM768" "$(curl -s "http://127.0.0.1:$tunnel_admin/metrics")" \
        'pqify_tls_handshakes_total\{role="client",group="X25519MLKEM768",pq="true",hrr="false"\} 4'
      for v in --http1.1 --http2; do
        out=$(curl -s $v --max-time 20 --cacert "$etc/internal-ca.pem" --resolve "localhost:$edge_port:127.0.0.1" \
              "https://localhost:$edge_port/" 2>"$casedir/curl-edge.stderr")
        expect "curl $v through the installed edge, tunnel and origin" "$out" "served through the installed fleet"
      done
      # stdin stays open a while: at its end pqify connect sends close_notify, which
      # may reach the edge before the answer came back from the origin
      out=$( { printf 'GET / HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n'; sleep 3; } |
            "$pq" connect "localhost:$edge_port" --ca "$etc/internal-ca.pem" 2>"$casedir/connect-edge.stderr")
      expect_match "pqify connect through the installed edge" "$out" "served through the installed fleet"
      expect_match "pqify connect's hop to the edge" "$(cat "$casedir/connect-edge.stderr")" "group=X25519MLKEM768 pq=yes"
      # three client handshakes, each signed on the key server; three requests logged
      expect "the key server's signatures for the edge" "$(curl -s "http://127.0.0.1:$keyserver_admin/metrics" |
        sed -n 's/^pqify_keyless_requests_total{opcode="ecdsa-sha256",result="ok"} //p')" 4
      await_lines access 3
      expect "the edge's access-log lines in logrecv's sink (edge -> logfwd -> logrecv)" "$(lines access)" 3
      admin_check edge
    fi
  fi
else
  fail "the edge needs the key server, logfwd and the origin (up: $ks_up, $fwd_up, port '$origin_port')"
fi
[ "$tun_up" = yes ] && stop_svc tunnel
[ "$edge_up" = yes ] && stop_svc edge
[ "$fwd_up" = yes ] && stop_svc logfwd
[ "$lr_up" = yes ] && stop_svc logrecv
[ "$ks_up" = yes ] && stop_svc keyserver
kill "$origin_pid" 2>/dev/null

begin "pqify serve from serve.yaml"
if start_svc serve serve --config "$work/serve.yaml"; then
  out=$(curl -s --cacert "$etc/internal-ca.pem" "https://localhost:$serve_port/" 2>"$casedir/curl.stderr")
  expect_match "curl (Debian's libssl, classical) through the installed serve" "$out" "group=x25519 pq=no"
  out=$(printf 'GET / HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n' |
        "$pq" connect "localhost:$serve_port" --ca "$etc/internal-ca.pem" 2>"$casedir/connect.stderr")
  expect_match "pqify connect through the installed serve" "$out" "group=X25519MLKEM768 pq=yes"
  admin_check serve
  stop_svc serve
fi

finish
