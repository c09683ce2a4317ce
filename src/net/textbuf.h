/*
 * A growable text buffer for what the net layer writes (log lines, /metrics, HTTP
 * replies, config listings). Out of memory sticks: every later append is a no-op and
 * tb_take returns NULL, so writers append straight down and check once at the end.
 */
#ifndef PQIFY_NET_TEXTBUF_H
#define PQIFY_NET_TEXTBUF_H

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct textbuf {
    char *p;
    size_t len, cap;
    int failed;
} textbuf;

static inline int tb_reserve(textbuf *b, size_t more)
{
    if (b->failed)
        return -1;
    if (more > ((size_t)-1) / 4 - b->len) {
        b->failed = 1;
        return -1;
    }
    if (b->len + more + 1 <= b->cap)
        return 0;
    size_t cap = b->cap ? b->cap : 256;
    while (cap < b->len + more + 1)
        cap *= 2;
    char *p = realloc(b->p, cap);
    if (p == NULL) {
        b->failed = 1;
        return -1;
    }
    b->p = p;
    b->cap = cap;
    return 0;
}

static inline void tb_putn(textbuf *b, const char *s, size_t n)
{
    if (tb_reserve(b, n) < 0)
        return;
    memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = '\0';
}

static inline void tb_puts(textbuf *b, const char *s) { tb_putn(b, s, strlen(s)); }

static inline void tb_putc(textbuf *b, char c) { tb_putn(b, &c, 1); }

__attribute__((format(printf, 2, 3))) static inline void tb_printf(textbuf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0) {
        b->failed = 1;
        return;
    }
    if (tb_reserve(b, (size_t)n) < 0)
        return;
    va_start(ap, fmt);
    vsnprintf(b->p + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
}

/* The text (NUL-terminated, owned by the caller) or NULL if anything failed. */
static inline char *tb_take(textbuf *b, size_t *len)
{
    if (!b->failed && b->p == NULL)
        tb_reserve(b, 0);
    if (b->failed) {
        free(b->p);
        *b = (textbuf){0};
        return NULL;
    }
    char *p = b->p;
    if (len != NULL)
        *len = b->len;
    *b = (textbuf){0};
    return p;
}

static inline void tb_free(textbuf *b)
{
    free(b->p);
    *b = (textbuf){0};
}

/*
 * Length of the UTF-8 sequence at s (n bytes left), or 0 if it is not well-formed
 * (RFC 3629 §4: no overlongs, no surrogates, nothing above U+10FFFF).
 */
static inline size_t tb_utf8_len(const unsigned char *s, size_t n)
{
    unsigned c = s[0];
    if (c < 0x80)
        return 1;
    size_t need;
    unsigned lo = 0x80, hi = 0xBF;
    if (c >= 0xC2 && c <= 0xDF)
        need = 2;
    else if (c >= 0xE0 && c <= 0xEF) {
        need = 3;
        if (c == 0xE0)
            lo = 0xA0;
        if (c == 0xED)
            hi = 0x9F;
    } else if (c >= 0xF0 && c <= 0xF4) {
        need = 4;
        if (c == 0xF0)
            lo = 0x90;
        if (c == 0xF4)
            hi = 0x8F;
    } else
        return 0;
    if (n < need)
        return 0;
    if (s[1] < lo || s[1] > hi)
        return 0;
    for (size_t i = 2; i < need; i++)
        if (s[i] < 0x80 || s[i] > 0xBF)
            return 0;
    return need;
}

#endif
