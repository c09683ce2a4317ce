/* Metrics registry and Prometheus text format 0.0.4 (see include/pqify/net/metrics.h). */
#include "pqify/net/metrics.h"

#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "textbuf.h"

enum kind { KIND_COUNTER, KIND_GAUGE, KIND_HISTOGRAM };

struct pqify_series {
    struct pqify_series *next;
    pqify_metric *family;
    char *values[PQIFY_METRICS_MAX_LABELS];
    _Atomic uint64_t value;       /* counter, or a gauge's double bits */
    _Atomic uint64_t sum_bits;    /* histogram: sum of observations (double bits) */
    _Atomic uint64_t *buckets;    /* histogram: n_bounds + 1 per-bucket counts, last = +Inf */
};

struct pqify_metric {
    struct pqify_metric *next;
    pqify_metrics *registry;
    enum kind kind;
    char *name, *help;
    size_t n_labels;
    char *labels[PQIFY_METRICS_MAX_LABELS];
    double *bounds;
    size_t n_bounds;
    pqify_series *series, *series_tail;
    size_t n_series;
};

struct pqify_metrics {
    pthread_mutex_t lock;
    pqify_metric *families, *tail;
};

static uint64_t bits_of(double d)
{
    uint64_t u;
    memcpy(&u, &d, sizeof u);
    return u;
}

static double double_of(uint64_t u)
{
    double d;
    memcpy(&d, &u, sizeof d);
    return d;
}

static void atomic_add_double(_Atomic uint64_t *a, double delta)
{
    uint64_t old = atomic_load_explicit(a, memory_order_relaxed);
    while (!atomic_compare_exchange_weak_explicit(a, &old, bits_of(double_of(old) + delta),
                                                  memory_order_relaxed, memory_order_relaxed)) {
    }
}

pqify_metrics *pqify_metrics_new(void)
{
    pqify_metrics *m = calloc(1, sizeof *m);
    if (m != NULL && pthread_mutex_init(&m->lock, NULL) != 0) {
        free(m);
        return NULL;
    }
    return m;
}

static void series_free(pqify_series *s)
{
    for (size_t i = 0; i < PQIFY_METRICS_MAX_LABELS; i++)
        free(s->values[i]);
    free(s->buckets);
    free(s);
}

static void family_free(pqify_metric *f)
{
    for (pqify_series *s = f->series, *next; s != NULL; s = next) {
        next = s->next;
        series_free(s);
    }
    for (size_t i = 0; i < f->n_labels; i++)
        free(f->labels[i]);
    free(f->name);
    free(f->help);
    free(f->bounds);
    free(f);
}

void pqify_metrics_free(pqify_metrics *m)
{
    if (m == NULL)
        return;
    for (pqify_metric *f = m->families, *next; f != NULL; f = next) {
        next = f->next;
        family_free(f);
    }
    pthread_mutex_destroy(&m->lock);
    free(m);
}

/* Prometheus data model: metric names [a-zA-Z_:][a-zA-Z0-9_:]*, label names the
 * same without ':'. */
static int valid_name(const char *s, size_t n, int colon_ok)
{
    if (n == 0)
        return 0;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        int ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' ||
                 (colon_ok && c == ':') || (i > 0 && c >= '0' && c <= '9');
        if (!ok)
            return 0;
    }
    return 1;
}

static int split_labels(pqify_metric *f, const char *labels)
{
    if (labels == NULL || labels[0] == '\0')
        return 0;
    const char *p = labels;
    for (;;) {
        const char *comma = strchr(p, ',');
        size_t n = comma ? (size_t)(comma - p) : strlen(p);
        if (!valid_name(p, n, 0) || (n >= 2 && p[0] == '_' && p[1] == '_') ||
            f->n_labels == PQIFY_METRICS_MAX_LABELS)
            return -1;
        if (f->kind == KIND_HISTOGRAM && n == 2 && memcmp(p, "le", 2) == 0)
            return -1;
        for (size_t i = 0; i < f->n_labels; i++)
            if (strlen(f->labels[i]) == n && memcmp(f->labels[i], p, n) == 0)
                return -1;
        if ((f->labels[f->n_labels] = strndup(p, n)) == NULL)
            return -1;
        f->n_labels++;
        if (comma == NULL)
            return 0;
        p = comma + 1;
    }
}

