/* Metrics registry: exact Prometheus text for a small registry, promtool (Debian's
 * prometheus package) accepting what we render, the TLS handshake family fed from
 * real in-memory handshakes, declaration errors, and counts from several threads. */
#include "tls_test.h"
#include "net_test.h"

#include <math.h>
#include <pthread.h>

#include "pqify/net/metrics.h"

static void promtool_ok(const char *text)
{
    char *out;
    int rc = nt_run(PROMTOOL " check metrics", text, strlen(text), &out);
    if (rc != 0)
        fprintf(stderr, "promtool said:\n%s\non:\n%s", out, text);
    assert_int_equal(rc, 0);
    free(out);
}

/* The checker itself can fail: a broken exposition is refused. */
static void test_promtool_refuses(void **state)
{
    (void)state;
    const char *broken = "# TYPE x_total counter\nx_total{a=\"b} 1\n";
    char *out;
    assert_int_not_equal(nt_run(PROMTOOL " check metrics", broken, strlen(broken), &out), 0);
    free(out);
}

static const char small_expected[] =
    "# HELP pqify_admin_requests_total Admin requests, by path.\\nSecond line: C:\\\\x\n"
    "# TYPE pqify_admin_requests_total counter\n"
    "pqify_admin_requests_total{path=\"/metrics\",code=\"200\"} 4\n"
    "pqify_admin_requests_total{path=\"a\\\"b\\\\c\\nd\",code=\"404\"} 1\n"
    "pqify_admin_requests_total{path=\"caf\xc3\xa9 \xef\xbf\xbd\",code=\"400\"} 1\n"
    "# HELP pqify_restarts_total Restarts.\n"
    "# TYPE pqify_restarts_total counter\n"
    "pqify_restarts_total 0\n"
    "# HELP pqify_pool_connections Connections up.\n"
    "# TYPE pqify_pool_connections gauge\n"
    "pqify_pool_connections 3.5\n"
    "# HELP pqify_sign_duration_seconds Signing time.\n"
    "# TYPE pqify_sign_duration_seconds histogram\n"
    "pqify_sign_duration_seconds_bucket{key=\"rsa\",le=\"0.25\"} 2\n"
    "pqify_sign_duration_seconds_bucket{key=\"rsa\",le=\"1\"} 2\n"
    "pqify_sign_duration_seconds_bucket{key=\"rsa\",le=\"2.5\"} 3\n"
    "pqify_sign_duration_seconds_bucket{key=\"rsa\",le=\"+Inf\"} 4\n"
    "pqify_sign_duration_seconds_sum{key=\"rsa\"} 32.375\n"
    "pqify_sign_duration_seconds_count{key=\"rsa\"} 4\n"
    "# HELP pqify_queue_seconds Queue wait.\n"
    "# TYPE pqify_queue_seconds histogram\n"
    "pqify_queue_seconds_bucket{le=\"0.001\"} 0\n"
    "pqify_queue_seconds_bucket{le=\"+Inf\"} 0\n"
    "pqify_queue_seconds_sum 0\n"
    "pqify_queue_seconds_count 0\n"
    "# HELP pqify_tunnels Tunnels by edge.\n"
    "# TYPE pqify_tunnels gauge\n";

