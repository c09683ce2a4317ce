/*
 * JSON text (RFC 8259) to msgpack: how a line written into logfwd's Unix socket becomes
 * an event's record. Recursive descent over a bounds-checked cursor, depth bounded by
 * PQIFY_FWD_MAX_DEPTH. msgpack needs a container's element count before its elements,
 * so each array or object packs its elements into its own buffer first and is copied
 * into its parent once closed: at most depth copies of each byte.
 */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "pqify/logs_forwarder.h"

typedef struct jcur {
    const uint8_t *p;
    size_t len, pos;
} jcur;

static int jpeek(const jcur *c)
{
    return c->pos < c->len ? c->p[c->pos] : -1;
}

static void jspace(jcur *c)
{
    /* RFC 8259 §2: the four insignificant whitespace characters */
    while (c->pos < c->len && (c->p[c->pos] == ' ' || c->p[c->pos] == '\t' ||
                               c->p[c->pos] == '\n' || c->p[c->pos] == '\r'))
        c->pos++;
}

static int jlit(jcur *c, const char *word)
{
    size_t n = strlen(word);
    if (c->len - c->pos < n || memcmp(c->p + c->pos, word, n) != 0)
        return PQIFY_LOGS_ERR_SHAPE;
    c->pos += n;
    return 0;
}

static int hex4(jcur *c, unsigned *v)
{
    if (c->len - c->pos < 4)
        return PQIFY_LOGS_ERR_SHAPE;
    unsigned x = 0;
    for (int i = 0; i < 4; i++) {
        uint8_t ch = c->p[c->pos++];
        unsigned d;
        if (ch >= '0' && ch <= '9')
            d = ch - '0';
        else if (ch >= 'a' && ch <= 'f')
            d = ch - 'a' + 10;
        else if (ch >= 'A' && ch <= 'F')
            d = ch - 'A' + 10;
        else
            return PQIFY_LOGS_ERR_SHAPE;
        x = x << 4 | d;
    }
    *v = x;
    return 0;
}

static void put_utf8(msgpack_sbuffer *b, unsigned cp)
{
    char u[4];
    size_t n;
    if (cp < 0x80) {
        u[0] = (char)cp;
        n = 1;
    } else if (cp < 0x800) {
        u[0] = (char)(0xC0 | cp >> 6);
        u[1] = (char)(0x80 | (cp & 0x3F));
        n = 2;
    } else if (cp < 0x10000) {
        u[0] = (char)(0xE0 | cp >> 12);
        u[1] = (char)(0x80 | (cp >> 6 & 0x3F));
        u[2] = (char)(0x80 | (cp & 0x3F));
        n = 3;
    } else {
        u[0] = (char)(0xF0 | cp >> 18);
        u[1] = (char)(0x80 | (cp >> 12 & 0x3F));
        u[2] = (char)(0x80 | (cp >> 6 & 0x3F));
        u[3] = (char)(0x80 | (cp & 0x3F));
        n = 4;
    }
    msgpack_sbuffer_write(b, u, n);
}