static pqify_series *series_new(pqify_metric *f, const char *const *values)
{
    pqify_series *s = calloc(1, sizeof *s);
    if (s == NULL)
        return NULL;
    s->family = f;
    for (size_t i = 0; i < f->n_labels; i++)
        if ((s->values[i] = strdup(values[i])) == NULL)
            goto fail;
    if (f->kind == KIND_HISTOGRAM &&
        (s->buckets = calloc(f->n_bounds + 1, sizeof *s->buckets)) == NULL)
        goto fail;
    if (f->kind == KIND_GAUGE)
        atomic_init(&s->value, bits_of(0.0));
    atomic_init(&s->sum_bits, bits_of(0.0));
    return s;
fail:
    series_free(s);
    return NULL;
}

/* The same family twice: kind, label names and bounds alike. */
static int same_family(const pqify_metric *a, const pqify_metric *b)
{
    if (a->kind != b->kind || a->n_labels != b->n_labels || a->n_bounds != b->n_bounds)
        return 0;
    for (size_t i = 0; i < a->n_labels; i++)
        if (strcmp(a->labels[i], b->labels[i]) != 0)
            return 0;
    for (size_t i = 0; i < a->n_bounds; i++)
        if (a->bounds[i] != b->bounds[i])
            return 0;
    return 1;
}

/* shared: a family already declared alike is returned rather than refused, for the
 * families several parts of one process count into (the TLS handshake family: an
 * edge's public listener and its tunnel hub are both TLS servers of one registry). */
static pqify_metric *declare(pqify_metrics *m, enum kind kind, const char *name, const char *help,
                             const char *labels, const double *bounds, size_t n_bounds, int shared)
{
    if (m == NULL || name == NULL || !valid_name(name, strlen(name), 1))
        return NULL;
    pqify_metric *f = calloc(1, sizeof *f);
    if (f == NULL)
        return NULL;
    f->registry = m;
    f->kind = kind;
    f->name = strdup(name);
    f->help = strdup(help != NULL ? help : "");
    if (f->name == NULL || f->help == NULL || split_labels(f, labels) < 0)
        goto fail;
    if (kind == KIND_HISTOGRAM) {
        if (n_bounds == 0 || bounds == NULL || (f->bounds = malloc(n_bounds * sizeof *bounds)) == NULL)
            goto fail;
        for (size_t i = 0; i < n_bounds; i++)
            if (!isfinite(bounds[i]) || (i > 0 && !(bounds[i] > bounds[i - 1])))
                goto fail;
        memcpy(f->bounds, bounds, n_bounds * sizeof *bounds);
        f->n_bounds = n_bounds;
    }
    if (f->n_labels == 0 && (f->series = f->series_tail = series_new(f, NULL)) == NULL)
        goto fail;
    f->n_series = f->n_labels == 0;

    pthread_mutex_lock(&m->lock);
    pqify_metric *taken = NULL;
    for (pqify_metric *g = m->families; g != NULL && taken == NULL; g = g->next)
        if (strcmp(g->name, name) == 0)
            taken = g;
    if (taken == NULL) {
        if (m->tail != NULL)
            m->tail->next = f;
        else
            m->families = f;
        m->tail = f;
    }
    pthread_mutex_unlock(&m->lock);
    if (taken != NULL) {
        pqify_metric *same = shared && same_family(taken, f) ? taken : NULL;
        family_free(f);
        return same;
    }
    return f;
fail:
    family_free(f);
    return NULL;
}

pqify_metric *pqify_metrics_counter(pqify_metrics *m, const char *name, const char *help,
                                    const char *labels)
{
    return declare(m, KIND_COUNTER, name, help, labels, NULL, 0, 0);
}

pqify_metric *pqify_metrics_gauge(pqify_metrics *m, const char *name, const char *help,
                                  const char *labels)
{
    return declare(m, KIND_GAUGE, name, help, labels, NULL, 0, 0);
}

pqify_metric *pqify_metrics_histogram(pqify_metrics *m, const char *name, const char *help,
                                      const char *labels, const double *bounds, size_t n_bounds)
{
    return declare(m, KIND_HISTOGRAM, name, help, labels, bounds, n_bounds, 0);
}

pqify_series *pqify_metric_series(pqify_metric *f, size_t n, const char *const *values)
{
    if (f == NULL || n != f->n_labels)
        return NULL;
    for (size_t i = 0; i < n; i++)
        if (values[i] == NULL)
            return NULL;
    pqify_metrics *m = f->registry;
    pthread_mutex_lock(&m->lock);
    pqify_series *s;
    for (s = f->series; s != NULL; s = s->next) {
        size_t i = 0;
        while (i < n && strcmp(s->values[i], values[i]) == 0)
            i++;
        if (i == n)
            break;
    }
    if (s == NULL && f->n_series < PQIFY_METRICS_MAX_SERIES && (s = series_new(f, values)) != NULL) {
        if (f->series_tail != NULL)
            f->series_tail->next = s;
        else
            f->series = s;
        f->series_tail = s;
        f->n_series++;
    }
    pthread_mutex_unlock(&m->lock);
    return s;
}

