#!/usr/bin/env bash
# pqify tunnel ingress validate|rule (issue 13) on the rules of cloudflared's ingress
# documentation: which rule each URL matches (hostname, wildcard, path regex, the
# catch-all), OK for a good file, and a file without a catch-all rejected with
# FILE:LINE and words, exit 1.
. "$(dirname "$0")/../interop/lib.sh"
. "$(dirname "$0")/lib_e2e.sh"

begin "documented rules"
cat >"$casedir/tunnel.yaml" <<'YAML'
tunnel: office
ingress:
  - hostname: example.com
    service: https://localhost:8000
  - hostname: static.example.com
    path: \.(jpg|png|css|js)$
    service: https://localhost:8001
  - hostname: "*.example.com"
    service: https://localhost:8002
  - hostname: app.example.com
    service: unix:/run/app.sock
  - service: http_status:404
YAML
out=$("$PQIFY_BIN" tunnel ingress validate --config "$casedir/tunnel.yaml" 2>&1)
expect "validate exit" "$?" 0
expect "validate says" "$out" "Validating rules from $casedir/tunnel.yaml
OK (5 rules)"
# rule <url> <want number> <want service>
rule() {
  local out
  out=$("$PQIFY_BIN" tunnel ingress rule --config "$casedir/tunnel.yaml" "$1" 2>&1)
  expect "rule $1: exit" "$?" 0
  expect_match "rule $1" "$out" "Matched rule #$2 "
  expect_match "rule $1: service" "$out" "	service: $3\$"
}
rule https://example.com/ 1 https://localhost:8000
rule https://static.example.com/img/a.png 2 https://localhost:8001
rule https://static.example.com/index.html 3 https://localhost:8002
rule https://foo.example.com:8443/x?y=1 3 https://localhost:8002
rule https://app.example.com/ 3 https://localhost:8002   # the wildcard comes first
rule https://a.b.example.com/ 5 http_status:404
rule http://other.org 5 http_status:404

begin "no catch-all"
head -n 11 "$casedir/../001/tunnel.yaml" >"$casedir/tunnel.yaml"
out=$("$PQIFY_BIN" tunnel ingress validate --config "$casedir/tunnel.yaml" 2>&1)
expect "validate exit" "$?" 1
expect "validate says" "$out" "pqify tunnel ingress validate: $casedir/tunnel.yaml:10: ingress[3]: the last rule must match every request (no hostname, no path), e.g. \`- service: http_status:404\`; this one has a hostname"

begin "the documented tunnel.yaml"
# docs/tunnel.md's complete example validates, and the rule it shows is what matches
awk '/^```yaml/{f=1;next} /^```/{if(f){exit}} f' "$src_root/docs/tunnel.md" >"$casedir/tunnel.yaml"
out=$("$PQIFY_BIN" tunnel ingress validate --config "$casedir/tunnel.yaml" 2>&1)
expect "validate exit" "$?" 0
expect "validate says" "$out" "Validating rules from $casedir/tunnel.yaml
OK (5 rules)"
out=$("$PQIFY_BIN" tunnel ingress rule --config "$casedir/tunnel.yaml" https://static.example.com/logo.png 2>&1)
expect "rule says" "$out" "Using rules from $casedir/tunnel.yaml
Matched rule #3 (line 27)
	hostname: static.example.com
	path: \.(jpg|png|css|js)\$
	service: http://127.0.0.1:8001"

begin "usage errors"
out=$("$PQIFY_BIN" tunnel ingress rule --config "$work/001/tunnel.yaml" not-a-url 2>&1)
expect "bad URL exit" "$?" 2
expect_match "bad URL says" "$out" "expected a URL such as https://app.example.com/path, not 'not-a-url'"
out=$("$PQIFY_BIN" tunnel ingress validate 2>&1)
expect "no --config exit" "$?" 2
out=$("$PQIFY_BIN" tunnel ingress validate --config "$casedir/missing.yaml" 2>&1)
expect "missing file exit" "$?" 1
expect_match "missing file says" "$out" "missing.yaml: No such file or directory"

begin "connector flags"
out=$("$PQIFY_BIN" tunnel --url http_status:404 --name office 2>&1)
expect "no edge exit" "$?" 2
expect "no edge says" "$out" "pqify tunnel: --edge (or edge: in --config) is required (see pqify tunnel --help)"
out=$("$PQIFY_BIN" tunnel --edge 127.0.0.1:1 --name office --url ssh://x 2>&1)
expect "bad --url exit" "$?" 1
expect_match "bad --url says" "$out" "^pqify tunnel: --url: 'ssh://x' is not a service pqify tunnel serves"
out=$("$PQIFY_BIN" tunnel --edge 127.0.0.1:1 --edge localhost:2 --name pqify-test-client --url http://127.0.0.1:8080 \
  --cert "$certs/client-p256.pem" --key "$certs/client-p256.key" --ca "$certs/ca.pem" --check-config 2>&1)
expect "--check-config exit" "$?" 0
expect "--check-config says" "$out" "pqify tunnel: the command line is usable (tunnel pqify-test-client, 1 ingress rules, 2 edges)"
out=$("$PQIFY_BIN" tunnel --edge 127.0.0.1:1 --name x --url http://a --cert "$certs/client-p256.pem" \
  --key "$certs/client-p256.key" --ca "$casedir/nope.pem" --check-config 2>&1)
expect "missing CA exit" "$?" 1
expect_match "missing CA says" "$out" "^pqify tunnel: tls\.ca .*nope.pem"
finish
