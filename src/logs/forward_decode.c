/*
 * Forward protocol v1 streaming decoder. Spec sections cited as [v1 §Name] refer to
 * "Fluentd Forward Protocol Specification (v1)". Bytes are framed first (frame.c), so at
 * most one message is held, and handed whole to msgpack-c.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

struct pqify_fwd_decoder {
    pqify_fwd_role role;
    pqify_fwd_limits lim;
    int failed;     /* the first error sticks */
    int delivered;  /* the last call returned a message: drop it before the next */
    mp_frame frame;
    uint8_t *buf;   /* the message being framed */
    size_t len, cap;
    msgpack_zone zone;
    uint8_t *plain; /* decompressed entries */
    pqify_fwd_event *events;
    size_t ev_cap;
};

pqify_fwd_decoder *pqify_fwd_decoder_new(pqify_fwd_role role, const pqify_fwd_limits *limits)
{
    pqify_fwd_decoder *d = calloc(1, sizeof *d);
    if (d == NULL)
        return NULL;
    d->role = role;
    if (limits)
        d->lim = *limits;
    if (d->lim.max_message == 0)
        d->lim.max_message = 8u << 20;
    if (d->lim.max_decompressed == 0)
        d->lim.max_decompressed = 4 * d->lim.max_message;
    if (d->lim.max_events == 0)
        d->lim.max_events = 1000000;
    if (!msgpack_zone_init(&d->zone, 64 * 1024)) {
        free(d);
        return NULL;
    }
    mp_frame_reset(&d->frame);
    return d;
}

void pqify_fwd_decoder_free(pqify_fwd_decoder *d)
{
    if (d == NULL)
        return;
    msgpack_zone_destroy(&d->zone);
    free(d->buf);
    free(d->plain);
    free(d->events);
    free(d);
}

size_t pqify_fwd_decoder_buffered(const pqify_fwd_decoder *d)
{
    return d->delivered ? 0 : d->len;
}

static void drop_message(pqify_fwd_decoder *d)
{
    d->len = 0;
    msgpack_zone_clear(&d->zone);
    free(d->plain);
    d->plain = NULL;
    mp_frame_reset(&d->frame);
    d->delivered = 0;
}

/* [v1 §EventTime Ext Format]: ext type 0, 8 bytes, big-endian 32-bit seconds then
 * nanoseconds. Integers are whole seconds. Floats are taken too, as Node's
 * FluentServer does (its isTime accepts any number). */
