/* One logfmt or JSON line per event (see include/pqify/net/log.h). */
#include "pqify/net/log.h"

#include <stdatomic.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "textbuf.h"

static atomic_int log_format = PQIFY_LOG_LOGFMT;
static atomic_int log_min = PQIFY_LOG_INFO;
static atomic_int log_fd = 2;

static const char *const level_names[] = {"debug", "info", "warn", "error"};

const char *pqify_log_level_name(pqify_log_level level)
{
    return (unsigned)level < 4 ? level_names[level] : "error";
}

int pqify_log_level_parse(const char *word, pqify_log_level *level)
{
    for (int i = 0; word != NULL && i < 4; i++)
        if (strcmp(word, level_names[i]) == 0) {
            *level = (pqify_log_level)i;
            return 0;
        }
    return PQIFY_ERR_ARG;
}

int pqify_log_format_parse(const char *word, pqify_log_format *format)
{
    if (word != NULL && strcmp(word, "logfmt") == 0)
        *format = PQIFY_LOG_LOGFMT;
    else if (word != NULL && strcmp(word, "json") == 0)
        *format = PQIFY_LOG_JSON;
    else
        return PQIFY_ERR_ARG;
    return 0;
}

void pqify_log_setup(pqify_log_format format, pqify_log_level min_level, int fd)
{
    atomic_store(&log_format, (int)format);
    atomic_store(&log_min, (int)min_level);
    atomic_store(&log_fd, fd);
}

int pqify_log_enabled(pqify_log_level level)
{
    return (int)level >= atomic_load(&log_min);
}

const char *pqify_log_u64(char buf[21], uint64_t v)
{
    char tmp[21];
    size_t n = 0;
    do {
        tmp[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v != 0);
    for (size_t i = 0; i < n; i++)
        buf[i] = tmp[n - 1 - i];
    buf[n] = '\0';
    return buf;
}

/* logfmt (as go-logfmt writes it): a value needs quotes when empty or when it holds
 * a space, '=', '"', a control character or a byte that is not UTF-8. */
static int logfmt_needs_quotes(const char *v, size_t n)
{
    if (n == 0)
        return 1;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)v[i];
        if (c <= ' ' || c == '=' || c == '"' || c == '\\' || c == 0x7f || c >= 0x80)
            return 1;
    }
    return 0;
}

/* The escapes logfmt and JSON share: \" \\ \n \r \t, other C0 controls (and DEL in
 * logfmt) as \u00XX, ill-formed UTF-8 as U+FFFD. */
static void put_escaped(textbuf *b, const char *v, size_t n, int json)
{
    size_t i = 0;
    while (i < n) {
        unsigned char c = (unsigned char)v[i];
        size_t l = tb_utf8_len((const unsigned char *)v + i, n - i);
        if (l == 0) {
            tb_puts(b, "\xEF\xBF\xBD");
            i++;
            continue;
        }
        if (l > 1) {
            tb_putn(b, v + i, l);
            i += l;
            continue;
        }
        if (c == '"' || c == '\\') {
            tb_putc(b, '\\');
            tb_putc(b, (char)c);
        } else if (c == '\n')
            tb_puts(b, "\\n");
        else if (c == '\r')
            tb_puts(b, "\\r");
        else if (c == '\t')
            tb_puts(b, "\\t");
        else if (c < 0x20 || (c == 0x7f && !json))
            tb_printf(b, "\\u%04x", c);
        else
            tb_putc(b, (char)c);
        i++;
    }
}

/* Cut a long value at a character boundary (never inside a UTF-8 sequence). */
static size_t value_cut(const char *v, size_t n, int *cut)
{
    *cut = 0;
    if (n <= PQIFY_LOG_MAX_VALUE)
        return n;
    *cut = 1;
    size_t k = PQIFY_LOG_MAX_VALUE;
    while (k > 0 && ((unsigned char)v[k] & 0xC0) == 0x80)
        k--;
    return k;
}

