/* Bounds-checked readers and writers for wire data (RFC 8446 §3 presentation language). */
#include <stdlib.h>
#include <string.h>

#include "internal.h"

void tls_reader_init(tls_reader *r, const uint8_t *base, size_t len)
{
    r->base = base;
    r->len = base == NULL ? 0 : len;
    r->pos = 0;
}

size_t tls_reader_left(const tls_reader *r)
{
    return r->len - r->pos;
}

int tls_read_bytes(tls_reader *r, size_t n, const uint8_t **p)
{
    if (n > tls_reader_left(r))
        return PQIFY_TLS_ERR_DECODE;
    *p = r->base + r->pos;
    r->pos += n;
    return 0;
}

static int read_be(tls_reader *r, size_t n, uint32_t *v)
{
    const uint8_t *p;
    int ret = tls_read_bytes(r, n, &p);
    if (ret < 0)
        return ret;
    uint32_t x = 0;
    for (size_t i = 0; i < n; i++)
        x = (x << 8) | p[i];
    *v = x;
    return 0;
}

int tls_read_u8(tls_reader *r, uint8_t *v)
{
    uint32_t x = 0;
    int ret = read_be(r, 1, &x);
    *v = (uint8_t)x;
    return ret;
}

int tls_read_u16(tls_reader *r, uint16_t *v)
{
    uint32_t x = 0;
    int ret = read_be(r, 2, &x);
    *v = (uint16_t)x;
    return ret;
}

int tls_read_u24(tls_reader *r, uint32_t *v)
{
    return read_be(r, 3, v);
}

int tls_read_u32(tls_reader *r, uint32_t *v)
{
    return read_be(r, 4, v);
}

int tls_read_u64(tls_reader *r, uint64_t *v)
{
    uint32_t hi = 0, lo = 0;
    /* both halves or neither: a failed read consumes nothing */
    if (tls_reader_left(r) < 8)
        return PQIFY_TLS_ERR_DECODE;
    int ret = read_be(r, 4, &hi);
    if (ret == 0)
        ret = read_be(r, 4, &lo);
    *v = (uint64_t)hi << 32 | lo;
    return ret;
}

int tls_read_block(tls_reader *r, size_t prefix_bytes, tls_reader *sub)
{
    uint32_t n;
    const uint8_t *p;
    int ret = 0;
    ENSURE(prefix_bytes >= 1 && prefix_bytes <= 3, PQIFY_TLS_ERR_INTERNAL);
    TRY(read_be(r, prefix_bytes, &n));
    TRY(tls_read_bytes(r, n, &p));
    tls_reader_init(sub, p, n);
out:
    return ret;
}

int tls_read_end(const tls_reader *r)
{
    return tls_reader_left(r) == 0 ? 0 : PQIFY_TLS_ERR_DECODE;
}

/* ---- pqify_tls_buf ---- */

void pqify_tls_buf_init(pqify_tls_buf *buf, void *storage, size_t size)
{
    buf->base = storage;
    buf->len = 0;
    buf->capacity = storage == NULL ? 0 : size;
    buf->is_allocated = 0;
}

void pqify_tls_buf_dispose(pqify_tls_buf *buf)
{
    if (buf->base != NULL)
        tls_zeroize(buf->base, buf->capacity);
    if (buf->is_allocated)
        free(buf->base);
    pqify_tls_buf_init(buf, NULL, 0);
}

void pqify_tls_buf_consume(pqify_tls_buf *buf, size_t n)
{
    if (n >= buf->len) {
        buf->len = 0;
        return;
    }
    memmove(buf->base, buf->base + n, buf->len - n);
    buf->len -= n;
}

