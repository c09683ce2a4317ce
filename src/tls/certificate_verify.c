/* CertificateVerify (RFC 8446 §4.4.3): signed content, parser and writer. */
#include <string.h>

#include "conn.h"

int tls_certificate_verify_tbs(int from_server, const uint8_t *th, size_t th_len, uint8_t *tbs,
                               size_t *tbs_len)
{
    /* 64 spaces, the context string, a zero byte, then Transcript-Hash */
    static const char server_ctx[] = "TLS 1.3, server CertificateVerify";
    static const char client_ctx[] = "TLS 1.3, client CertificateVerify";
    const char *s = from_server ? server_ctx : client_ctx;
    size_t n = strlen(s);
    if (th_len > TLS_MAX_HASH)
        return PQIFY_TLS_ERR_INTERNAL;
    memset(tbs, 0x20, 64);
    memcpy(tbs + 64, s, n);
    tbs[64 + n] = 0;
    memcpy(tbs + 64 + n + 1, th, th_len);
    *tbs_len = 64 + n + 1 + th_len;
    return 0;
}

int tls_certificate_verify_parse(const uint8_t *body, size_t len, uint16_t *scheme,
                                 const uint8_t **sig, size_t *sig_len)
{
    int ret = 0;
    tls_reader r, s;
    tls_reader_init(&r, body, len);
    TRY(tls_read_u16(&r, scheme));
    TRY(tls_read_block(&r, 2, &s));
    TRY(tls_read_end(&r));
    /* §4.4.3: signature<0..2^16-1>: an empty one is well-formed, and fails to verify
     * (decrypt_error) like any other wrong signature */
    *sig = s.base;
    *sig_len = s.len;
out:
    return ret;
}

int tls_certificate_verify_write(uint16_t scheme, const uint8_t *sig, size_t sig_len,
                                 pqify_tls_buf *m)
{
    int ret = 0;
    size_t msg, block;
    TRY(tls_msg_begin(m, TLS_HS_CERTIFICATE_VERIFY, &msg));
    TRY(tls_write_u16(m, scheme));
    TRY(tls_write_block_open(m, 2, &block));
    TRY(tls_write_bytes(m, sig, sig_len));
    TRY(tls_write_block_close(m, 2, block));
    TRY(tls_msg_end(m, msg));
out:
    return ret;
}
