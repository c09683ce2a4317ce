/* gzip (zlib) and zstd for CompressedPackedForward, with the output bounded so a small
 * chunk cannot expand without limit (a decompression bomb is an error, not an OOM). */
#include <stdlib.h>
#include <string.h>

#include <zlib.h>
#include <zstd.h>

#include "internal.h"

/* Grows *buf to hold at least need bytes, never past cap. */
static int grow(uint8_t **buf, size_t *have, size_t need, size_t cap)
{
    size_t n = *have ? *have : 4096;
    uint8_t *p;
    while (n < need)
        n *= 2;
    if (n > cap)
        n = cap;
    if (n < need)
        return PQIFY_LOGS_ERR_BOMB;
    p = realloc(*buf, n ? n : 1);
    if (p == NULL)
        return PQIFY_LOGS_ERR_NOMEM;
    *buf = p;
    *have = n;
    return 0;
}

/*
 * Fluentd's out_forward appends one gzip member per buffer write to the same chunk
 * (RFC 1952 §2.2: a gzip file is a series of members), so members are inflated until
 * the input ends.
 */
int logs_gunzip(const uint8_t *in, size_t len, size_t cap, uint8_t **out, size_t *out_len)
{
    z_stream z;
    uint8_t *buf = NULL;
    size_t have = 0, n = 0;
    int ret = 0, zr, inited = 0;

    memset(&z, 0, sizeof z);
    ENSURE(len > 0, PQIFY_LOGS_ERR_INFLATE);
    ENSURE(inflateInit2(&z, 16 + MAX_WBITS) == Z_OK, PQIFY_LOGS_ERR_NOMEM);
    inited = 1;
    z.next_in = (Bytef *)(uintptr_t)in;
    z.avail_in = (uInt)(len > UINT32_MAX ? UINT32_MAX : len);
    ENSURE(len <= UINT32_MAX, PQIFY_LOGS_ERR_TOO_LARGE);
    for (;;) {
        if (n == have) {
            ENSURE(n < cap, PQIFY_LOGS_ERR_BOMB);
            TRY(grow(&buf, &have, n + 1, cap));
        }
        z.next_out = buf + n;
        z.avail_out = (uInt)(have - n);
        zr = inflate(&z, Z_NO_FLUSH);
        n = have - z.avail_out;
        if (zr == Z_STREAM_END) {
            if (z.avail_in == 0)
                break;
            ENSURE(inflateReset(&z) == Z_OK, PQIFY_LOGS_ERR_INFLATE);
            continue;
        }
        ENSURE(zr == Z_OK || (zr == Z_BUF_ERROR && z.avail_out == 0), PQIFY_LOGS_ERR_INFLATE);
        /* input ended inside a member: truncated */
        ENSURE(z.avail_in > 0 || z.avail_out == 0, PQIFY_LOGS_ERR_INFLATE);
    }
    *out = buf;
    *out_len = n;
    buf = NULL;
out:
    if (inited)
        inflateEnd(&z);
    free(buf);
    return ret;
}

