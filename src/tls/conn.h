/* The connection object and the handshake state it carries until established. */
#ifndef PQIFY_TLS_CONN_H
#define PQIFY_TLS_CONN_H

#include "internal.h"

/* RFC 8446 Appendix A.1 / A.2, one row each */
enum tls_state {
    ST_CLIENT_START,
    ST_CLIENT_WAIT_SH,
    ST_CLIENT_WAIT_EE,
    ST_CLIENT_WAIT_CERT_CR,
    ST_CLIENT_WAIT_CERT,
    ST_CLIENT_WAIT_CV,
    ST_CLIENT_WAIT_FINISHED,
    ST_SERVER_WAIT_CH,
    ST_SERVER_WAIT_CH2,
    ST_SERVER_WAIT_CERT,
    ST_SERVER_WAIT_CV,
    ST_SERVER_WAIT_FINISHED,
    ST_CONNECTED,
    /* CertificateVerify is with an asynchronous signer (either role); no input is
     * consumed until pqify_tls_signature_complete/_failed answers */
    ST_WAIT_SIGNATURE,
};

/* hs->sign_status */
enum { TLS_SIGN_NONE, TLS_SIGN_WAITING, TLS_SIGN_DONE, TLS_SIGN_FAILED };
/* §4.4.3: 64 spaces, a 33-byte context string, a zero byte, the transcript hash */
#define TLS_MAX_CV_TBS (64 + 33 + 1 + TLS_MAX_HASH)

#define TLS_MAX_HS_MSG 32768       /* largest handshake message accepted */
#define TLS_MAX_SHARES 2           /* key shares a client sends */
#define TLS_MAX_COOKIE 2048       /* longer HRR cookies are refused */
#define TLS_MAX_PEER_SCHEMES 64    /* of the peer's schemes, those we can sign with */
#define TLS_MAX_POST_HS_MSG 2048   /* KeyUpdate, NewSessionTicket; larger tickets are skipped unread */
#define TLS_MAX_TICKET 2000        /* a peer's ticket we keep; ours are about 200 bytes */
#define TLS_SCRATCH 8192
#define TLS_REC_SIZE (TLS_RECORD_HEADER + TLS_MAX_CIPHERTEXT)
#define TLS_MAX_KEY_UPDATES_IN_A_ROW 128
#define TLS_MAX_EARLY_DATA_SKIP 65536   /* refused 0-RTT bytes skipped before giving up */

/* What a client keeps from a NewSessionTicket (§4.6.1) to resume with later. */
typedef struct tls_session {
    uint16_t suite;
    uint32_t lifetime_s, age_add;
    uint64_t received_ms;          /* the config's clock (wall time, ms) */
    uint8_t psk[TLS_MAX_HASH];     /* §4.6.1: HKDF-Expand-Label(res master, "resumption", nonce) */
    size_t psk_len;
    char server_name[256];
    char peer_subject[256];
    uint8_t ticket[TLS_MAX_TICKET];
    size_t ticket_len;
} tls_session;

