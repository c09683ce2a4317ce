/* Certificate, CertificateVerify and Finished handling shared by client and server. */
#include <stdio.h>
#include <string.h>

#include <openssl/err.h>

#include "conn.h"

/* The identity this connection signs for: the server's choice (identity 0 until
 * the ClientHello is read), a client's identity 0. */
static const tls_identity *my_identity(const pqify_tls_conn *c)
{
    return &c->cfg->ids[c->identity];
}

/*
 * §4.2.3: the peer's list is read to its end, however long (clients send hundreds),
 * and only the entries some identity of ours could sign with are kept: a supported
 * scheme listed last is found, and nothing about the list's length is capped.
 */
void tls_note_peer_schemes(pqify_tls_conn *c, tls_reader list)
{
    const uint16_t *mine = c->cfg->all_schemes;
    size_t n_mine = c->cfg->n_all_schemes;
    uint16_t s;
    tls_hs *hs = c->hs;
    hs->n_peer_schemes = 0;
    while (tls_read_u16(&list, &s) == 0 && hs->n_peer_schemes < TLS_MAX_PEER_SCHEMES) {
        int usable = 0, noted = 0;
        for (size_t i = 0; i < n_mine; i++)
            usable |= s != 0 && mine[i] == s;
        for (size_t j = 0; j < hs->n_peer_schemes; j++)
            noted |= hs->peer_schemes[j] == s;
        if (usable && !noted)
            hs->peer_schemes[hs->n_peer_schemes++] = s;
    }
}

int tls_pick_scheme(const pqify_tls_conn *c, uint16_t *scheme)
{
    const uint16_t *mine;
    size_t n_mine;
    tls_identity_schemes(my_identity(c), &mine, &n_mine);
    for (size_t i = 0; i < n_mine; i++)
        for (size_t j = 0; mine[i] != 0 && j < c->hs->n_peer_schemes; j++)
            if (mine[i] == c->hs->peer_schemes[j]) {
                *scheme = mine[i];
                return 0;
            }
    return PQIFY_TLS_ERR_NO_COMMON_SIGALG;
}

#define TLS_SIGNATURE_PENDING 1   /* sign(): an asynchronous signer holds it */

/*
 * The signer decides: the key's signature now (0), an error, or PQIFY_TLS_SIGN_PENDING
 * when it signs elsewhere (keyless) and answers through pqify_tls_signature_complete.
 */
static int sign(pqify_tls_conn *c)
{
    const tls_identity *id = my_identity(c);
    tls_hs *hs = c->hs;
    hs->sig_len = 0;
    if (!id->have_signer)
        return tls_sign_with_key(id->key, id->ecdsa_sign, hs->sign_scheme, hs->sign_tbs, hs->sign_tbs_len, hs->sig,
                                 PQIFY_TLS_MAX_SIGNATURE, &hs->sig_len);
    int r = id->signer.sign(id->signer.ctx, hs->sign_scheme, hs->sign_tbs, hs->sign_tbs_len,
                             hs->sig, PQIFY_TLS_MAX_SIGNATURE, &hs->sig_len);
    if (r == PQIFY_TLS_SIGN_PENDING) {
        hs->sig_len = 0;
        hs->sign_status = TLS_SIGN_WAITING;
        return TLS_SIGNATURE_PENDING;
    }
    if (r != 0) {
        snprintf(c->err_detail, sizeof c->err_detail,
                 "signer failed: sign() returned %d for scheme 0x%04x", r, hs->sign_scheme);
        return PQIFY_TLS_ERR_SIGN;
    }
    if (hs->sig_len == 0 || hs->sig_len > PQIFY_TLS_MAX_SIGNATURE) {
        snprintf(c->err_detail, sizeof c->err_detail,
                 "signer failed: sign() gave a %zu-byte signature", hs->sig_len);
        return PQIFY_TLS_ERR_SIGN;
    }
    return 0;
}

