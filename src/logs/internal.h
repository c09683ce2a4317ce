/* pqify logs layer: shared internals. Uses msgpack-c, zlib, zstd and libcrypto. */
#ifndef PQIFY_LOGS_INTERNAL_H
#define PQIFY_LOGS_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "pqify/logs.h"

/* Error flow as in src/tls: `int ret = 0`, one `out:` label, happy path reads down. */
#define TRY(expr)              \
    do {                       \
        int try_ret_ = (expr); \
        if (try_ret_ < 0) {    \
            ret = try_ret_;    \
            goto out;          \
        }                      \
    } while (0)
#define ENSURE(cond, err)      \
    do {                       \
        if (!(cond)) {         \
            ret = (err);       \
            goto out;          \
        }                      \
    } while (0)

#define MUST_USE PQIFY_MUST_USE

/*
 * The msgpack framer: finds where one msgpack object ends, fed a byte at a time or in
 * any pieces, without building it. msgpack-c's C unpacker allocates an array's or a
 * map's storage from its header before the elements arrive (an 5-byte array32 header
 * asks for 2^32 objects), so every object is framed first and handed to msgpack-c only
 * once all its bytes are here: then no header can claim more elements than there are
 * bytes, and memory stays proportional to the input.
 */
typedef struct mp_frame {
    uint64_t pending[PQIFY_FWD_MAX_DEPTH + 1]; /* objects still owed at each level */
    unsigned depth;
    uint64_t skip;    /* payload bytes of the current str/bin/ext still to pass */
    uint8_t hdr[9];   /* a header split across feeds */
    unsigned hdr_have, hdr_need;
    size_t total;     /* bytes of this object so far */
    int started;
} mp_frame;

void mp_frame_reset(mp_frame *f);
/* Consumes up to len bytes. Returns 1 when the object ended (after *used bytes),
 * 0 when all len were used and it continues, or PQIFY_LOGS_ERR_TOO_DEEP /
 * PQIFY_LOGS_ERR_MSGPACK (0xc1, the one byte msgpack never uses). */
MUST_USE int mp_frame_feed(mp_frame *f, const uint8_t *in, size_t len, size_t *used);

/* Frames then unpacks exactly one object from in[0..len) starting at *off. */
MUST_USE int mp_unpack_one(msgpack_zone *zone, const uint8_t *in, size_t len, size_t *off,
                           msgpack_object *obj);

/* Decompression bounded by cap: out is malloc'd (caller frees). */
MUST_USE int logs_gunzip(const uint8_t *in, size_t len, size_t cap, uint8_t **out,
                         size_t *out_len);
MUST_USE int logs_unzstd(const uint8_t *in, size_t len, size_t cap, uint8_t **out,
                         size_t *out_len);
MUST_USE int logs_gzip(const uint8_t *in, size_t len, msgpack_sbuffer *out);
/* ctx: a ZSTD_CCtx to reuse, or NULL for a fresh one. */
MUST_USE int logs_zstd(void *ctx, const uint8_t *in, size_t len, msgpack_sbuffer *out);
void *logs_zstd_ctx_new(void);
void logs_zstd_ctx_free(void *ctx);

/* msgpack str or bin (Node sends nonces as bin, Fluentd as str) */
int mp_is_bytes(const msgpack_object *o);
pqify_fwd_bytes mp_bytes(const msgpack_object *o);
int mp_str_eq(const msgpack_object *o, const char *s);

/* CRC-32 (zlib's) over a spool record */
uint32_t logs_crc32(const uint8_t *p, size_t len);

/* The forwarder's checkpoint (checkpoint.c): written durably, whole or not at all. */
struct pqify_logfwd_offset;
MUST_USE int logs_offsets_write(const char *path, const struct pqify_logfwd_offset *e, size_t n);

#endif