int logs_unzstd(const uint8_t *in, size_t len, size_t cap, uint8_t **out, size_t *out_len)
{
    ZSTD_DStream *ds = ZSTD_createDStream();
    ZSTD_inBuffer zi = {in, len, 0};
    uint8_t *buf = NULL;
    size_t have = 0, n = 0, zr = 1;
    int ret = 0;

    ENSURE(ds != NULL, PQIFY_LOGS_ERR_NOMEM);
    ENSURE(len > 0, PQIFY_LOGS_ERR_INFLATE);
    {
        /* The common case, one frame that declares its size (ZSTD_compress writes it):
         * decompressed straight into a buffer of that size, with no window buffer or
         * copy from it (the receiver's profile: half its zstd time was that copy).
         * ZSTD_decompress never writes past the size given, and the size is checked
         * against cap first; anything else (several frames, no size, a lie) takes the
         * streaming path below. */
        unsigned long long fcs = ZSTD_getFrameContentSize(in, len);
        if (fcs != ZSTD_CONTENTSIZE_UNKNOWN && fcs != ZSTD_CONTENTSIZE_ERROR && fcs <= cap) {
            buf = malloc(fcs ? (size_t)fcs : 1);
            ENSURE(buf != NULL, PQIFY_LOGS_ERR_NOMEM);
            size_t r = ZSTD_decompress(buf, (size_t)fcs, in, len);
            if (!ZSTD_isError(r) && r == fcs) {
                *out = buf;
                *out_len = (size_t)fcs;
                buf = NULL;
                goto out;
            }
            free(buf);
            buf = NULL;
        }
    }
    /* zstd's own window limit (default 2^27) bounds its memory; cap bounds ours. */
    while (zi.pos < zi.size || zr != 0) {
        ZSTD_outBuffer zo;
        if (n == have) {
            ENSURE(n < cap, PQIFY_LOGS_ERR_BOMB);
            TRY(grow(&buf, &have, n + 1, cap));
        }
        zo.dst = buf;
        zo.size = have;
        zo.pos = n;
        zr = ZSTD_decompressStream(ds, &zo, &zi);
        ENSURE(!ZSTD_isError(zr), PQIFY_LOGS_ERR_INFLATE);
        /* input used up mid-frame with room left: truncated */
        ENSURE(!(zi.pos == zi.size && zr != 0 && zo.pos < zo.size), PQIFY_LOGS_ERR_INFLATE);
        n = zo.pos;
    }
    *out = buf;
    *out_len = n;
    buf = NULL;
out:
    ZSTD_freeDStream(ds);
    free(buf);
    return ret;
}

int logs_gzip(const uint8_t *in, size_t len, msgpack_sbuffer *out)
{
    z_stream z;
    uLong bound;
    int ret = 0, inited = 0;

    memset(&z, 0, sizeof z);
    ENSURE(len <= UINT32_MAX, PQIFY_LOGS_ERR_TOO_LARGE);
    ENSURE(deflateInit2(&z, Z_DEFAULT_COMPRESSION, Z_DEFLATED, 16 + MAX_WBITS, 8,
                        Z_DEFAULT_STRATEGY) == Z_OK, PQIFY_LOGS_ERR_NOMEM);
    inited = 1;
    bound = deflateBound(&z, (uLong)len);
    out->size = 0;
    {
        char *p = realloc(out->data, bound ? bound : 1);
        ENSURE(p != NULL, PQIFY_LOGS_ERR_NOMEM);
        out->data = p;
        out->alloc = bound;
    }
    z.next_in = (Bytef *)(uintptr_t)in;
    z.avail_in = (uInt)len;
    z.next_out = (Bytef *)out->data;
    z.avail_out = (uInt)bound;
    ENSURE(deflate(&z, Z_FINISH) == Z_STREAM_END, PQIFY_LOGS_ERR_INFLATE);
    out->size = bound - z.avail_out;
out:
    if (inited)
        deflateEnd(&z);
    return ret;
}

/* Level 1: on log lines it gives 22:1 where level 3 gives 23:1, at about one and a half
 * times the speed, and the forwarder's compression is on its only thread. */
#define ZSTD_LEVEL 1

void *logs_zstd_ctx_new(void)
{
    return ZSTD_createCCtx();
}

void logs_zstd_ctx_free(void *ctx)
{
    ZSTD_freeCCtx(ctx);
}

int logs_zstd(void *ctx, const uint8_t *in, size_t len, msgpack_sbuffer *out)
{
    size_t bound = ZSTD_compressBound(len), n;
    char *p;
    int ret = 0;

    p = realloc(out->data, bound ? bound : 1);
    ENSURE(p != NULL, PQIFY_LOGS_ERR_NOMEM);
    out->data = p;
    out->alloc = bound;
    /* a reused context keeps its tables: no allocation and clearing per batch */
    n = ctx != NULL ? ZSTD_compressCCtx(ctx, out->data, bound, in, len, ZSTD_LEVEL)
                    : ZSTD_compress(out->data, bound, in, len, ZSTD_LEVEL);
    ENSURE(!ZSTD_isError(n), PQIFY_LOGS_ERR_INFLATE);
    out->size = n;
out:
    return ret;
}

uint32_t logs_crc32(const uint8_t *p, size_t len)
{
    uLong c = crc32(0L, Z_NULL, 0);
    while (len) {
        uInt n = len > UINT32_MAX ? UINT32_MAX : (uInt)len;
        c = crc32(c, p, n);
        p += n;
        len -= n;
    }
    return (uint32_t)c;
}
