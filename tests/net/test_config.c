/* YAML config from a settings table: a table with every kind of setting, good files,
 * each kind of error with its exact words, flag overrides, the reload check, the
 * generated listing (and that docs/operations.md carries it), table checks. */
#include "net_test.h"

#include <errno.h>
#include <stddef.h>

#include "pqify/net/config.h"
#include "net/config_table.h"

static char err[512];

static pqify_config *parse(svc *s, const char *text)
{
    memset(s, 0xA5, sizeof *s);   /* the loader must set every field */
    return pqify_config_parse(svc_settings, s, "edge.yaml", text, strlen(text), err, sizeof err);
}

static void test_tables_are_sound(void **state)
{
    (void)state;
    assert_int_equal(pqify_config_check_table(svc_settings, err, sizeof err), 0);
    assert_int_equal(pqify_config_check_table(pqify_tls_settings, err, sizeof err), 0);
    assert_int_equal(pqify_config_check_table(pqify_admin_settings, err, sizeof err), 0);
}

static void test_good_config(void **state)
{
    (void)state;
    svc s;
    pqify_config *c = parse(&s,
        "# an edge\n"
        "name: edge-1\n"
        "workers: 4\n"
        "verbose: true\n"
        "grace: 1m\n"
        "mode: fast\n"
        "upstream: \"[::1]:7000\"\n"
        "routes:\n"
        "  - hostname: a.example\n"
        "    service: http://127.0.0.1:8080\n"
        "    weight: 0\n"
        "  - {service: tunnel, enabled: false}\n"
        "tags: [blue, 'x y', \"caf\\u00e9\"]\n"
        "ports: [443, 8443]\n"
        "tls:\n"
        "  cert: /etc/pqify/edge.pem\n"
        "  key: /etc/pqify/edge.key\n"
        "  ca: /etc/pqify/ca.pem\n"
        "  pq: required\n"
        "  groups: X25519MLKEM768,SecP256r1MLKEM768\n"
        "  alpn: h2,http/1.1\n"
        "  server_name: origin.internal\n"
        "  ciphers: TLS_AES_256_GCM_SHA384\n"
        "  handshake_timeout: 2500ms\n"
        "  idle_timeout: 1h\n"
        "admin:\n"
        "  listen: 127.0.0.1:9090\n");
    assert_non_null(c);
    assert_string_equal(s.name, "edge-1");
    assert_true(s.workers == 4);
    assert_int_equal(s.verbose, 1);
    assert_int_equal(s.grace_ms, 60000);
    assert_string_equal(s.mode, "fast");
    assert_ptr_equal(s.mode, modes[0]);   /* a word points into the table */
    assert_string_equal(s.upstream, "[::1]:7000");
    assert_int_equal(s.routes.count, 2);
    route *r = s.routes.items;
    assert_string_equal(r[0].hostname, "a.example");
    assert_string_equal(r[0].service, "http://127.0.0.1:8080");
    assert_true(r[0].weight == 0);
    assert_int_equal(r[0].enabled, 1);
    assert_null(r[1].hostname);
    assert_string_equal(r[1].service, "tunnel");
    assert_true(r[1].weight == 1);        /* the default, per element */
    assert_int_equal(r[1].enabled, 0);
    assert_int_equal(s.tags.count, 3);
    const char **tags = s.tags.items;
    assert_string_equal(tags[0], "blue");
    assert_string_equal(tags[1], "x y");
    assert_string_equal(tags[2], "caf\xc3\xa9");
    assert_int_equal(s.ports.count, 2);
    assert_true(((int64_t *)s.ports.items)[1] == 8443);
    assert_string_equal(s.tls.cert, "/etc/pqify/edge.pem");
    assert_string_equal(s.tls.key, "/etc/pqify/edge.key");
    assert_string_equal(s.tls.ca, "/etc/pqify/ca.pem");
    assert_string_equal(s.tls.pq, "required");
    assert_string_equal(s.tls.groups, "X25519MLKEM768,SecP256r1MLKEM768");
    assert_string_equal(s.tls.alpn, "h2,http/1.1");
    assert_string_equal(s.tls.server_name, "origin.internal");
    assert_string_equal(s.tls.ciphers, "TLS_AES_256_GCM_SHA384");
    assert_int_equal(s.tls.handshake_timeout_ms, 2500);
    assert_int_equal(s.tls.idle_timeout_ms, 3600000);
    assert_string_equal(s.admin.listen, "127.0.0.1:9090");
    pqify_config_free(c);
}

