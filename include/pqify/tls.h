/*
 * pqify TLS 1.3 engine (RFC 8446) with hybrid post-quantum key exchange.
 *
 * Bytes in, bytes out: the engine never touches a socket. The caller feeds what it
 * received and sends what the engine wrote into a pqify_tls_buf. The caller must
 * flush the output buffer even when a call fails, because it may hold an alert.
 *
 *   client:  conn = pqify_tls_conn_new(cfg, 0);
 *            pqify_tls_handshake(conn, NULL, &zero, &out);   -> IN_PROGRESS, out = ClientHello
 *            loop: send out; read bytes; n = len;
 *                  ret = pqify_tls_handshake(conn, bytes, &n, &out);  (n becomes bytes consumed)
 *            until ret == 0 (done) or ret < 0 (failed; still send out).
 *            Bytes after the n consumed belong to the application: pass them to
 *            pqify_tls_receive().
 *   server:  the same with is_server = 1 and the first call carrying received bytes.
 *
 * Threads: a config is immutable once a connection uses it and may be shared by
 * connections on any thread. A connection is used by one thread at a time.
 *
 * Memory: pqify_tls_conn_new() allocates the connection and its handshake state
 * (see pqify_tls_conn_size()); the handshake state is released when the handshake
 * ends. While handshaking, the outgoing flight (and a message over 8 KiB, such as a
 * long certificate chain) is built in a heap buffer released with the handshake
 * state; libcrypto allocates its own contexts. Output buffers grow with malloc and
 * belong to the caller. Every secret is wiped before its memory is released.
 */
#ifndef PQIFY_TLS_H
#define PQIFY_TLS_H

#include <stddef.h>
#include <stdint.h>

#include "pqify/common.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- return values ---------------------------------------------------------- */

/* Positive, not errors. */
#define PQIFY_TLS_IN_PROGRESS 1   /* handshake: feed more bytes (after flushing out) */
#define PQIFY_TLS_PEER_CLOSED 2   /* receive: the peer sent close_notify; no more data */
#define PQIFY_TLS_WANT_SIGNATURE 4 /* handshake: an asynchronous signer holds CertificateVerify */

/*
 * Errors are negative, -100 and below. Each maps to the alert the engine sent (or
 * none), see pqify_tls_alert_of(). The first error of a connection sticks: every
 * later call returns it again.
 */
