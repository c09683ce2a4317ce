/* Errors as words and as TLS alerts (RFC 8446 §6.2). */
#include <pthread.h>
#include <stdio.h>

#include "internal.h"

static const struct {
    int err;
    int alert;   /* -1: none sent */
    const char *words;
} table[] = {
    {PQIFY_TLS_ERR_NO_MEMORY, TLS_ALERT_INTERNAL_ERROR, "out of memory"},
    {PQIFY_TLS_ERR_ARG, -1, "bad argument or call in the wrong state"},
    {PQIFY_TLS_ERR_CONFIG, -1, "configuration unusable"},
    {PQIFY_TLS_ERR_INTERNAL, TLS_ALERT_INTERNAL_ERROR, "libcrypto operation failed"},
    {PQIFY_TLS_ERR_CLOSED, -1, "connection already closed"},
    {PQIFY_TLS_ERR_RNG, TLS_ALERT_INTERNAL_ERROR, "random number generator failed"},
    {PQIFY_TLS_ERR_SIGN, TLS_ALERT_INTERNAL_ERROR, "signing CertificateVerify failed"},
    {PQIFY_TLS_ERR_DECODE, TLS_ALERT_DECODE_ERROR, "malformed handshake message"},
    {PQIFY_TLS_ERR_UNEXPECTED_MESSAGE, TLS_ALERT_UNEXPECTED_MESSAGE,
     "message not allowed in this state"},
    {PQIFY_TLS_ERR_ILLEGAL_PARAMETER, TLS_ALERT_ILLEGAL_PARAMETER, "illegal value in a message"},
    {PQIFY_TLS_ERR_DUPLICATE_EXTENSION, TLS_ALERT_ILLEGAL_PARAMETER, "duplicated extension"},
    {PQIFY_TLS_ERR_MISSING_EXTENSION, TLS_ALERT_MISSING_EXTENSION, "required extension missing"},
    {PQIFY_TLS_ERR_UNSUPPORTED_EXTENSION, TLS_ALERT_UNSUPPORTED_EXTENSION,
     "peer sent an extension that was not offered"},
    {PQIFY_TLS_ERR_PROTOCOL_VERSION, TLS_ALERT_PROTOCOL_VERSION, "peer does not speak TLS 1.3"},
    {PQIFY_TLS_ERR_RECORD_OVERFLOW, TLS_ALERT_RECORD_OVERFLOW, "record too long"},
    {PQIFY_TLS_ERR_BAD_RECORD_MAC, TLS_ALERT_BAD_RECORD_MAC, "record failed to decrypt"},
    {PQIFY_TLS_ERR_SEQUENCE_LIMIT, TLS_ALERT_INTERNAL_ERROR, "record sequence number exhausted"},
    {PQIFY_TLS_ERR_HRR, TLS_ALERT_ILLEGAL_PARAMETER, "invalid HelloRetryRequest"},
    {PQIFY_TLS_ERR_SECOND_CLIENT_HELLO, TLS_ALERT_ILLEGAL_PARAMETER,
     "second ClientHello does not match the first"},
    {PQIFY_TLS_ERR_KEY_UPDATE_LIMIT, TLS_ALERT_UNEXPECTED_MESSAGE, "too many KeyUpdates in a row"},
    {PQIFY_TLS_ERR_NOT_TLS, TLS_ALERT_UNEXPECTED_MESSAGE,
     "the peer did not answer with TLS (its first record header is not TLS)"},
    {PQIFY_TLS_ERR_MESSAGE_TOO_LARGE, TLS_ALERT_DECODE_ERROR,
     "handshake message over the 32 KiB limit (a certificate chain too big?)"},
    {PQIFY_TLS_ERR_NO_PQ_GROUP, TLS_ALERT_INSUFFICIENT_SECURITY,
     "peer offered no post-quantum group (pq=required)"},
    {PQIFY_TLS_ERR_PEER_NO_PQ, -1,
     "server refused every post-quantum group (pq=required): insufficient_security"},
    {PQIFY_TLS_ERR_NO_COMMON_GROUP, TLS_ALERT_HANDSHAKE_FAILURE, "no key-exchange group in common"},
    {PQIFY_TLS_ERR_NO_COMMON_CIPHER, TLS_ALERT_HANDSHAKE_FAILURE, "no cipher suite in common"},
    {PQIFY_TLS_ERR_NO_COMMON_SIGALG, TLS_ALERT_HANDSHAKE_FAILURE,
     "no signature scheme in common"},
    {PQIFY_TLS_ERR_NO_ALPN, TLS_ALERT_NO_APPLICATION_PROTOCOL, "no ALPN protocol in common"},
    {PQIFY_TLS_ERR_BAD_KEY_SHARE, TLS_ALERT_ILLEGAL_PARAMETER,
     "key share has the wrong length for its group"},
    {PQIFY_TLS_ERR_BAD_EK, TLS_ALERT_ILLEGAL_PARAMETER,
     "ML-KEM encapsulation key fails the FIPS 203 modulus check"},
    {PQIFY_TLS_ERR_BAD_CT, TLS_ALERT_ILLEGAL_PARAMETER, "KEM ciphertext has the wrong length"},
    {PQIFY_TLS_ERR_X25519_ZERO, TLS_ALERT_ILLEGAL_PARAMETER, "X25519 shared secret is all zero"},
    {PQIFY_TLS_ERR_BAD_POINT, TLS_ALERT_ILLEGAL_PARAMETER,
     "EC point is compressed, infinity or not on the curve"},
    {PQIFY_TLS_ERR_BAD_CERT, TLS_ALERT_BAD_CERTIFICATE, "certificate unusable"},
    {PQIFY_TLS_ERR_UNKNOWN_CA, TLS_ALERT_UNKNOWN_CA, "certificate chain does not reach a trusted CA"},
    {PQIFY_TLS_ERR_CERT_EXPIRED, TLS_ALERT_CERTIFICATE_EXPIRED,
     "certificate expired or not yet valid"},
    {PQIFY_TLS_ERR_CERT_NAME, TLS_ALERT_BAD_CERTIFICATE, "certificate does not match the server name"},
    {PQIFY_TLS_ERR_CERT_REQUIRED, TLS_ALERT_CERTIFICATE_REQUIRED, "client sent no certificate"},
    {PQIFY_TLS_ERR_BAD_SIGNATURE, TLS_ALERT_DECRYPT_ERROR, "CertificateVerify signature is wrong"},
    {PQIFY_TLS_ERR_BAD_FINISHED, TLS_ALERT_DECRYPT_ERROR, "Finished does not verify"},
    {PQIFY_TLS_ERR_BAD_BINDER, TLS_ALERT_DECRYPT_ERROR, "PSK binder does not verify"},
};