static void test_defaults(void **state)
{
    (void)state;
    svc s;
    /* only the required key; empty maps and null blocks are fine */
    pqify_config *c = parse(&s, "name: x\ntls:\nadmin: {}\nroutes: []\n");
    assert_non_null(c);
    assert_true(s.workers == 1);
    assert_int_equal(s.verbose, 0);
    assert_int_equal(s.grace_ms, 30000);
    assert_string_equal(s.mode, "safe");
    assert_null(s.upstream);
    assert_int_equal(s.routes.count, 0);
    assert_null(s.routes.items);
    assert_int_equal(s.tags.count, 0);
    assert_null(s.tls.cert);
    assert_null(s.tls.pq);   /* NULL = the role's default */
    assert_int_equal(s.tls.handshake_timeout_ms, 10000);
    assert_int_equal(s.tls.idle_timeout_ms, 0);
    assert_null(s.admin.listen);
    pqify_config_free(c);
}

/* Each kind of mistake and the exact line an operator reads. */
static const struct {
    const char *yaml, *error;
} bad[] = {
    {"name: x\ntls:\n  pq: maybe\n", "edge.yaml:3: tls.pq: expected one of preferred, required, off"},
    {"name: x\nnmae: y\n", "edge.yaml:2: nmae: unknown key"},
    {"name: x\ntls:\n  cert: a\n  cer: b\n", "edge.yaml:4: tls.cer: unknown key"},
    {"name: x\nworkers: 2\nworkers: 3\n", "edge.yaml:3: workers: repeated key"},
    {"name: x\nworkers: 0\n", "edge.yaml:2: workers: expected an integer from 1 to 256"},
    {"name: x\nworkers: 4x\n", "edge.yaml:2: workers: expected an integer from 1 to 256"},
    {"name: x\nworkers: 99999999999999999999\n", "edge.yaml:2: workers: expected an integer from 1 to 256"},
    {"name: x\nworkers: [1]\n", "edge.yaml:2: workers: expected an integer from 1 to 256"},
    {"name: x\nverbose: yes\n", "edge.yaml:2: verbose: expected true or false"},
    {"name: x\ngrace: 10\n", "edge.yaml:2: grace: expected a duration such as 500ms, 10s or 5m, from 0ms to 10m"},
    {"name: x\ngrace: 11m\n", "edge.yaml:2: grace: expected a duration such as 500ms, 10s or 5m, from 0ms to 10m"},
    {"name: x\ngrace: 1.5s\n", "edge.yaml:2: grace: expected a duration such as 500ms, 10s or 5m, from 0ms to 10m"},
    {"name: x\ntls: {handshake_timeout: 50ms}\n",
     "edge.yaml:2: tls.handshake_timeout: expected a duration such as 500ms, 10s or 5m, from 100ms to 5m"},
    {"name: x\nupstream: ::1:80\n", "edge.yaml:2: upstream: expected HOST:PORT (an IPv6 host in brackets, port 0 to 65535)"},
    {"name: x\nupstream: host:65536\n", "edge.yaml:2: upstream: expected HOST:PORT (an IPv6 host in brackets, port 0 to 65535)"},
    {"name: x\nadmin:\n  listen: 9090\n", "edge.yaml:3: admin.listen: expected HOST:PORT (an IPv6 host in brackets, port 0 to 65535)"},
    {"name: \"\"\n", "edge.yaml:1: name: expected a string of 1 to 32 bytes"},
    {"name: 0123456789012345678901234567890123\n", "edge.yaml:1: name: expected a string of 1 to 32 bytes"},
    {"name:\n", "edge.yaml:1: name: expected a string of 1 to 32 bytes"},
    {"name: {a: b}\n", "edge.yaml:1: name: expected a string of 1 to 32 bytes"},
    {"name: \"a\\0b\"\n", "edge.yaml:1: name: expected a string of 1 to 32 bytes"},
    {"workers: 2\n", "edge.yaml:1: name: required"},
    {"name: x\nroutes:\n  - service: a\n  - hostname: b\n    weight: 3\n", "edge.yaml:4: routes[1].service: required"},
    {"name: x\nroutes:\n  - service: a\n    weight: 101\n", "edge.yaml:4: routes[0].weight: expected an integer from 0 to 100"},
    {"name: x\nroutes: {service: a}\n", "edge.yaml:2: routes: expected a list"},
    {"name: x\nroutes: [{service: a}, {service: b}, {service: c}, {service: d}, {service: e}]\n",
     "edge.yaml:2: routes: expected a list of 0 to 4 items"},
    {"name: x\nroutes: [a]\n", "edge.yaml:2: routes[0]: expected a map"},
    {"name: x\nports: [80, 0]\n", "edge.yaml:2: ports[1]: expected an integer from 1 to 65535"},
    {"name: x\ntags: [a, [b]]\n", "edge.yaml:2: tags[1]: expected a string"},
    {"name: x\ntls: on\n", "edge.yaml:2: tls: expected a map"},
    {"name: x\n? [a]\n: b\n", "edge.yaml:2: a key must be a plain word"},
    {"- a\n- b\n", "edge.yaml:1: expected a map of settings at the top"},
    {"name: x\ntls:\n  pq: [\n", "edge.yaml:4: YAML: did not find expected node content while parsing a flow node"},
    {"name: x\n  workers: 2\n", "edge.yaml:2: YAML: mapping values are not allowed in this context"},
    {"name: x\n---\nname: y\n", "edge.yaml:3: only one YAML document may be in the file"},
    {"name: x\ntls:\n  \"c\\x01\": 1\n", "edge.yaml:3: tls.c?: unknown key"},
};

