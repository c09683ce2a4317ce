/* pqify tls layer: shared internals. Only the public pqify headers and libcrypto below. */
#ifndef PQIFY_TLS_INTERNAL_H
#define PQIFY_TLS_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include <openssl/evp.h>
#include <openssl/sha.h>
#include <openssl/x509.h>

#include "../kem/ct.h"
#include "cursor.h"
#include "pqify/kem.h"
#include "pqify/tls.h"

/*
 * Error flow (s2n-tls style): every function that can fail declares `int ret = 0`,
 * keeps one `out:` label for cleanup, and uses these so the happy path reads down.
 */
#define TRY(expr)                  \
    do {                           \
        int try_ret_ = (expr);     \
        if (try_ret_ < 0) {        \
            ret = try_ret_;        \
            goto out;              \
        }                          \
    } while (0)
#define ENSURE(cond, err)          \
    do {                           \
        if (!(cond)) {             \
            ret = (err);           \
            goto out;              \
        }                          \
    } while (0)

#define MUST_USE PQIFY_MUST_USE

/* RFC 8446 §5.1, §5.2 */
#define TLS_MAX_PLAINTEXT 16384
#define TLS_MAX_CIPHERTEXT (16384 + 256)
#define TLS_RECORD_HEADER 5
#define TLS_AEAD_TAG 16
#define TLS_MAX_HASH 48
#define TLS_MAX_KEY 32
#define TLS_IV_LEN 12

/* content types, §5.1 */
enum { TLS_CT_CCS = 20, TLS_CT_ALERT = 21, TLS_CT_HANDSHAKE = 22, TLS_CT_APPDATA = 23 };

/* handshake types, §4 */
enum {
    TLS_HS_CLIENT_HELLO = 1,
    TLS_HS_SERVER_HELLO = 2,
    TLS_HS_NEW_SESSION_TICKET = 4,
    TLS_HS_END_OF_EARLY_DATA = 5,
    TLS_HS_ENCRYPTED_EXTENSIONS = 8,
    TLS_HS_CERTIFICATE = 11,
    TLS_HS_CERTIFICATE_REQUEST = 13,
    TLS_HS_CERTIFICATE_VERIFY = 15,
    TLS_HS_FINISHED = 20,
    TLS_HS_KEY_UPDATE = 24,
    TLS_HS_MESSAGE_HASH = 254,
};

/* extension types, §4.2 */
enum {
    TLS_EXT_SERVER_NAME = 0,
    TLS_EXT_SUPPORTED_GROUPS = 10,
    TLS_EXT_SIGNATURE_ALGORITHMS = 13,
    TLS_EXT_ALPN = 16,
    TLS_EXT_PRE_SHARED_KEY = 41,
    TLS_EXT_EARLY_DATA = 42,
    TLS_EXT_SUPPORTED_VERSIONS = 43,
    TLS_EXT_COOKIE = 44,
    TLS_EXT_PSK_KEY_EXCHANGE_MODES = 45,
    TLS_EXT_SIGNATURE_ALGORITHMS_CERT = 50,
    TLS_EXT_KEY_SHARE = 51,
};

/* alerts, §6 */
enum {
    TLS_ALERT_CLOSE_NOTIFY = 0,
    TLS_ALERT_UNEXPECTED_MESSAGE = 10,
    TLS_ALERT_BAD_RECORD_MAC = 20,
    TLS_ALERT_RECORD_OVERFLOW = 22,
    TLS_ALERT_HANDSHAKE_FAILURE = 40,
    TLS_ALERT_BAD_CERTIFICATE = 42,
    TLS_ALERT_CERTIFICATE_EXPIRED = 45,
    TLS_ALERT_ILLEGAL_PARAMETER = 47,
    TLS_ALERT_UNKNOWN_CA = 48,
    TLS_ALERT_DECODE_ERROR = 50,
    TLS_ALERT_DECRYPT_ERROR = 51,
    TLS_ALERT_PROTOCOL_VERSION = 70,
    TLS_ALERT_INSUFFICIENT_SECURITY = 71,
    TLS_ALERT_INTERNAL_ERROR = 80,
    TLS_ALERT_USER_CANCELED = 90,
    TLS_ALERT_MISSING_EXTENSION = 109,
    TLS_ALERT_UNSUPPORTED_EXTENSION = 110,
    TLS_ALERT_UNRECOGNIZED_NAME = 112,
    TLS_ALERT_CERTIFICATE_REQUIRED = 116,
    TLS_ALERT_NO_APPLICATION_PROTOCOL = 120,
};

