/* Constant-time helpers: the only place that compares secrets (STYLE.md "Constant time"). */
#include "internal.h"

int tls_ct_equal(const uint8_t *a, const uint8_t *b, size_t n)
{
    uint8_t d = 0;
    for (size_t i = 0; i < n; i++)
        d |= (uint8_t)(a[i] ^ b[i]);
    /* (d - 1) >> 8 is all ones exactly when d == 0 */
    return (int)((((uint32_t)d - 1) >> 8) & 1);
}

int tls_ct_is_zero(const uint8_t *a, size_t n)
{
    uint8_t d = 0;
    for (size_t i = 0; i < n; i++)
        d |= a[i];
    return (int)((((uint32_t)d - 1) >> 8) & 1);
}

void tls_zeroize(void *p, size_t n)
{
    if (p != NULL && n != 0)
        pqify_zeroize(p, n);
}