/* A string (the cursor at its '"'), decoded into tmp, packed as str. */
static int jstring(jcur *c, msgpack_packer *pk)
{
    int ret = 0;
    msgpack_sbuffer tmp;
    msgpack_sbuffer_init(&tmp);
    c->pos++;
    for (;;) {
        ENSURE(c->pos < c->len, PQIFY_LOGS_ERR_SHAPE);
        uint8_t ch = c->p[c->pos];
        if (ch == '"') {
            c->pos++;
            break;
        }
        ENSURE(ch >= 0x20, PQIFY_LOGS_ERR_SHAPE);   /* §7: control characters are escaped */
        if (ch != '\\') {
            size_t start = c->pos;
            while (c->pos < c->len && c->p[c->pos] != '"' && c->p[c->pos] != '\\' &&
                   c->p[c->pos] >= 0x20)
                c->pos++;
            msgpack_sbuffer_write(&tmp, (const char *)c->p + start, c->pos - start);
            continue;
        }
        c->pos++;
        ENSURE(c->pos < c->len, PQIFY_LOGS_ERR_SHAPE);
        ch = c->p[c->pos++];
        const char *simple = NULL;
        switch (ch) {
        case '"': simple = "\""; break;
        case '\\': simple = "\\"; break;
        case '/': simple = "/"; break;
        case 'b': simple = "\b"; break;
        case 'f': simple = "\f"; break;
        case 'n': simple = "\n"; break;
        case 'r': simple = "\r"; break;
        case 't': simple = "\t"; break;
        case 'u': break;
        default: ENSURE(0, PQIFY_LOGS_ERR_SHAPE);
        }
        if (simple != NULL) {
            msgpack_sbuffer_write(&tmp, simple, 1);
            continue;
        }
        unsigned cp;
        TRY(hex4(c, &cp));
        if (cp >= 0xD800 && cp <= 0xDBFF) {
            /* §7: a character outside the BMP is a surrogate pair; a lone half becomes
             * U+FFFD, as json.c does for invalid UTF-8 */
            unsigned lo;
            if (c->len - c->pos >= 6 && c->p[c->pos] == '\\' && c->p[c->pos + 1] == 'u') {
                jcur save = *c;
                c->pos += 2;
                TRY(hex4(c, &lo));
                if (lo >= 0xDC00 && lo <= 0xDFFF)
                    cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
                else {
                    *c = save;
                    cp = 0xFFFD;
                }
            } else {
                cp = 0xFFFD;
            }
        } else if (cp >= 0xDC00 && cp <= 0xDFFF) {
            cp = 0xFFFD;
        }
        put_utf8(&tmp, cp);
    }
    msgpack_pack_str_with_body(pk, tmp.data, tmp.size);
out:
    msgpack_sbuffer_destroy(&tmp);
    return ret;
}

/* §6: -? int frac? exp?; integers that fit int64/uint64 stay integers. */
static int jnumber(jcur *c, msgpack_packer *pk)
{
    size_t start = c->pos;
    int is_float = 0;
    if (jpeek(c) == '-')
        c->pos++;
    if (jpeek(c) == '0') {
        c->pos++;
    } else if (jpeek(c) >= '1' && jpeek(c) <= '9') {
        while (jpeek(c) >= '0' && jpeek(c) <= '9')
            c->pos++;
    } else {
        return PQIFY_LOGS_ERR_SHAPE;
    }
    if (jpeek(c) == '.') {
        is_float = 1;
        c->pos++;
        if (!(jpeek(c) >= '0' && jpeek(c) <= '9'))
            return PQIFY_LOGS_ERR_SHAPE;
        while (jpeek(c) >= '0' && jpeek(c) <= '9')
            c->pos++;
    }
    if (jpeek(c) == 'e' || jpeek(c) == 'E') {
        is_float = 1;
        c->pos++;
        if (jpeek(c) == '+' || jpeek(c) == '-')
            c->pos++;
        if (!(jpeek(c) >= '0' && jpeek(c) <= '9'))
            return PQIFY_LOGS_ERR_SHAPE;
        while (jpeek(c) >= '0' && jpeek(c) <= '9')
            c->pos++;
    }
    char num[400];
    size_t n = c->pos - start;
    if (n >= sizeof num)
        return PQIFY_LOGS_ERR_SHAPE;   /* no real log field needs 400 digits */
    memcpy(num, c->p + start, n);
    num[n] = '\0';
    if (!is_float) {
        errno = 0;
        if (num[0] == '-') {
            long long v = strtoll(num, NULL, 10);
            if (errno == 0) {
                msgpack_pack_int64(pk, v);
                return 0;
            }
        } else {
            unsigned long long v = strtoull(num, NULL, 10);
            if (errno == 0) {
                msgpack_pack_uint64(pk, v);
                return 0;
            }
        }
    }
    double d = strtod(num, NULL);
    msgpack_pack_double(pk, isfinite(d) ? d : (d > 0 ? HUGE_VAL : -HUGE_VAL));
    return 0;
}

