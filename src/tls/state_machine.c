/*
 * The handshake as a table (RFC 8446 Appendix A): in each state, which message may
 * arrive and who handles it. Anything else is unexpected_message.
 */
#include "conn.h"

static const struct {
    enum tls_state state;
    uint8_t type;
    tls_handler handle;
} transitions[] = {
    {ST_CLIENT_WAIT_SH, TLS_HS_SERVER_HELLO, tls_client_on_server_hello},
    {ST_CLIENT_WAIT_EE, TLS_HS_ENCRYPTED_EXTENSIONS, tls_client_on_encrypted_extensions},
    {ST_CLIENT_WAIT_CERT_CR, TLS_HS_CERTIFICATE_REQUEST, tls_client_on_certificate_request},
    {ST_CLIENT_WAIT_CERT_CR, TLS_HS_CERTIFICATE, tls_on_certificate},
    {ST_CLIENT_WAIT_CERT, TLS_HS_CERTIFICATE, tls_on_certificate},
    {ST_CLIENT_WAIT_CV, TLS_HS_CERTIFICATE_VERIFY, tls_on_certificate_verify},
    {ST_CLIENT_WAIT_FINISHED, TLS_HS_FINISHED, tls_client_on_finished},
    {ST_SERVER_WAIT_CH, TLS_HS_CLIENT_HELLO, tls_server_on_client_hello},
    {ST_SERVER_WAIT_CH2, TLS_HS_CLIENT_HELLO, tls_server_on_client_hello},
    {ST_SERVER_WAIT_CERT, TLS_HS_CERTIFICATE, tls_on_certificate},
    {ST_SERVER_WAIT_CV, TLS_HS_CERTIFICATE_VERIFY, tls_on_certificate_verify},
    {ST_SERVER_WAIT_FINISHED, TLS_HS_FINISHED, tls_server_on_finished},
    /* §4.6: after the handshake (no post-handshake authentication is offered) */
    {ST_CONNECTED, TLS_HS_NEW_SESSION_TICKET, tls_on_new_session_ticket},
    {ST_CONNECTED, TLS_HS_KEY_UPDATE, tls_on_key_update},
};

int tls_dispatch(pqify_tls_conn *c, uint8_t type, const uint8_t *msg, size_t len, pqify_tls_buf *out)
{
    for (size_t i = 0; i < sizeof transitions / sizeof transitions[0]; i++)
        if (transitions[i].state == c->state && transitions[i].type == type)
            return transitions[i].handle(c, msg, len, out);
    return PQIFY_TLS_ERR_UNEXPECTED_MESSAGE;
}