typedef struct tls_hs {
    tls_transcript transcript;
    tls_key_schedule ks;
    uint8_t c_hs[TLS_MAX_HASH], s_hs[TLS_MAX_HASH];   /* handshake traffic secrets */
    uint8_t c_ap[TLS_MAX_HASH], s_ap[TLS_MAX_HASH];   /* first application secrets */
    uint8_t random[32];                               /* ClientHello.random */
    uint8_t session_id[32];
    size_t session_id_len;

    /* client: shares sent and the groups offered */
    uint16_t share_ids[TLS_MAX_SHARES];
    tls_group_state shares[TLS_MAX_SHARES];
    uint8_t share_pub[TLS_MAX_SHARES][TLS_MAX_CLIENT_SHARE];
    size_t share_pub_len[TLS_MAX_SHARES];
    size_t n_shares;
    uint16_t offered_groups[TLS_MAX_GROUPS];
    size_t n_offered_groups;

    /* HelloRetryRequest (both roles) */
    uint8_t cookie[TLS_MAX_COOKIE];
    size_t cookie_len;
    uint16_t hrr_group;
    uint16_t hrr_cipher;
    uint8_t ch1_fingerprint[32];

    int ccs_sent;            /* Appendix D.4 middlebox compatibility */

    /* resumption: the PSK offered (client) or accepted (server), §4.2.11 */
    int psk_offered;
    uint8_t psk[TLS_MAX_HASH];
    size_t psk_len;
    const tls_hash *psk_hash;
    uint16_t psk_identity;   /* server: the identity chosen */
    size_t early_data_skip;  /* server: bytes of refused 0-RTT records still skipped */

    /* authentication */
    int cert_requested;
    uint16_t peer_schemes[TLS_MAX_PEER_SCHEMES];     /* what the peer accepts for CV */
    size_t n_peer_schemes;
    uint16_t my_scheme;
    EVP_PKEY *peer_key;

    /* the CertificateVerify signature while a signer works on it (tls.h "signer") */
    int sign_status;
    uint16_t sign_scheme;
    uint8_t sign_tbs[TLS_MAX_CV_TBS];
    size_t sign_tbs_len;
    uint8_t sig[PQIFY_TLS_MAX_SIGNATURE];
    size_t sig_len;
    /* what the handshake does once the signature is written */
    int (*after_signature)(struct pqify_tls_conn *c, pqify_tls_buf *out);

    /* incoming handshake messages, reassembled across records */
    uint8_t msg[TLS_MAX_HS_MSG];
    size_t msg_len;
    /* outgoing messages are built here, then queued so a flight shares records */
    pqify_tls_buf scratch;
    pqify_tls_buf flight;
    uint8_t scratch_storage[TLS_SCRATCH];
} tls_hs;

struct pqify_tls_conn {
    const pqify_tls_config *cfg;
    int is_server;
    enum tls_state state;
    int err;                 /* sticky first error */
    char err_detail[128];    /* words beyond the error code (a signer's reason), or "" */
    int established;
    int sent_close, peer_closed;
    int rd_changed;          /* a handler switched the read key (§5.1 boundary check) */

    const tls_suite *suite;
    const tls_group *group;
    tls_traffic rd, wr;
    int resumed;             /* the handshake used a PSK (always with a (EC)DHE/KEM share) */
    uint8_t res_master[TLS_MAX_HASH];   /* §7.1 resumption_master_secret (client) */
    tls_session *offer;      /* client: the session pqify_tls_set_session gave */
    tls_session *ticket;     /* client: the newest session the server gave */

    /* one incoming record, reassembled from however the bytes arrive; TLS_REC_SIZE
     * bytes on the heap, NULL while released (pqify_tls_release_buffers) */
    uint8_t *rec;
    size_t rec_len;
    size_t rec_used;         /* most of rec written since it was allocated: what is wiped */
    int got_record;          /* a record header was accepted (the peer speaks TLS) */

    tls_hs *hs;              /* NULL once established */

    /* post-handshake messages (KeyUpdate, NewSessionTicket): TLS_MAX_POST_HS_MSG bytes
     * allocated with the first one, NULL while released */
    uint8_t *ph;
    size_t ph_len;
    size_t ph_used;          /* most of ph written since it was allocated: what is wiped */
    size_t ph_skip;
    unsigned key_updates_in_a_row;

    /* what get_info reports */
    int hrr;
    int peer_cert;
    uint16_t peer_scheme;
    uint16_t identity;       /* cfg->ids index signing for us (server: chosen by SNI) */
    char alpn[256];
    char server_name[256];
    char peer_subject[256];
    uint64_t t_start_us, handshake_us;
    uint64_t key_updates_sent, key_updates_received;
};

/* flight.c */
MUST_USE int tls_send_handshake(pqify_tls_conn *c, const pqify_tls_buf *msg, pqify_tls_buf *out);
MUST_USE int tls_send_handshake_no_transcript(pqify_tls_conn *c, const pqify_tls_buf *msg,
                                              pqify_tls_buf *out);
