/*
 * Logging for services (DESIGN.md "The service chassis"): one line per event on
 * stderr, logfmt by default (ts=... level=... msg=... key=value ...), JSON with
 * `--log-format json`. Each line is built whole and written with one write(2), so
 * lines from several loop threads never interleave. The settings are process-wide,
 * set once at start-up (before loops start); pqify_log is then safe on any thread.
 *
 *   PQIFY_LOG(PQIFY_LOG_INFO, "listening", "addr", "127.0.0.1:8443", "workers", "2");
 *   -> ts=2026-12-02T05:47:33.123Z level=info msg=listening addr=127.0.0.1:8443 workers=2
 *
 * Values are strings (format numbers with pqify_log_u64 or snprintf). logfmt quotes a
 * value that is empty or holds a space, '=', '"' or a control character, escaping
 * \\ \" \n \r \t and other controls as \u00XX; JSON escapes per RFC 8259 §7. Bytes
 * that are not UTF-8 become U+FFFD in both. Keys are the caller's: characters outside
 * [A-Za-z0-9_.-] become '_'; a key named ts, level or msg is written as _ts, _level, _msg.
 */
#ifndef PQIFY_NET_LOG_H
#define PQIFY_NET_LOG_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include "pqify/common.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum pqify_log_level {
    PQIFY_LOG_DEBUG = 0,
    PQIFY_LOG_INFO = 1,    /* default threshold */
    PQIFY_LOG_WARN = 2,
    PQIFY_LOG_ERROR = 3,
} pqify_log_level;

typedef enum pqify_log_format {
    PQIFY_LOG_LOGFMT = 0,  /* default */
    PQIFY_LOG_JSON = 1,
} pqify_log_format;

/* "debug" | "info" | "warn" | "error" -> level; "logfmt" | "json" -> format. PQIFY_ERR_ARG otherwise. */
PQIFY_MUST_USE int pqify_log_level_parse(const char *word, pqify_log_level *level);
PQIFY_MUST_USE int pqify_log_format_parse(const char *word, pqify_log_format *format);
const char *pqify_log_level_name(pqify_log_level level);

/* Process-wide settings; fd is where lines go (2 = stderr, the default). */
void pqify_log_setup(pqify_log_format format, pqify_log_level min_level, int fd);

/* 1 if a line at this level would be written (to skip building costly values). */
int pqify_log_enabled(pqify_log_level level);

/* msg, then key, value pairs, then NULL. Use the macro, which adds the NULL. */
void pqify_log(pqify_log_level level, const char *msg, ...) __attribute__((sentinel));
void pqify_logv(pqify_log_level level, const char *msg, va_list kv);
#define PQIFY_LOG(level, ...) pqify_log((level), __VA_ARGS__, (const char *)NULL)

/*
 * Builds one line (ending '\n') without writing it, for tests and for services that
 * ship their own lines: a malloc'd string the caller frees, NULL when out of memory.
 * ts_ms is Unix time in milliseconds. A value longer than PQIFY_LOG_MAX_VALUE bytes
 * is cut at a character boundary and ends "..." (inside its quotes).
 */
#define PQIFY_LOG_MAX_VALUE 4096
char *pqify_log_format_line(pqify_log_format format, uint64_t ts_ms, pqify_log_level level,
                            const char *msg, va_list kv, size_t *len);

/* Decimal text of v in buf (at least 21 bytes); returns buf, for use as a value. */
const char *pqify_log_u64(char buf[21], uint64_t v);

#ifdef __cplusplus
}
#endif
#endif
