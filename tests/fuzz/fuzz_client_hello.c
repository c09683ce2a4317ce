/*
 * libFuzzer: the ClientHello parser alone (client_hello.c, extensions.c, cursor.c),
 * then what the server derives from a hello that parses: the second-hello
 * fingerprint and the group choice for each pq mode. Input: a ClientHello body
 * (no handshake header), as tls_client_hello_parse receives it.
 */
#include <stdint.h>
#include <string.h>

#include "conn.h"

static pqify_tls_config *cfgs[3];

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    const pqify_pq_mode modes[3] = {PQIFY_PQ_PREFERRED, PQIFY_PQ_REQUIRED, PQIFY_PQ_OFF};
    for (int i = 0; i < 3; i++) {
        cfgs[i] = pqify_tls_config_new();
        if (cfgs[i] == NULL || pqify_tls_config_set_pq(cfgs[i], modes[i]) != 0)
            __builtin_trap();
    }
    return 0;
}

/* A reader the parser hands back must lie inside the input. */
static void check_inside(const tls_reader *r, const uint8_t *data, size_t size)
{
    if (r->base == NULL)
        return;
    if (r->base < data || r->len > size || (size_t)(r->base - data) > size - r->len)
        __builtin_trap();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    tls_client_hello ch;
    if (tls_client_hello_parse(data, size, &ch) != 0)
        return 0;
    check_inside(&ch.cipher_suites, data, size);
    check_inside(&ch.extensions, data, size);
    check_inside(&ch.groups, data, size);
    check_inside(&ch.key_shares, data, size);
    check_inside(&ch.sigalgs, data, size);
    if (ch.session_id_len > 32 || (ch.has_cookie && ch.cookie_len == 0))
        __builtin_trap();
    uint8_t fp[32];
    if (tls_client_hello_fingerprint(&ch, fp) != 0)
        __builtin_trap();   /* the block parsed once already; walking it again cannot fail */
    if (ch.has_groups && ch.has_key_share) {
        for (int i = 0; i < 3; i++) {
            uint16_t group = 0;
            const uint8_t *share = NULL;
            size_t share_len = 0;
            if (tls_select_group(cfgs[i], ch.groups, ch.key_shares, &group, &share, &share_len) == 0 &&
                share != NULL) {
                if (share < data || share_len > size || (size_t)(share - data) > size - share_len)
                    __builtin_trap();
            }
        }
    }
    return 0;
}