enum pqify_tls_err {
    /* local / API */
    PQIFY_TLS_ERR_NO_MEMORY = -100,
    PQIFY_TLS_ERR_ARG = -101,            /* bad argument or call in the wrong state */
    PQIFY_TLS_ERR_CONFIG = -102,         /* config unusable; words: pqify_tls_config_error_detail */
    PQIFY_TLS_ERR_INTERNAL = -103,       /* libcrypto failed: internal_error */
    PQIFY_TLS_ERR_CLOSED = -104,         /* the connection was closed; nothing more may be sent */
    PQIFY_TLS_ERR_RNG = -105,            /* the CSPRNG failed: internal_error */
    PQIFY_TLS_ERR_SIGN = -106,           /* the signer failed: internal_error */
    /* parsing and protocol */
    PQIFY_TLS_ERR_DECODE = -110,         /* malformed message: decode_error */
    PQIFY_TLS_ERR_UNEXPECTED_MESSAGE = -111,
    PQIFY_TLS_ERR_ILLEGAL_PARAMETER = -112,
    PQIFY_TLS_ERR_DUPLICATE_EXTENSION = -113,   /* illegal_parameter */
    PQIFY_TLS_ERR_MISSING_EXTENSION = -114,
    PQIFY_TLS_ERR_UNSUPPORTED_EXTENSION = -115, /* server sent an extension we did not offer */
    PQIFY_TLS_ERR_PROTOCOL_VERSION = -116,      /* peer does not speak TLS 1.3 */
    PQIFY_TLS_ERR_RECORD_OVERFLOW = -117,       /* record over 2^14 + 256 (or 2^14 plaintext) */
    PQIFY_TLS_ERR_BAD_RECORD_MAC = -118,        /* AEAD open failed */
    PQIFY_TLS_ERR_SEQUENCE_LIMIT = -119,        /* 2^64 - 1 records under one key */
    PQIFY_TLS_ERR_HRR = -120,                   /* bad HelloRetryRequest: illegal_parameter */
    PQIFY_TLS_ERR_SECOND_CLIENT_HELLO = -121,   /* second ClientHello differs from the first: illegal_parameter */
    PQIFY_TLS_ERR_KEY_UPDATE_LIMIT = -122,      /* peer KeyUpdate flood: unexpected_message */
    PQIFY_TLS_ERR_NOT_TLS = -123,               /* the first record header is not TLS (an SSH banner,
                                                   an HTTP reply ...): unexpected_message */
    PQIFY_TLS_ERR_MESSAGE_TOO_LARGE = -124,     /* a handshake message over 32 KiB (a certificate
                                                   chain that large): decode_error */
    /* negotiation */
    PQIFY_TLS_ERR_NO_PQ_GROUP = -130,     /* pq=required and the peer has no PQ group: insufficient_security */
    PQIFY_TLS_ERR_PEER_NO_PQ = -131,      /* pq=required and the server refused every PQ group we offered */
    PQIFY_TLS_ERR_NO_COMMON_GROUP = -132, /* handshake_failure */
    PQIFY_TLS_ERR_NO_COMMON_CIPHER = -133,/* handshake_failure */
    PQIFY_TLS_ERR_NO_COMMON_SIGALG = -134,/* handshake_failure */
    PQIFY_TLS_ERR_NO_ALPN = -135,         /* no_application_protocol */
    /* key shares (DESIGN.md "Groups") */
    PQIFY_TLS_ERR_BAD_KEY_SHARE = -140,   /* wrong length for the group: illegal_parameter */
    PQIFY_TLS_ERR_BAD_EK = -141,          /* ML-KEM ek fails the FIPS 203 modulus check: illegal_parameter */
    PQIFY_TLS_ERR_BAD_CT = -142,          /* KEM ciphertext of the wrong length: illegal_parameter */
    PQIFY_TLS_ERR_X25519_ZERO = -143,     /* all-zero X25519 output: illegal_parameter */
    PQIFY_TLS_ERR_BAD_POINT = -144,       /* EC point compressed, infinity or off the curve: illegal_parameter */
    /* authentication */
    PQIFY_TLS_ERR_BAD_CERT = -150,        /* certificate unparsable or unusable: bad_certificate */
    PQIFY_TLS_ERR_UNKNOWN_CA = -151,      /* chain does not verify to the CA: unknown_ca */
    PQIFY_TLS_ERR_CERT_EXPIRED = -152,    /* certificate_expired */
    PQIFY_TLS_ERR_CERT_NAME = -153,       /* certificate does not match the server name: bad_certificate */
    PQIFY_TLS_ERR_CERT_REQUIRED = -154,   /* client sent no certificate: certificate_required */
    PQIFY_TLS_ERR_BAD_SIGNATURE = -155,   /* CertificateVerify does not verify: decrypt_error */
    PQIFY_TLS_ERR_BAD_FINISHED = -156,    /* Finished does not verify: decrypt_error */
    PQIFY_TLS_ERR_BAD_BINDER = -157,      /* PSK binder does not verify (§4.2.11.2): decrypt_error */
    /* the peer's alert: PQIFY_TLS_ERR_PEER_ALERT - alert (so -1000 .. -1255) */
    PQIFY_TLS_ERR_PEER_ALERT = -1000,
};

/* The TLS alert description an error sends (RFC 8446 §6), or -1 if it sends none. */
int pqify_tls_alert_of(int err);

