/* An event as one JSON line (RFC 8259). The choices for what JSON cannot hold are in
 * include/pqify/logs.h and docs/logs.md. */
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
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

/* RFC 8259 §7: '"', '\\' and U+0000..U+001F must be escaped. */
static int json_string(msgpack_sbuffer *o, const uint8_t *p, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    int ret = 0;
    size_t i = 0, run = 0;

    TRY(put(o, "\"", 1));
    while (i < n) {
        size_t k = utf8_len(p + i, n - i);
        uint8_t b = p[i];
        const char *esc = NULL;
        char u[7];
        if (k == 1 && b >= 0x20 && b != '"' && b != '\\') {
            i++;
            run++;
            continue;
        }
        if (k > 1) {
            i += k;
            run += k;
            continue;
        }
        TRY(put(o, (const char *)p + i - run, run));
        run = 0;
        switch (b) {
        case '"': esc = "\\\""; break;
        case '\\': esc = "\\\\"; break;
        case '\n': esc = "\\n"; break;
        case '\r': esc = "\\r"; break;
        case '\t': esc = "\\t"; break;
        case '\b': esc = "\\b"; break;
        case '\f': esc = "\\f"; break;
        default:
            if (k == 1) {
                u[0] = '\\'; u[1] = 'u'; u[2] = '0'; u[3] = '0';
                u[4] = hex[b >> 4]; u[5] = hex[b & 15]; u[6] = 0;
                esc = u;
            } else {
                esc = "\xef\xbf\xbd"; /* U+FFFD for a byte that is not UTF-8 */
            }
        }
        TRY(puts_(o, esc));
        i++;
    }
    TRY(put(o, (const char *)p + i - run, run));
    TRY(put(o, "\"", 1));
out:
    return ret;
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
    char s[40];
    int n;
    switch (v->type) {
    case MSGPACK_OBJECT_POSITIVE_INTEGER:
        n = snprintf(s, sizeof s, "%" PRIu64, v->via.u64);
        break;
    case MSGPACK_OBJECT_NEGATIVE_INTEGER:
        n = snprintf(s, sizeof s, "%" PRId64, v->via.i64);
        break;
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
    char t[48];
    size_t mark = out->size;
    int ret = 0, n;

    ENSURE(ev && ev->record && ev->nsec <= 999999999u, PQIFY_ERR_ARG);
    TRY(puts_(out, "{\"tag\":"));
    TRY(json_string(out, tag.ptr ? tag.ptr : (const uint8_t *)"", tag.len));
    /* seconds and nanoseconds as one decimal literal: exact in the text */
    n = snprintf(t, sizeof t, ",\"time\":%s%" PRIu64 ".%09" PRIu32 ",\"record\":",
                 ev->sec < 0 ? "-" : "",
                 ev->sec < 0 ? (uint64_t)0 - (uint64_t)ev->sec : (uint64_t)ev->sec, ev->nsec);
    TRY(put(out, t, (size_t)n));
    TRY(json_value(out, ev->record));
    TRY(put(out, "}\n", 2));
out:
    if (ret < 0)
        out->size = mark;
    return ret;
}