static int jvalue(jcur *c, msgpack_packer *pk, unsigned depth);

/* An array or an object: elements into their own buffer, then header + bytes. */
static int jcontainer(jcur *c, msgpack_packer *pk, unsigned depth, int is_object)
{
    int ret = 0;
    msgpack_sbuffer inner;
    msgpack_packer ipk;
    uint32_t n = 0;
    msgpack_sbuffer_init(&inner);
    msgpack_packer_init(&ipk, &inner, msgpack_sbuffer_write);
    ENSURE(depth < PQIFY_FWD_MAX_DEPTH, PQIFY_LOGS_ERR_TOO_DEEP);
    c->pos++;
    jspace(c);
    char close = is_object ? '}' : ']';
    if (jpeek(c) == close) {
        c->pos++;
    } else {
        for (;;) {
            jspace(c);
            if (is_object) {
                ENSURE(jpeek(c) == '"', PQIFY_LOGS_ERR_SHAPE);
                TRY(jstring(c, &ipk));
                jspace(c);
                ENSURE(jpeek(c) == ':', PQIFY_LOGS_ERR_SHAPE);
                c->pos++;
                jspace(c);
            }
            TRY(jvalue(c, &ipk, depth + 1));
            ENSURE(n < UINT32_MAX, PQIFY_LOGS_ERR_TOO_LARGE);
            n++;
            jspace(c);
            int ch = jpeek(c);
            if (ch == ',') {
                c->pos++;
                continue;
            }
            ENSURE(ch == close, PQIFY_LOGS_ERR_SHAPE);
            c->pos++;
            break;
        }
    }
    if (is_object)
        msgpack_pack_map(pk, n);
    else
        msgpack_pack_array(pk, n);
    msgpack_sbuffer_write(pk->data, inner.data, inner.size);
out:
    msgpack_sbuffer_destroy(&inner);
    return ret;
}

static int jvalue(jcur *c, msgpack_packer *pk, unsigned depth)
{
    int ret = 0;
    switch (jpeek(c)) {
    case '{': return jcontainer(c, pk, depth, 1);
    case '[': return jcontainer(c, pk, depth, 0);
    case '"': return jstring(c, pk);
    case 't':
        TRY(jlit(c, "true"));
        msgpack_pack_true(pk);
        break;
    case 'f':
        TRY(jlit(c, "false"));
        msgpack_pack_false(pk);
        break;
    case 'n':
        TRY(jlit(c, "null"));
        msgpack_pack_nil(pk);
        break;
    default: return jnumber(c, pk);
    }
out:
    return ret;
}

int pqify_logs_json_to_msgpack(const char *text, size_t len, msgpack_sbuffer *out)
{
    int ret = 0;
    jcur c = {(const uint8_t *)text, len, 0};
    msgpack_sbuffer tmp;
    msgpack_packer pk;
    msgpack_sbuffer_init(&tmp);
    msgpack_packer_init(&pk, &tmp, msgpack_sbuffer_write);
    jspace(&c);
    ENSURE(jpeek(&c) == '{', PQIFY_LOGS_ERR_SHAPE);
    TRY(jcontainer(&c, &pk, 0, 1));
    jspace(&c);
    ENSURE(c.pos == c.len, PQIFY_LOGS_ERR_SHAPE);
    msgpack_sbuffer_write(out, tmp.data, tmp.size);
out:
    msgpack_sbuffer_destroy(&tmp);
    return ret < 0 ? (ret == PQIFY_LOGS_ERR_NOMEM ? ret : PQIFY_LOGS_ERR_SHAPE) : 0;
}