/* signature schemes, §4.2.3 */
enum {
    TLS_SIG_RSA_PKCS1_SHA256 = 0x0401,
    TLS_SIG_RSA_PKCS1_SHA384 = 0x0501,
    TLS_SIG_RSA_PKCS1_SHA512 = 0x0601,
    TLS_SIG_ECDSA_P256_SHA256 = 0x0403,
    TLS_SIG_ECDSA_P384_SHA384 = 0x0503,
    TLS_SIG_ECDSA_P521_SHA512 = 0x0603,
    TLS_SIG_RSA_PSS_RSAE_SHA256 = 0x0804,
    TLS_SIG_RSA_PSS_RSAE_SHA384 = 0x0805,
    TLS_SIG_RSA_PSS_RSAE_SHA512 = 0x0806,
    TLS_SIG_ED25519 = 0x0807,
    TLS_SIG_RSA_PSS_PSS_SHA256 = 0x0809,   /* keys that are id-RSASSA-PSS (RFC 8446 §4.2.3) */
    TLS_SIG_RSA_PSS_PSS_SHA384 = 0x080a,
    TLS_SIG_RSA_PSS_PSS_SHA512 = 0x080b,
};

/* ---- cursors (cursor.c): the only way wire bytes are read or written ---- */
/* The reader: cursor.h (shared with the services' codecs). */

/* Handshake message framing (RFC 8446 §4): type, uint24 length, body. begin writes
 * the type and opens the length; end closes it. */
#define TLS_HS_HEADER 4
MUST_USE int tls_msg_begin(pqify_tls_buf *msg, uint8_t type, size_t *mark);
MUST_USE int tls_msg_end(pqify_tls_buf *msg, size_t mark);
/* 1 with the type and body length when p[0..n) holds a whole header, else 0. */
int tls_msg_header(const uint8_t *p, size_t n, uint8_t *type, size_t *body_len);

/* A set of 16-bit code points (extension types, groups): duplicate checks over
 * lists of any length in one pass, without a cap on how many entries a peer sends. */
#define TLS_MAX_KEY_SCHEMES 4   /* schemes one private key can make */

typedef struct tls_u16_set {
    uint64_t bits[65536 / 64];
} tls_u16_set;
void tls_u16_set_clear(tls_u16_set *s);
/* 1 if v was new (now added), 0 if it was already there. */
int tls_u16_set_add(tls_u16_set *s, uint16_t v);
int tls_u16_set_has(const tls_u16_set *s, uint16_t v);

/* Writers append to a pqify_tls_buf. */
MUST_USE int tls_buf_reserve(pqify_tls_buf *b, size_t extra);
MUST_USE int tls_write_u8(pqify_tls_buf *b, uint8_t v);
MUST_USE int tls_write_u16(pqify_tls_buf *b, uint16_t v);
MUST_USE int tls_write_u24(pqify_tls_buf *b, uint32_t v);
MUST_USE int tls_write_u32(pqify_tls_buf *b, uint32_t v);
MUST_USE int tls_write_u64(pqify_tls_buf *b, uint64_t v);
MUST_USE int tls_write_bytes(pqify_tls_buf *b, const void *p, size_t n);
/* Reserve a prefix_bytes length and remember where; close fills it in and fails
 * with INTERNAL if the block outgrew the prefix. */
MUST_USE int tls_write_block_open(pqify_tls_buf *b, size_t prefix_bytes, size_t *mark);
MUST_USE int tls_write_block_close(pqify_tls_buf *b, size_t prefix_bytes, size_t mark);

