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
    data++;
    size--;
    if (chunk == 0)
        chunk = size == 0 ? 1 : size;
    pqify_tls_buf out, plain;
    pqify_tls_buf_init(&out, NULL, 0);
    pqify_tls_buf_init(&plain, NULL, 0);
    int ret = PQIFY_TLS_IN_PROGRESS;
    size_t off = 0;
    while (off < size && ret == PQIFY_TLS_IN_PROGRESS) {
        size_t n = size - off < chunk ? size - off : chunk, used = n;
        ret = pqify_tls_handshake(s, data + off, &used, &out);
        fuzz_check_ret(s, ret);
        if (used > n || (ret == PQIFY_TLS_IN_PROGRESS && used != n))
            __builtin_trap();   /* while in progress every byte is taken */
        off += used;
        out.len = 0;
    }
    while (ret == 0 && off < size) {
        size_t n = size - off < chunk ? size - off : chunk, used = n;
        ret = pqify_tls_receive(s, &plain, data + off, &used, &out);
        fuzz_check_ret(s, ret);
        if (used > n || (ret == 0 && used != n))
            __builtin_trap();
        off += used;
        plain.len = out.len = 0;
    }
    pqify_tls_buf_dispose(&out);
    pqify_tls_buf_dispose(&plain);
    pqify_tls_conn_free(s);
    return 0;
}