MUST_USE int tls_set_read_key(pqify_tls_conn *c, const uint8_t *secret);
/* Flushes the queued flight under the old key first. */
MUST_USE int tls_set_write_key(pqify_tls_conn *c, const uint8_t *secret, pqify_tls_buf *out);
MUST_USE int tls_flush_flight(pqify_tls_conn *c, pqify_tls_buf *out);
/* Appendix D.4: a server answering a non-empty legacy_session_id sends one dummy
 * change_cipher_spec right after its first handshake message. */
MUST_USE int tls_send_compat_ccs(pqify_tls_conn *c, pqify_tls_buf *out);
void tls_established(pqify_tls_conn *c);
uint64_t tls_now_us(void);

/* state_machine.c */
MUST_USE int tls_dispatch(pqify_tls_conn *c, uint8_t type, const uint8_t *msg, size_t len,
                          pqify_tls_buf *out);

/* handshake_client.c / handshake_server.c: coordination */
MUST_USE int tls_client_start(pqify_tls_conn *c, pqify_tls_buf *out);
typedef int (*tls_handler)(pqify_tls_conn *c, const uint8_t *msg, size_t len, pqify_tls_buf *out);
MUST_USE int tls_client_on_server_hello(pqify_tls_conn *, const uint8_t *, size_t, pqify_tls_buf *);
MUST_USE int tls_client_on_encrypted_extensions(pqify_tls_conn *, const uint8_t *, size_t,
                                                pqify_tls_buf *);
MUST_USE int tls_client_on_certificate_request(pqify_tls_conn *, const uint8_t *, size_t,
                                               pqify_tls_buf *);
MUST_USE int tls_on_certificate(pqify_tls_conn *, const uint8_t *, size_t, pqify_tls_buf *);
MUST_USE int tls_on_certificate_verify(pqify_tls_conn *, const uint8_t *, size_t, pqify_tls_buf *);
MUST_USE int tls_client_on_finished(pqify_tls_conn *, const uint8_t *, size_t, pqify_tls_buf *);
MUST_USE int tls_server_on_client_hello(pqify_tls_conn *, const uint8_t *, size_t, pqify_tls_buf *);
MUST_USE int tls_server_on_finished(pqify_tls_conn *, const uint8_t *, size_t, pqify_tls_buf *);
/* shared by both roles (handshake_auth.c) */
/* Keep, from the peer's signature_algorithms (any length), the schemes we can
 * sign with: hs->peer_schemes. */
void tls_note_peer_schemes(pqify_tls_conn *c, tls_reader list);
/* Our first signature scheme that the peer accepts (hs->peer_schemes). */
MUST_USE int tls_pick_scheme(const pqify_tls_conn *c, uint16_t *scheme);
/* Queue Certificate and CertificateVerify, then run `then` (the rest of the
 * flight). When an asynchronous signer holds the CertificateVerify, the
 * connection waits in ST_WAIT_SIGNATURE and `then` runs once it answers. */
MUST_USE int tls_send_certificate_and_verify(pqify_tls_conn *c, pqify_tls_buf *out,
                                             int (*then)(pqify_tls_conn *, pqify_tls_buf *));
/* Queue the CertificateVerify once hs->sig holds the signature. */
MUST_USE int tls_send_certificate_verify(pqify_tls_conn *c, pqify_tls_buf *out);
MUST_USE int tls_send_finished(pqify_tls_conn *c, const uint8_t *base_secret, pqify_tls_buf *out);
MUST_USE int tls_check_finished(pqify_tls_conn *c, const uint8_t *base_secret, const uint8_t *body,
                                size_t len);

/* ---- messages: pure parsers and writers (one file per family) ---- */