static void test_render_exact(void **state)
{
    (void)state;
    pqify_metrics *m = pqify_metrics_new();
    assert_non_null(m);
    pqify_metric *req = pqify_metrics_counter(m, "pqify_admin_requests_total",
                                              "Admin requests, by path.\nSecond line: C:\\x", "path,code");
    pqify_metric *up = pqify_metrics_counter(m, "pqify_restarts_total", "Restarts.", NULL);
    pqify_metric *conns = pqify_metrics_gauge(m, "pqify_pool_connections", "Connections up.", "");
    static const double bounds[] = {0.25, 1, 2.5};
    pqify_metric *lat = pqify_metrics_histogram(m, "pqify_sign_duration_seconds", "Signing time.",
                                                "key", bounds, 3);
    static const double ms[] = {0.001};
    pqify_metric *queue = pqify_metrics_histogram(m, "pqify_queue_seconds", "Queue wait.", NULL, ms, 1);
    pqify_metric *empty = pqify_metrics_gauge(m, "pqify_tunnels", "Tunnels by edge.", "edge");
    assert_non_null(req);
    assert_non_null(up);
    assert_non_null(conns);
    assert_non_null(lat);
    assert_non_null(queue);
    assert_non_null(empty);

    pqify_series *a = pqify_metric_series(req, 2, (const char *[]){"/metrics", "200"});
    pqify_series *b = pqify_metric_series(req, 2, (const char *[]){"a\"b\\c\nd", "404"});
    assert_non_null(a);
    assert_non_null(b);
    assert_ptr_equal(pqify_metric_series(req, 2, (const char *[]){"/metrics", "200"}), a);
    /* UTF-8 is kept, a byte that is not UTF-8 becomes U+FFFD */
    pqify_counter_add(pqify_metric_series(req, 2, (const char *[]){"caf\xc3\xa9 \xff", "400"}), 1);
    pqify_counter_add(a, 3);
    pqify_counter_add(b, 1);
    pqify_counter_add(a, 1);
    pqify_series *g = pqify_metric_series(conns, 0, NULL);
    pqify_gauge_set(g, 4);
    pqify_gauge_add(g, -0.5);
    pqify_series *h = pqify_metric_series(lat, 1, (const char *[]){"rsa"});
    pqify_histogram_observe(h, 0.125);
    pqify_histogram_observe(h, 0.25);   /* le is inclusive */
    pqify_histogram_observe(h, 2);
    pqify_histogram_observe(h, 30);
    pqify_histogram_observe(h, NAN);    /* ignored */
    /* updates of another type, and of a NULL series, are ignored */
    pqify_counter_add(g, 5);
    pqify_gauge_set(a, 9);
    pqify_histogram_observe(a, 1);
    pqify_counter_add(NULL, 1);

    assert_int_equal(pqify_counter_value(a), 4);
    assert_true(pqify_gauge_value(g) == 3.5);
    double sum;
    assert_int_equal(pqify_histogram_count(h, &sum), 4);
    assert_true(sum == 32.375);

    size_t len;
    char *text = pqify_metrics_render(m, &len);
    assert_non_null(text);
    assert_int_equal(strlen(text), len);
    assert_string_equal(text, small_expected);
    promtool_ok(text);
    free(text);
    pqify_metrics_free(m);
}

static void test_float_text(void **state)
{
    (void)state;
    pqify_metrics *m = pqify_metrics_new();
    pqify_metric *f = pqify_metrics_gauge(m, "g", "Values.", "v");
    static const struct {
        double v;
        const char *text;
    } cases[] = {
        {0, "0"}, {-2, "-2"}, {0.1, "0.1"}, {1e-9, "1e-09"}, {123456789012, "123456789012"},
        {1.0 / 3, "0.3333333333333333"}, {INFINITY, "+Inf"}, {-INFINITY, "-Inf"}, {NAN, "NaN"},
    };
    char want[1024] = "# HELP g Values.\n# TYPE g gauge\n";
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char label[8];
        snprintf(label, sizeof label, "%zu", i);
        pqify_gauge_set(pqify_metric_series(f, 1, (const char *[]){label}), cases[i].v);
        snprintf(want + strlen(want), sizeof want - strlen(want), "g{v=\"%zu\"} %s\n", i, cases[i].text);
    }
    char *text = pqify_metrics_render(m, NULL);
    assert_string_equal(text, want);
    promtool_ok(text);
    free(text);
    pqify_metrics_free(m);
}

