/*
 * SVG charts and the HTML report of `pqify demo` (demo_report.h). A chart is an
 * <svg> of fixed size with a plot area, axes with "nice" ticks (1, 2 or 5 times a
 * power of ten), the series and a legend; text is escaped for XML. rsvg-convert
 * renders every file in tests/cli/demo_report.sh.
 */
#include "demo_report.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define W 760.0
#define H 440.0
#define ML 78.0   /* plot area margins: left, right, top, bottom */
#define MR 24.0
#define MT 48.0
#define MB 62.0
#define PW (W - ML - MR)
#define PH (H - MT - MB)

static const char *const colors[] = {"#1f6fb4", "#d0452b", "#2a9d4b", "#8a55c4"};
#define N_COLORS (sizeof colors / sizeof colors[0])

/* Text for XML content and attribute values. */
static void put_text(FILE *f, const char *s)
{
    for (; s != NULL && *s; s++) {
        switch (*s) {
        case '<': fputs("&lt;", f); break;
        case '>': fputs("&gt;", f); break;
        case '&': fputs("&amp;", f); break;
        case '"': fputs("&quot;", f); break;
        default: fputc(*s, f);
        }
    }
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

double demo_quantile(double *v, size_t n, double p)
{
    if (n == 0)
        return 0.0;
    qsort(v, n, sizeof v[0], cmp_double);
    size_t k = (size_t)ceil(p * (double)n);
    return v[k == 0 ? 0 : k - 1];
}

/* An axis from lo to hi in ticks of step (lo, hi widened to whole steps). */
struct axis {
    double lo, hi, step;
};

static struct axis nice_axis(double lo, double hi, int from_zero)
{
    struct axis a;
    if (from_zero && lo > 0)
        lo = 0;
    if (!(hi > lo))
        hi = lo + 1.0;
    double raw = (hi - lo) / 5.0, mag = pow(10.0, floor(log10(raw))), r = raw / mag;
    a.step = (r <= 1.0 ? 1.0 : r <= 2.0 ? 2.0 : r <= 5.0 ? 5.0 : 10.0) * mag;
    a.lo = floor(lo / a.step) * a.step;
    a.hi = ceil(hi / a.step) * a.step;
    if (a.hi <= a.lo)
        a.hi = a.lo + a.step;
    return a;
}

static double px(const struct axis *a, double v) { return ML + (v - a->lo) / (a->hi - a->lo) * PW; }
static double py(const struct axis *a, double v) { return MT + PH - (v - a->lo) / (a->hi - a->lo) * PH; }

static FILE *svg_open(const char *path, const char *title)
{
    FILE *f = fopen(path, "w");
    if (f == NULL)
        return NULL;
    fprintf(f, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
               "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%.0f\" height=\"%.0f\" "
               "viewBox=\"0 0 %.0f %.0f\" font-family=\"DejaVu Sans, Helvetica, Arial, sans-serif\" "
               "font-size=\"13\">\n<title>", W, H, W, H);
    put_text(f, title);
    fprintf(f, "</title>\n<rect width=\"%.0f\" height=\"%.0f\" fill=\"#ffffff\"/>\n"
               "<text x=\"%.0f\" y=\"26\" font-size=\"16\" font-weight=\"bold\">", W, H, ML);
    put_text(f, title);
    fputs("</text>\n", f);
    return f;
}

static int svg_close(FILE *f)
{
    fputs("</svg>\n", f);
    int bad = ferror(f);
    if (fclose(f) != 0 || bad) {
        if (errno == 0)
            errno = EIO;
        return -1;
    }
    return 0;
}

/* Tick labels with as many decimals as the step needs. */
static void tick_label(char *out, size_t cap, double v, double step)
{
    int dec = step >= 1.0 ? 0 : (int)ceil(-log10(step) - 1e-9);
    snprintf(out, cap, "%.*f", dec > 6 ? 6 : dec, fabs(v) < step * 1e-9 ? 0.0 : v);
}

static void axes(FILE *f, const struct axis *ax, const struct axis *ay, const char *xlabel,
                 const char *ylabel)
{
    char t[32];
    fprintf(f, "<g stroke=\"#e3e3e3\" stroke-width=\"1\">\n");
    for (double v = ay->lo; v <= ay->hi + ay->step * 1e-6; v += ay->step)
        fprintf(f, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\"/>\n", ML, py(ay, v), ML + PW, py(ay, v));
    for (double v = ax->lo; v <= ax->hi + ax->step * 1e-6; v += ax->step)
        fprintf(f, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\"/>\n", px(ax, v), MT, px(ax, v), MT + PH);
    fprintf(f, "</g>\n<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" fill=\"none\" "
               "stroke=\"#444444\"/>\n<g fill=\"#333333\">\n", ML, MT, PW, PH);
    for (double v = ay->lo; v <= ay->hi + ay->step * 1e-6; v += ay->step) {
        tick_label(t, sizeof t, v, ay->step);
        fprintf(f, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"end\">%s</text>\n", ML - 6, py(ay, v) + 4, t);
    }
    for (double v = ax->lo; v <= ax->hi + ax->step * 1e-6; v += ax->step) {
        tick_label(t, sizeof t, v, ax->step);
        fprintf(f, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">%s</text>\n", px(ax, v), MT + PH + 18, t);
    }
    fprintf(f, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">", ML + PW / 2, H - 16);
    put_text(f, xlabel);
    fprintf(f, "</text>\n<text transform=\"translate(18 %.1f) rotate(-90)\" text-anchor=\"middle\">",
            MT + PH / 2);
    put_text(f, ylabel);
    fputs("</text>\n</g>\n", f);
}

/* top: the legend's first line near the plot's top edge, else near its bottom
 * (a CDF climbs to the top right, where a legend would sit on its curves). */
static void legend(FILE *f, const struct demo_series *s, size_t ns, const char *const *extra, int top)
{
    for (size_t i = 0; i < ns; i++) {
        double y = (top ? MT + 16 : MT + PH - 12 - 18.0 * (double)(ns - 1)) + 18.0 * (double)i;
        fprintf(f, "<rect x=\"%.1f\" y=\"%.1f\" width=\"14\" height=\"4\" fill=\"%s\"/>"
                   "<text x=\"%.1f\" y=\"%.1f\">", ML + PW - 250, y - 2, colors[i % N_COLORS], ML + PW - 230, y + 3);
        put_text(f, s[i].label);
        if (extra != NULL && extra[i] != NULL)
            put_text(f, extra[i]);
        fputs("</text>\n", f);
    }
}

int demo_svg_cdf(const char *path, const char *title, const char *xlabel,
                 const struct demo_series *s, size_t ns)
{
    double lo = INFINITY, hi = -INFINITY;
    double **sorted = calloc(ns ? ns : 1, sizeof *sorted);
    char (*med)[48] = calloc(ns ? ns : 1, sizeof *med);
    const char **extra = calloc(ns ? ns : 1, sizeof *extra);
    int rc = -1;
    FILE *f = NULL;
    if (sorted == NULL || med == NULL || extra == NULL)
        goto out;
    for (size_t i = 0; i < ns; i++) {
        if (s[i].n == 0 || (sorted[i] = malloc(s[i].n * sizeof(double))) == NULL)
            goto out;
        memcpy(sorted[i], s[i].x, s[i].n * sizeof(double));
        qsort(sorted[i], s[i].n, sizeof(double), cmp_double);
        /* the x axis ends at the 99th percentile: one stray handshake would
         * otherwise squash every curve against the left edge */
        double p99 = sorted[i][(size_t)ceil(0.99 * (double)s[i].n) - 1];
        lo = fmin(lo, sorted[i][0]);
        hi = fmax(hi, p99);
        snprintf(med[i], sizeof med[i], " (median %.0f)", sorted[i][(s[i].n - 1) / 2]);
        extra[i] = med[i];
    }
    struct axis ax = nice_axis(lo, hi, 0), ay = {0.0, 1.0, 0.2};
    if ((f = svg_open(path, title)) == NULL)
        goto out;
    axes(f, &ax, &ay, xlabel, "fraction of handshakes at or below");
    fprintf(f, "<defs><clipPath id=\"plot\"><rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\"/>"
               "</clipPath></defs>\n", ML, MT, PW, PH);
    for (size_t i = 0; i < ns; i++) {
        fprintf(f, "<polyline class=\"series\" clip-path=\"url(#plot)\" fill=\"none\" stroke=\"%s\" "
                   "stroke-width=\"2\" points=\"", colors[i % N_COLORS]);
        double prev = 0.0;
        for (size_t k = 0; k < s[i].n; k++) {
            double frac = (double)(k + 1) / (double)s[i].n;
            fprintf(f, "%.1f,%.1f %.1f,%.1f ", px(&ax, sorted[i][k]), py(&ay, prev), px(&ax, sorted[i][k]),
                    py(&ay, frac));
            prev = frac;
        }
        fputs("\"/>\n", f);
        double m = sorted[i][(s[i].n - 1) / 2];
        fprintf(f, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"4\" fill=\"%s\"/>\n", px(&ax, m), py(&ay, 0.5),
                colors[i % N_COLORS]);
    }
    legend(f, s, ns, extra, 0);
    rc = svg_close(f);
out:
    for (size_t i = 0; sorted != NULL && i < ns; i++)
        free(sorted[i]);
    free(sorted);
    free(med);
    free(extra);
    return rc;
}

int demo_svg_series(const char *path, const char *title, const char *xlabel, const char *ylabel,
                    const struct demo_series *s, size_t ns)
{
    double xlo = INFINITY, xhi = -INFINITY, yhi = -INFINITY;
    for (size_t i = 0; i < ns; i++)
        for (size_t k = 0; k < s[i].n; k++) {
            xlo = fmin(xlo, s[i].x[k]);
            xhi = fmax(xhi, s[i].x[k]);
            yhi = fmax(yhi, s[i].y[k]);
        }
    if (!isfinite(xlo)) {
        errno = EINVAL;
        return -1;
    }
    struct axis ax = nice_axis(xlo, xhi, 1), ay = nice_axis(0.0, yhi, 1);
    FILE *f = svg_open(path, title);
    if (f == NULL)
        return -1;
    axes(f, &ax, &ay, xlabel, ylabel);
    for (size_t i = 0; i < ns; i++) {
        fprintf(f, "<polyline class=\"series\" fill=\"none\" stroke=\"%s\" stroke-width=\"1.5\" "
                   "stroke-opacity=\"0.8\" points=\"", colors[i % N_COLORS]);
        for (size_t k = 0; k < s[i].n; k++)
            fprintf(f, "%.1f,%.1f ", px(&ax, s[i].x[k]), py(&ay, s[i].y[k]));
        fputs("\"/>\n", f);
        for (size_t k = 0; k < s[i].n; k++)
            fprintf(f, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"2\" fill=\"%s\"/>\n", px(&ax, s[i].x[k]),
                    py(&ay, s[i].y[k]), colors[i % N_COLORS]);
    }
    legend(f, s, ns, NULL, 1);
    return svg_close(f);
}

int demo_svg_bars(const char *path, const char *title, const char *ylabel,
                  const char *const *labels, const double *values, size_t n)
{
    double hi = 0.0;
    for (size_t i = 0; i < n; i++)
        hi = fmax(hi, values[i]);
    struct axis ay = nice_axis(0.0, hi * 1.1, 1), ax = {0.0, 1.0, 1.0};
    FILE *f = svg_open(path, title);
    if (f == NULL)
        return -1;
    (void)ax;
    char t[32];
    fprintf(f, "<g stroke=\"#e3e3e3\">\n");
    for (double v = ay.lo; v <= ay.hi + ay.step * 1e-6; v += ay.step)
        fprintf(f, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\"/>\n", ML, py(&ay, v), ML + PW, py(&ay, v));
    fprintf(f, "</g>\n<g fill=\"#333333\">\n");
    for (double v = ay.lo; v <= ay.hi + ay.step * 1e-6; v += ay.step) {
        tick_label(t, sizeof t, v, ay.step);
        fprintf(f, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"end\">%s</text>\n", ML - 6, py(&ay, v) + 4, t);
    }
    fprintf(f, "<text transform=\"translate(18 %.1f) rotate(-90)\" text-anchor=\"middle\">", MT + PH / 2);
    put_text(f, ylabel);
    fputs("</text>\n</g>\n", f);
    double slot = PW / (double)(n ? n : 1), bw = slot * 0.6;
    for (size_t i = 0; i < n; i++) {
        double x = ML + slot * (double)i + (slot - bw) / 2, y = py(&ay, values[i]);
        fprintf(f, "<rect class=\"bar\" x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" fill=\"%s\"/>\n",
                x, y, bw, MT + PH - y, colors[i % N_COLORS]);
        fprintf(f, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\" font-weight=\"bold\">%.2fx</text>\n",
                x + bw / 2, y - 6, values[i]);
        fprintf(f, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">", x + bw / 2, MT + PH + 20);
        put_text(f, labels[i]);
        fputs("</text>\n", f);
    }
    fprintf(f, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#444444\"/>\n", ML,
            MT + PH, ML + PW, MT + PH);
    return svg_close(f);
}

int demo_html(const char *path, const struct demo_page *pg)
{
    FILE *f = fopen(path, "w");
    if (f == NULL)
        return -1;
    fputs("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>", f);
    put_text(f, pg->title);
    fputs("</title>\n<style>body{font-family:sans-serif;max-width:64em;margin:2em auto;color:#222}"
          "table{border-collapse:collapse;margin:.5em 0}td,th{border:1px solid #bbb;padding:.25em .6em;"
          "text-align:left}th{background:#f0f0f0}caption{text-align:left;font-weight:bold;padding:.4em 0}"
          "figure{margin:1.5em 0}figcaption{font-weight:bold}p.note{color:#555;font-size:.92em}</style>\n"
          "</head><body>\n<h1>", f);
    put_text(f, pg->title);
    fputs("</h1>\n<p>", f);
    put_text(f, pg->intro);
    fputs("</p>\n", f);
    for (size_t t = 0; t < pg->n_tables; t++) {
        const struct demo_table *tb = &pg->tables[t];
        fputs("<table>\n<caption>", f);
        put_text(f, tb->caption);
        fputs("</caption>\n", f);
        for (size_t r = 0; r < tb->rows; r++) {
            fputs("<tr>", f);
            for (size_t c = 0; c < tb->cols; c++) {
                fputs(r == 0 ? "<th>" : "<td>", f);
                put_text(f, tb->cells[r * tb->cols + c]);
                fputs(r == 0 ? "</th>" : "</td>", f);
            }
            fputs("</tr>\n", f);
        }
        fputs("</table>\n", f);
        if (tb->note != NULL) {
            fputs("<p class=\"note\">", f);
            put_text(f, tb->note);
            fputs("</p>\n", f);
        }
    }
    for (size_t i = 0; i < pg->n_figures; i++) {
        const struct demo_figure *fg = &pg->figures[i];
        fputs("<figure><img src=\"", f);
        put_text(f, fg->svg_file);
        fputs("\" alt=\"", f);
        put_text(f, fg->caption);
        fputs("\"><figcaption>", f);
        put_text(f, fg->caption);
        fputs("</figcaption>", f);
        if (fg->note != NULL) {
            fputs("<p class=\"note\">", f);
            put_text(f, fg->note);
            fputs("</p>", f);
        }
        fputs("</figure>\n", f);
    }
    fputs("</body></html>\n", f);
    int bad = ferror(f);
    if (fclose(f) != 0 || bad)
        return -1;
    return 0;
}