/* extensions.c: iterate an extensions<..2^16-1> block, rejecting duplicates. */
typedef int (*tls_ext_cb)(void *ctx, uint16_t type, tls_reader *body);
MUST_USE int tls_extensions_parse(tls_reader *r, tls_ext_cb cb, void *ctx);

/* client_hello.c */
typedef struct tls_client_hello {
    const uint8_t *random;
    const uint8_t *session_id;
    size_t session_id_len;
    tls_reader cipher_suites;
    tls_reader extensions;     /* the whole block, for the fingerprint */
    int offers_tls13;
    int has_groups, has_key_share, has_sigalgs, has_sigalgs_cert, has_sni, has_alpn, has_cookie;
    int has_psk, has_early_data;
    tls_reader groups, key_shares, sigalgs, sigalgs_cert, alpn;
    /* §4.2.9, §4.2.11: modes, and the PSK offer (identities and binders, counts equal) */
    int has_psk_modes, psk_dhe_ke;
    tls_reader psk_body, psk_identities, psk_binders;
    size_t n_psk;
    const uint8_t *psk_binders_at;   /* where binders<> starts: the end of the truncated hello */
    const uint8_t *sni;
    size_t sni_len;
    const uint8_t *cookie;
    size_t cookie_len;
} tls_client_hello;
MUST_USE int tls_client_hello_parse(const uint8_t *body, size_t len, tls_client_hello *ch);
/* SHA-256 over everything a second ClientHello must repeat (RFC 8446 §4.1.2). */
MUST_USE int tls_client_hello_fingerprint(const tls_client_hello *ch, uint8_t out[32]);
MUST_USE int tls_client_hello_write(const pqify_tls_conn *c, pqify_tls_buf *msg);

/* server_hello.c (ServerHello and HelloRetryRequest) */
typedef struct tls_server_hello {
    int is_hrr;
    const uint8_t *random;
    const uint8_t *session_id;
    size_t session_id_len;
    uint16_t cipher;
    int has_version, has_key_share, has_cookie, has_psk, unknown_extension;
    uint16_t psk_identity;   /* §4.2.11 selected_identity */
    uint16_t version;
    uint16_t group;
    const uint8_t *share;
    size_t share_len;
    const uint8_t *cookie;
    size_t cookie_len;
} tls_server_hello;
extern const uint8_t tls_hrr_random[32];
MUST_USE int tls_server_hello_parse(const uint8_t *body, size_t len, tls_server_hello *sh);
MUST_USE int tls_server_hello_write(const pqify_tls_conn *c, int is_hrr, const uint8_t *random,
                                    const uint8_t *share, size_t share_len, pqify_tls_buf *msg);

/* encrypted_extensions.c */
typedef struct tls_encrypted_extensions {
    int has_alpn, has_sni;
    const uint8_t *alpn;
    size_t alpn_len;
} tls_encrypted_extensions;
MUST_USE int tls_encrypted_extensions_parse(const uint8_t *body, size_t len,
                                            tls_encrypted_extensions *ee);
MUST_USE int tls_encrypted_extensions_write(const pqify_tls_conn *c, int ack_sni,
                                            pqify_tls_buf *msg);

/* certificate.c (Certificate and CertificateRequest) */
MUST_USE int tls_certificate_parse(const uint8_t *body, size_t len, STACK_OF(X509) **chain);
MUST_USE int tls_certificate_write(const tls_identity *id, int send_chain, pqify_tls_buf *msg);
/* schemes: the signature_algorithms list (even, non-empty), read where it lies */
MUST_USE int tls_certificate_request_parse(const uint8_t *body, size_t len, tls_reader *schemes);
MUST_USE int tls_certificate_request_write(pqify_tls_buf *msg);

/* certificate_verify.c */
MUST_USE int tls_certificate_verify_tbs(int from_server, const uint8_t *th, size_t th_len,
                                        uint8_t *tbs, size_t *tbs_len);
MUST_USE int tls_certificate_verify_parse(const uint8_t *body, size_t len, uint16_t *scheme,
                                          const uint8_t **sig, size_t *sig_len);