/* Alert description name ("insufficient_security"), or "unknown" (never NULL). */
const char *pqify_tls_alert_name(int alert);

/*
 * Words for an error, with the alert when there is one, e.g.
 * "peer offered no post-quantum group (pq=required): insufficient_security" or
 * "peer sent alert: handshake_failure". Never NULL; a static string.
 */
const char *pqify_tls_strerror(int err);

/* ---- output buffer ------------------------------------------------------------ */

/* Bytes for the caller to send, in order: base[0 .. len). Grows with malloc. */
typedef struct pqify_tls_buf {
    uint8_t *base;
    size_t len;
    size_t capacity;
    int is_allocated;   /* base came from malloc (else from the caller's storage) */
} pqify_tls_buf;

/* Start with caller storage (may be NULL with size 0); it grows into the heap. */
void pqify_tls_buf_init(pqify_tls_buf *buf, void *storage, size_t size);
/* Wipe and free (if allocated); the buffer may be reused after pqify_tls_buf_init. */
void pqify_tls_buf_dispose(pqify_tls_buf *buf);
/* Drop the first n bytes (after sending them). */
void pqify_tls_buf_consume(pqify_tls_buf *buf, size_t n);

/* ---- configuration ------------------------------------------------------------ */

typedef enum pqify_pq_mode {
    PQIFY_PQ_PREFERRED = 0,  /* default: hybrid first, classical peers still work */
    PQIFY_PQ_REQUIRED = 1,   /* only post-quantum groups; classical peer -> insufficient_security */
    PQIFY_PQ_OFF = 2,        /* classical only (measurements, old peers) */
} pqify_pq_mode;

/* "preferred" | "required" | "off" -> mode; PQIFY_TLS_ERR_ARG otherwise. */
PQIFY_MUST_USE int pqify_tls_pq_mode_parse(const char *word, pqify_pq_mode *mode);
const char *pqify_tls_pq_mode_name(pqify_pq_mode mode);

/*
 * Signer: makes the CertificateVerify signature (the server's, and a client's for
 * mutual TLS). The default signer uses the key from pqify_tls_config_set_key_*; a
 * custom one is set with pqify_tls_config_set_signer. sign() is called once per
 * handshake with the scheme to use and the bytes to sign (RFC 8446 §4.4.3), and
 * returns one of:
 *   0                        synchronous: sig holds the signature, *sig_len its length
 *                            (1 .. sig_capacity);
 *   PQIFY_TLS_SIGN_PENDING   asynchronous (keyless): the signature will come later.
 *                            pqify_tls_handshake then returns PQIFY_TLS_WANT_SIGNATURE;
 *                            see "Asynchronous signing" below;
 *   anything else            failure: the handshake aborts with PQIFY_TLS_ERR_SIGN
 *                            (internal_error alert).
 * The callback does not get the connection; an asynchronous caller learns which
 * connection waits from pqify_tls_handshake's return value and reads the request
 * with pqify_tls_signature_request. The signer must be thread-safe if connections
 * on several threads share the config.
 */
#define PQIFY_TLS_SIGN_PENDING 3
#define PQIFY_TLS_MAX_SIGNATURE 1024
typedef struct pqify_tls_signer {
    void *ctx;
    /* TLS SignatureScheme codes this key can make, in preference order. */
    const uint16_t *schemes;
    size_t n_schemes;
    int (*sign)(void *ctx, uint16_t scheme, const uint8_t *tbs, size_t tbs_len,
                uint8_t *sig, size_t sig_capacity, size_t *sig_len);
} pqify_tls_signer;

typedef struct pqify_tls_config pqify_tls_config;

pqify_tls_config *pqify_tls_config_new(void);   /* NULL if out of memory */
void pqify_tls_config_free(pqify_tls_config *cfg);

