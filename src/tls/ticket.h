/* Self-encrypted session tickets (RFC 8446 §4.6.1): what a ticket holds, and sealing. */
#ifndef PQIFY_TLS_TICKET_H
#define PQIFY_TLS_TICKET_H

#include "conn.h"

/* The session inside a ticket; docs/tls.md "Resumption" has the wire layout. */
typedef struct tls_ticket {
    uint64_t issued_ms;
    uint32_t lifetime_s, age_add;
    uint16_t suite;
    uint8_t psk[TLS_MAX_HASH];
    size_t psk_len;
    int client_auth;
    uint8_t alpn[255], sni[255], subject[255];
    size_t alpn_len, sni_len, subject_len;
} tls_ticket;

/* Seal under the ticket key of now's rotation epoch. */
MUST_USE int tls_ticket_seal(const pqify_tls_config *cfg, const tls_ticket *t, uint64_t now_ms,
                             pqify_tls_buf *out);
/* 0 and t filled if the ticket is ours, sealed under the current or the previous
 * epoch's key, and intact; negative otherwise (the caller falls back to a full
 * handshake, whatever the reason). */
MUST_USE int tls_ticket_open(const pqify_tls_config *cfg, const uint8_t *ticket, size_t len,
                             uint64_t now_ms, tls_ticket *t);

#endif