int tls_send_certificate_verify(pqify_tls_conn *c, pqify_tls_buf *out)
{
    int ret = 0;
    tls_hs *hs = c->hs;
    hs->scratch.len = 0;
    TRY(tls_certificate_verify_write(hs->sign_scheme, hs->sig, hs->sig_len, &hs->scratch));
    TRY(tls_send_handshake(c, &hs->scratch, out));
    hs->sign_status = TLS_SIGN_NONE;
out:
    return ret;
}

/* 0: both queued; TLS_SIGNATURE_PENDING: the Certificate is queued and an
 * asynchronous signer holds the CertificateVerify; or an error. */
static int send_certificate_and_verify(pqify_tls_conn *c, pqify_tls_buf *out)
{
    int ret = 0;
    tls_hs *hs = c->hs;
    const tls_identity *id = my_identity(c);
    uint8_t th[TLS_MAX_HASH];
    /* §4.4.2: a client without a usable identity sends an empty Certificate */
    int have_identity = tls_identity_ready(id);
    uint16_t scheme = 0;
    if (have_identity) {
        int r = tls_pick_scheme(c, &scheme);
        if (r < 0) {
            ENSURE(!c->is_server, r);
            have_identity = 0;
        }
    }
    hs->scratch.len = 0;
    TRY(tls_certificate_write(id, have_identity, &hs->scratch));
    TRY(tls_send_handshake(c, &hs->scratch, out));
    if (!have_identity)
        goto out;
    TRY(tls_transcript_hash(&hs->transcript, th));
    TRY(tls_certificate_verify_tbs(c->is_server, th, c->suite->hash->len, hs->sign_tbs,
                                   &hs->sign_tbs_len));
    hs->sign_scheme = scheme;
    ret = sign(c);
    if (ret != 0)
        goto out;   /* an error, or TLS_SIGNATURE_PENDING */
    TRY(tls_send_certificate_verify(c, out));
out:
    ERR_clear_error();
    return ret;
}

int tls_send_certificate_and_verify(pqify_tls_conn *c, pqify_tls_buf *out,
                                    int (*then)(pqify_tls_conn *, pqify_tls_buf *))
{
    int ret = send_certificate_and_verify(c, out);
    if (ret == TLS_SIGNATURE_PENDING) {
        /* after pqify_tls_signature_complete(), the next call runs `then` (conn.c) */
        c->hs->after_signature = then;
        c->state = ST_WAIT_SIGNATURE;
        return 0;
    }
    return ret < 0 ? ret : then(c, out);
}

/* RFC 2253 one-line subject, truncated to fit */
static int subject_line(X509 *x, char *out, size_t cap)
{
    BIO *b = BIO_new(BIO_s_mem());
    char *data = NULL;
    if (b == NULL)
        return PQIFY_TLS_ERR_NO_MEMORY;
    if (X509_NAME_print_ex(b, X509_get_subject_name(x), 0, XN_FLAG_RFC2253) < 0) {
        BIO_free(b);
        return PQIFY_TLS_ERR_BAD_CERT;
    }
    long n = BIO_get_mem_data(b, &data);
    size_t len = n < 0 ? 0 : (size_t)n;
    if (len >= cap)
        len = cap - 1;
    memcpy(out, data, len);
    out[len] = 0;
    BIO_free(b);
    return 0;
}