/*
 * Own certificate chain (PEM, leaf first, at most 16 certificates) and private key
 * (PEM: ECDSA P-256/P-384, RSA, RSA-PSS (id-RSASSA-PSS, signing with
 * rsa_pss_pss_sha256/384/512 as its parameters allow), Ed25519). Required on a
 * server; on a client only for mutual TLS. Key and leaf certificate are checked to
 * match when both are set. A PQIFY_TLS_ERR_CONFIG from these (and the CA setters)
 * comes with words: pqify_tls_config_error_detail.
 */
PQIFY_MUST_USE int pqify_tls_config_set_cert_chain_file(pqify_tls_config *cfg, const char *path);
PQIFY_MUST_USE int pqify_tls_config_set_key_file(pqify_tls_config *cfg, const char *path);
PQIFY_MUST_USE int pqify_tls_config_set_cert_chain_pem(pqify_tls_config *cfg, const char *pem, size_t len);
PQIFY_MUST_USE int pqify_tls_config_set_key_pem(pqify_tls_config *cfg, const char *pem, size_t len);
/*
 * What the last PQIFY_TLS_ERR_CONFIG of a certificate, key or CA setter was about,
 * in words: the file and its problem ("/etc/k.pem: No such file or directory",
 * "the private key does not match the certificate's public key", "the certificate
 * chain has more than 16 certificates ...", "the private key cannot sign TLS 1.3:
 * ..."). "" when that call did not fail with PQIFY_TLS_ERR_CONFIG. The string lives
 * in the config until the next setter call.
 */
const char *pqify_tls_config_error_detail(const pqify_tls_config *cfg);
/* Replace the default signer (key still optional; the cert chain is still needed). */
PQIFY_MUST_USE int pqify_tls_config_set_signer(pqify_tls_config *cfg, const pqify_tls_signer *signer);

/*
 * ---- identities: several certificates, chosen by SNI (server) ----
 * A config holds identities 0 .. n-1, each a chain and either a local key or a
 * signer (keyless, asynchronous as above). The one-identity setters above set
 * identity 0, the default. pqify_tls_config_add_identity parses a whole identity
 * (chain PEM leaf first; key PEM, or a signer, exactly one of the two; the signer
 * struct is copied, its ctx and schemes must outlive the config) and returns its
 * index (>= 0) or an error (PQIFY_TLS_ERR_CONFIG with error_detail words, the
 * config unchanged): the first one added to a config whose identity 0 is empty
 * becomes identity 0, later ones are appended. A signer must offer only schemes
 * the certificate's key type can make. At most PQIFY_TLS_MAX_IDENTITIES.
 *
 * The rule, per ClientHello (server):
 *   - the names of an identity are its leaf's subjectAltName dNSName entries
 *     (never the subject CN); "*.example.com" matches exactly one leftmost label
 *     ("a.example.com", not "example.com" nor "a.b.example.com"); a partial
 *     wildcard ("f*.example.com") or one over a single label ("*.com") never
 *     matches; comparison is ASCII case-insensitive;
 *   - the identities whose names match the server_name exactly come first, then
 *     those matching by wildcard, each in config order; the first of them whose
 *     key (or signer) can make a signature scheme the client offered answers (an
 *     ECDSA and an RSA chain for one name serve both kinds of client). If names
 *     match but none can sign for this client: handshake_failure
 *     (PQIFY_TLS_ERR_NO_COMMON_SIGALG), as with a single identity;
 *   - no server_name, one that is not a plain host name, or one no identity
 *     matches: identity 0 (and handshake_failure if it cannot sign for the client).
 * The server answers with the empty server_name extension (RFC 6066 §3) exactly
 * when the name chose the identity. pqify_tls_info.identity reports the index.
 * Memory: each identity lives in the config (its chain, key and names); a
 * connection holds only the index.
 */
#define PQIFY_TLS_MAX_IDENTITIES 4096
PQIFY_MUST_USE int pqify_tls_config_add_identity(pqify_tls_config *cfg, const char *chain_pem,
                                                 size_t chain_len, const char *key_pem,
                                                 size_t key_len, const pqify_tls_signer *signer);
