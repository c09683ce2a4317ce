/* The msgpack framer (see internal.h for why it exists) and small msgpack helpers.
 * Formats: the msgpack spec, "Formats" table. */
#include <string.h>

#include "internal.h"

void mp_frame_reset(mp_frame *f)
{
    memset(f, 0, sizeof *f);
}

/* Bytes of the length (or value) field after the first byte. */
static unsigned header_extra(uint8_t b)
{
    switch (b) {
    case 0xc4: case 0xc7: case 0xd9: return 1;               /* bin8 ext8 str8 */
    case 0xc5: case 0xc8: case 0xda: case 0xdc: case 0xde: return 2;
    case 0xc6: case 0xc9: case 0xdb: case 0xdd: case 0xdf: return 4;
    default: return 0;
    }
}

static uint64_t be(const uint8_t *p, unsigned n)
{
    uint64_t v = 0;
    for (unsigned i = 0; i < n; i++)
        v = v << 8 | p[i];
    return v;
}

/* One object ended at the current depth: 1 when the top-level object is whole. */
static int item_done(mp_frame *f)
{
    for (;;) {
        if (f->depth == 0)
            return 1;
        if (--f->pending[f->depth - 1] != 0)
            return 0;
        f->depth--;
    }
}

static int open_container(mp_frame *f, uint64_t n)
{
    if (n == 0)
        return item_done(f);
    if (f->depth == PQIFY_FWD_MAX_DEPTH)
        return PQIFY_LOGS_ERR_TOO_DEEP;
    f->pending[f->depth++] = n;
    return 0;
}

static int payload(mp_frame *f, uint64_t n)
{
    if (n == 0)
        return item_done(f);
    f->skip = n;
    return 0;
}

/* The whole header is in f->hdr: open a container, start a payload, or end a scalar. */
static int header(mp_frame *f)
{
    uint8_t b = f->hdr[0];
    uint64_t n = be(f->hdr + 1, f->hdr_need - 1);

    if (b <= 0x7f || b >= 0xe0 || b == 0xc0 || b == 0xc2 || b == 0xc3)
        return item_done(f);
    if (b <= 0x8f)
        return open_container(f, 2u * (uint64_t)(b & 0x0f));
    if (b <= 0x9f)
        return open_container(f, b & 0x0f);
    if (b <= 0xbf)
        return payload(f, b & 0x1f);
    switch (b) {
    case 0xc1: return PQIFY_LOGS_ERR_MSGPACK;
    case 0xc4: case 0xc5: case 0xc6: case 0xd9: case 0xda: case 0xdb: return payload(f, n);
    case 0xc7: case 0xc8: case 0xc9: return payload(f, n + 1); /* type byte + data */
    case 0xca: return payload(f, 4);
    case 0xcb: return payload(f, 8);
    case 0xcc: case 0xd0: return payload(f, 1);
    case 0xcd: case 0xd1: return payload(f, 2);
    case 0xce: case 0xd2: return payload(f, 4);
    case 0xcf: case 0xd3: return payload(f, 8);
    case 0xd4: return payload(f, 2);
    case 0xd5: return payload(f, 3);
    case 0xd6: return payload(f, 5);
    case 0xd7: return payload(f, 9);
    case 0xd8: return payload(f, 17);
    case 0xdc: case 0xdd: return open_container(f, n);
    default: return open_container(f, 2 * n); /* 0xde 0xdf: maps */
    }
}

int mp_frame_feed(mp_frame *f, const uint8_t *in, size_t len, size_t *used)
{
    size_t i = 0;
    int r = 0;

    while (i < len) {
        if (f->skip) {
            uint64_t take = len - i < f->skip ? len - i : f->skip;
            f->skip -= take;
            i += (size_t)take;
            r = f->skip ? 0 : item_done(f);
        } else if (f->hdr_have < f->hdr_need) {
            f->hdr[f->hdr_have++] = in[i++];
            r = f->hdr_have == f->hdr_need ? header(f) : 0;
        } else {
            f->started = 1;
            f->hdr[0] = in[i++];
            f->hdr_have = 1;
            f->hdr_need = 1 + header_extra(f->hdr[0]);
            r = f->hdr_need == 1 ? header(f) : 0;
        }
        if (r != 0) {
            f->total += i;
            *used = i;
            if (r == 1)
                f->hdr_have = f->hdr_need = 0;
            return r;
        }
    }
    f->total += i;
    *used = i;
    return 0;
}

int mp_unpack_one(msgpack_zone *zone, const uint8_t *in, size_t len, size_t *off,
                  msgpack_object *obj)
{
    mp_frame f;
    size_t used = 0, at = *off;
    int ret = 0;

    mp_frame_reset(&f);
    int r = mp_frame_feed(&f, in + at, len - at, &used);
    TRY(r);
    ENSURE(r == 1, PQIFY_LOGS_ERR_MSGPACK); /* truncated */
    {
        size_t o = 0;
        msgpack_unpack_return u = msgpack_unpack((const char *)in + at, used, &o, zone, obj);
        ENSURE(u != MSGPACK_UNPACK_NOMEM_ERROR, PQIFY_LOGS_ERR_NOMEM);
        ENSURE(u == MSGPACK_UNPACK_SUCCESS && o == used, PQIFY_LOGS_ERR_MSGPACK);
    }
    *off = at + used;
    ret = 0;
out:
    return ret;
}

int mp_is_bytes(const msgpack_object *o)
{
    return o->type == MSGPACK_OBJECT_STR || o->type == MSGPACK_OBJECT_BIN;
}

pqify_fwd_bytes mp_bytes(const msgpack_object *o)
{
    pqify_fwd_bytes b = {NULL, 0};
    if (o->type == MSGPACK_OBJECT_STR) {
        b.ptr = (const uint8_t *)o->via.str.ptr;
        b.len = o->via.str.size;
    } else if (o->type == MSGPACK_OBJECT_BIN) {
        b.ptr = (const uint8_t *)o->via.bin.ptr;
        b.len = o->via.bin.size;
    }
    if (b.ptr == NULL)
        b.ptr = (const uint8_t *)""; /* present but empty */
    return b;
}

int mp_str_eq(const msgpack_object *o, const char *s)
{
    size_t n = strlen(s);
    return o->type == MSGPACK_OBJECT_STR && o->via.str.size == n &&
           memcmp(o->via.str.ptr, s, n) == 0;
}
