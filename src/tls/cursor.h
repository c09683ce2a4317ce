/* The bounds-checked wire reader (cursor.c; STYLE.md "Bounds-checked cursors"):
 * internal to pqify but shared beyond the tls layer, as src/kem/ct.h is, by the
 * services' codecs above it (src/keyless: the gokeyless packets). Only public headers
 * below. A failed read consumes nothing and returns PQIFY_TLS_ERR_DECODE; a codec with
 * its own error words maps that at its call (keyless: TRY_READ). The writers differ
 * by layer and stay apart: the engine's append to a growing pqify_tls_buf
 * (internal.h), keyless's fill a caller's fixed buffer (src/keyless/internal.h). */
#ifndef PQIFY_TLS_CURSOR_H
#define PQIFY_TLS_CURSOR_H

#include <stddef.h>
#include <stdint.h>

#include "pqify/common.h"

typedef struct tls_reader {
    const uint8_t *base;
    size_t len;
    size_t pos;
} tls_reader;

void tls_reader_init(tls_reader *r, const uint8_t *base, size_t len);
size_t tls_reader_left(const tls_reader *r);
PQIFY_MUST_USE int tls_read_u8(tls_reader *r, uint8_t *v);
PQIFY_MUST_USE int tls_read_u16(tls_reader *r, uint16_t *v);
PQIFY_MUST_USE int tls_read_u24(tls_reader *r, uint32_t *v);
PQIFY_MUST_USE int tls_read_u32(tls_reader *r, uint32_t *v);
PQIFY_MUST_USE int tls_read_u64(tls_reader *r, uint64_t *v);
PQIFY_MUST_USE int tls_read_bytes(tls_reader *r, size_t n, const uint8_t **p);
/* Open a block with a prefix_bytes (1, 2 or 3) big-endian length into sub; the
 * parent moves past it. Fails with DECODE if the block overruns the parent. */
PQIFY_MUST_USE int tls_read_block(tls_reader *r, size_t prefix_bytes, tls_reader *sub);
/* The block must be fully consumed (DECODE otherwise). */
PQIFY_MUST_USE int tls_read_end(const tls_reader *r);

#endif