/* The same from files (key_path NULL with a signer); errors name the file. */
PQIFY_MUST_USE int pqify_tls_config_add_identity_files(pqify_tls_config *cfg, const char *chain_path,
                                                       const char *key_path,
                                                       const pqify_tls_signer *signer);
/* How many identities (1 for a config with none or only identity 0). */
size_t pqify_tls_config_identities(const pqify_tls_config *cfg);

/*
 * Trust anchors (PEM, one or more). A client verifies the server against them (or
 * against the system store if none is set); a server with a CA requests and
 * verifies client certificates (see require_client_cert).
 */
PQIFY_MUST_USE int pqify_tls_config_set_ca_file(pqify_tls_config *cfg, const char *path);
PQIFY_MUST_USE int pqify_tls_config_set_ca_pem(pqify_tls_config *cfg, const char *pem, size_t len);
/* Server: 1 (default when a CA is set) = client certificate required; 0 = none requested. */
void pqify_tls_config_set_require_client_cert(pqify_tls_config *cfg, int require);
/* Client: 0 skips server certificate verification (tests and scans only). Default 1. */
void pqify_tls_config_set_verify_peer(pqify_tls_config *cfg, int verify);

/* Default PQIFY_PQ_PREFERRED. */
PQIFY_MUST_USE int pqify_tls_config_set_pq(pqify_tls_config *cfg, pqify_pq_mode mode);

/*
 * Expert override: comma-separated group names in preference order, e.g.
 * "SecP256r1MLKEM768,X25519". Names are the DESIGN.md table's (case-insensitive;
 * also "x25519", "secp256r1"/"P-256", "secp384r1"/"P-384"). Legacy groups are used
 * only when named here. Still filtered by the pq mode: with pq=required the
 * classical names are dropped, with pq=off the PQ ones (an empty result is
 * PQIFY_TLS_ERR_CONFIG). A client sends a key share for the first group and, with
 * pq=preferred and a PQ first group, one for the first classical group too.
 * NULL or "" restores the defaults.
 */
PQIFY_MUST_USE int pqify_tls_config_set_groups(pqify_tls_config *cfg, const char *names);

/* Comma-separated ALPN protocols in preference order ("h2,http/1.1"). A server with
 * a list requires overlap when the client offers ALPN (no_application_protocol). */
PQIFY_MUST_USE int pqify_tls_config_set_alpn(pqify_tls_config *cfg, const char *list);

/* Client: SNI and the name (DNS name or IP literal) the server certificate must match.
 * Without one the chain is still verified but no name is checked; an IP literal is
 * checked against the certificate but not sent as SNI (RFC 6066 §3). */
PQIFY_MUST_USE int pqify_tls_config_set_server_name(pqify_tls_config *cfg, const char *name);

/* Comma-separated suites in preference order: TLS_AES_128_GCM_SHA256,
 * TLS_AES_256_GCM_SHA384, TLS_CHACHA20_POLY1305_SHA256 (default: that order). */
PQIFY_MUST_USE int pqify_tls_config_set_ciphers(pqify_tls_config *cfg, const char *list);

/* ---- resumption (RFC 8446 §4.6.1, §4.2.11), psk_dhe_ke only ------------------ */
/*
 * A resumed handshake always carries a full key share too (psk_dhe_ke, §4.2.9), so
 * it negotiates a (hybrid) group exactly like a full one and stays post-quantum;
 * the PSK replaces only the certificate authentication. psk_ke is never offered or
 * accepted, and 0-RTT (early data) never: our tickets allow none.
 *
 * Server: after each handshake it sends `n` NewSessionTickets (default 1; 0 turns
 * tickets off). A ticket is the session sealed with AES-256-GCM under a ticket key
 * only this server (or servers sharing its ticket secret) knows; docs/tls.md gives
 * the layout. Ticket keys rotate every rotation period (default 7200 s): a ticket is
 * accepted under the current key and the previous one, and falls back to a full
 * handshake once its key has rotated out. It also expires after its lifetime
 * (default 7200 s, at most 604800 by §4.6.1), and its obfuscated_ticket_age must
 * match the server's clock within 10 s. A ticket that fails any check (also a
 * tampered one, another suite's hash, another SNI, or no client certificate where
 * one is now required) silently gives a full handshake; a wrong binder is
 * decrypt_error.
 */