static void test_errors(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        svc s;
        pqify_config *c = parse(&s, bad[i].yaml);
        if (c != NULL || strcmp(err, bad[i].error) != 0)
            fprintf(stderr, "case %zu: %s\n  got:  %s\n  want: %s\n", i, bad[i].yaml, err, bad[i].error);
        assert_null(c);
        assert_string_equal(err, bad[i].error);
        /* after a failure the struct holds the defaults, nothing dangling */
        assert_null(s.name);
        assert_true(s.workers == 1);
        assert_int_equal(s.routes.count, 0);
        assert_null(s.tls.pq);
    }
}

typedef struct bomb_item {
    pqify_config_list l;   /* of const char * */
} bomb_item;
typedef struct bomb {
    pqify_config_list items;   /* of bomb_item */
} bomb;
static const pqify_setting bomb_item_settings[] = {
    {.name = "l", .type = PQIFY_SET_LIST, .elem = PQIFY_SET_STRING, .elem_size = sizeof(const char *)},
    {0},
};
static const pqify_setting bomb_settings[] = {
    {.name = "items", .type = PQIFY_SET_LIST, .offset = offsetof(bomb, items), .elem = PQIFY_SET_MAP,
     .sub = bomb_item_settings, .elem_size = sizeof(bomb_item)},
    {0},
};