static void test_declaration_errors(void **state)
{
    (void)state;
    pqify_metrics *m = pqify_metrics_new();
    static const double ok[] = {1, 2}, flat[] = {1, 1}, down[] = {2, 1}, inf[] = {1, INFINITY};
    assert_non_null(pqify_metrics_counter(m, "x_total", "", "a,b"));
    assert_null(pqify_metrics_counter(m, "x_total", "", NULL));            /* taken */
    assert_null(pqify_metrics_gauge(m, "x_total", "", NULL));              /* taken, any type */
    assert_null(pqify_metrics_counter(m, "9x", "", NULL));                 /* name */
    assert_null(pqify_metrics_counter(m, "a-b", "", NULL));
    assert_null(pqify_metrics_counter(m, "", "", NULL));
    assert_null(pqify_metrics_counter(m, NULL, "", NULL));
    assert_non_null(pqify_metrics_counter(m, "ns:sub_total", "", NULL));   /* ':' in names is fine */
    assert_null(pqify_metrics_counter(m, "y1", "", "a:b"));                 /* not in label names */
    assert_null(pqify_metrics_counter(m, "y2", "", "a,a"));                 /* repeated */
    assert_null(pqify_metrics_counter(m, "y3", "", "a,,b"));                /* empty */
    assert_null(pqify_metrics_counter(m, "y4", "", "__name"));              /* reserved */
    assert_null(pqify_metrics_counter(m, "y5", "", "a,b,c,d,e,f,g,h,i"));   /* too many */
    assert_null(pqify_metrics_histogram(m, "h1", "", "le", ok, 2));
    assert_null(pqify_metrics_histogram(m, "h2", "", NULL, flat, 2));
    assert_null(pqify_metrics_histogram(m, "h3", "", NULL, down, 2));
    assert_null(pqify_metrics_histogram(m, "h4", "", NULL, inf, 2));
    assert_null(pqify_metrics_histogram(m, "h5", "", NULL, ok, 0));
    pqify_metric *h = pqify_metrics_histogram(m, "h6", "", "le_x", ok, 2);
    assert_non_null(h);
    pqify_metric *c = pqify_metrics_counter(m, "c_total", "", "peer");
    /* lookups: the count must match, values must be there */
    assert_null(pqify_metric_series(c, 0, NULL));
    assert_null(pqify_metric_series(c, 2, (const char *[]){"a", "b"}));
    assert_null(pqify_metric_series(c, 1, (const char *[]){NULL}));
    assert_null(pqify_metric_series(NULL, 0, NULL));
    /* the series cap: a label fed from the network cannot grow memory forever */
    for (int i = 0; i < PQIFY_METRICS_MAX_SERIES; i++) {
        char v[16];
        snprintf(v, sizeof v, "p%d", i);
        assert_non_null(pqify_metric_series(c, 1, (const char *[]){v}));
    }
    assert_null(pqify_metric_series(c, 1, (const char *[]){"one more"}));
    assert_non_null(pqify_metric_series(c, 1, (const char *[]){"p7"}));   /* old ones still found */
    pqify_metrics_free(m);
}

/* ---- the TLS handshake family, fed from real connections ---- */

static void handshake_pair(pqify_tls_metrics *tm, pqify_pq_mode client_pq, const char *client_groups)
{
    tt_ca ca;
    tt_identity id;
    tt_ca_new(&ca, "metrics CA");
    tt_identity_new(&id, &ca, "P-256", "localhost", "DNS:localhost", -1, 30);
    pqify_tls_config *scfg = tt_server_config(&id);
    pqify_tls_config *ccfg = tt_client_config(&ca, "localhost");
    assert_int_equal(pqify_tls_config_set_pq(ccfg, client_pq), 0);
    if (client_groups != NULL)
        assert_int_equal(pqify_tls_config_set_groups(ccfg, client_groups), 0);
    tt_pair p;
    tt_pair_new(&p, ccfg, scfg);
    tt_pair_run(&p, 100000);
    assert_int_equal(p.client_ret, 0);
    assert_int_equal(p.server_ret, 0);
    pqify_tls_metrics_handshake(tm, p.server, 1);
    pqify_tls_metrics_handshake(tm, p.client, 0);
    tt_pair_free(&p);
    pqify_tls_config_free(scfg);
    pqify_tls_config_free(ccfg);
    tt_identity_free(&id);
    tt_ca_free(&ca);
}

