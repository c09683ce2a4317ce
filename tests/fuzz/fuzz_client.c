/*
 * libFuzzer: a whole client connection driven by fuzzed bytes from the network,
 * through the public API only. The client sends its ClientHello (X25519MLKEM768 and
 * X25519 shares, the defaults), then reads:
 *   control bit 7 = 0: the fuzzed bytes from the start (ServerHello / HRR parsing,
 *     the HRR answer, key-share checks, alerts, record framing);
 *   control bit 7 = 1: first a fixed valid ServerHello choosing X25519 (share = the
 *     base point, a valid public value whatever our private key is), then the fuzzed
 *     bytes, which meet the handshake keys: record decryption, padding, content
 *     types, bad_record_mac.
 *   control bit 6 = 1: the default client (X25519MLKEM768 and X25519 shares);
 *     0: an X25519-only client, whose ClientHello costs no ML-KEM key generation
 *     (three times the executions per second for everything after it);
 *   control bits 0-5: bytes per pqify_tls_handshake call (0 = all at once).
 * The last input byte picks the mutual-TLS client (bit 0).
 */
#include <stdint.h>
#include <string.h>

#include "fuzz_common.h"
#include "fuzz_feed.h"
#include "fuzz_rand.h"

static pqify_tls_config *cfgs[4];   /* [pq][mtls] */

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    fuzz_pki pki;
    fuzz_pki_init(&pki);
    for (int i = 0; i < 4; i++) {
        cfgs[i] = fuzz_client_config(&pki, i & 1);
        if ((i & 2) == 0 && pqify_tls_config_set_groups(cfgs[i], "x25519") != 0)
            fuzz_die("x25519 client");
    }
    fuzz_pki_free(&pki);
    return 0;
}

/* record(handshake(ServerHello)): TLS_AES_128_GCM_SHA256, X25519, share u = 9;
 * both clients sent an X25519 share */
static const uint8_t fixed_server_hello[] = {
    22, 3, 3, 0, 90,
    2, 0, 0, 86,
    3, 3,
    0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11,
    0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11,
    0,                      /* legacy_session_id_echo: the client sent none */
    0x13, 0x01, 0,          /* cipher, compression */
    0, 46,                  /* extensions */
    0x00, 0x2b, 0, 2, 0x03, 0x04,
    0x00, 0x33, 0, 36, 0x00, 0x1d, 0, 32,
    9, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    fuzz_rand_reset();
    size_t chunk = data[0] & 0x3f;
    int prefix = data[0] >> 7, pq = (data[0] >> 6) & 1;
    pqify_tls_conn *c = pqify_tls_conn_new(cfgs[pq << 1 | (data[size - 1] & 1)], 0);
    if (c == NULL)
        __builtin_trap();
    pqify_tls_buf out;
    pqify_tls_buf_init(&out, NULL, 0);
    size_t zero = 0;
    int ret = pqify_tls_handshake(c, NULL, &zero, &out);
    if (ret != PQIFY_TLS_IN_PROGRESS)
        __builtin_trap();
    out.len = 0;
    if (prefix) {
        size_t used = sizeof fixed_server_hello;
        ret = pqify_tls_handshake(c, fixed_server_hello, &used, &out);
        if (ret != PQIFY_TLS_IN_PROGRESS || used != sizeof fixed_server_hello)
            __builtin_trap();   /* the prefix is valid for any client key */
        out.len = 0;
    }
    fuzz_feed(c, data + 1, size - 1, chunk, &out);
    pqify_tls_buf_dispose(&out);
    pqify_tls_conn_free(c);
    return 0;
}