void pqify_counter_add(pqify_series *s, uint64_t n)
{
    if (s != NULL && s->family->kind == KIND_COUNTER)
        atomic_fetch_add_explicit(&s->value, n, memory_order_relaxed);
}

void pqify_gauge_set(pqify_series *s, double v)
{
    if (s != NULL && s->family->kind == KIND_GAUGE)
        atomic_store_explicit(&s->value, bits_of(v), memory_order_relaxed);
}

void pqify_gauge_add(pqify_series *s, double delta)
{
    if (s != NULL && s->family->kind == KIND_GAUGE)
        atomic_add_double(&s->value, delta);
}

void pqify_histogram_observe(pqify_series *s, double v)
{
    if (s == NULL || s->family->kind != KIND_HISTOGRAM || isnan(v))
        return;
    const pqify_metric *f = s->family;
    size_t i = 0;
    while (i < f->n_bounds && v > f->bounds[i])   /* le: the first bound >= v */
        i++;
    atomic_fetch_add_explicit(&s->buckets[i], 1, memory_order_relaxed);
    atomic_add_double(&s->sum_bits, v);
}

uint64_t pqify_counter_value(const pqify_series *s)
{
    if (s == NULL || s->family->kind != KIND_COUNTER)
        return 0;
    return atomic_load_explicit(&((pqify_series *)s)->value, memory_order_relaxed);
}

double pqify_gauge_value(const pqify_series *s)
{
    if (s == NULL || s->family->kind != KIND_GAUGE)
        return 0;
    return double_of(atomic_load_explicit(&((pqify_series *)s)->value, memory_order_relaxed));
}

uint64_t pqify_histogram_count(const pqify_series *s, double *sum)
{
    if (s == NULL || s->family->kind != KIND_HISTOGRAM)
        return 0;
    pqify_series *w = (pqify_series *)s;
    uint64_t count = 0;
    for (size_t i = 0; i <= s->family->n_bounds; i++)
        count += atomic_load_explicit(&w->buckets[i], memory_order_relaxed);
    if (sum != NULL)
        *sum = double_of(atomic_load_explicit(&w->sum_bits, memory_order_relaxed));
    return count;
}

/* ---- text format 0.0.4 ---- */

/* A float as Go's strconv.FormatFloat(v, 'g', -1) would spell it in spirit: the
 * shortest %g text that reads back to the same double; "+Inf", "-Inf", "NaN". */
static void put_float(textbuf *b, double v)
{
    if (isnan(v)) {
        tb_puts(b, "NaN");
        return;
    }
    if (isinf(v)) {
        tb_puts(b, v > 0 ? "+Inf" : "-Inf");
        return;
    }
    char text[40];
    for (int prec = 1; prec <= 17; prec++) {
        snprintf(text, sizeof text, "%.*g", prec, v);
        if (strtod(text, NULL) == v)
            break;
    }
    tb_puts(b, text);
}

/* HELP text escapes \ and newline; label values also escape " (format 0.0.4). The
 * format is UTF-8: a byte that is not (a label fed from the network) becomes U+FFFD
 * rather than making the whole scrape unreadable. */
static void put_escaped(textbuf *b, const char *s, int quote)
{
    size_t n = strlen(s);
    for (size_t i = 0; i < n;) {
        size_t l = tb_utf8_len((const unsigned char *)s + i, n - i);
        if (l == 0)
            tb_puts(b, "\xEF\xBF\xBD");
        else if (s[i] == '\\')
            tb_puts(b, "\\\\");
        else if (s[i] == '\n')
            tb_puts(b, "\\n");
        else if (quote && s[i] == '"')
            tb_puts(b, "\\\"");
        else
            tb_putn(b, s + i, l);
        i += l != 0 ? l : 1;
    }
}

/* name{a="x",b="y"[,le="..."]} */
static void put_sample_name(textbuf *b, const pqify_metric *f, const pqify_series *s,
                            const char *suffix, const double *le)
{
    tb_puts(b, f->name);
    tb_puts(b, suffix);
    if (f->n_labels == 0 && le == NULL)
        return;
    tb_putc(b, '{');
    for (size_t i = 0; i < f->n_labels; i++) {
        tb_printf(b, "%s%s=\"", i ? "," : "", f->labels[i]);
        put_escaped(b, s->values[i], 1);
        tb_putc(b, '"');
    }
    if (le != NULL) {
        tb_puts(b, f->n_labels ? ",le=\"" : "le=\"");
        put_float(b, *le);
        tb_putc(b, '"');
    }
    tb_putc(b, '}');
}