int tls_buf_reserve(pqify_tls_buf *b, size_t extra)
{
    if (extra <= b->capacity - b->len)
        return 0;
    if (extra > SIZE_MAX / 2 - b->len)
        return PQIFY_TLS_ERR_NO_MEMORY;
    size_t cap = b->capacity < 1024 ? 1024 : b->capacity;
    while (cap - b->len < extra)
        cap *= 2;
    uint8_t *p = malloc(cap);
    if (p == NULL)
        return PQIFY_TLS_ERR_NO_MEMORY;
    if (b->len != 0)
        memcpy(p, b->base, b->len);
    /* the old storage may hold plaintext or key material */
    if (b->base != NULL)
        tls_zeroize(b->base, b->capacity);
    if (b->is_allocated)
        free(b->base);
    b->base = p;
    b->capacity = cap;
    b->is_allocated = 1;
    return 0;
}

int tls_write_bytes(pqify_tls_buf *b, const void *p, size_t n)
{
    int ret = tls_buf_reserve(b, n);
    if (ret < 0)
        return ret;
    if (n != 0)
        memcpy(b->base + b->len, p, n);
    b->len += n;
    return 0;
}

static int write_be(pqify_tls_buf *b, uint32_t v, size_t n)
{
    uint8_t tmp[4];
    for (size_t i = 0; i < n; i++)
        tmp[i] = (uint8_t)(v >> (8 * (n - 1 - i)));
    return tls_write_bytes(b, tmp, n);
}

int tls_write_u8(pqify_tls_buf *b, uint8_t v)
{
    return write_be(b, v, 1);
}

int tls_write_u16(pqify_tls_buf *b, uint16_t v)
{
    return write_be(b, v, 2);
}

int tls_write_u24(pqify_tls_buf *b, uint32_t v)
{
    return write_be(b, v, 3);
}

int tls_write_u32(pqify_tls_buf *b, uint32_t v)
{
    return write_be(b, v, 4);
}

int tls_write_u64(pqify_tls_buf *b, uint64_t v)
{
    int ret = write_be(b, (uint32_t)(v >> 32), 4);
    return ret < 0 ? ret : write_be(b, (uint32_t)v, 4);
}

int tls_write_block_open(pqify_tls_buf *b, size_t prefix_bytes, size_t *mark)
{
    *mark = b->len;
    return write_be(b, 0, prefix_bytes);
}

int tls_write_block_close(pqify_tls_buf *b, size_t prefix_bytes, size_t mark)
{
    if (mark + prefix_bytes > b->len || prefix_bytes < 1 || prefix_bytes > 3)
        return PQIFY_TLS_ERR_INTERNAL;
    size_t n = b->len - mark - prefix_bytes;
    if (n >= ((size_t)1 << (8 * prefix_bytes)))
        return PQIFY_TLS_ERR_INTERNAL;
    for (size_t i = 0; i < prefix_bytes; i++)
        b->base[mark + i] = (uint8_t)(n >> (8 * (prefix_bytes - 1 - i)));
    return 0;
}

void tls_u16_set_clear(tls_u16_set *s)
{
    memset(s->bits, 0, sizeof s->bits);
}

int tls_u16_set_add(tls_u16_set *s, uint16_t v)
{
    uint64_t bit = (uint64_t)1 << (v & 63);
    int fresh = (s->bits[v >> 6] & bit) == 0;
    s->bits[v >> 6] |= bit;
    return fresh;
}

int tls_u16_set_has(const tls_u16_set *s, uint16_t v)
{
    return (s->bits[v >> 6] >> (v & 63)) & 1;
}

/* ---- handshake message framing (RFC 8446 §4: type, uint24 length, body) ---- */

int tls_msg_begin(pqify_tls_buf *msg, uint8_t type, size_t *mark)
{
    int ret = tls_write_u8(msg, type);
    return ret < 0 ? ret : tls_write_block_open(msg, 3, mark);
}

int tls_msg_end(pqify_tls_buf *msg, size_t mark)
{
    return tls_write_block_close(msg, 3, mark);
}

int tls_msg_header(const uint8_t *p, size_t n, uint8_t *type, size_t *body_len)
{
    if (n < TLS_HS_HEADER)
        return 0;
    *type = p[0];
    *body_len = (size_t)p[1] << 16 | (size_t)p[2] << 8 | p[3];
    return 1;
}