/* "name{labels} value" -> value, or -1 if the line is absent */
static long long sample(const char *text, const char *name_and_labels)
{
    size_t n = strlen(name_and_labels);
    for (const char *p = text; p != NULL && *p != '\0'; p = strchr(p, '\n'), p = p ? p + 1 : p)
        if (strncmp(p, name_and_labels, n) == 0 && p[n] == ' ')
            return atoll(p + n + 1);
    return -1;
}

static void test_tls_handshakes(void **state)
{
    (void)state;
    pqify_metrics *m = pqify_metrics_new();
    pqify_tls_metrics tm;
    assert_int_equal(pqify_tls_metrics_init(&tm, m), 0);
    /* a second part of the process (an edge's tunnel hub beside its public listener)
     * takes the same families: its handshakes are counted with the first's */
    pqify_tls_metrics again;
    assert_int_equal(pqify_tls_metrics_init(&again, m), 0);
    assert_ptr_equal(again.handshakes, tm.handshakes);
    assert_ptr_equal(again.duration, tm.duration);
    /* a family of its own kind still refuses the name, as before */
    assert_null(pqify_metrics_counter(m, "pqify_tls_handshakes_total", "", "role,group,pq,hrr"));
    pqify_metrics *other = pqify_metrics_new();
    assert_non_null(pqify_metrics_gauge(other, "pqify_tls_handshakes_total", "not a counter", "role"));
    pqify_tls_metrics clash;
    assert_int_equal(pqify_tls_metrics_init(&clash, other), PQIFY_ERR_ARG);
    pqify_metrics_free(other);

    handshake_pair(&tm, PQIFY_PQ_PREFERRED, NULL);
    handshake_pair(&again, PQIFY_PQ_PREFERRED, NULL);
    handshake_pair(&tm, PQIFY_PQ_OFF, NULL);
    /* a client whose first share is classical, so the PQ-preferring server asks again */
    handshake_pair(&tm, PQIFY_PQ_PREFERRED, "x25519,X25519MLKEM768");

    char *text = pqify_metrics_render(m, NULL);
    assert_non_null(text);
    assert_int_equal(sample(text, "pqify_tls_handshakes_total{role=\"server\",group=\"X25519MLKEM768\",pq=\"true\",hrr=\"false\"}"), 2);
    assert_int_equal(sample(text, "pqify_tls_handshakes_total{role=\"client\",group=\"X25519MLKEM768\",pq=\"true\",hrr=\"false\"}"), 2);
    assert_int_equal(sample(text, "pqify_tls_handshakes_total{role=\"server\",group=\"x25519\",pq=\"false\",hrr=\"false\"}"), 1);
    assert_int_equal(sample(text, "pqify_tls_handshakes_total{role=\"client\",group=\"x25519\",pq=\"false\",hrr=\"false\"}"), 1);
    assert_int_equal(sample(text, "pqify_tls_handshakes_total{role=\"server\",group=\"X25519MLKEM768\",pq=\"true\",hrr=\"true\"}"), 1);
    assert_int_equal(sample(text, "pqify_tls_handshake_duration_seconds_count{role=\"server\",group=\"X25519MLKEM768\",pq=\"true\"}"), 3);
    assert_int_equal(sample(text, "pqify_tls_handshake_duration_seconds_bucket{role=\"server\",group=\"X25519MLKEM768\",pq=\"true\",le=\"+Inf\"}"), 3);
    assert_int_equal(sample(text, "pqify_tls_handshake_duration_seconds_count{role=\"client\",group=\"x25519\",pq=\"false\"}"), 1);
    const char *type = strstr(text, "# TYPE pqify_tls_handshakes_total counter\n");
    assert_non_null(type);
    assert_null(strstr(type + 1, "# TYPE pqify_tls_handshakes_total"));   /* rendered once */
    assert_true(strstr(text, "# TYPE pqify_tls_handshake_duration_seconds histogram\n") != NULL);
    promtool_ok(text);
    free(text);

    /* the duration is the info's handshake_us in seconds, in the right bucket */
    pqify_tls_info info = {.group = "SecP256r1MLKEM768", .is_pq = 1, .handshake_us = 2500};
    pqify_tls_metrics_handshake_info(&tm, &info, 1);
    text = pqify_metrics_render(m, NULL);
    const char *g = "pqify_tls_handshake_duration_seconds_bucket{role=\"server\",group=\"SecP256r1MLKEM768\",pq=\"true\",le=";
    char name[256];
    snprintf(name, sizeof name, "%s\"0.001\"}", g);
    assert_int_equal(sample(text, name), 0);
    snprintf(name, sizeof name, "%s\"0.0025\"}", g);
    assert_int_equal(sample(text, name), 1);
    assert_true(strstr(text, "pqify_tls_handshake_duration_seconds_sum{role=\"server\",group=\"SecP256r1MLKEM768\",pq=\"true\"} 0.0025\n") != NULL);
    free(text);
    pqify_metrics_free(m);
}