PQIFY_MUST_USE int pqify_tls_config_set_tickets(pqify_tls_config *cfg, unsigned n);
PQIFY_MUST_USE int pqify_tls_config_set_ticket_lifetime(pqify_tls_config *cfg, uint32_t seconds);
PQIFY_MUST_USE int pqify_tls_config_set_ticket_rotation(pqify_tls_config *cfg, uint32_t seconds);
/* The secret ticket keys are derived from (32 bytes; random per config by default).
 * Servers that share it accept each other's tickets (e.g. forked workers, a fleet). */
PQIFY_MUST_USE int pqify_tls_config_set_ticket_secret(pqify_tls_config *cfg, const uint8_t *secret,
                                                      size_t len);
/* Wall clock in milliseconds for ticket times (default CLOCK_REALTIME); tests only. */
void pqify_tls_config_set_clock(pqify_tls_config *cfg, uint64_t (*now_ms)(void *ctx), void *ctx);

/*
 * Client: a small cache in the config, keyed by server name, that keeps the newest
 * ticket of each server (up to `entries` names; 0, the default, turns it off). A
 * connection made from the config offers the cached session by itself, so a
 * reconnecting client resumes without any more code. The cache is the one part of
 * a config that changes after use; it is locked and thread-safe.
 */
PQIFY_MUST_USE int pqify_tls_config_set_session_cache(pqify_tls_config *cfg, size_t entries);

/* ---- groups (for tools) ---------------------------------------------------- */

/* Name of a NamedGroup code ("X25519MLKEM768"), or NULL if pqify does not know it. */
const char *pqify_tls_group_name(uint16_t id);
/* Code for a name (see set_groups), or -1. */
int pqify_tls_group_id(const char *name);
/* 1 if the group is post-quantum (hybrid or pure ML-KEM / Kyber), else 0. */
int pqify_tls_group_is_pq(uint16_t id);
/* 1 if the group is used only when named (Kyber drafts, P256Kyber512). */
int pqify_tls_group_is_legacy(uint16_t id);
/* Every group pqify knows, table order; returns the count and fills up to max ids. */
size_t pqify_tls_groups_all(uint16_t *ids, size_t max);

/* ---- connection ------------------------------------------------------------ */

typedef struct pqify_tls_conn pqify_tls_conn;

/* NULL if out of memory or the config cannot serve that role: a server without a
 * certificate and key (or signer), or no group left once the pq mode filters the
 * expert group list (e.g. pq=required with "x25519"). */
pqify_tls_conn *pqify_tls_conn_new(const pqify_tls_config *cfg, int is_server);
void pqify_tls_conn_free(pqify_tls_conn *conn);

/*
 * Bytes pqify allocates for one connection, by mode:
 *   PQIFY_TLS_SIZE_HANDSHAKING  the connection, its handshake state (32 KiB of it
 *                               reassembles handshake messages) and the receive-record
 *                               buffer (16,645 bytes);
 *   PQIFY_TLS_SIZE_ESTABLISHED  the handshake state released: the connection, the
 *                               record buffer and 2,048 bytes that reassemble
 *                               post-handshake messages (allocated with the first one;
 *                               a larger NewSessionTicket is skipped);
 *   PQIFY_TLS_SIZE_IDLE         established after pqify_tls_release_buffers: the
 *                               connection alone (keys, names, counters).
 * tests/tls/test_handshake.c prints today's x86-64 figures. A client that received a
 * ticket also holds one malloc'ed session (about 2.7 KiB). libcrypto's two cipher
 * contexts come on top. A handshake message (a certificate chain) may be up to
 * 32 KiB; a larger one fails with decode_error. See docs/tls.md.
 */
