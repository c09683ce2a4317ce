/* RFC 8446 §4.2: an extension block; at most one extension of each type. */
#include "conn.h"

/*
 * §4.2: "There MUST NOT be more than one extension of the same type in a given
 * extension block", and unknown ones are ignored however many there are (§9.3),
 * so duplicates are found with a set over all 2^16 types, not a capped list: the
 * block's own length (within the handshake message limit) is the only bound.
 */
int tls_extensions_parse(tls_reader *r, tls_ext_cb cb, void *ctx)
{
    int ret = 0;
    tls_reader block, body;
    tls_u16_set seen;
    tls_u16_set_clear(&seen);
    TRY(tls_read_block(r, 2, &block));
    while (tls_reader_left(&block) > 0) {
        uint16_t type;
        TRY(tls_read_u16(&block, &type));
        TRY(tls_read_block(&block, 2, &body));
        ENSURE(tls_u16_set_add(&seen, type), PQIFY_TLS_ERR_DUPLICATE_EXTENSION);
        TRY(cb(ctx, type, &body));
    }
out:
    return ret;
}