/* ---- several loop threads on one registry ---- */

#define THREADS 4
#define ROUNDS 20000

typedef struct {
    pqify_metric *c, *g, *h;
    int id;
} worker_arg;

static void *worker(void *p)
{
    worker_arg *a = p;
    const char *mine[1] = {a->id % 2 ? "odd" : "even"};
    for (int i = 0; i < ROUNDS; i++) {
        /* lookups race with other threads' first lookups of the same label set */
        pqify_counter_add(pqify_metric_series(a->c, 1, mine), 1);
        pqify_gauge_add(pqify_metric_series(a->g, 0, NULL), 1);
        pqify_histogram_observe(pqify_metric_series(a->h, 0, NULL), (double)(i % 4));
    }
    return NULL;
}

static void test_threads(void **state)
{
    (void)state;
    pqify_metrics *m = pqify_metrics_new();
    static const double b[] = {0.5, 1.5, 2.5};
    worker_arg args[THREADS];
    pthread_t t[THREADS];
    pqify_metric *c = pqify_metrics_counter(m, "ops_total", "", "parity");
    pqify_metric *g = pqify_metrics_gauge(m, "level", "", NULL);
    pqify_metric *h = pqify_metrics_histogram(m, "v", "", NULL, b, 3);
    for (int i = 0; i < THREADS; i++) {
        args[i] = (worker_arg){c, g, h, i};
        assert_int_equal(pthread_create(&t[i], NULL, worker, &args[i]), 0);
    }
    for (int i = 0; i < THREADS; i++)
        pthread_join(t[i], NULL);
    assert_int_equal(pqify_counter_value(pqify_metric_series(c, 1, (const char *[]){"odd"})), 2 * ROUNDS);
    assert_int_equal(pqify_counter_value(pqify_metric_series(c, 1, (const char *[]){"even"})), 2 * ROUNDS);
    assert_true(pqify_gauge_value(pqify_metric_series(g, 0, NULL)) == THREADS * ROUNDS);
    double sum;
    assert_int_equal(pqify_histogram_count(pqify_metric_series(h, 0, NULL), &sum), THREADS * ROUNDS);
    assert_true(sum == THREADS * (ROUNDS / 4) * (0 + 1 + 2 + 3));
    char *text = pqify_metrics_render(m, NULL);
    assert_true(strstr(text, "v_bucket{le=\"0.5\"} 20000\nv_bucket{le=\"1.5\"} 40000\nv_bucket{le=\"2.5\"} 60000\nv_bucket{le=\"+Inf\"} 80000\n") != NULL);
    free(text);
    pqify_metrics_free(m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_promtool_refuses),
        cmocka_unit_test(test_render_exact),
        cmocka_unit_test(test_float_text),
        cmocka_unit_test(test_declaration_errors),
        cmocka_unit_test(test_tls_handshakes),
        cmocka_unit_test(test_threads),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