/* ---- constant time: the one helper set of src/kem/ct.h (value barrier included) ---- */
/* 1 if equal (or all zero) else 0; every byte is read and the data never branches.
 * The 0/1 answer itself is public (a Finished or binder verifies or not). */
static inline int tls_ct_equal(const uint8_t *a, const uint8_t *b, size_t n)
{
    return 1 & ~pqify_ct_compare(a, b, n);
}
static inline int tls_ct_is_zero(const uint8_t *a, size_t n)
{
    return 1 & pqify_ct_is_zero(a, n);
}
/* pqify_ct_zeroize (a wipe the compiler keeps), tolerating NULL and 0 */
static inline void tls_zeroize(void *p, size_t n)
{
    if (p != NULL && n != 0)
        pqify_ct_zeroize(p, n);
}

/* ---- algorithms fetched once per process (crypto.c) ---- */

/* A suite's hash, known by its address (tls_sha256(), tls_sha384()). */
typedef struct tls_hash {
    size_t len;
} tls_hash;

/* A running SHA-256 or SHA-384, held by value: copying one is a struct copy. */
typedef struct tls_hash_ctx {
    const tls_hash *hash;
    union {
        SHA256_CTX sha256;
        SHA512_CTX sha384;
    } u;
} tls_hash_ctx;

typedef struct tls_suite {
    uint16_t id;
    const char *name;
    const EVP_CIPHER *cipher;
    size_t key_len;
    const tls_hash *hash;
} tls_suite;

/* Fetch everything; idempotent and thread-safe. INTERNAL if libcrypto lacks one. */
MUST_USE int tls_crypto_init(void);
const tls_hash *tls_sha256(void);
const tls_hash *tls_sha384(void);
const tls_suite *tls_suite_by_id(uint16_t id);

/* libcrypto's SHA-2 block functions on caller-owned state: nothing to allocate or
 * fail, so no error returns. */
void tls_hash_init(tls_hash_ctx *c, const tls_hash *h);
void tls_hash_update(tls_hash_ctx *c, const void *p, size_t n);
void tls_hash_final(tls_hash_ctx *c, uint8_t *out);   /* h->len bytes; c is wiped */
void tls_hash_oneshot(const tls_hash *h, const uint8_t *in, size_t len, uint8_t *out);
void tls_hmac_oneshot(const tls_hash *h, const uint8_t *key, size_t key_len, const uint8_t *in,
                      size_t len, uint8_t *out);

/* ---- key schedule (key_schedule.c), RFC 8446 §7.1 ---- */

MUST_USE int tls_hkdf_extract(const tls_hash *h, const uint8_t *salt, size_t salt_len,
                              const uint8_t *ikm, size_t ikm_len, uint8_t *prk);
MUST_USE int tls_hkdf_expand_label(const tls_hash *h, const uint8_t *secret, const char *label,
                                   const uint8_t *context, size_t context_len, uint8_t *out,
                                   size_t out_len);
MUST_USE int tls_derive_secret(const tls_hash *h, const uint8_t *secret, const char *label,
                               const uint8_t *transcript_hash, uint8_t *out);

/* The running secret of §7.1: early -> handshake -> master. */
typedef struct tls_key_schedule {
    const tls_hash *hash;
    uint8_t secret[TLS_MAX_HASH];
} tls_key_schedule;

MUST_USE int tls_ks_early(tls_key_schedule *ks, const tls_hash *h);
/* §7.1: Early Secret = HKDF-Extract(0, PSK) */
MUST_USE int tls_ks_early_psk(tls_key_schedule *ks, const tls_hash *h, const uint8_t *psk,
                              size_t psk_len);
MUST_USE int tls_ks_handshake(tls_key_schedule *ks, const uint8_t *shared, size_t shared_len);
MUST_USE int tls_ks_master(tls_key_schedule *ks);
void tls_ks_wipe(tls_key_schedule *ks);
/* finished_key = Expand-Label(base, "finished", "", Hash.length); verify = HMAC(fk, th) */
MUST_USE int tls_finished_mac(const tls_hash *h, const uint8_t *base_secret,
                              const uint8_t *transcript_hash, uint8_t *verify_data);