int tls_on_certificate(pqify_tls_conn *c, const uint8_t *msg, size_t len, pqify_tls_buf *out)
{
    int ret = 0;
    tls_hs *hs = c->hs;
    STACK_OF(X509) *chain = NULL;
    (void)out;
    TRY(tls_certificate_parse(msg + 4, len - 4, &chain));
    if (sk_X509_num(chain) == 0) {
        /* §4.4.2.4: a server must send a certificate; a client may send none */
        ENSURE(c->is_server, PQIFY_TLS_ERR_DECODE);
        ENSURE(!c->cfg->require_client_cert, PQIFY_TLS_ERR_CERT_REQUIRED);
        TRY(tls_transcript_update(&hs->transcript, msg, len));
        c->state = ST_SERVER_WAIT_FINISHED;
        goto out;
    }
    X509 *leaf = sk_X509_value(chain, 0);
    if (c->is_server || c->cfg->verify_peer)
        TRY(tls_x509_verify(c->cfg, chain, c->is_server ? NULL : c->cfg->server_name, !c->is_server));
    hs->peer_key = X509_get_pubkey(leaf);
    ENSURE(hs->peer_key != NULL, PQIFY_TLS_ERR_BAD_CERT);
    c->peer_cert = 1;
    TRY(subject_line(leaf, c->peer_subject, sizeof c->peer_subject));
    TRY(tls_transcript_update(&hs->transcript, msg, len));
    c->state = c->is_server ? ST_SERVER_WAIT_CV : ST_CLIENT_WAIT_CV;
out:
    sk_X509_pop_free(chain, X509_free);
    ERR_clear_error();
    return ret;
}

int tls_on_certificate_verify(pqify_tls_conn *c, const uint8_t *msg, size_t len, pqify_tls_buf *out)
{
    int ret = 0;
    tls_hs *hs = c->hs;
    uint16_t scheme;
    const uint8_t *sig;
    size_t sig_len, tbs_len = 0;
    uint8_t th[TLS_MAX_HASH], tbs[TLS_MAX_CV_TBS];
    int offered = 0;
    (void)out;
    TRY(tls_certificate_verify_parse(msg + 4, len - 4, &scheme, &sig, &sig_len));
    /* §4.4.3: the scheme must be one we offered in signature_algorithms */
    for (size_t i = 0; i < tls_n_offered_schemes; i++)
        offered |= tls_offered_schemes[i] == scheme;
    ENSURE(offered, PQIFY_TLS_ERR_ILLEGAL_PARAMETER);
    TRY(tls_transcript_hash(&hs->transcript, th));
    TRY(tls_certificate_verify_tbs(!c->is_server, th, c->suite->hash->len, tbs, &tbs_len));
    TRY(tls_verify_signature(hs->peer_key, scheme, tbs, tbs_len, sig, sig_len));
    c->peer_scheme = scheme;
    TRY(tls_transcript_update(&hs->transcript, msg, len));
    c->state = c->is_server ? ST_SERVER_WAIT_FINISHED : ST_CLIENT_WAIT_FINISHED;
out:
    ERR_clear_error();
    return ret;
}

int tls_send_finished(pqify_tls_conn *c, const uint8_t *base_secret, pqify_tls_buf *out)
{
    int ret = 0;
    tls_hs *hs = c->hs;
    uint8_t th[TLS_MAX_HASH], verify[TLS_MAX_HASH];
    TRY(tls_transcript_hash(&hs->transcript, th));
    TRY(tls_finished_mac(c->suite->hash, base_secret, th, verify));
    hs->scratch.len = 0;
    TRY(tls_finished_write(verify, c->suite->hash->len, &hs->scratch));
    TRY(tls_send_handshake(c, &hs->scratch, out));
out:
    return ret;
}

int tls_check_finished(pqify_tls_conn *c, const uint8_t *base_secret, const uint8_t *body, size_t len)
{
    int ret = 0;
    const uint8_t *verify;
    uint8_t th[TLS_MAX_HASH], expected[TLS_MAX_HASH];
    TRY(tls_finished_parse(body, len, c->suite->hash->len, &verify));
    TRY(tls_transcript_hash(&c->hs->transcript, th));
    TRY(tls_finished_mac(c->suite->hash, base_secret, th, expected));
    ENSURE(tls_ct_equal(verify, expected, c->suite->hash->len), PQIFY_TLS_ERR_BAD_FINISHED);
out:
    tls_zeroize(expected, sizeof expected);
    return ret;
}
