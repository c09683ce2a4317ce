/* Ingress rules (src/tunnel/ingress.c): the cases of cloudflared's ingress
 * documentation (hostname, wildcard, path rules, the http_status:404 catch-all, a
 * unix-socket origin), each service form, and every error with its exact words and
 * FILE:LINE: KEY. Expected rules are written here by hand, never computed by the code. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "pqify/tunnel.h"

static char err[768];

typedef struct loaded {
    pqify_tunnel_file f;
    pqify_config *cfg;
    pqify_ingress *in;
} loaded;

static int load(loaded *l, const char *text)
{
    memset(l, 0, sizeof *l);
    l->cfg = pqify_config_parse(pqify_tunnel_settings, &l->f, "tunnel.yaml", text, strlen(text), err, sizeof err);
    if (l->cfg == NULL)
        return -1;
    l->in = pqify_ingress_compile(l->f.ingress.items, l->f.ingress.count, "tunnel.yaml", err, sizeof err);
    return l->in != NULL ? 0 : -1;
}

static void unload(loaded *l)
{
    pqify_ingress_free(l->in);
    pqify_config_free(l->cfg);
}

/* the 1-based rule number a URL's host and path match */
static size_t rule_for(const pqify_ingress *in, const char *host, const char *path)
{
    return pqify_ingress_match(in, host, strlen(host), path, strlen(path))->index + 1;
}

static void test_table(void **state)
{
    (void)state;
    assert_int_equal(pqify_config_check_table(pqify_tunnel_settings, err, sizeof err), 0);
}

/* cloudflared's documented example: exact host, a path regex, a wildcard, a 404 catch-all */
static const char documented[] =
    "tunnel: office\n"
    "ingress:\n"
    "  # Rules map traffic from a hostname to a local service:\n"
    "  - hostname: example.com\n"
    "    service: https://localhost:8000\n"
    "  # Rules can match the request's path to a regular expression:\n"
    "  - hostname: static.example.com\n"
    "    path: \\.(jpg|png|css|js)$\n"
    "    service: https://localhost:8001\n"
    "  # Rules can match the request's hostname to a wildcard character:\n"
    "  - hostname: \"*.example.com\"\n"
    "    service: https://localhost:8002\n"
    "  # An example of a catch-all rule:\n"
    "  - service: https://localhost:8003\n";

static void test_documented(void **state)
{
    (void)state;
    loaded l;
    assert_int_equal(load(&l, documented), 0);
    assert_int_equal(pqify_ingress_count(l.in), 4);
    assert_int_equal(rule_for(l.in, "example.com", "/"), 1);
    assert_int_equal(rule_for(l.in, "EXAMPLE.com:443", "/anything"), 1);   /* case and port ignored */
    assert_int_equal(rule_for(l.in, "static.example.com", "/img/logo.png"), 2);
    assert_int_equal(rule_for(l.in, "static.example.com", "/site.css?v=3"), 2);   /* the query is not the path */
    assert_int_equal(rule_for(l.in, "static.example.com", "/index.html"), 3);     /* falls to the wildcard */
    assert_int_equal(rule_for(l.in, "static.example.com", "/a.png/x"), 3);        /* $ anchors at the path's end */
    assert_int_equal(rule_for(l.in, "static.example.com", "/x?a.png"), 3);
    assert_int_equal(rule_for(l.in, "test.example.com", "/"), 3);
    assert_int_equal(rule_for(l.in, "try.example.com.", "/"), 3);                 /* trailing dot */
    assert_int_equal(rule_for(l.in, "a.b.example.com", "/"), 4);                  /* '*' is one label */
    assert_int_equal(rule_for(l.in, "example.org", "/"), 4);
    assert_int_equal(rule_for(l.in, "xexample.com", "/"), 4);
    assert_int_equal(rule_for(l.in, "", "/"), 4);
    const pqify_ingress_rule *r = pqify_ingress_rule_at(l.in, 1);
    assert_int_equal(r->line, 7);
    assert_int_equal(r->kind, PQIFY_ORIGIN_HTTPS);
    assert_string_equal(r->host, "localhost");
    assert_string_equal(r->port, "8001");
    assert_string_equal(r->path, "\\.(jpg|png|css|js)$");
    r = pqify_ingress_rule_at(l.in, 2);
    assert_true(r->wildcard);
    assert_int_equal(r->line, 11);
    assert_null(pqify_ingress_rule_at(l.in, 4));
    unload(&l);
}

/* the other forms: http_status:404 catch-all, a unix socket, http with and without a
 * port, IPv6, originRequest, a path-only rule */
