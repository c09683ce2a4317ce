/* A body waiting for the peer's HTTP/2 window (internal.h): bytes appended at one end,
 * taken by nghttp2's data provider at the other. The request bodies of the hub and the
 * response bodies of the connector both wait here. */
#include <stdlib.h>
#include <string.h>

#include "internal.h"

int tunnel_body_append(tunnel_body *b, const void *data, size_t len)
{
    if (b->off > 0 && b->off == b->len)
        b->off = b->len = 0;
    if (b->len + len > b->cap && b->off > 0) {
        memmove(b->buf, b->buf + b->off, b->len - b->off);
        b->len -= b->off;
        b->off = 0;
    }
    if (b->len + len > b->cap) {
        size_t cap = b->cap ? b->cap : 16384;
        while (cap < b->len + len)
            cap *= 2;
        uint8_t *p = realloc(b->buf, cap);
        if (p == NULL)
            return -1;
        b->buf = p;
        b->cap = cap;
    }
    memcpy(b->buf + b->len, data, len);
    b->len += len;
    return 0;
}

ssize_t tunnel_body_read(tunnel_body *b, uint8_t *out, size_t length, uint32_t *flags)
{
    size_t n = b->len - b->off;
    if (n > length)
        n = length;
    if (n > 0) {
        memcpy(out, b->buf + b->off, n);
        b->off += n;
    }
    if (b->off == b->len)
        b->off = b->len = 0;
    if (b->len == 0 && b->eof) {
        *flags |= NGHTTP2_DATA_FLAG_EOF;
        return (ssize_t)n;
    }
    if (n == 0) {
        b->deferred = 1;
        return NGHTTP2_ERR_DEFERRED;
    }
    return (ssize_t)n;
}

void tunnel_body_resume(tunnel_body *b, nghttp2_session *h2, int32_t id)
{
    if (b->deferred && h2 != NULL) {
        b->deferred = 0;
        nghttp2_session_resume_data(h2, id);
    }
}

void tunnel_body_free(tunnel_body *b)
{
    free(b->buf);
    *b = (tunnel_body){0};
}