#define PQIFY_TLS_SIZE_ESTABLISHED 0
#define PQIFY_TLS_SIZE_HANDSHAKING 1
#define PQIFY_TLS_SIZE_IDLE 2
size_t pqify_tls_conn_size(int mode);

/*
 * Give back the receive-record and post-handshake buffers (about 18.7 KiB) while
 * they hold no partial record or message, wiped first; a buffer holding a partial
 * one is kept as it is. The next pqify_tls_receive (or handshake) call that gets
 * bytes allocates them again; if that fails it fails with PQIFY_TLS_ERR_NO_MEMORY,
 * which is sticky like any error. Call it when a connection goes idle (nothing
 * read for now, BoringSSL's SSL_MODE_RELEASE_BUFFERS does the same): a busy
 * connection that keeps its buffers pays no malloc per read. NULL is a no-op.
 */
void pqify_tls_release_buffers(pqify_tls_conn *conn);

/*
 * Drive the handshake. in/in_len: received bytes (NULL/0 for the client's first
 * call); on return *in_len holds how many were consumed. Returns 0 when the
 * handshake is complete, PQIFY_TLS_IN_PROGRESS when more input is needed, or a
 * negative error. Appends to out in every case (flush it; it may hold an alert).
 */
PQIFY_MUST_USE int pqify_tls_handshake(pqify_tls_conn *conn, const uint8_t *in, size_t *in_len,
                                       pqify_tls_buf *out);

/* 1 once the handshake completed. */
int pqify_tls_is_established(const pqify_tls_conn *conn);

/* Encrypt application data into records appended to out. */
PQIFY_MUST_USE int pqify_tls_send(pqify_tls_conn *conn, pqify_tls_buf *out, const void *data,
                                  size_t len);

/*
 * Decrypt received bytes. Application data is appended to plaintext; anything to
 * send back (a KeyUpdate answer, an alert) is appended to out. *in_len: in =
 * available, out = consumed (always everything unless an error or close_notify
 * stops it). Returns 0, PQIFY_TLS_PEER_CLOSED, or a negative error.
 */
PQIFY_MUST_USE int pqify_tls_receive(pqify_tls_conn *conn, pqify_tls_buf *plaintext,
                                     const uint8_t *in, size_t *in_len, pqify_tls_buf *out);

/* Send close_notify; afterwards pqify_tls_send fails with PQIFY_TLS_ERR_CLOSED. */
PQIFY_MUST_USE int pqify_tls_close_notify(pqify_tls_conn *conn, pqify_tls_buf *out);

/* Send KeyUpdate and switch our sending key (RFC 8446 §4.6.3); with
 * request_peer = 1 the peer is asked to update its key too. */
PQIFY_MUST_USE int pqify_tls_key_update(pqify_tls_conn *conn, int request_peer, pqify_tls_buf *out);

/* The sticky first error, or 0. */
int pqify_tls_error(const pqify_tls_conn *conn);
/* Words for the sticky error with what only the connection knows (a signer's
 * reason: "signer failed: key server timed out"); "" while there is no error. */
const char *pqify_tls_error_detail(const pqify_tls_conn *conn);