static void put_value(textbuf *b, const char *v, pqify_log_format format)
{
    if (v == NULL)
        v = "";
    int cut;
    size_t n = value_cut(v, strlen(v), &cut);
    if (format == PQIFY_LOG_JSON || cut || logfmt_needs_quotes(v, n)) {
        tb_putc(b, '"');
        put_escaped(b, v, n, format == PQIFY_LOG_JSON);
        if (cut)
            tb_puts(b, "...");
        tb_putc(b, '"');
    } else
        tb_putn(b, v, n);
}

static void put_key(textbuf *b, const char *k, pqify_log_format format)
{
    if (k[0] == '\0')
        k = "_";
    if (format == PQIFY_LOG_JSON)
        tb_putc(b, '"');
    if (strcmp(k, "ts") == 0 || strcmp(k, "level") == 0 || strcmp(k, "msg") == 0)
        tb_putc(b, '_');
    for (const char *p = k; *p != '\0'; p++) {
        char c = *p;
        int ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                 c == '_' || c == '.' || c == '-';
        tb_putc(b, ok ? c : '_');
    }
    tb_puts(b, format == PQIFY_LOG_JSON ? "\":" : "=");
}

/* RFC 3339 UTC with milliseconds: 2026-12-02T05:47:33.123Z */
static void put_ts(textbuf *b, uint64_t ts_ms)
{
    time_t secs = (time_t)(ts_ms / 1000);
    struct tm tm;
    gmtime_r(&secs, &tm);
    tb_printf(b, "%04d-%02d-%02dT%02d:%02d:%02d.%03uZ", tm.tm_year + 1900, tm.tm_mon + 1,
              tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, (unsigned)(ts_ms % 1000));
}

char *pqify_log_format_line(pqify_log_format format, uint64_t ts_ms, pqify_log_level level,
                            const char *msg, va_list kv, size_t *len)
{
    textbuf b = {0};
    int json = format == PQIFY_LOG_JSON;
    tb_puts(&b, json ? "{\"ts\":\"" : "ts=");
    put_ts(&b, ts_ms);
    tb_puts(&b, json ? "\",\"level\":\"" : " level=");
    tb_puts(&b, pqify_log_level_name(level));
    tb_puts(&b, json ? "\",\"msg\":" : " msg=");
    put_value(&b, msg, format);
    for (;;) {
        const char *k = va_arg(kv, const char *);
        if (k == NULL)
            break;
        const char *v = va_arg(kv, const char *);
        tb_putc(&b, json ? ',' : ' ');
        put_key(&b, k, format);
        put_value(&b, v, format);
    }
    tb_puts(&b, json ? "}\n" : "\n");
    return tb_take(&b, len);
}

static void write_all(int fd, const char *p, size_t n)
{
    while (n > 0) {
        ssize_t w = write(fd, p, n);
        if (w < 0)
            return;   /* nowhere left to report a failed log write */
        p += w;
        n -= (size_t)w;
    }
}

void pqify_logv(pqify_log_level level, const char *msg, va_list kv)
{
    if (!pqify_log_enabled(level))
        return;
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    uint64_t ts_ms = (uint64_t)now.tv_sec * 1000u + (uint64_t)now.tv_nsec / 1000000u;
    size_t len;
    char *line = pqify_log_format_line((pqify_log_format)atomic_load(&log_format), ts_ms, level,
                                       msg, kv, &len);
    int fd = atomic_load(&log_fd);
    if (line == NULL) {
        static const char lost[] = "level=error msg=\"log line lost: out of memory\"\n";
        write_all(fd, lost, sizeof lost - 1);
        return;
    }
    write_all(fd, line, len);
    free(line);
}

void pqify_log(pqify_log_level level, const char *msg, ...)
{
    va_list kv;
    va_start(kv, msg);
    pqify_logv(level, msg, kv);
    va_end(kv);
}