static void test_services(void **state)
{
    (void)state;
    loaded l;
    assert_int_equal(load(&l, "ingress:\n"
                              "  - hostname: app.example.com\n"
                              "    path: ^/api/\n"
                              "    service: unix:/run/app.sock\n"
                              "  - hostname: app.example.com\n"
                              "    service: http://127.0.0.1:8080\n"
                              "    originRequest: {connectTimeout: 5s, noTLSVerify: true, httpHostHeader: app.internal,"
                              " keepAliveConnections: 7}\n"
                              "  - path: ^/health$\n"
                              "    service: http://[::1]\n"
                              "  - hostname: \"*\"\n"
                              "    path: /x\n"
                              "    service: HTTPS://Origin.internal/\n"
                              "    originRequest: {caPool: /etc/pqify/origin-ca.pem, originServerName: o.internal}\n"
                              "  - service: http_status:404\n"),
                     0);
    assert_int_equal(rule_for(l.in, "app.example.com", "/api/v1"), 1);
    assert_int_equal(rule_for(l.in, "app.example.com", "/v1/api/"), 2);
    assert_int_equal(rule_for(l.in, "other", "/health"), 3);
    assert_int_equal(rule_for(l.in, "other", "/healthz"), 5);
    assert_int_equal(rule_for(l.in, "other", "/y/x"), 4);   /* a search, not anchored */
    assert_int_equal(rule_for(l.in, "other", "/y"), 5);
    const pqify_ingress_rule *r = pqify_ingress_rule_at(l.in, 0);
    assert_int_equal(r->kind, PQIFY_ORIGIN_UNIX);
    assert_string_equal(r->unix_path, "/run/app.sock");
    assert_int_equal(r->connect_timeout_ms, 30000);   /* cloudflared's default */
    assert_int_equal(r->keep_alive_connections, 100);
    assert_false(r->no_tls_verify);
    assert_null(r->http_host_header);
    r = pqify_ingress_rule_at(l.in, 1);
    assert_int_equal(r->kind, PQIFY_ORIGIN_HTTP);
    assert_string_equal(r->host, "127.0.0.1");
    assert_string_equal(r->port, "8080");
    assert_int_equal(r->connect_timeout_ms, 5000);
    assert_true(r->no_tls_verify);
    assert_string_equal(r->http_host_header, "app.internal");
    assert_int_equal(r->keep_alive_connections, 7);
    r = pqify_ingress_rule_at(l.in, 2);
    assert_string_equal(r->host, "::1");
    assert_string_equal(r->port, "80");
    r = pqify_ingress_rule_at(l.in, 3);
    assert_null(r->hostname);   /* "*" is every host */
    assert_int_equal(r->kind, PQIFY_ORIGIN_HTTPS);
    assert_string_equal(r->host, "Origin.internal");
    assert_string_equal(r->port, "443");
    assert_string_equal(r->ca_pool, "/etc/pqify/origin-ca.pem");
    assert_string_equal(r->origin_server_name, "o.internal");
    assert_null(pqify_ingress_rule_at(l.in, 1)->ca_pool);
    r = pqify_ingress_rule_at(l.in, 4);
    assert_int_equal(r->kind, PQIFY_ORIGIN_STATUS);
    assert_int_equal(r->status, 404);
    unload(&l);

    pqify_ingress *one = pqify_ingress_single("http://localhost:9000", "--url", err, sizeof err);
    assert_non_null(one);
    assert_int_equal(pqify_ingress_count(one), 1);
    assert_int_equal(pqify_ingress_match(one, "x", 1, "/", 1)->kind, PQIFY_ORIGIN_HTTP);
    assert_int_equal(pqify_ingress_rule_at(one, 0)->line, 0);
    pqify_ingress_free(one);
    assert_null(pqify_ingress_single("ssh://localhost:22", "--url", err, sizeof err));
    assert_string_equal(err, "--url: 'ssh://localhost:22' is not a service pqify tunnel serves: expected "
                             "http://HOST[:PORT], https://HOST[:PORT], unix:/PATH or http_status:NNN");
}