static void put_series(textbuf *b, const pqify_metric *f, pqify_series *s)
{
    if (f->kind == KIND_COUNTER) {
        put_sample_name(b, f, s, "", NULL);
        tb_printf(b, " %llu\n", (unsigned long long)pqify_counter_value(s));
    } else if (f->kind == KIND_GAUGE) {
        put_sample_name(b, f, s, "", NULL);
        tb_putc(b, ' ');
        put_float(b, pqify_gauge_value(s));
        tb_putc(b, '\n');
    } else {
        /* Buckets are read once and summed here, so le="+Inf" always equals _count
         * even while other threads observe. */
        uint64_t cum = 0;
        for (size_t i = 0; i <= f->n_bounds; i++) {
            double le = i < f->n_bounds ? f->bounds[i] : INFINITY;
            cum += atomic_load_explicit(&s->buckets[i], memory_order_relaxed);
            put_sample_name(b, f, s, "_bucket", &le);
            tb_printf(b, " %llu\n", (unsigned long long)cum);
        }
        put_sample_name(b, f, s, "_sum", NULL);
        tb_putc(b, ' ');
        put_float(b, double_of(atomic_load_explicit(&s->sum_bits, memory_order_relaxed)));
        tb_putc(b, '\n');
        put_sample_name(b, f, s, "_count", NULL);
        tb_printf(b, " %llu\n", (unsigned long long)cum);
    }
}

char *pqify_metrics_render(pqify_metrics *m, size_t *len)
{
    static const char *const type_names[] = {"counter", "gauge", "histogram"};
    textbuf b = {0};
    pthread_mutex_lock(&m->lock);
    for (const pqify_metric *f = m->families; f != NULL; f = f->next) {
        tb_printf(&b, "# HELP %s ", f->name);
        put_escaped(&b, f->help, 0);
        tb_printf(&b, "\n# TYPE %s %s\n", f->name, type_names[f->kind]);
        for (pqify_series *s = f->series; s != NULL; s = s->next)
            put_series(&b, f, s);
    }
    pthread_mutex_unlock(&m->lock);
    return tb_take(&b, len);
}

/* ---- the TLS handshake family ---- */

/* From 0.5 ms (an in-process X25519 handshake) to 10 s (the default handshake
 * timeout, with a slow asynchronous signer). */
static const double handshake_bounds[] = {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
                                          0.1,    0.25,  0.5,    1,     2.5,  5,     10};

int pqify_tls_metrics_init(pqify_tls_metrics *tm, pqify_metrics *m)
{
    /* Once per registry: a second init (another listener or dialer of the same
     * process) counts into the same families. */
    tm->handshakes = declare(
        m, KIND_COUNTER, "pqify_tls_handshakes_total",
        "TLS handshakes completed, by role, negotiated group, whether it is post-quantum, and whether a HelloRetryRequest happened.",
        "role,group,pq,hrr", NULL, 0, 1);
    tm->duration = declare(
        m, KIND_HISTOGRAM, "pqify_tls_handshake_duration_seconds",
        "Time from the first handshake call to completion, including an asynchronous signer.",
        "role,group,pq", handshake_bounds, sizeof handshake_bounds / sizeof handshake_bounds[0], 1);
    return tm->handshakes != NULL && tm->duration != NULL ? 0 : PQIFY_ERR_ARG;
}

void pqify_tls_metrics_handshake_info(pqify_tls_metrics *tm, const pqify_tls_info *info,
                                      int is_server)
{
    const char *group = info->group != NULL && info->group[0] != '\0' ? info->group : "unknown";
    const char *labels[4] = {is_server ? "server" : "client", group, info->is_pq ? "true" : "false",
                             info->hrr ? "true" : "false"};
    pqify_counter_add(pqify_metric_series(tm->handshakes, 4, labels), 1);
    pqify_histogram_observe(pqify_metric_series(tm->duration, 3, labels),
                            (double)info->handshake_us / 1e6);
}

void pqify_tls_metrics_handshake(pqify_tls_metrics *tm, const pqify_tls_conn *conn, int is_server)
{
    pqify_tls_info info;
    pqify_tls_get_info(conn, &info);
    pqify_tls_metrics_handshake_info(tm, &info, is_server);
}
