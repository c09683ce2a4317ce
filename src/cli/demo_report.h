/* pqify demo's report: SVG charts written by hand (no plotting library: a chart is
 * a few dozen elements) and a one-page HTML report that holds them and the tables.
 * Pure output: every function writes one file and returns 0, or -1 with errno. */
#ifndef PQIFY_CLI_DEMO_REPORT_H
#define PQIFY_CLI_DEMO_REPORT_H

#include <stddef.h>

/* One data series: n points (x[i], y[i]); a CDF reads x only. */
struct demo_series {
    const char *label;
    const double *x, *y;
    size_t n;
};

/* Empirical CDF of each series' x values (sorted on a copy): x axis `xlabel`,
 * y axis the fraction 0..1, one step line per series, its median marked. */
int demo_svg_cdf(const char *path, const char *title, const char *xlabel,
                 const struct demo_series *s, size_t ns);

/* Points (x, y) of each series joined in x order: a time series. */
int demo_svg_series(const char *path, const char *title, const char *xlabel, const char *ylabel,
                    const struct demo_series *s, size_t ns);

/* One bar per value, labelled, with its value written above it. */
int demo_svg_bars(const char *path, const char *title, const char *ylabel,
                  const char *const *labels, const double *values, size_t n);

/* The report's parts, in page order. Tables are rows of cells (strings); the
 * first row is the header. */
struct demo_table {
    const char *caption;
    size_t rows, cols;
    const char *const *cells;   /* rows * cols, row-major */
    const char *note;           /* a paragraph under it, or NULL */
};

struct demo_figure {
    const char *caption;
    const char *svg_file;       /* relative to the report's directory */
    const char *note;
};

struct demo_page {
    const char *title, *intro;
    const struct demo_table *tables;
    size_t n_tables;
    const struct demo_figure *figures;
    size_t n_figures;
};

/* The HTML page: tables first, then the figures as <img> of their SVG files. */
int demo_html(const char *path, const struct demo_page *page);

/* The p-quantile (0..1) of v[0..n) (sorted in place; nearest rank). */
double demo_quantile(double *v, size_t n, double p);

#endif
