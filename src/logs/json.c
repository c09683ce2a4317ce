/* An event as one JSON line (RFC 8259). The choices for what JSON cannot hold are in
 * include/pqify/logs.h and docs/logs.md. */
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "internal.h"

static int put(msgpack_sbuffer *o, const char *s, size_t n)
{
    return msgpack_sbuffer_write(o, s, n) == 0 ? 0 : PQIFY_LOGS_ERR_NOMEM;
}

static int puts_(msgpack_sbuffer *o, const char *s)
{
    return put(o, s, strlen(s));
}

/* Length of the valid UTF-8 sequence at p (RFC 3629 §4), or 0 when it is not one:
 * no overlongs, no surrogates, nothing past U+10FFFF. */
static size_t utf8_len(const uint8_t *p, size_t n)
{
    uint8_t b = p[0];
    if (b < 0x80)
        return 1;
    if (b >= 0xc2 && b <= 0xdf)
        return n >= 2 && (p[1] & 0xc0) == 0x80 ? 2 : 0;
    if (b >= 0xe0 && b <= 0xef) {
        uint8_t lo = b == 0xe0 ? 0xa0 : 0x80, hi = b == 0xed ? 0x9f : 0xbf;
        return n >= 3 && p[1] >= lo && p[1] <= hi && (p[2] & 0xc0) == 0x80 ? 3 : 0;
    }
    if (b >= 0xf0 && b <= 0xf4) {
        uint8_t lo = b == 0xf0 ? 0x90 : 0x80, hi = b == 0xf4 ? 0x8f : 0xbf;
        return n >= 4 && p[1] >= lo && p[1] <= hi && (p[2] & 0xc0) == 0x80 &&
                       (p[3] & 0xc0) == 0x80 ? 4 : 0;
    }
    return 0;
}

/* Room for need more bytes in o, grown as msgpack_sbuffer_write grows it. */
static int reserve(msgpack_sbuffer *o, size_t need)
{
    if (o->alloc - o->size >= need)
        return 0;
    size_t cap = o->alloc ? o->alloc * 2 : 8192;
    while (cap - o->size < need)
        cap *= 2;
    char *d = realloc(o->data, cap);
    if (d == NULL)
        return PQIFY_LOGS_ERR_NOMEM;
    o->data = d;
    o->alloc = cap;
    return 0;
}

/* What a byte asks of json_string: copied as is (0), escaped (1: U+0000..U+001F, '"',
 * '\\'), or the start of a UTF-8 sequence to check (2: 0x80..0xff). */
enum { J_COPY = 0, J_ESC, J_UTF8 };
static const uint8_t json_class[256] = {
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
    0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2,
    2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2,
    2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2,
    2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2,
    2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2,
    2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2,
    2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2,
    2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2,
};

/* The top bit of each of the 8 bytes of v that asks for more than a copy: 0x80 or
 * above, below 0x20, '"' or '\\' (the "has a byte less than n" and "has a zero byte"
 * tests of Bit Twiddling Hacks). A borrow may also flag a byte above a flagged one,
 * never one below: 0 means all 8 are plain, and the lowest flag is a true one. */
static inline uint64_t word_special(uint64_t v)
{
    const uint64_t ones = 0x0101010101010101u, high = 0x8080808080808080u;
    uint64_t q = v ^ (ones * '"'), bs = v ^ (ones * '\\');
    return (v | ((v - ones * 0x20) & ~v) | ((q - ones) & ~q) | ((bs - ones) & ~bs)) & high;
}

/* Bytes of v (as loaded from memory) before its first special one; needs the byte
 * order, so only little-endian hosts skip a run within a word. */
static inline size_t plain_prefix(uint64_t special)
{
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__ && defined(__GNUC__)
    return special == 0 ? 8 : (size_t)__builtin_ctzll(special) >> 3;
#else
    return special == 0 ? 8 : 0;
#endif
}

#define JSON_BLOCK 4096
#define JSON_MAX_EXPAND 6 /* \u00XX for one byte */

/* RFC 8259 §7: '"', '\\' and U+0000..U+001F must be escaped. The receiver turns every
 * event into JSON, so this is its hottest loop: it writes straight into room reserved
 * per block of input (at most JSON_MAX_EXPAND bytes out per byte in) instead of one
 * buffer call per escape. */