static const struct {
    int alert;
    const char *name;
} alerts[] = {
    {0, "close_notify"},          {10, "unexpected_message"},
    {20, "bad_record_mac"},       {22, "record_overflow"},
    {40, "handshake_failure"},    {42, "bad_certificate"},
    {43, "unsupported_certificate"}, {44, "certificate_revoked"},
    {45, "certificate_expired"},  {46, "certificate_unknown"},
    {47, "illegal_parameter"},    {48, "unknown_ca"},
    {49, "access_denied"},        {50, "decode_error"},
    {51, "decrypt_error"},        {70, "protocol_version"},
    {71, "insufficient_security"}, {80, "internal_error"},
    {86, "inappropriate_fallback"}, {90, "user_canceled"},
    {109, "missing_extension"},   {110, "unsupported_extension"},
    {112, "unrecognized_name"},   {113, "bad_certificate_status_response"},
    {115, "unknown_psk_identity"}, {116, "certificate_required"},
    {120, "no_application_protocol"},
};

const char *tls_alert_name(int alert)
{
    for (size_t i = 0; i < sizeof alerts / sizeof alerts[0]; i++)
        if (alerts[i].alert == alert)
            return alerts[i].name;
    return "unknown";
}

const char *pqify_tls_alert_name(int alert)
{
    return tls_alert_name(alert);
}

int pqify_tls_alert_of(int err)
{
    for (size_t i = 0; i < sizeof table / sizeof table[0]; i++)
        if (table[i].err == err)
            return table[i].alert;
    return -1;
}

static char peer_words[256][64];
static char my_words[sizeof table / sizeof table[0]][128];
static pthread_once_t words_once = PTHREAD_ONCE_INIT;

/* "words: alert" strings, built once so strerror can hand out static storage */
static void build_words(void)
{
    for (int a = 0; a < 256; a++)
        snprintf(peer_words[a], sizeof peer_words[a], "peer sent alert: %s", tls_alert_name(a));
    for (size_t i = 0; i < sizeof table / sizeof table[0]; i++) {
        if (table[i].alert < 0)
            snprintf(my_words[i], sizeof my_words[i], "%s", table[i].words);
        else
            snprintf(my_words[i], sizeof my_words[i], "%s: %s", table[i].words,
                     tls_alert_name(table[i].alert));
    }
}

const char *pqify_tls_strerror(int err)
{
    (void)pthread_once(&words_once, build_words);
    if (err == 0)
        return "ok";
    if (err == PQIFY_TLS_IN_PROGRESS)
        return "handshake in progress";
    if (err == PQIFY_TLS_PEER_CLOSED)
        return "peer closed the connection (close_notify)";
    if (err <= PQIFY_TLS_ERR_PEER_ALERT && err > PQIFY_TLS_ERR_PEER_ALERT - 256)
        return peer_words[PQIFY_TLS_ERR_PEER_ALERT - err];
    for (size_t i = 0; i < sizeof table / sizeof table[0]; i++)
        if (table[i].err == err)
            return my_words[i];
    if (err < 0 && err > -100)
        return "kem layer error";
    return "unknown error";
}
