/* Certificate and CertificateRequest (RFC 8446 §4.4.2, §4.3.2): parsers and writers. */
#include "conn.h"

int tls_certificate_parse(const uint8_t *body, size_t len, STACK_OF(X509) **chain)
{
    int ret = 0;
    tls_reader r, context, list, data, exts;
    STACK_OF(X509) *sk = sk_X509_new_null();
    X509 *x = NULL;
    ENSURE(sk != NULL, PQIFY_TLS_ERR_NO_MEMORY);
    tls_reader_init(&r, body, len);
    TRY(tls_read_block(&r, 1, &context));
    /* §4.4.2: in the main handshake the request context is empty */
    ENSURE(context.len == 0, PQIFY_TLS_ERR_ILLEGAL_PARAMETER);
    TRY(tls_read_block(&r, 3, &list));
    TRY(tls_read_end(&r));
    /* §4.4.2: any number of certificates is taken (the message's 32 KiB bounds it);
     * the X509 store decides which of them build a path */
    while (tls_reader_left(&list) > 0) {
        TRY(tls_read_block(&list, 3, &data));
        TRY(tls_read_block(&list, 2, &exts));
        ENSURE(data.len > 0, PQIFY_TLS_ERR_DECODE);
        /* we request no status_request or SCT: entry extensions must be absent */
        ENSURE(exts.len == 0, PQIFY_TLS_ERR_UNSUPPORTED_EXTENSION);
        const unsigned char *p = data.base;
        x = d2i_X509(NULL, &p, (long)data.len);
        ENSURE(x != NULL && p == data.base + data.len, PQIFY_TLS_ERR_BAD_CERT);
        ENSURE(sk_X509_push(sk, x) > 0, PQIFY_TLS_ERR_NO_MEMORY);
        x = NULL;
    }
    *chain = sk;
    sk = NULL;
out:
    X509_free(x);
    sk_X509_pop_free(sk, X509_free);
    return ret;
}

int tls_certificate_write(const tls_identity *id, int send_chain, pqify_tls_buf *m)
{
    int ret = 0;
    size_t msg, list, entry;
    TRY(tls_msg_begin(m, TLS_HS_CERTIFICATE, &msg));
    TRY(tls_write_u8(m, 0));
    TRY(tls_write_block_open(m, 3, &list));
    for (size_t i = 0; send_chain && i < id->n_certs; i++) {
        TRY(tls_write_block_open(m, 3, &entry));
        TRY(tls_write_bytes(m, id->cert_der[i], id->cert_der_len[i]));
        TRY(tls_write_block_close(m, 3, entry));
        TRY(tls_write_u16(m, 0));
    }
    TRY(tls_write_block_close(m, 3, list));
    TRY(tls_msg_end(m, msg));
out:
    return ret;
}

struct cr_ctx {
    tls_reader *schemes;
    int has_sigalgs;
};

static int cr_extension(void *ctx, uint16_t type, tls_reader *body)
{
    int ret = 0;
    struct cr_ctx *cr = ctx;
    if (type != TLS_EXT_SIGNATURE_ALGORITHMS)
        return 0;   /* §4.3.2: others (certificate_authorities ...) may be ignored */
    tls_reader list;
    TRY(tls_read_block(body, 2, &list));
    ENSURE(list.len >= 2 && list.len % 2 == 0, PQIFY_TLS_ERR_DECODE);
    TRY(tls_read_end(body));
    *cr->schemes = list;
    cr->has_sigalgs = 1;
out:
    return ret;
}

int tls_certificate_request_parse(const uint8_t *body, size_t len, tls_reader *schemes)
{
    int ret = 0;
    tls_reader r, context;
    struct cr_ctx cr = {schemes, 0};
    tls_reader_init(&r, body, len);
    TRY(tls_read_block(&r, 1, &context));
    ENSURE(context.len == 0, PQIFY_TLS_ERR_ILLEGAL_PARAMETER);
    TRY(tls_extensions_parse(&r, cr_extension, &cr));
    TRY(tls_read_end(&r));
    /* §4.3.2: signature_algorithms is mandatory here */
    ENSURE(cr.has_sigalgs, PQIFY_TLS_ERR_MISSING_EXTENSION);
out:
    return ret;
}

int tls_certificate_request_write(pqify_tls_buf *m)
{
    int ret = 0;
    size_t msg, exts, e, list;
    TRY(tls_msg_begin(m, TLS_HS_CERTIFICATE_REQUEST, &msg));
    TRY(tls_write_u8(m, 0));
    TRY(tls_write_block_open(m, 2, &exts));
    TRY(tls_write_u16(m, TLS_EXT_SIGNATURE_ALGORITHMS));
    TRY(tls_write_block_open(m, 2, &e));
    TRY(tls_write_block_open(m, 2, &list));
    for (size_t i = 0; i < tls_n_offered_schemes; i++)
        TRY(tls_write_u16(m, tls_offered_schemes[i]));
    TRY(tls_write_block_close(m, 2, list));
    TRY(tls_write_block_close(m, 2, e));
    TRY(tls_write_block_close(m, 2, exts));
    TRY(tls_msg_end(m, msg));
out:
    return ret;
}