static int json_string(msgpack_sbuffer *o, const uint8_t *p, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    int ret = 0;
    size_t i = 0;

    TRY(put(o, "\"", 1));
    while (i < n) {
        size_t end = n - i < JSON_BLOCK ? n : i + JSON_BLOCK;
        /* + 3: a UTF-8 sequence that starts in the block may end past it */
        TRY(reserve(o, JSON_MAX_EXPAND * (end - i) + 3));
        char *w = o->data + o->size;
        while (i < end) {
            if (end - i >= 8) {
                /* copy 8 (the room reserved ahead is at least 6 * 8), keep the plain run */
                uint64_t v;
                memcpy(&v, p + i, 8);
                memcpy(w, &v, 8);
                size_t k = plain_prefix(word_special(v));
                w += k;
                i += k;
                if (k == 8)
                    continue;
            }
            uint8_t b = p[i];
            if (json_class[b] == J_COPY) {
                *w++ = (char)b;
                i++;
                continue;
            }
            if (json_class[b] == J_UTF8) {
                size_t k = utf8_len(p + i, n - i);
                if (k == 0) { /* U+FFFD for a byte that is not UTF-8 */
                    memcpy(w, "\xef\xbf\xbd", 3);
                    w += 3;
                    k = 1;
                } else {
                    memcpy(w, p + i, k);
                    w += k;
                }
                i += k;
                continue;
            }
            *w++ = '\\';
            switch (b) {
            case '"': *w++ = '"'; break;
            case '\\': *w++ = '\\'; break;
            case '\n': *w++ = 'n'; break;
            case '\r': *w++ = 'r'; break;
            case '\t': *w++ = 't'; break;
            case '\b': *w++ = 'b'; break;
            case '\f': *w++ = 'f'; break;
            default:
                w[0] = 'u'; w[1] = '0'; w[2] = '0';
                w[3] = hex[b >> 4]; w[4] = hex[b & 15];
                w += 5;
            }
            i++;
        }
        o->size = (size_t)(w - o->data);
    }
    TRY(put(o, "\"", 1));
out:
    return ret;
}

/* The decimal digits of v, NUL-terminated, at the end of buf[21]; returns where they
 * start (callers pass buf + 1 of a larger array, to have room for a '-'). */
static char *u64_dec(char buf[21], uint64_t v)
{
    char *q = buf + 20;
    *q = '\0';
    do {
        *--q = (char)('0' + v % 10);
        v /= 10;
    } while (v != 0);
    return q;
}

static int base64(msgpack_sbuffer *o, const uint8_t *p, size_t n)
{
    uint8_t in[48];
    char enc[65];
    int ret = 0;
    TRY(put(o, "\"", 1));
    for (size_t i = 0; i < n; i += sizeof in) {
        size_t k = n - i < sizeof in ? n - i : sizeof in;
        int m;
        memcpy(in, p + i, k);
        m = EVP_EncodeBlock((unsigned char *)enc, in, (int)k);
        TRY(put(o, enc, (size_t)m));
    }
    TRY(put(o, "\"", 1));
out:
    return ret;
}

static int json_value(msgpack_sbuffer *o, const msgpack_object *v);

static int json_number(msgpack_sbuffer *o, const msgpack_object *v)
{
    char s[40], *d;
    int n;
    switch (v->type) {
    case MSGPACK_OBJECT_POSITIVE_INTEGER:
        d = u64_dec(s + 1, v->via.u64);
        return put(o, d, strlen(d));
    case MSGPACK_OBJECT_NEGATIVE_INTEGER:
        d = u64_dec(s + 1, v->via.i64 < 0 ? (uint64_t)0 - (uint64_t)v->via.i64 : (uint64_t)v->via.i64);
        if (v->via.i64 < 0)
            *--d = '-';
        return put(o, d, strlen(d));
    default:
        if (!isfinite(v->via.f64))
            return puts_(o, "null");
        /* %.17g round-trips a double and is valid JSON (no "inf", no leading '.') */
        n = snprintf(s, sizeof s, "%.17g", v->via.f64);
    }
    return put(o, s, (size_t)n);
}

