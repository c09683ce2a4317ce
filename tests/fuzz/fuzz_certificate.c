/*
 * libFuzzer: certificate handling. A Certificate message goes through the same
 * handler the handshake uses (tls_on_certificate: parse, chain verification against
 * the fuzz CA with the server-name check or the clientAuth purpose, public key and
 * subject extraction), then a CertificateVerify through tls_on_certificate_verify
 * (scheme check, signature verification with whatever key the chain carried).
 * Input: role byte (bit 0: 1 = we are the server checking a client), a 3-byte
 * length, the Certificate body, then the CertificateVerify body.
 */
#include <stdint.h>
#include <string.h>

#include "conn.h"
#include "fuzz_common.h"

static pqify_tls_config *client_cfg, *server_cfg;

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    fuzz_pki pki;
    fuzz_pki_init(&pki);
    client_cfg = fuzz_client_config(&pki, 0);
    server_cfg = fuzz_server_config(&pki, 1);
    fuzz_pki_free(&pki);
    return 0;
}

/* msg = 4-byte handshake header + body, as the state machine hands it over */
static uint8_t msg[TLS_MAX_HS_MSG + 4];

static size_t frame(uint8_t type, const uint8_t *body, size_t len)
{
    msg[0] = type;
    msg[1] = (uint8_t)(len >> 16);
    msg[2] = (uint8_t)(len >> 8);
    msg[3] = (uint8_t)len;
    memcpy(msg + 4, body, len);
    return len + 4;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 4)
        return 0;
    int is_server = data[0] & 1;
    size_t cert_len = (size_t)data[1] << 16 | (size_t)data[2] << 8 | data[3];
    data += 4;
    size -= 4;
    if (cert_len > size || cert_len > TLS_MAX_HS_MSG)
        return 0;
    pqify_tls_conn *c = pqify_tls_conn_new(is_server ? server_cfg : client_cfg, is_server);
    if (c == NULL)
        __builtin_trap();
    pqify_tls_buf out;
    pqify_tls_buf_init(&out, NULL, 0);
    c->suite = tls_suite_by_id(0x1301);
    if (tls_transcript_choose(&c->hs->transcript, c->suite->hash) != 0)
        __builtin_trap();
    c->state = is_server ? ST_SERVER_WAIT_CERT : ST_CLIENT_WAIT_CERT;
    size_t n = frame(TLS_HS_CERTIFICATE, data, cert_len);
    int ret = tls_on_certificate(c, msg, n, &out);
    if (ret == 0 && c->hs->peer_key != NULL) {
        if (c->peer_subject[sizeof c->peer_subject - 1] != 0)
            __builtin_trap();
        size_t cv_len = size - cert_len;
        if (cv_len <= TLS_MAX_HS_MSG) {
            n = frame(TLS_HS_CERTIFICATE_VERIFY, data + cert_len, cv_len);
            (void)tls_on_certificate_verify(c, msg, n, &out);
        }
    } else if (ret == 0) {
        /* an empty chain: the client needs the server's, and this server requires one */
        __builtin_trap();
    }
    pqify_tls_buf_dispose(&out);
    pqify_tls_conn_free(c);
    return 0;
}
