#!/usr/bin/env bash
# A real deployment, in a temporary root: `cmake --install` of this build tree
# (DESTDIR, prefix /usr), then every service that exists today started from the
# installed binaries and the installed example settings, with certificates issued
# by the commands docs/deploy.md gives. Checks: the files a package needs are
# there; the headers, static libraries and pqify.pc build and link a program that
# round-trips ML-KEM-768; OpenSSL loads the installed provider; a man page per
# command; each systemd unit passes `systemd-analyze verify` (and a broken copy
# does not) with a sandbox exposure level under 2; keyserver, logrecv (with
# logfwd feeding it) and serve answer on their ports and admin endpoints, over
# X25519MLKEM768; SIGTERM stops each (by pid) with exit 0.
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
mkdir -p "$etc/keys" "$var/log/pqify-logrecv" "$var/lib/pqify-logfwd"

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
for e in keyserver.yaml logrecv.yaml logfwd.env serve.yaml; do
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
for u in "$units"/pqify-*.service "$units"/pqify-*.socket; do
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
  issue edge1 clientAuth DNS:edge1.internal
  issue logfwd clientAuth DNS:logfwd1.internal
  # a key the key server signs with (an edge's public certificate's key)
  openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out keys/www.key
) >"$casedir/ca.log" 2>&1
expect "the CA commands" "$?" 0
for n in keyserver logrecv serve edge1 logfwd; do
  out=$(openssl verify -CAfile "$etc/internal-ca.pem" "$etc/$n.pem" 2>&1)
  expect "openssl verify $n.pem" "$out" "$etc/$n.pem: OK"
done

# settings: the installed examples with this test's paths and free ports
settings() {  # settings <example> <out>
  sed -e "s#/etc/pqify#$etc#g" -e "s#/var/log/pqify-logrecv#$var/log/pqify-logrecv#g" \
      -e 's#0\.0\.0\.0:[0-9]*#127.0.0.1:0#' -e 's#127\.0\.0\.1:[1-9][0-9]*#127.0.0.1:0#' \
      "$examples/$1" >"$2"
}
settings keyserver.yaml "$work/keyserver.yaml"
settings logrecv.yaml "$work/logrecv.yaml"
settings serve.yaml "$work/serve.yaml"
settings logfwd.env "$work/logfwd.env"

begin "--check-config on each example"
for s in keyserver logrecv serve; do
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

begin "pqify keyserver from keyserver.yaml"
if start_svc keyserver keyserver --config "$work/keyserver.yaml"; then
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
  stop_svc keyserver
fi

begin "pqify logrecv from logrecv.yaml, fed by pqify logfwd with logfwd.env's flags"
if start_svc logrecv logrecv --config "$work/logrecv.yaml"; then
  # logfwd.env's flags, its receivers pointed at this logrecv (the second, the
  # failover, at the same one)
  PQIFY_LOGFWD_ARGS=$(sed -n 's/^PQIFY_LOGFWD_ARGS="\(.*\)"$/\1/p' "$work/logfwd.env" |
                      sed -e "s#--to [^ ]*#--to 127.0.0.1:$logrecv_port#g")
  expect_match "logfwd.env" "$PQIFY_LOGFWD_ARGS" "--ca $etc/internal-ca.pem --cert $etc/logfwd.pem"
  # as the unit runs it: --spool and --key, then the file's flags split into words
  # shellcheck disable=SC2086
  seq 1 500 | sed 's/^/event /' | timeout 60 "$pq" logfwd --spool "$var/lib/pqify-logfwd/spool" \
    --key "$etc/logfwd.key" $PQIFY_LOGFWD_ARGS --servername localhost \
    >/dev/null 2>"$casedir/logfwd.stderr"
  expect "logfwd exit status (every event acked)" "$?" 0
  sink="$var/log/pqify-logrecv/app.jsonl"
  expect "events in the installed logrecv's file sink" "$(grep -c '"message":"event [0-9]*"' "$sink" 2>/dev/null)" 500
  expect "distinct events" "$(grep -o '"event [0-9]*"' "$sink" 2>/dev/null | sort -u | wc -l)" 500
  admin_check logrecv
  stop_svc logrecv
fi

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
