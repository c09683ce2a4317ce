/*
 * libFuzzer: a whole server connection driven by fuzzed bytes from the network,
 * through the public API only (record reassembly, state machine, every server
 * handler, key exchange, alerts, then pqify_tls_receive if a handshake completes).
 * Input: one control byte, then the client's byte stream.
 *   control bits 0-6: bytes per pqify_tls_handshake call (0 = all at once)
 *   control bit 7: the server requests a client certificate (mutual TLS)
 * RAND_bytes is deterministic (fuzz_rand.h), so a recorded ClientHello, HRR cookie
 * included, replays; key shares are not, so records after the ServerHello rarely
 * decrypt, which the bad_record_mac path is for.
 */
#include <stdint.h>
#include <string.h>

#include "fuzz_common.h"
#include "fuzz_feed.h"
#include "fuzz_rand.h"

static pqify_tls_config *cfgs[2];

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    fuzz_pki pki;
    fuzz_pki_init(&pki);
    cfgs[0] = fuzz_server_config(&pki, 0);
    cfgs[1] = fuzz_server_config(&pki, 1);
    fuzz_pki_free(&pki);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    fuzz_rand_reset();
    size_t chunk = data[0] & 0x7f;
    pqify_tls_conn *s = pqify_tls_conn_new(cfgs[data[0] >> 7], 1);
    if (s == NULL)
        __builtin_trap();
    pqify_tls_buf out;
    pqify_tls_buf_init(&out, NULL, 0);
    fuzz_feed(s, data + 1, size - 1, chunk, &out);
    pqify_tls_buf_dispose(&out);
    pqify_tls_conn_free(s);
    return 0;
}