static void test_alias_bomb(void **state)
{
    (void)state;
    /* 500 items that each alias one list of 300 strings: 150,000 values from ~7 KB */
    char yaml[16384];
    size_t n = (size_t)snprintf(yaml, sizeof yaml, "items:\n  - l: &l [");
    for (int i = 0; i < 300; i++)
        n += (size_t)snprintf(yaml + n, sizeof yaml - n, "%sa", i ? "," : "");
    n += (size_t)snprintf(yaml + n, sizeof yaml - n, "]\n");
    for (int i = 1; i < 500; i++)
        n += (size_t)snprintf(yaml + n, sizeof yaml - n, "  - l: *l\n");
    bomb b;
    pqify_config *c = pqify_config_parse(bomb_settings, &b, "bomb.yaml", yaml, n, err, sizeof err);
    assert_null(c);
    assert_int_equal(strncmp(err, "bomb.yaml:", 10), 0);
    assert_non_null(strstr(err, ": items["));
    assert_non_null(strstr(err, "]: too many values (more than 100000, counting what aliases repeat)"));
    assert_int_equal(b.items.count, 0);
    /* the same shape under the limit loads, every alias read as its list */
    n = (size_t)snprintf(yaml, sizeof yaml, "items:\n  - l: &l [a, b]\n  - l: *l\n");
    c = pqify_config_parse(bomb_settings, &b, "bomb.yaml", yaml, n, err, sizeof err);
    assert_non_null(c);
    assert_int_equal(b.items.count, 2);
    bomb_item *it = b.items.items;
    assert_int_equal(it[1].l.count, 2);
    assert_string_equal(((const char **)it[1].l.items)[1], "b");
    pqify_config_free(c);
    /* a self-referencing alias cannot loop the loader: the walk follows the table */
    svc s;
    assert_null(parse(&s, "name: x\ntls: &t {cert: a, key: *t}\n"));
    assert_string_equal(err, "edge.yaml:2: tls.key: expected a string");
}

static void test_file(void **state)
{
    (void)state;
    svc s;
    const char *text = "name: from-file\ntls:\n  pq: off\n";
    char *path = nt_temp_file(text, strlen(text), ".yaml");
    pqify_config *c = pqify_config_load(svc_settings, &s, path, err, sizeof err);
    assert_non_null(c);
    assert_string_equal(s.name, "from-file");
    assert_string_equal(s.tls.pq, "off");
    pqify_config_free(c);
    unlink(path);
    free(path);

    const char *bad_text = "name: x\ntls:\n  pq: sometimes\n";
    path = nt_temp_file(bad_text, strlen(bad_text), ".yaml");
    assert_null(pqify_config_load(svc_settings, &s, path, err, sizeof err));
    char want[256];
    snprintf(want, sizeof want, "%s:3: tls.pq: expected one of preferred, required, off", path);
    assert_string_equal(err, want);
    unlink(path);
    free(path);

    assert_null(pqify_config_load(svc_settings, &s, "/nonexistent/edge.yaml", err, sizeof err));
    assert_string_equal(err, "/nonexistent/edge.yaml: No such file or directory");

    /* an empty file is all defaults, so a required key is missing */
    path = nt_temp_file("", 0, ".yaml");
    assert_null(pqify_config_load(svc_settings, &s, path, err, sizeof err));
    snprintf(want, sizeof want, "%s:1: name: required", path);
    assert_string_equal(err, want);
    unlink(path);
    free(path);
}

static void test_flag_override(void **state)
{
    (void)state;
    svc s;
    pqify_config *c = parse(&s, "name: x\ntls: {pq: required}\n");
    assert_non_null(c);
    assert_int_equal(pqify_config_set(c, svc_settings, &s, "tls.pq", "off", "--pq", err, sizeof err), 0);
    assert_string_equal(s.tls.pq, "off");
    assert_int_equal(pqify_config_set(c, svc_settings, &s, "admin.listen", "127.0.0.1:0", "--admin", err, sizeof err), 0);
    assert_string_equal(s.admin.listen, "127.0.0.1:0");
    assert_int_equal(pqify_config_set(c, svc_settings, &s, "tls.idle_timeout", "90s", NULL, err, sizeof err), 0);
    assert_int_equal(s.tls.idle_timeout_ms, 90000);
    assert_int_equal(pqify_config_set(c, svc_settings, &s, "tls.pq", "on", "--pq", err, sizeof err), PQIFY_ERR_ARG);
    assert_string_equal(err, "--pq: expected one of preferred, required, off");
    assert_string_equal(s.tls.pq, "off");   /* unchanged */
    assert_int_equal(pqify_config_set(c, svc_settings, &s, "workers", "0", NULL, err, sizeof err), PQIFY_ERR_ARG);
    assert_string_equal(err, "workers: expected an integer from 1 to 256");
    assert_int_equal(pqify_config_set(c, svc_settings, &s, "tls.nope", "1", "--nope", err, sizeof err), PQIFY_ERR_ARG);
    assert_string_equal(err, "--nope: no setting tls.nope");
    assert_int_equal(pqify_config_set(c, svc_settings, &s, "tls", "1", NULL, err, sizeof err), PQIFY_ERR_ARG);
    assert_string_equal(err, "tls: no setting tls");
    assert_int_equal(pqify_config_set(c, svc_settings, &s, "routes", "1", NULL, err, sizeof err), PQIFY_ERR_ARG);
    assert_int_equal(pqify_config_set(c, svc_settings, &s, "name.x", "1", NULL, err, sizeof err), PQIFY_ERR_ARG);
    pqify_config_free(c);
}

