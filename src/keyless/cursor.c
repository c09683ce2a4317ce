/* Bounds-checked readers and writers for keyless wire data (big-endian, u16 items). */
#include <string.h>

#include "internal.h"

void kl_reader_init(kl_reader *r, const uint8_t *base, size_t len)
{
    r->base = base;
    r->len = base == NULL ? 0 : len;
    r->pos = 0;
}

size_t kl_reader_left(const kl_reader *r)
{
    return r->len - r->pos;
}

int kl_read_bytes(kl_reader *r, size_t n, const uint8_t **p)
{
    if (n > kl_reader_left(r))
        return PQIFY_KEYLESS_ERR_TRUNCATED;
    *p = r->base + r->pos;
    r->pos += n;
    return 0;
}

static int read_be(kl_reader *r, size_t n, uint32_t *v)
{
    const uint8_t *p;
    int ret = kl_read_bytes(r, n, &p);
    if (ret < 0)
        return ret;
    uint32_t x = 0;
    for (size_t i = 0; i < n; i++)
        x = (x << 8) | p[i];
    *v = x;
    return 0;
}

int kl_read_u8(kl_reader *r, uint8_t *v)
{
    uint32_t x = 0;
    int ret = read_be(r, 1, &x);
    *v = (uint8_t)x;
    return ret;
}

int kl_read_u16(kl_reader *r, uint16_t *v)
{
    uint32_t x = 0;
    int ret = read_be(r, 2, &x);
    *v = (uint16_t)x;
    return ret;
}

int kl_read_u32(kl_reader *r, uint32_t *v)
{
    return read_be(r, 4, v);
}

int kl_read_block16(kl_reader *r, kl_reader *sub)
{
    uint16_t n;
    const uint8_t *p;
    int ret = 0;
    TRY(kl_read_u16(r, &n));
    TRY(kl_read_bytes(r, n, &p));
    kl_reader_init(sub, p, n);
out:
    return ret;
}

void kl_writer_init(kl_writer *w, uint8_t *base, size_t cap)
{
    w->base = base;
    w->cap = base == NULL ? 0 : cap;
    w->len = 0;
}

int kl_write_bytes(kl_writer *w, const void *p, size_t n)
{
    if (n > w->cap - w->len)
        return PQIFY_KEYLESS_ERR_TOO_LARGE;
    if (n != 0)
        memcpy(w->base + w->len, p, n);
    w->len += n;
    return 0;
}

int kl_write_zeros(kl_writer *w, size_t n)
{
    if (n > w->cap - w->len)
        return PQIFY_KEYLESS_ERR_TOO_LARGE;
    if (n != 0)
        memset(w->base + w->len, 0, n);
    w->len += n;
    return 0;
}

static int write_be(kl_writer *w, uint32_t v, size_t n)
{
    uint8_t tmp[4];
    for (size_t i = 0; i < n; i++)
        tmp[i] = (uint8_t)(v >> (8 * (n - 1 - i)));
    return kl_write_bytes(w, tmp, n);
}

int kl_write_u8(kl_writer *w, uint8_t v)
{
    return write_be(w, v, 1);
}

int kl_write_u16(kl_writer *w, uint16_t v)
{
    return write_be(w, v, 2);
}

int kl_write_u32(kl_writer *w, uint32_t v)
{
    return write_be(w, v, 4);
}

int kl_write_item(kl_writer *w, uint8_t tag, const void *data, size_t n)
{
    int ret = 0;
    ENSURE(n <= UINT16_MAX, PQIFY_KEYLESS_ERR_TOO_LARGE);
    TRY(kl_write_u8(w, tag));
    TRY(kl_write_u16(w, (uint16_t)n));
    TRY(kl_write_bytes(w, data, n));
out:
    return ret;
}
