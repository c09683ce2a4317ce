/* The bounds-checked writer for keyless wire data (big-endian, u16 items) into a
 * caller's fixed buffer; reading is the tls layer's reader (src/tls/cursor.h). */
#include <string.h>

#include "internal.h"

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