static void test_errors(void **state)
{
    (void)state;
    static const struct {
        const char *yaml, *error;
    } cases[] = {
        {"ingress:\n  - hostname: a.example.com\n    service: http://localhost:80\n",
         "tunnel.yaml:2: ingress[0]: the last rule must match every request (no hostname, no path), e.g. "
         "`- service: http_status:404`; this one has a hostname"},
        {"ingress:\n  - hostname: a.example.com\n    service: http://a\n  - path: ^/x\n    service: http://b\n",
         "tunnel.yaml:4: ingress[1]: the last rule must match every request (no hostname, no path), e.g. "
         "`- service: http_status:404`; this one has a path"},
        {"ingress:\n  - service: http://a\n  - hostname: b.example.com\n    service: http://b\n  - service: http_status:404\n",
         "tunnel.yaml:2: ingress[0]: this rule matches every request, so the 2 rules after it would never match; "
         "only the last rule may leave out both hostname and path"},
        {"tunnel: x\n", "tunnel.yaml: ingress: no rules; the list needs at least its catch-all, as in "
                        "`ingress: [{service: http_status:404}]`"},
        {"ingress:\n  - hostname: a.example.com:8080\n    service: http://a\n  - service: http_status:404\n",
         "tunnel.yaml:2: ingress[0].hostname: a hostname has no port (the rule matches the host on any port)"},
        {"ingress:\n  - hostname: a.*.example.com\n    service: http://a\n  - service: http_status:404\n",
         "tunnel.yaml:2: ingress[0].hostname: '*' may only stand for the whole leftmost label, as in *.example.com"},
        {"ingress:\n  - hostname: a..com\n    service: http://a\n  - service: http_status:404\n",
         "tunnel.yaml:2: ingress[0].hostname: 'a..com' is not a DNS name (letters, digits, '-' and '.')"},
        {"ingress:\n  - path: \"(unclosed\"\n    service: http://a\n  - service: http_status:404\n",
         "tunnel.yaml:2: ingress[0].path: '(unclosed' is not a POSIX extended regular expression: "
         "Unmatched ( or \\("},
        {"ingress:\n  - service: http_status:4040\n", "tunnel.yaml:2: ingress[0].service: 'http_status:4040': the "
                                                       "status must be a number from 100 to 599"},
        {"ingress:\n  - service: http_status:099\n", "tunnel.yaml:2: ingress[0].service: 'http_status:099': the "
                                                      "status must be a number from 100 to 599"},
        {"ingress:\n  - service: unix:run/app.sock\n", "tunnel.yaml:2: ingress[0].service: 'unix:run/app.sock': a "
                                                        "unix: service needs an absolute socket path, as in unix:/run/app.sock"},
        {"ingress:\n  - service: http://localhost:8080/app\n",
         "tunnel.yaml:2: ingress[0].service: 'http://localhost:8080/app' has a path or query; a service is only "
         "SCHEME://HOST[:PORT] (the request's own path is sent)"},
        {"ingress:\n  - service: http://localhost:0\n",
         "tunnel.yaml:2: ingress[0].service: 'http://localhost:0': the port must be a number from 1 to 65535"},
        {"ingress:\n  - service: http://localhost:65536\n",
         "tunnel.yaml:2: ingress[0].service: 'http://localhost:65536': the port must be a number from 1 to 65535"},
        {"ingress:\n  - service: http://user@localhost\n",
         "tunnel.yaml:2: ingress[0].service: 'http://user@localhost' has user information, which a service cannot carry"},
        {"ingress:\n  - service: http://[::1\n",
         "tunnel.yaml:2: ingress[0].service: 'http://[::1': an IPv6 address needs its closing ']'"},
        {"ingress:\n  - service: http://\n", "tunnel.yaml:2: ingress[0].service: 'http://' has no host"},
        {"ingress:\n  - service: hello_world\n",
         "tunnel.yaml:2: ingress[0].service: 'hello_world' is not a service pqify tunnel serves: expected "
         "http://HOST[:PORT], https://HOST[:PORT], unix:/PATH or http_status:NNN"},
        /* the shape errors come from the settings table, with the same FILE:LINE: KEY */
        {"ingress:\n  - hostname: a\n", "tunnel.yaml:2: ingress[0].service: required"},
        {"ingress:\n  - service: http://a\n    originRequest: {noTlsVerify: true}\n",
         "tunnel.yaml:3: ingress[0].originRequest.noTlsVerify: unknown key"},
        {"ingress:\n  - service: http://a\n    originRequest: {connectTimeout: 5}\n",
         "tunnel.yaml:3: ingress[0].originRequest.connectTimeout: expected a duration such as 500ms, 10s or 5m, "
         "from 1ms to 10m"},
        {"ingress:\n  - service: http://a\n    line: 3\n", "tunnel.yaml:3: ingress[0].line: unknown key"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        loaded l;
        if (load(&l, cases[i].yaml) == 0)
            fail_msg("case %zu loaded", i);
        assert_null(l.in);
        assert_string_equal(err, cases[i].error);
        unload(&l);
    }
}

/* the rules of a file on disk, as `pqify tunnel --config` loads them */
static void test_file(void **state)
{
    (void)state;
    char path[] = "/tmp/pqify-tunnel-test-XXXXXX.yaml";
    int fd = mkstemps(path, 5);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, documented, sizeof documented - 1), (ssize_t)(sizeof documented - 1));
    close(fd);
    pqify_tunnel_file f;
    pqify_config *cfg;
    pqify_ingress *in;
    assert_int_equal(pqify_tunnel_file_load(path, &f, &cfg, &in, err, sizeof err), 0);
    assert_string_equal(f.tunnel, "office");
    assert_int_equal(f.ha_connections, 4);
    assert_int_equal(f.grace_ms, 30000);
    assert_int_equal(pqify_ingress_count(in), 4);
    pqify_ingress_free(in);
    pqify_config_free(cfg);
    unlink(path);
    assert_int_equal(pqify_tunnel_file_load("/nonexistent/tunnel.yaml", &f, &cfg, &in, err, sizeof err), PQIFY_ERR_ARG);
    assert_string_equal(err, "/nonexistent/tunnel.yaml: No such file or directory");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_table),
        cmocka_unit_test(test_documented),
        cmocka_unit_test(test_services),
        cmocka_unit_test(test_errors),
        cmocka_unit_test(test_file),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