/* §7.2 application_traffic_secret_N+1 */
MUST_USE int tls_next_traffic_secret(const tls_hash *h, uint8_t *secret);

/* ---- transcript (transcript.c) ---- */

/* Before the suite is known both hashes run; afterwards only the chosen one. */
typedef struct tls_transcript {
    tls_hash_ctx sha256, sha384;
    const tls_hash *chosen;   /* NULL while both run */
} tls_transcript;

MUST_USE int tls_transcript_init(tls_transcript *t);
void tls_transcript_free(tls_transcript *t);
MUST_USE int tls_transcript_update(tls_transcript *t, const uint8_t *p, size_t n);
MUST_USE int tls_transcript_choose(tls_transcript *t, const tls_hash *h);
MUST_USE int tls_transcript_hash(const tls_transcript *t, uint8_t *out);
/* Hash(transcript so far || extra) under h (chosen or still running), leaving t as is:
 * the PSK binder's partial ClientHello (§4.2.11.2). */
MUST_USE int tls_transcript_hash_with(const tls_transcript *t, const tls_hash *h,
                                      const uint8_t *extra, size_t n, uint8_t *out);
/* §4.4.1: after a HelloRetryRequest, ClientHello1 is replaced by message_hash. */
MUST_USE int tls_transcript_hrr_restart(tls_transcript *t);

/* ---- record protection (record.c), RFC 8446 §5.2-5.3 ---- */

typedef struct tls_traffic {
    const tls_suite *suite;
    EVP_CIPHER_CTX *ctx;
    uint8_t secret[TLS_MAX_HASH];
    uint8_t iv[TLS_IV_LEN];
    uint64_t seq;
    int active;
} tls_traffic;

MUST_USE int tls_traffic_set(tls_traffic *t, const tls_suite *suite, const uint8_t *secret,
                             int encrypt);
/* Replace the secret with its §7.2 successor and rekey. */
MUST_USE int tls_traffic_update(tls_traffic *t, int encrypt);
void tls_traffic_wipe(tls_traffic *t);
/* Append one protected record (TLSCiphertext) carrying type + data (<= 2^14). */
MUST_USE int tls_record_seal(tls_traffic *t, uint8_t type, const uint8_t *data, size_t len,
                             pqify_tls_buf *out);
/* Open a whole record in place (header + body, record_len bytes). On success the
 * plaintext is at record + 5, *type and *len describe it. */
MUST_USE int tls_record_open(tls_traffic *t, uint8_t *record, size_t record_len, uint8_t *type,
                             size_t *len);
/* Append plaintext records (initial handshake / alerts before keys). */
MUST_USE int tls_record_plain(uint8_t type, const uint8_t *data, size_t len, pqify_tls_buf *out);

/* ---- groups (group.c, group_ecdh.c, group_kem.c) ---- */

#define TLS_MAX_CLIENT_SHARE (97 + PQIFY_MLKEM1024_EK_BYTES)
#define TLS_MAX_SERVER_SHARE (97 + PQIFY_MLKEM1024_CT_BYTES)
#define TLS_MAX_GROUP_SECRET (48 + 32)

/* What a client keeps between its share and the server's answer. */
typedef struct tls_group_state {
    EVP_PKEY *ecdh;
    uint8_t dk[PQIFY_MLKEM1024_DK_BYTES];
    size_t dk_len;
} tls_group_state;