static int parse_time(const msgpack_object *o, pqify_fwd_event *ev)
{
    ev->event_time = 0;
    ev->nsec = 0;
    switch (o->type) {
    case MSGPACK_OBJECT_POSITIVE_INTEGER:
        if (o->via.u64 > INT64_MAX)
            return PQIFY_LOGS_ERR_TIME;
        ev->sec = (int64_t)o->via.u64;
        return 0;
    case MSGPACK_OBJECT_NEGATIVE_INTEGER:
        ev->sec = o->via.i64;
        return 0;
    case MSGPACK_OBJECT_FLOAT32:
    case MSGPACK_OBJECT_FLOAT64: {
        double t = o->via.f64, s;
        if (!isfinite(t) || t < 0 || t >= 9.2e18)
            return PQIFY_LOGS_ERR_TIME;
        s = floor(t);
        ev->sec = (int64_t)s;
        ev->nsec = (uint32_t)((t - s) * 1e9);
        if (ev->nsec > 999999999u)
            ev->nsec = 999999999u;
        return 0;
    }
    case MSGPACK_OBJECT_EXT: {
        const uint8_t *p = (const uint8_t *)o->via.ext.ptr;
        uint32_t ns;
        if (o->via.ext.type != 0 || o->via.ext.size != 8)
            return PQIFY_LOGS_ERR_TIME;
        ns = (uint32_t)p[4] << 24 | (uint32_t)p[5] << 16 | (uint32_t)p[6] << 8 | p[7];
        if (ns > 999999999u)
            return PQIFY_LOGS_ERR_TIME;
        ev->sec = (int64_t)((uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
                            (uint32_t)p[2] << 8 | p[3]);
        ev->nsec = ns;
        ev->event_time = 1;
        return 0;
    }
    default:
        return PQIFY_LOGS_ERR_TIME;
    }
}

static int push_event(pqify_fwd_decoder *d, size_t *n, const msgpack_object *time,
                      const msgpack_object *record)
{
    pqify_fwd_event ev;
    int ret = 0;

    ENSURE(*n < d->lim.max_events, PQIFY_LOGS_ERR_TOO_LARGE);
    /* v1.5 entries carry [time, metadata] where v1 has time (Fluent Bit 2.x sends it) */
    if (time->type == MSGPACK_OBJECT_ARRAY && time->via.array.size == 2 &&
        time->via.array.ptr[1].type == MSGPACK_OBJECT_MAP)
        time = &time->via.array.ptr[0];
    TRY(parse_time(time, &ev));
    ENSURE(record->type == MSGPACK_OBJECT_MAP, PQIFY_LOGS_ERR_ENTRY);
    ev.record = record;
    if (*n == d->ev_cap) {
        size_t c = d->ev_cap ? 2 * d->ev_cap : 64;
        pqify_fwd_event *p = realloc(d->events, c * sizeof *p);
        ENSURE(p != NULL, PQIFY_LOGS_ERR_NOMEM);
        d->events = p;
        d->ev_cap = c;
    }
    d->events[(*n)++] = ev;
out:
    return ret;
}

static int push_entry(pqify_fwd_decoder *d, size_t *n, const msgpack_object *e)
{
    if (e->type != MSGPACK_OBJECT_ARRAY || e->via.array.size != 2)
        return PQIFY_LOGS_ERR_ENTRY;
    return push_event(d, n, &e->via.array.ptr[0], &e->via.array.ptr[1]);
}

/* [v1 §Option]: size, chunk, compressed; other keys are ignored. */
static int parse_option(const msgpack_object *o, pqify_fwd_msg *m)
{
    if (o == NULL || o->type == MSGPACK_OBJECT_NIL)
        return 0;
    if (o->type != MSGPACK_OBJECT_MAP)
        return PQIFY_LOGS_ERR_OPTION;
    for (uint32_t i = 0; i < o->via.map.size; i++) {
        const msgpack_object *k = &o->via.map.ptr[i].key, *v = &o->via.map.ptr[i].val;
        if (mp_str_eq(k, "size")) {
            if (v->type != MSGPACK_OBJECT_POSITIVE_INTEGER)
                return PQIFY_LOGS_ERR_OPTION;
            m->has_size = 1;
            m->size = v->via.u64;
        } else if (mp_str_eq(k, "chunk")) {
            if (!mp_is_bytes(v))
                return PQIFY_LOGS_ERR_OPTION;
            m->chunk = mp_bytes(v);
        } else if (mp_str_eq(k, "compressed")) {
            if (mp_str_eq(v, "gzip"))
                m->compression = PQIFY_FWD_GZIP;
            else if (mp_str_eq(v, "zstd"))
                m->compression = PQIFY_FWD_ZSTD;
            else if (mp_str_eq(v, "text"))
                m->compression = PQIFY_FWD_NONE; /* Fluent Bit's word for "not compressed" */
            else
                return PQIFY_LOGS_ERR_COMPRESSION;
        }
    }
    return 0;
}

/* [v1 §PackedForward Mode]: a MessagePackEventStream, entries back to back. */
static int parse_packed(pqify_fwd_decoder *d, const msgpack_object *stream, pqify_fwd_msg *m,
                        size_t *n)
{
    pqify_fwd_bytes b = mp_bytes(stream);
    const uint8_t *p = b.ptr;
    size_t len = b.len, off = 0, plain_len = 0;
    int ret = 0;

    if (m->compression == PQIFY_FWD_GZIP) {
        TRY(logs_gunzip(b.ptr, b.len, d->lim.max_decompressed, &d->plain, &plain_len));
        p = d->plain;
        len = plain_len;
    } else if (m->compression == PQIFY_FWD_ZSTD) {
        TRY(logs_unzstd(b.ptr, b.len, d->lim.max_decompressed, &d->plain, &plain_len));
        p = d->plain;
        len = plain_len;
    }
    m->mode = m->compression == PQIFY_FWD_NONE ? PQIFY_FWD_MODE_PACKED
                                               : PQIFY_FWD_MODE_COMPRESSED;
    while (off < len) {
        msgpack_object e;
        TRY(mp_unpack_one(&d->zone, p, len, &off, &e));
        TRY(push_entry(d, n, &e));
    }
out:
    return ret;
}

/* [v1 §Message Modes] [tag, time, record, option?], [tag, entries, option?],
 * [tag, packed, option?] */
static int parse_events(pqify_fwd_decoder *d, const msgpack_object *a, pqify_fwd_msg *m)
{
    const msgpack_object *el = a->via.array.ptr;
    uint32_t k = a->via.array.size;
    size_t n = 0;
    int ret = 0;

    /* an empty tag names no stream (and no sink file) */
    ENSURE(k >= 2 && k <= 4 && el[0].type == MSGPACK_OBJECT_STR && el[0].via.str.size > 0,
           PQIFY_LOGS_ERR_SHAPE);
    m->kind = PQIFY_FWD_EVENTS;
    m->tag = mp_bytes(&el[0]);
    if (el[1].type == MSGPACK_OBJECT_ARRAY && k <= 3) {
        TRY(parse_option(k == 3 ? &el[2] : NULL, m));
        m->mode = PQIFY_FWD_MODE_FORWARD;
        for (uint32_t i = 0; i < el[1].via.array.size; i++)
            TRY(push_entry(d, &n, &el[1].via.array.ptr[i]));
    } else if (mp_is_bytes(&el[1]) && k <= 3) {
        TRY(parse_option(k == 3 ? &el[2] : NULL, m));
        TRY(parse_packed(d, &el[1], m, &n));
    } else {
        ENSURE(k >= 3, PQIFY_LOGS_ERR_SHAPE);
        TRY(parse_option(k == 4 ? &el[3] : NULL, m));
        m->mode = PQIFY_FWD_MODE_MESSAGE;
        TRY(push_event(d, &n, &el[1], &el[2]));
    }
    ENSURE(!m->has_size || m->size == n, PQIFY_LOGS_ERR_SIZE_MISMATCH);
    m->events = d->events;
    m->n_events = n;
out:
    return ret;
}

static int all_bytes(const msgpack_object *el, uint32_t from, uint32_t to)
{
    for (uint32_t i = from; i < to; i++)
        if (!mp_is_bytes(&el[i]))
            return 0;
    return 1;
}

static int parse_client_message(pqify_fwd_decoder *d, const msgpack_object *o, pqify_fwd_msg *m)
{
    const msgpack_object *el;

    if (o->type == MSGPACK_OBJECT_NIL) { /* [v1 §Heartbeat Message] over TCP */
        m->kind = PQIFY_FWD_HEARTBEAT;
        return 0;
    }
    if (o->type != MSGPACK_OBJECT_ARRAY)
        return PQIFY_LOGS_ERR_SHAPE;
    el = o->via.array.ptr;
    /* [v1 §PING]: ["PING", hostname, salt, digest, username, password digest] */
    if (o->via.array.size == 6 && mp_str_eq(&el[0], "PING")) {
        if (!all_bytes(el, 1, 6))
            return PQIFY_LOGS_ERR_SHAPE;
        m->kind = PQIFY_FWD_PING;
        m->hostname = mp_bytes(&el[1]);
        m->salt = mp_bytes(&el[2]);
        m->digest = mp_bytes(&el[3]);
        m->username = mp_bytes(&el[4]);
        m->password_digest = mp_bytes(&el[5]);
        return 0;
    }
    return parse_events(d, o, m);
}

static int parse_helo(const msgpack_object *opt, pqify_fwd_msg *m)
{
    int have_nonce = 0;
    if (opt->type != MSGPACK_OBJECT_MAP)
        return PQIFY_LOGS_ERR_SHAPE;
    for (uint32_t i = 0; i < opt->via.map.size; i++) {
        const msgpack_object *k = &opt->via.map.ptr[i].key, *v = &opt->via.map.ptr[i].val;
        if (mp_str_eq(k, "nonce") && mp_is_bytes(v)) {
            m->nonce = mp_bytes(v);
            have_nonce = 1;
        } else if (mp_str_eq(k, "auth") && mp_is_bytes(v)) {
            m->auth_salt = mp_bytes(v);
        } else if (mp_str_eq(k, "keepalive") && v->type == MSGPACK_OBJECT_BOOLEAN) {
            m->keepalive = v->via.boolean;
        } else if (mp_str_eq(k, "nonce") || mp_str_eq(k, "auth") ||
                   mp_str_eq(k, "keepalive")) {
            return PQIFY_LOGS_ERR_SHAPE;
        }
    }
    if (!have_nonce)
        return PQIFY_LOGS_ERR_SHAPE;
    m->kind = PQIFY_FWD_HELO;
    return 0;
}

static int parse_server_message(const msgpack_object *o, pqify_fwd_msg *m)
{
    const msgpack_object *el;

    if (o->type == MSGPACK_OBJECT_MAP) { /* [v1 §Response] {"ack": chunk} */
        for (uint32_t i = 0; i < o->via.map.size; i++)
            if (mp_str_eq(&o->via.map.ptr[i].key, "ack") && mp_is_bytes(&o->via.map.ptr[i].val)) {
                m->kind = PQIFY_FWD_ACK;
                m->chunk = mp_bytes(&o->via.map.ptr[i].val);
                return 0;
            }
        return PQIFY_LOGS_ERR_SHAPE;
    }
    if (o->type != MSGPACK_OBJECT_ARRAY)
        return PQIFY_LOGS_ERR_UNEXPECTED;
    el = o->via.array.ptr;
    if (o->via.array.size == 2 && mp_str_eq(&el[0], "HELO"))
        return parse_helo(&el[1], m);
    /* [v1 §PONG]: ["PONG", auth result, reason, hostname, digest] */
    if (o->via.array.size == 5 && mp_str_eq(&el[0], "PONG")) {
        if (el[1].type != MSGPACK_OBJECT_BOOLEAN || !all_bytes(el, 2, 5))
            return PQIFY_LOGS_ERR_SHAPE;
        m->kind = PQIFY_FWD_PONG;
        m->auth_ok = el[1].via.boolean;
        m->reason = mp_bytes(&el[2]);
        m->hostname = mp_bytes(&el[3]);
        m->digest = mp_bytes(&el[4]);
        return 0;
    }
    return PQIFY_LOGS_ERR_UNEXPECTED;
}

static int append(pqify_fwd_decoder *d, const uint8_t *p, size_t n)
{
    if (n == 0)
        return 0;
    if (d->len + n > d->cap) {
        size_t c = d->cap ? d->cap : 4096;
        uint8_t *b;
        while (c < d->len + n)
            c *= 2;
        if (c > d->lim.max_message)
            c = d->lim.max_message;
        b = realloc(d->buf, c);
        if (b == NULL)
            return PQIFY_LOGS_ERR_NOMEM;
        d->buf = b;
        d->cap = c;
    }
    memcpy(d->buf + d->len, p, n);
    d->len += n;
    return 0;
}

int pqify_fwd_decode(pqify_fwd_decoder *d, const uint8_t **in, size_t *len, pqify_fwd_msg *msg)
{
    size_t used = 0;
    int ret = 0, r;
    msgpack_object o;

    ENSURE(!d->failed, PQIFY_LOGS_ERR_FAILED);
    if (d->delivered)
        drop_message(d);
    r = mp_frame_feed(&d->frame, *in, *len, &used);
    TRY(r);
    /* a declared payload past the limit fails now, before its bytes arrive */
    ENSURE(d->frame.total + d->frame.skip <= d->lim.max_message, PQIFY_LOGS_ERR_TOO_LARGE);
    TRY(append(d, *in, used));
    if (used) { /* (NULL, 0) is a valid empty input */
        *in += used;
        *len -= used;
    }
    if (r == 0)
        goto out;
    {
        size_t off = 0;
        msgpack_unpack_return u =
            msgpack_unpack((const char *)d->buf, d->len, &off, &d->zone, &o);
        ENSURE(u != MSGPACK_UNPACK_NOMEM_ERROR, PQIFY_LOGS_ERR_NOMEM);
        ENSURE(u == MSGPACK_UNPACK_SUCCESS && off == d->len, PQIFY_LOGS_ERR_MSGPACK);
    }
    memset(msg, 0, sizeof *msg);
    d->delivered = 1;
    if (d->role == PQIFY_FWD_SERVER)
        TRY(parse_client_message(d, &o, msg));
    else
        TRY(parse_server_message(&o, msg));
    ret = 1;
out:
    if (ret < 0)
        d->failed = 1;
    return ret;
}
