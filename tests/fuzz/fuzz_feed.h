/*
 * Shared by the two whole-connection harnesses (fuzz_server.c, fuzz_client.c):
 * the network bytes go in the same way whichever side the connection plays, so
 * the loop that feeds them and the checks on each call live here once.
 */
#ifndef PQIFY_FUZZ_FEED_H
#define PQIFY_FUZZ_FEED_H

#include <stddef.h>
#include <stdint.h>

#include "fuzz_common.h"
#include "pqify/tls.h"

/* Every call that fails must fail with a known error and stay failed. */
static inline void fuzz_check_ret(pqify_tls_conn *c, int ret)
{
    if (ret > 0 && ret != PQIFY_TLS_IN_PROGRESS && ret != PQIFY_TLS_PEER_CLOSED)
        fuzz_die("unknown positive return");
    if (ret < 0) {
        if (pqify_tls_error(c) != ret)
            fuzz_die("error did not stick");
        if (pqify_tls_strerror(ret) == NULL)
            fuzz_die("strerror NULL");
    }
}

/*
 * Feeds data to c, whose handshake is in progress, chunk bytes per call (0 = all
 * at once): through pqify_tls_handshake while it is in progress, then, once it
 * completes, through pqify_tls_receive. Traps when a call reports taking more than
 * it was given, or leaves bytes while it still wants more (the API promises
 * neither). What the engine writes to out, and the plaintext, is dropped.
 */
static inline void fuzz_feed(pqify_tls_conn *c, const uint8_t *data, size_t size, size_t chunk,
                             pqify_tls_buf *out)
{
    if (chunk == 0)
        chunk = size == 0 ? 1 : size;
    pqify_tls_buf plain;
    pqify_tls_buf_init(&plain, NULL, 0);
    int ret = PQIFY_TLS_IN_PROGRESS;
    size_t off = 0;
    while (off < size && ret == PQIFY_TLS_IN_PROGRESS) {
        size_t n = size - off < chunk ? size - off : chunk, used = n;
        ret = pqify_tls_handshake(c, data + off, &used, out);
        fuzz_check_ret(c, ret);
        if (used > n || (ret == PQIFY_TLS_IN_PROGRESS && used != n))
            __builtin_trap();   /* while in progress every byte is taken */
        off += used;
        out->len = 0;
    }
    while (ret == 0 && off < size) {
        size_t n = size - off < chunk ? size - off : chunk, used = n;
        ret = pqify_tls_receive(c, &plain, data + off, &used, out);
        fuzz_check_ret(c, ret);
        if (used > n || (ret == 0 && used != n))
            __builtin_trap();
        off += used;
        plain.len = out->len = 0;
    }
    pqify_tls_buf_dispose(&plain);
}

#endif