/* A map key must be a string in JSON: other keys are written as their JSON text. */
static int json_key(msgpack_sbuffer *o, const msgpack_object *k)
{
    msgpack_sbuffer t;
    int ret = 0;
    if (k->type == MSGPACK_OBJECT_STR)
        return json_string(o, (const uint8_t *)k->via.str.ptr, k->via.str.size);
    msgpack_sbuffer_init(&t);
    TRY(json_value(&t, k));
    TRY(json_string(o, (const uint8_t *)t.data, t.size));
out:
    msgpack_sbuffer_destroy(&t);
    return ret;
}

static int json_value(msgpack_sbuffer *o, const msgpack_object *v)
{
    int ret = 0;
    switch (v->type) {
    case MSGPACK_OBJECT_NIL:
        return puts_(o, "null");
    case MSGPACK_OBJECT_BOOLEAN:
        return puts_(o, v->via.boolean ? "true" : "false");
    case MSGPACK_OBJECT_POSITIVE_INTEGER:
    case MSGPACK_OBJECT_NEGATIVE_INTEGER:
    case MSGPACK_OBJECT_FLOAT32:
    case MSGPACK_OBJECT_FLOAT64:
        return json_number(o, v);
    case MSGPACK_OBJECT_STR:
        return json_string(o, (const uint8_t *)v->via.str.ptr, v->via.str.size);
    case MSGPACK_OBJECT_BIN:
        return base64(o, (const uint8_t *)v->via.bin.ptr, v->via.bin.size);
    case MSGPACK_OBJECT_EXT: {
        char s[32];
        int n = snprintf(s, sizeof s, "{\"ext\":%d,\"base64\":", v->via.ext.type);
        TRY(put(o, s, (size_t)n));
        TRY(base64(o, (const uint8_t *)v->via.ext.ptr, v->via.ext.size));
        return put(o, "}", 1);
    }
    case MSGPACK_OBJECT_ARRAY:
        TRY(put(o, "[", 1));
        for (uint32_t i = 0; i < v->via.array.size; i++) {
            if (i)
                TRY(put(o, ",", 1));
            TRY(json_value(o, &v->via.array.ptr[i]));
        }
        return put(o, "]", 1);
    case MSGPACK_OBJECT_MAP:
        TRY(put(o, "{", 1));
        for (uint32_t i = 0; i < v->via.map.size; i++) {
            if (i)
                TRY(put(o, ",", 1));
            TRY(json_key(o, &v->via.map.ptr[i].key));
            TRY(put(o, ":", 1));
            TRY(json_value(o, &v->via.map.ptr[i].val));
        }
        return put(o, "}", 1);
    }
    ret = PQIFY_LOGS_ERR_MSGPACK;
out:
    return ret;
}

int pqify_logs_event_json(pqify_fwd_bytes tag, const pqify_fwd_event *ev, msgpack_sbuffer *out)
{
    char sec[22], *d;
    size_t mark = out->size;
    int ret = 0;

    ENSURE(ev && ev->record && ev->nsec <= 999999999u, PQIFY_ERR_ARG);
    TRY(puts_(out, "{\"tag\":"));
    TRY(json_string(out, tag.ptr ? tag.ptr : (const uint8_t *)"", tag.len));
    /* seconds and nanoseconds as one decimal literal: exact in the text */
    d = u64_dec(sec + 1, ev->sec < 0 ? (uint64_t)0 - (uint64_t)ev->sec : (uint64_t)ev->sec);
    if (ev->sec < 0)
        *--d = '-';
    char frac[10] = {'.'};
    uint32_t ns = ev->nsec;
    for (int i = 9; i >= 1; i--, ns /= 10)
        frac[i] = (char)('0' + ns % 10);
    TRY(puts_(out, ",\"time\":"));
    TRY(put(out, d, strlen(d)));
    TRY(put(out, frac, sizeof frac));
    TRY(puts_(out, ",\"record\":"));
    TRY(json_value(out, ev->record));
    TRY(put(out, "}\n", 2));
out:
    if (ret < 0)
        out->size = mark;
    return ret;
}