MUST_USE int tls_certificate_verify_write(uint16_t scheme, const uint8_t *sig, size_t sig_len,
                                          pqify_tls_buf *msg);

/* finished.c */
MUST_USE int tls_finished_parse(const uint8_t *body, size_t len, size_t hash_len,
                                const uint8_t **verify_data);
MUST_USE int tls_finished_write(const uint8_t *verify_data, size_t len, pqify_tls_buf *msg);

/* key_update.c */
MUST_USE int tls_key_update_parse(const uint8_t *body, size_t len, int *update_requested);
MUST_USE int tls_key_update_write(int update_requested, pqify_tls_buf *msg);
/* After the handshake, from the state table (ST_CONNECTED rows) */
MUST_USE int tls_on_key_update(pqify_tls_conn *c, const uint8_t *msg, size_t len, pqify_tls_buf *out);
MUST_USE int tls_on_new_session_ticket(pqify_tls_conn *c, const uint8_t *msg, size_t len,
                                       pqify_tls_buf *out);

/* pre_shared_key.c (§4.2.9, §4.2.11) */
MUST_USE int tls_pre_shared_key_parse(tls_reader *body, tls_client_hello *ch);
MUST_USE int tls_psk_modes_parse(tls_reader *body, tls_client_hello *ch);
/* Client: psk_key_exchange_modes (always) and, with an offer, pre_shared_key (last,
 * binder filled in): appended to the ClientHello extensions being written. */
MUST_USE int tls_client_psk_modes_write(pqify_tls_buf *m);
MUST_USE int tls_client_psk_write(const pqify_tls_conn *c, pqify_tls_buf *m, size_t *binder_at);
/* Fill the binder once the ClientHello at m[start..] is complete. */
MUST_USE int tls_client_psk_binder(const pqify_tls_conn *c, pqify_tls_buf *m, size_t start,
                                   size_t binder_at);
/* Decide whether the offer is used (client, at start): 1 offered, 0 not. */
int tls_client_psk_choose(pqify_tls_conn *c);
/* Server: 1 the PSK is accepted (hs->psk, c->resumed set), 0 full handshake, <0 error. */
MUST_USE int tls_server_accept_psk(pqify_tls_conn *c, const tls_client_hello *ch, const uint8_t *msg);
/* binder = HMAC(finished_key(Derive-Secret(Early(psk), "res binder", "")), Hash(truncated)) */
MUST_USE int tls_psk_binder(const tls_hash *h, const uint8_t *psk, size_t psk_len,
                            const uint8_t *transcript_hash, uint8_t *binder);

/* new_session_ticket.c (§4.6.1) */
MUST_USE int tls_server_send_tickets(pqify_tls_conn *c, pqify_tls_buf *out);
MUST_USE int tls_client_on_new_session_ticket(pqify_tls_conn *c, const uint8_t *body, size_t len);

/* session.c */
void tls_session_free(tls_session *s);
/* Cache (config) lookups; the cache is locked inside. */
int tls_session_cache_get(const pqify_tls_config *cfg, const char *name, tls_session *out);
void tls_session_cache_put(const pqify_tls_config *cfg, const tls_session *s);

/* alert.c */
MUST_USE int tls_alert_parse(const uint8_t *body, size_t len, uint8_t *level, uint8_t *desc);
MUST_USE int tls_alert_send(pqify_tls_conn *c, uint8_t level, uint8_t desc, pqify_tls_buf *out);
/* Turn a received alert into the connection's error (0 for close_notify). */
int tls_alert_received(pqify_tls_conn *c, uint8_t level, uint8_t desc);




/* group_select.c: the server's choice; *share NULL means "ask with a HelloRetryRequest" */
MUST_USE int tls_select_group(const pqify_tls_config *cfg, tls_reader client_groups,
                              tls_reader key_shares, uint16_t *group, const uint8_t **share,
                              size_t *share_len);
#endif