static void test_reload_check(void **state)
{
    (void)state;
    const char *base = "name: x\nmode: safe\nroutes: [{service: a}]\ntls: {cert: a.pem}\nadmin: {listen: '127.0.0.1:9090'}\n";
    static const struct {
        const char *yaml, *error;
    } cases[] = {
        {"name: x\nmode: fast\nroutes: [{service: b}, {service: c}]\ntls: {cert: b.pem, pq: off}\nadmin: {listen: '127.0.0.1:9090'}\n", NULL},
        {"name: x\nroutes: [{service: a}]\ntls: {cert: a.pem}\nadmin: {listen: '127.0.0.1:9091'}\n",
         "admin.listen: cannot change on reload (restart the process)"},
        {"name: y\nroutes: [{service: a}]\ntls: {cert: a.pem}\nadmin: {listen: '127.0.0.1:9090'}\n",
         "name: cannot change on reload (restart the process)"},
        {"name: x\nworkers: 2\nadmin: {listen: '127.0.0.1:9090'}\n",
         "workers: cannot change on reload (restart the process)"},
        {"name: x\nadmin: {}\n", "admin.listen: cannot change on reload (restart the process)"},
    };
    svc old;
    pqify_config *c_old = parse(&old, base);
    assert_non_null(c_old);
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        svc s;
        pqify_config *c = parse(&s, cases[i].yaml);
        assert_non_null(c);
        int ret = pqify_config_reload_check(svc_settings, &old, &s, err, sizeof err);
        if (cases[i].error == NULL)
            assert_int_equal(ret, 0);
        else {
            assert_int_equal(ret, PQIFY_ERR_ARG);
            assert_string_equal(err, cases[i].error);
        }
        pqify_config_free(c);
    }
    pqify_config_free(c_old);
}

static void test_describe(void **state)
{
    (void)state;
    char *text = pqify_config_describe(svc_settings);
    assert_non_null(text);
    const char *want_head =
        "| key | type | default | bounds | SIGHUP | what |\n"
        "|---|---|---|---|---|---|\n"
        "| `name` | string | (required) | 1..32 bytes | no | Instance name. |\n"
        "| `workers` | integer | `1` | 1..256 | no | Event loops. |\n"
        "| `verbose` | true/false | `false` |  | yes | Log more. |\n"
        "| `grace` | duration | `30s` | 0ms..10m | no | Drain time on SIGTERM. |\n"
        "| `mode` | one of fast, safe | `safe` |  | yes | How hard to try. |\n"
        "| `upstream` | HOST:PORT |  | port 0..65535 | no | Where to send. |\n"
        "| `routes` | list of maps |  | 0..4 items | yes | Routing rules, first match wins. |\n"
        "| `routes[].hostname` | string |  | 1..253 bytes | no | Host this rule matches. |\n"
        "| `routes[].service` | string | (required) |  | no | Where it goes. |\n"
        "| `routes[].weight` | integer | `1` | 0..100 | no | Share of traffic. |\n"
        "| `routes[].enabled` | true/false | `true` |  | no | Off skips the rule. |\n"
        "| `tags` | list of string |  |  | no | Labels. |\n"
        "| `ports` | list of integer |  | each 1..65535 | no | Ports. |\n"
        "| `tls.cert` | string |  |  | yes | Certificate chain, PEM file (leaf first). |\n";
    if (strncmp(text, want_head, strlen(want_head)) != 0)
        fprintf(stderr, "%s", text);
    assert_memory_equal(text, want_head, strlen(want_head));
    assert_non_null(strstr(text, "| `admin.listen` | HOST:PORT |  | port 0..65535 | no |"));
    free(text);
}

