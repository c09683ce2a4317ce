/*
 * Metrics registry (STYLE.md "Metrics are named once"): counters, gauges and
 * histograms, each declared once with its name, help text and label names, then
 * rendered as Prometheus text format 0.0.4 for the admin endpoint's /metrics.
 *
 * One registry per process, shared by every loop thread. Values are C11 atomics
 * (relaxed: a scrape may see one counter a moment before another, never a torn
 * value), so the hot path takes no lock. Declaring a family and looking up a label
 * set take the registry's mutex: look a series up once where its labels are known
 * (a connection's role and group after its handshake) and keep the pointer; series
 * live until pqify_metrics_free.
 *
 *   pqify_metric *conns = pqify_metrics_gauge(m, "pqify_connections", "Open connections.", "role");
 *   pqify_series *srv = pqify_metric_series(conns, 1, (const char *[]){"server"});
 *   pqify_gauge_add(srv, 1);
 *
 * Names follow Prometheus (units in the name: _seconds, _bytes, _total). A family has
 * at most PQIFY_METRICS_MAX_SERIES label sets; lookups past that return NULL, and
 * every update function ignores a NULL series, so a label fed from the network can
 * not grow memory without bound.
 */
#ifndef PQIFY_NET_METRICS_H
#define PQIFY_NET_METRICS_H

#include <stddef.h>
#include <stdint.h>

#include "pqify/common.h"
#include "pqify/tls.h"

#ifdef __cplusplus
extern "C" {
#endif

#define PQIFY_METRICS_MAX_SERIES 1000
#define PQIFY_METRICS_MAX_LABELS 8

typedef struct pqify_metrics pqify_metrics;   /* the registry */
typedef struct pqify_metric pqify_metric;     /* one family: name, help, type, label names */
typedef struct pqify_series pqify_series;     /* one label set's value(s) */

/* NULL when out of memory. Free after every loop using it has stopped. */
pqify_metrics *pqify_metrics_new(void);
void pqify_metrics_free(pqify_metrics *m);

/*
 * Declare a family. labels: comma-separated label names ("role,group"), NULL or ""
 * for none. NULL when the name or a label name is not a valid Prometheus name, the
 * name is taken, a label repeats or starts with "__", a histogram uses "le", the
 * bounds are not finite and strictly increasing, or memory runs out: all programming
 * errors, so services declare everything at start-up and stop if one fails. A family
 * without labels has its one series from the start (rendered as 0).
 */
pqify_metric *pqify_metrics_counter(pqify_metrics *m, const char *name, const char *help,
                                    const char *labels);
pqify_metric *pqify_metrics_gauge(pqify_metrics *m, const char *name, const char *help,
                                  const char *labels);
/* bounds: the buckets' upper bounds ("le"); +Inf is implied. */
pqify_metric *pqify_metrics_histogram(pqify_metrics *m, const char *name, const char *help,
                                      const char *labels, const double *bounds, size_t n_bounds);

/* The series for these label values (n must equal the family's label count; a value
 * may be any UTF-8 text). Created on first use. NULL on a wrong count, NULL f, the
 * series cap, or no memory. */
pqify_series *pqify_metric_series(pqify_metric *f, size_t n, const char *const *values);

/* Updates; each ignores a NULL series or one of another type. */
void pqify_counter_add(pqify_series *s, uint64_t n);
void pqify_gauge_set(pqify_series *s, double v);
void pqify_gauge_add(pqify_series *s, double delta);
void pqify_histogram_observe(pqify_series *s, double v);

/* Current values, for tests and for services that report them elsewhere. */
uint64_t pqify_counter_value(const pqify_series *s);
double pqify_gauge_value(const pqify_series *s);
/* count of observations, and their sum */
uint64_t pqify_histogram_count(const pqify_series *s, double *sum);

/*
 * Prometheus text format 0.0.4: per family "# HELP", "# TYPE", then one sample per
 * series (a histogram: cumulative _bucket{le=...} lines ending le="+Inf", _sum,
 * _count), families in declaration order, series in creation order. A malloc'd
 * NUL-terminated text (length in *len if len is not NULL), NULL when out of memory.
 */
char *pqify_metrics_render(pqify_metrics *m, size_t *len);

/* ---- the TLS handshake family every service exports (DESIGN.md "The post-quantum switch") ---- */

/*
 *   pqify_tls_handshakes_total{role,group,pq,hrr}        counter
 *   pqify_tls_handshake_duration_seconds{role,group,pq}  histogram
 * role is "server" or "client"; pq and hrr are "true" or "false"; group is the
 * negotiated group's name. Duration is pqify_tls_info.handshake_us, which includes
 * the time an asynchronous signer took.
 */
typedef struct pqify_tls_metrics {
    pqify_metric *handshakes;
    pqify_metric *duration;
} pqify_tls_metrics;

/* Declare both families in m, or take them if m has them already (each part of a
 * process that does handshakes, e.g. the edge's public listener and its tunnel hub,
 * counts into the same two families, told apart by role). 0, or PQIFY_ERR_ARG if
 * they could not be declared (the name taken by another kind of family, or no memory). */
PQIFY_MUST_USE int pqify_tls_metrics_init(pqify_tls_metrics *tm, pqify_metrics *m);
/* One call per finished handshake (the stream calls it when the pump reports
 * "handshake done"): reads the connection's pqify_tls_info. */
void pqify_tls_metrics_handshake(pqify_tls_metrics *tm, const pqify_tls_conn *conn, int is_server);
/* The same from an info already read. */
void pqify_tls_metrics_handshake_info(pqify_tls_metrics *tm, const pqify_tls_info *info,
                                      int is_server);

#ifdef __cplusplus
}
#endif
#endif