/* One half of a key exchange: ECDH on one curve, or one KEM. */
typedef struct tls_kx_part {
    const char *name;
    size_t client_share_len, server_share_len, secret_len;
    const char *curve;       /* "X25519", "P-256", "P-384" or NULL */
    const pqify_kem *kem;    /* or NULL */
    MUST_USE int (*client_share)(const struct tls_kx_part *p, tls_group_state *st, uint8_t *share);
    MUST_USE int (*server_exchange)(const struct tls_kx_part *p, const uint8_t *client_share,
                                    uint8_t *server_share, uint8_t *secret);
    MUST_USE int (*client_finish)(const struct tls_kx_part *p, tls_group_state *st,
                                  const uint8_t *server_share, uint8_t *secret);
} tls_kx_part;

extern const tls_kx_part tls_part_x25519, tls_part_p256, tls_part_p384;
extern const tls_kx_part tls_part_mlkem512, tls_part_mlkem768, tls_part_mlkem1024;
extern const tls_kx_part tls_part_kyber512, tls_part_kyber768;

/* A NamedGroup: one part, or a hybrid of two parts in wire order (first ‖ second). */
typedef struct tls_group {
    uint16_t id;
    const char *name;
    int is_pq, is_legacy;
    const tls_kx_part *first, *second;   /* second NULL for a single part */
    MUST_USE int (*client_share)(const struct tls_group *g, tls_group_state *st, uint8_t *share,
                                 size_t *share_len);
    MUST_USE int (*server_exchange)(const struct tls_group *g, const uint8_t *client_share,
                                    size_t client_share_len, uint8_t *server_share,
                                    size_t *server_share_len, uint8_t *secret, size_t *secret_len);
    MUST_USE int (*client_finish)(const struct tls_group *g, tls_group_state *st,
                                  const uint8_t *server_share, size_t server_share_len,
                                  uint8_t *secret, size_t *secret_len);
} tls_group;

const tls_group *tls_group_by_id(uint16_t id);
size_t tls_group_client_share_len(const tls_group *g);
size_t tls_group_server_share_len(const tls_group *g);
void tls_group_state_wipe(tls_group_state *st);

/* ---- errors (errors.c) ---- */
const char *tls_alert_name(int alert);

/* ---- configuration (config.c) ---- */

#define TLS_MAX_GROUPS 16
#define TLS_MAX_CERTS 16   /* own chain; a peer's is bounded by TLS_MAX_HS_MSG only */

/*
 * One server identity: a chain and what signs for it (a local key or a signer).
 * Identity 0 is what the one-identity setters fill and the default for SNI
 * (tls.h "identities"); names are the leaf's subjectAltName dNSName entries that
 * can match (lowercase ASCII, "*.rest" wildcards), read once when the chain is set.
 */
typedef struct tls_identity {
    /* own chain, DER, leaf first */
    uint8_t *cert_der[TLS_MAX_CERTS];
    size_t cert_der_len[TLS_MAX_CERTS];
    size_t n_certs;
    X509 *leaf;
    EVP_PKEY *key;
    /* ECDSA keys: EVP_PKEY_sign_init done once; each handshake signs on a dup
     * (tls_sign_with_key). NULL for other key types. */
    EVP_PKEY_CTX *ecdsa_sign;
    pqify_tls_signer signer;
    int have_signer;
    uint16_t key_schemes[TLS_MAX_KEY_SCHEMES];   /* 0-terminated when shorter */
    char *names;          /* n_names NUL-terminated names, back to back (malloc) */
    size_t n_names;
} tls_identity;

#define TLS_MAX_ALL_SCHEMES 64   /* distinct schemes over every identity kept (config.c) */

struct pqify_tls_config {
    char err_detail[384];    /* words for the last PQIFY_TLS_ERR_CONFIG, or "" */
    /* identities: ids[0] always exists (it may be empty on a client) */
    tls_identity *ids;
    size_t n_ids, cap_ids;
    /* every scheme some identity can make: what a peer's list is filtered by */
    uint16_t all_schemes[TLS_MAX_ALL_SCHEMES];
    size_t n_all_schemes;

    X509_STORE *store;
    int have_ca;
    int require_client_cert;
    int verify_peer;

    pqify_pq_mode pq;
    uint16_t override_groups[TLS_MAX_GROUPS];
    size_t n_override_groups;