/* docs/operations.md carries the shared blocks' listing as the code generates it. */
static void test_docs_current(void **state)
{
    (void)state;
    FILE *f = fopen(SOURCE_DIR "/docs/operations.md", "r");
    assert_non_null(f);
    static char doc[1 << 17];
    size_t n = fread(doc, 1, sizeof doc - 1, f);
    fclose(f);
    doc[n] = '\0';
    const pqify_setting *tables[] = {pqify_tls_settings, pqify_admin_settings};
    const char *names[] = {"tls", "admin"};
    for (int i = 0; i < 2; i++) {
        pqify_setting wrap[] = {{.name = names[i], .type = PQIFY_SET_MAP, .offset = 0, .sub = tables[i]}, {0}};
        char *text = pqify_config_describe(wrap);
        assert_non_null(text);
        if (strstr(doc, text) == NULL)
            fprintf(stderr, "docs/operations.md lacks (regenerate it):\n%s", text);
        assert_non_null(strstr(doc, text));
        free(text);
    }
}

static void test_bad_tables(void **state)
{
    (void)state;
    static const char *const none[] = {NULL};
    typedef struct {
        int64_t i;
        const char *s;
        pqify_config_list l;
    } t;
    static const struct {
        pqify_setting table[2];
        const char *error;
    } cases[] = {
        {{{.name = "n", .type = PQIFY_SET_INT, .def = "9", .min = 1, .max = 5}}, "n: default does not parse or is out of bounds"},
        {{{.name = "n", .type = PQIFY_SET_ENUM, .offset = offsetof(t, s), .words = none}}, "n: an enum needs words"},
        {{{.name = "N", .type = PQIFY_SET_INT}}, "N: name must be a lower-case letter, then letters, digits and _"},
        {{{.name = "l", .type = PQIFY_SET_LIST, .elem = PQIFY_SET_INT, .elem_size = 4}}, "l: elem_size does not match the element type"},
        {{{.name = "l", .type = PQIFY_SET_LIST, .elem = PQIFY_SET_LIST, .elem_size = 16}}, "l: a list needs an element type (not a list) and elem_size"},
        {{{.name = "m", .type = PQIFY_SET_MAP}}, "m: no nested table, or nested too deep"},
        {{{.name = "d", .type = PQIFY_SET_DURATION, .max = 5000000000}}, "d: duration bounds must be 0 <= min <= max <= UINT_MAX"},
        {{{.name = "x", .type = 0}}, "x: unknown type"},
        {{{.name = "x", .type = PQIFY_SET_INT, .min = 5, .max = 1}}, "x: min > max"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        assert_int_equal(pqify_config_check_table(cases[i].table, err, sizeof err), PQIFY_ERR_ARG);
        assert_string_equal(err, cases[i].error);
    }
    pqify_setting twice[] = {{.name = "a", .type = PQIFY_SET_BOOL}, {.name = "a", .type = PQIFY_SET_BOOL}, {0}};
    assert_int_equal(pqify_config_check_table(twice, err, sizeof err), PQIFY_ERR_ARG);
    assert_string_equal(err, "a: name used twice");
}

/* A LINE entry records where each list item's map starts (the tunnel names an
 * ingress rule's line in its own checks); a camelCase key loads; the LINE's name is
 * no key of the file; reload ignores lines. */
typedef struct lined {
    unsigned line;
    const char *hostHeader;
} lined;
typedef struct lined_svc {
    pqify_config_list rules;
} lined_svc;
static const pqify_setting lined_rule[] = {
    {.name = "line", .type = PQIFY_SET_LINE, .offset = offsetof(lined, line)},
    {.name = "hostHeader", .type = PQIFY_SET_STRING, .offset = offsetof(lined, hostHeader)},
    {0},
};
static const pqify_setting lined_table[] = {
    {.name = "rules", .type = PQIFY_SET_LIST, .offset = offsetof(lined_svc, rules), .elem = PQIFY_SET_MAP,
     .elem_size = sizeof(lined), .sub = lined_rule},
    {0},
};

static void test_line_entries(void **state)
{
    (void)state;
    assert_int_equal(pqify_config_check_table(lined_table, err, sizeof err), 0);
    const char *text = "# rules\nrules:\n  - hostHeader: a\n\n  - {hostHeader: b}\n  - hostHeader: c\n";
    lined_svc a, b;
    pqify_config *c = pqify_config_parse(lined_table, &a, "t.yaml", text, strlen(text), err, sizeof err);
    assert_non_null(c);
    assert_int_equal(a.rules.count, 3);
    const lined *r = a.rules.items;
    assert_int_equal(r[0].line, 3);
    assert_string_equal(r[0].hostHeader, "a");
    assert_int_equal(r[1].line, 5);
    assert_int_equal(r[2].line, 6);
    const char *moved = "rules:\n\n\n  - hostHeader: a\n  - {hostHeader: b}\n  - hostHeader: c\n";
    pqify_config *c2 = pqify_config_parse(lined_table, &b, "t.yaml", moved, strlen(moved), err, sizeof err);
    assert_non_null(c2);
    assert_int_equal(((const lined *)b.rules.items)[0].line, 4);
    pqify_setting fixed[] = {{.name = "rules", .type = PQIFY_SET_LIST, .offset = offsetof(lined_svc, rules),
                              .elem = PQIFY_SET_MAP, .elem_size = sizeof(lined), .sub = lined_rule},
                             {0}};
    assert_int_equal(pqify_config_reload_check(fixed, &a, &b, err, sizeof err), 0);
    pqify_config_free(c2);
    pqify_config_free(c);
    const char *keyed = "rules:\n  - line: 7\n";
    assert_null(pqify_config_parse(lined_table, &a, "t.yaml", keyed, strlen(keyed), err, sizeof err));
    assert_string_equal(err, "t.yaml:2: rules[0].line: unknown key");
    char *listing = pqify_config_describe(lined_table);
    assert_non_null(listing);
    assert_null(strstr(listing, "line"));
    assert_non_null(strstr(listing, "rules[].hostHeader"));
    free(listing);
    pqify_setting with_default[] = {{.name = "line", .type = PQIFY_SET_LINE, .def = "3"}, {0}};
    assert_int_equal(pqify_config_check_table(with_default, err, sizeof err), PQIFY_ERR_ARG);
    assert_string_equal(err, "line: a line has no default and no flags");
}

static void test_hostport(void **state)
{
    (void)state;
    char host[64];
    uint16_t port;
    assert_int_equal(pqify_hostport_parse("127.0.0.1:9090", host, sizeof host, &port), 0);
    assert_string_equal(host, "127.0.0.1");
    assert_int_equal(port, 9090);
    assert_int_equal(pqify_hostport_parse("[::1]:0", host, sizeof host, &port), 0);
    assert_string_equal(host, "::1");
    assert_int_equal(port, 0);
    assert_int_equal(pqify_hostport_parse("localhost:65535", host, sizeof host, &port), 0);
    assert_string_equal(host, "localhost");
    assert_int_equal(port, 65535);
    const char *no[] = {"", ":80", "host", "host:", "host:-1", "host:65536", "host:1x", "::1:80",
                        "[::1]80", "[]:80", "[1.2.3.4]:80", "a b:80", "host:123456", NULL};
    for (int i = 0; no[i] != NULL; i++)
        assert_int_equal(pqify_hostport_parse(no[i], host, sizeof host, &port), PQIFY_ERR_ARG);
    assert_int_equal(pqify_hostport_parse("0123456789:1", host, 10, &port), PQIFY_ERR_ARG);   /* too long */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_tables_are_sound),
        cmocka_unit_test(test_good_config),
        cmocka_unit_test(test_defaults),
        cmocka_unit_test(test_errors),
        cmocka_unit_test(test_alias_bomb),
        cmocka_unit_test(test_file),
        cmocka_unit_test(test_flag_override),
        cmocka_unit_test(test_reload_check),
        cmocka_unit_test(test_describe),
        cmocka_unit_test(test_docs_current),
        cmocka_unit_test(test_bad_tables),
        cmocka_unit_test(test_hostport),
        cmocka_unit_test(test_line_entries),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
