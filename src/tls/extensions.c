/* RFC 8446 §4.2: an extension block; at most one extension of each type. */
#include "conn.h"

#define TLS_MAX_EXTENSIONS 64

int tls_extensions_parse(tls_reader *r, tls_ext_cb cb, void *ctx)
{
    int ret = 0;
    tls_reader block, body;
    uint16_t seen[TLS_MAX_EXTENSIONS];
    size_t n_seen = 0;
    TRY(tls_read_block(r, 2, &block));
    while (tls_reader_left(&block) > 0) {
        uint16_t type;
        TRY(tls_read_u16(&block, &type));
        TRY(tls_read_block(&block, 2, &body));
        for (size_t i = 0; i < n_seen; i++)
            ENSURE(seen[i] != type, PQIFY_TLS_ERR_DUPLICATE_EXTENSION);
        ENSURE(n_seen < TLS_MAX_EXTENSIONS, PQIFY_TLS_ERR_DECODE);
        seen[n_seen++] = type;
        TRY(cb(ctx, type, &body));
    }
out:
    return ret;
}
