/*
 * libFuzzer: the keyless codec (src/keyless/packet.c, cursor.c) and the request
 * handler over it. Input: one packet as it comes off the wire.
 * Checked on every input: a packet that decodes re-encodes, decodes again to the same
 * fields, and re-encodes to the same bytes (decode -> encode -> decode is a fixed
 * point); every pointer the decoder hands back lies inside the input; the handler's
 * answer always decodes and carries the request's id.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "pqify/keyless.h"

static pqify_keyless_store *store;
static uint8_t enc1[PQIFY_KEYLESS_MAX_PACKET], enc2[PQIFY_KEYLESS_MAX_PACKET];
static uint8_t answer[PQIFY_KEYLESS_MAX_PACKET];

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    pqify_keyless_store_options o = {0};
    char err[256];
    (void)argc;
    (void)argv;
    /* no keys: every key lookup fails, so the handler's answer paths stay cheap */
    store = pqify_keyless_store_load(&o, err, sizeof(err));
    if (store == NULL)
        __builtin_trap();
    return 0;
}

static void check_inside(const pqify_keyless_bytes *b, const uint8_t *data, size_t size)
{
    if (b->len == 0)
        return;
    if (b->data < data || b->len > size || (size_t)(b->data - data) > size - b->len)
        __builtin_trap();
}

static int same_bytes(const pqify_keyless_bytes *a, const pqify_keyless_bytes *b)
{
    return a->len == b->len && (a->len == 0 || memcmp(a->data, b->data, a->len) == 0);
}

static void check_same(const pqify_keyless_packet *a, const pqify_keyless_packet *b)
{
    if (a->id != b->id || a->minor != b->minor || a->opcode != b->opcode ||
        memcmp(a->ski, b->ski, sizeof(a->ski)) != 0 || memcmp(a->digest, b->digest, sizeof(a->digest)) != 0 ||
        !same_bytes(&a->payload, &b->payload) || !same_bytes(&a->client_ip, &b->client_ip) ||
        !same_bytes(&a->server_ip, &b->server_ip) || !same_bytes(&a->sni, &b->sni) ||
        !same_bytes(&a->cert_id, &b->cert_id) || !same_bytes(&a->custom_func, &b->custom_func) ||
        !same_bytes(&a->extra, &b->extra) || !same_bytes(&a->span, &b->span) ||
        !same_bytes(&a->req_context, &b->req_context) ||
        !same_bytes(&a->compliance_region, &b->compliance_region))
        __builtin_trap();
}

static void round_trip(const uint8_t *data, size_t size)
{
    pqify_keyless_packet p1, p2, p3;
    size_t n1, n2;
    if (pqify_keyless_decode(data, size, &p1) != 0)
        return;
    check_inside(&p1.payload, data, size);
    check_inside(&p1.sni, data, size);
    check_inside(&p1.client_ip, data, size);
    check_inside(&p1.server_ip, data, size);
    check_inside(&p1.span, data, size);
    if (pqify_keyless_encode(&p1, enc1, sizeof(enc1), &n1) != 0)
        __builtin_trap();
    if (pqify_keyless_frame_len(enc1, n1) != n1 || pqify_keyless_decode(enc1, n1, &p2) != 0)
        __builtin_trap();
    check_same(&p1, &p2);
    if (pqify_keyless_encode(&p2, enc2, sizeof(enc2), &n2) != 0 || n2 != n1 || memcmp(enc1, enc2, n1) != 0)
        __builtin_trap();
    if (pqify_keyless_decode(enc2, n2, &p3) != 0)
        __builtin_trap();
    check_same(&p2, &p3);
}

static void handle(const uint8_t *data, size_t size, unsigned flags)
{
    pqify_keyless_answer a;
    pqify_keyless_packet resp;
    if (pqify_keyless_handle(store, flags, data, size, answer, sizeof(answer), &a) != 0)
        __builtin_trap();
    if (a.verdict == PQIFY_KEYLESS_FORWARD) {
        if (a.out_len != 0 || !(flags & PQIFY_KEYLESS_HANDLE_FORWARD_UNKNOWN))
            __builtin_trap();
        return;
    }
    if (pqify_keyless_decode(answer, a.out_len, &resp) != 0 || resp.id != a.id || resp.opcode != a.result)
        __builtin_trap();
    if (size >= PQIFY_KEYLESS_HEADER_BYTES && a.id != ((uint32_t)data[4] << 24 | (uint32_t)data[5] << 16 |
                                                       (uint32_t)data[6] << 8 | data[7]))
        __builtin_trap();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* a copy of exactly size bytes, so ASan sees any read past the packet */
    uint8_t *copy = malloc(size ? size : 1);
    if (copy == NULL)
        return 0;
    if (size != 0)
        memcpy(copy, data, size);
    round_trip(copy, size);
    handle(copy, size, 0);
    handle(copy, size, PQIFY_KEYLESS_HANDLE_FORWARD_UNKNOWN);
    /* the stream framer's view: the packet the header announces, cut from the input */
    size_t framed = pqify_keyless_frame_len(copy, size);
    if (framed != 0 && framed < size)
        round_trip(copy, framed);
    free(copy);
    return 0;
}