/*
 * ---- Asynchronous signing (the keyless hook) ----
 * When the signer returns PQIFY_TLS_SIGN_PENDING, pqify_tls_handshake flushes what
 * it has (server: ServerHello .. Certificate) into out and returns
 * PQIFY_TLS_WANT_SIGNATURE. The connection then waits; other connections carry on.
 *   pqify_tls_signature_request  the scheme and the bytes to sign (valid until the
 *                                signature is completed or failed);
 *   pqify_tls_signature_complete hand over the signature (1 .. PQIFY_TLS_MAX_SIGNATURE
 *                                bytes; it is sent as given, so a wrong one is caught
 *                                by the peer: decrypt_error);
 *   pqify_tls_signature_failed   the signer gave up; reason (may be NULL) ends up in
 *                                pqify_tls_error_detail.
 * Then call pqify_tls_handshake again (with no new bytes, or with bytes still
 * unconsumed): it writes CertificateVerify and the rest of the flight, or fails with
 * PQIFY_TLS_ERR_SIGN (internal_error alert). While it waits, pqify_tls_handshake
 * consumes no input (*in_len = 0) and returns PQIFY_TLS_WANT_SIGNATURE again; keep
 * the bytes. complete/failed return PQIFY_TLS_ERR_ARG when no signature is pending
 * (called twice, too early, after the handshake) or the length is out of range,
 * and change nothing; on a connection that already failed they return its error.
 */
PQIFY_MUST_USE int pqify_tls_signature_request(const pqify_tls_conn *conn, uint16_t *scheme,
                                               const uint8_t **tbs, size_t *tbs_len);
PQIFY_MUST_USE int pqify_tls_signature_complete(pqify_tls_conn *conn, const uint8_t *sig,
                                                size_t len);
PQIFY_MUST_USE int pqify_tls_signature_failed(pqify_tls_conn *conn, const char *reason);

/*
 * ---- Sessions (resumption, client side) ----
 * pqify_tls_get_session copies the newest session the server gave this connection
 * (its NewSessionTicket arrives after the handshake, through pqify_tls_receive) as
 * an opaque blob of at most PQIFY_TLS_MAX_SESSION bytes; PQIFY_TLS_ERR_ARG if none
 * came yet. The blob holds the resumption PSK: keep it as secret as a key.
 * pqify_tls_set_session gives a blob to a new client connection before its first
 * handshake call: 1 = it will be offered, 0 = ignored (expired, another server
 * name, its suite not enabled), PQIFY_TLS_ERR_ARG = malformed or wrong state.
 * Either way the handshake still works; pqify_tls_info.resumed tells what happened.
 */
#define PQIFY_TLS_MAX_SESSION 2600
PQIFY_MUST_USE int pqify_tls_get_session(const pqify_tls_conn *conn, uint8_t *blob, size_t capacity,
                                         size_t *len);
PQIFY_MUST_USE int pqify_tls_set_session(pqify_tls_conn *conn, const uint8_t *blob, size_t len);

/* What was negotiated; valid once established (fields are empty / 0 before). */
typedef struct pqify_tls_info {
    const char *version;        /* "TLSv1.3" */
    const char *cipher;         /* "TLS_AES_128_GCM_SHA256" ... */
    uint16_t cipher_id;
    const char *group;          /* "X25519MLKEM768" ... */
    uint16_t group_id;
    int is_pq;                  /* the group is post-quantum */
    int hrr;                    /* a HelloRetryRequest happened */
    int peer_cert;              /* the peer presented a certificate */
    char peer_subject[256];     /* RFC 2253 subject ("CN=x,O=y"), "" if none */
    char alpn[256];             /* "" if none */
    char server_name[256];      /* SNI sent (client) or received (server), "" if none */
    uint16_t signature_scheme;  /* the peer's CertificateVerify scheme, 0 if none */
    uint64_t handshake_us;      /* first handshake call to completion, monotonic clock */
    uint64_t key_updates_sent, key_updates_received;
    int resumed;                /* the handshake resumed a session (PSK + key share) */
    int identity;               /* server: the identity that answered (0 = the default;
                                   see "identities"); 0 on a client */
} pqify_tls_info;

void pqify_tls_get_info(const pqify_tls_conn *conn, pqify_tls_info *info);

/* Suite name for a code ("TLS_AES_128_GCM_SHA256"), or NULL. */
const char *pqify_tls_cipher_name(uint16_t id);

#ifdef __cplusplus
}
#endif
#endif