    uint8_t alpn[256];   /* wire form: len-prefixed names */
    size_t alpn_len;
    char server_name[256];
    uint16_t ciphers[3];
    size_t n_ciphers;

    /* resumption (tls.h "resumption") */
    unsigned tickets;                 /* NewSessionTickets per handshake (server) */
    uint32_t ticket_lifetime_s, ticket_rotation_s;
    uint8_t ticket_secret[32];        /* ticket keys derive from it, per rotation epoch */
    uint64_t (*clock)(void *ctx);
    void *clock_ctx;
    struct tls_session_cache *cache;  /* client; NULL when off */
};

/* Wall-clock ms from the config's clock. */
uint64_t tls_config_now_ms(const pqify_tls_config *cfg);
void tls_session_cache_free(struct tls_session_cache *cache);

/* The group list in force for this config (override or defaults, filtered by pq). */
size_t tls_config_groups(const pqify_tls_config *cfg, uint16_t *ids, size_t max);
/* The groups a client sends key shares for (1 or 2). */
size_t tls_config_share_groups(const pqify_tls_config *cfg, uint16_t *ids, size_t max);

/* Read the leaf's subjectAltName dNSName entries that can match into id->names. */
MUST_USE int tls_identity_read_names(tls_identity *id);
/* A usable identity: a chain and a key or a signer. */
int tls_identity_ready(const tls_identity *id);
/* Server: the identity for a ClientHello's server_name (sni may be NULL) among those
 * that can sign one of peer_schemes (tls.h "identities"). *by_name is 1 when the
 * name chose it (an exact or wildcard SAN match), 0 for the default. */
MUST_USE int tls_choose_identity(const pqify_tls_config *cfg, const uint8_t *sni, size_t sni_len,
                                 const uint16_t *peer_schemes, size_t n_peer_schemes,
                                 size_t *index, int *by_name);
/* An identity's schemes, in preference order (0 entries are skipped by callers). */
void tls_identity_schemes(const tls_identity *id, const uint16_t **mine, size_t *n_mine);
/* 1 if the lowercase name (no wildcard) matches the SAN entry (exact or "*.rest"). */
int tls_name_matches(const char *name, const char *san);

/* ---- signatures (signature.c) ---- */
size_t tls_schemes_for_key(EVP_PKEY *key, uint16_t *out, size_t max);
/* Words for why tls_schemes_for_key found no scheme for this key. */
void tls_key_unusable_reason(EVP_PKEY *key, char *why, size_t cap);
/* For an ECDSA key, a signing context to dup per signature; NULL otherwise. */
EVP_PKEY_CTX *tls_ecdsa_sign_template(EVP_PKEY *key);
/* scheme is one of tls_schemes_for_key(key): the caller picks it from that list. */
MUST_USE int tls_sign_with_key(EVP_PKEY *key, EVP_PKEY_CTX *ecdsa_sign, uint16_t scheme,
                               const uint8_t *tbs, size_t tbs_len, uint8_t *sig, size_t cap,
                               size_t *sig_len);
MUST_USE int tls_verify_signature(EVP_PKEY *key, uint16_t scheme, const uint8_t *tbs,
                                  size_t tbs_len, const uint8_t *sig, size_t sig_len);
/* Schemes we offer in signature_algorithms, and the extra ones for _cert. */
extern const uint16_t tls_offered_schemes[];
extern const size_t tls_n_offered_schemes;
extern const uint16_t tls_offered_cert_schemes[];
extern const size_t tls_n_offered_cert_schemes;

/* ---- certificate chains (x509.c) ---- */
/* Verify chain (leaf first) against cfg's store; name may be NULL/"" (no name check).
 * peer_is_server selects the purpose (serverAuth / clientAuth). */
/* 1 if name is an IPv4 or IPv6 literal (RFC 6066 §3: never sent as SNI). */
int tls_is_ip_literal(const char *name);
MUST_USE int tls_x509_verify(const pqify_tls_config *cfg, STACK_OF(X509) *chain,
                             const char *name, int peer_is_server);

#endif
