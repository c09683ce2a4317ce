/*
 * The negative corpus (issue 5): malformed and hostile handshakes, each with the
 * exact error the engine must return and the exact alert it must send. One table,
 * two drivers:
 *   - tests/tls/test_negative_corpus.c feeds every case as raw bytes to an
 *     in-memory server (and the client-role cases to a client) and checks the error
 *     code and the alert bytes;
 *   - tests/tls/negative_tcp.c sends every server-role case over loopback TCP to
 *     `pqify serve` and checks the alert that comes back, then that the server still
 *     serves a good client (tests/interop/hostile_serve.sh).
 *
 * Two kinds of server-role case:
 *   raw     the bytes are fixed before the connection (ClientHellos, framing);
 *           the alert is in clear;
 *   forged  a real pqify client does the handshake up to the server's flight, then
 *           records sealed with the client's handshake (or application) key carry
 *           the hostile part; the alert comes back encrypted and the client decrypts it.
 * Expected errors and alerts come from RFC 8446 and DESIGN.md "Groups", not from
 * running the engine.
 */
#ifndef PQIFY_NEGATIVE_CORPUS_H
#define PQIFY_NEGATIVE_CORPUS_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "conn.h"

/* ---- the servers a case runs against (hostile_serve.sh starts the same set) ---- */
enum nc_server {
    NC_SRV_DEFAULT,    /* pqify serve, defaults (pq=preferred) */
    NC_SRV_ALL,        /* --groups with every group pqify knows, legacy ones included */
    NC_SRV_REQUIRED,   /* --pq required */
    NC_SRV_OFF,        /* --pq off */
    NC_SRV_MTLS,       /* --ca: client certificates required */
    NC_SRV_N
};
static const char *const nc_server_names[NC_SRV_N] = {"default", "all", "required", "off", "mtls"};
#define NC_ALL_GROUPS                                                                          \
    "X25519MLKEM768,SecP256r1MLKEM768,SecP384r1MLKEM1024,MLKEM512,MLKEM768,MLKEM1024,"         \
    "X25519Kyber768Draft00,X25519Kyber512Draft00,P256Kyber768Draft00,P256Kyber512,x25519,"    \
    "secp256r1,secp384r1"

typedef struct nc_bytes {
    uint8_t *p;
    size_t len, cap;
} nc_bytes;

/* A forged case gets the client's handshake write key (fresh, sequence 0). */
typedef struct nc_forge {
    tls_traffic *c_hs;   /* client_handshake_traffic_secret, encrypt */
    tls_traffic *c_ap;   /* client_application_traffic_secret_0, encrypt (NULL before) */
    const uint8_t *finished;   /* the client's real Finished message (header included) */
    size_t finished_len;
    const uint8_t *certificate, *certificate_verify;   /* real ones, mTLS client only */
    size_t certificate_len, certificate_verify_len;
    pqify_tls_buf *out;
} nc_forge;

typedef struct nc_case {
    const char *name;
    enum nc_server server;
    /* raw: bytes[0..len) are the whole client stream */
    uint8_t *bytes;
    size_t len;
    /* forged: called once the client holds the keys; 0 = the real handshake
     * completes first and the hostile records come after it */
    void (*forge)(const nc_forge *f, int arg);
    int arg;
    int before_finished;   /* forged: 1 = in place of the client's Finished */
    int sealed_alert;      /* raw: the server has keys by then, its alert is encrypted */
    int err;               /* the engine's error; 0 = the handshake must succeed */
    int alert;             /* the alert sent; -1 none */
    /* forged: rewrite the extensions of the client's first ClientHello before it
     * goes out (the client's transcript is rebuilt over the new bytes) */
    void (*edit_ch)(nc_bytes *exts, const uint8_t *orig, size_t len);
    /* forged: the client offers x25519 first (a share for it alone), so the default
     * server asks for X25519MLKEM768 with a HelloRetryRequest; the first hello
     * offers early_data and an undecryptable 0-RTT record follows it */
    int hrr_early_data;
    uint16_t want_group;   /* forged, legal: the group the handshake must end with; 0 any */
} nc_case;

/* ---- small byte helpers ---- */

static inline void nc_die(const char *what)
{
    fprintf(stderr, "negative corpus: %s\n", what);
    abort();
}

static inline size_t nc_unhex(const char *hex, uint8_t *out, size_t cap)
{
    size_t n = strlen(hex) / 2;
    if (n > cap || strlen(hex) % 2 != 0)
        nc_die(hex);
    for (size_t i = 0; i < n; i++) {
        unsigned v;
        if (sscanf(hex + 2 * i, "%2x", &v) != 1)
            nc_die(hex);
        out[i] = (uint8_t)v;
    }
    return n;
}

static inline void nc_put(nc_bytes *b, const void *p, size_t n)
{
    if (n == 0)
        return;
    if (b->len + n > b->cap) {
        size_t cap = b->cap * 2 + n + 256;
        b->p = realloc(b->p, cap);
        if (b->p == NULL)
            nc_die("realloc");
        b->cap = cap;
    }
    memcpy(b->p + b->len, p, n);
    b->len += n;
}

static inline void nc_u8(nc_bytes *b, unsigned v)
{
    uint8_t x = (uint8_t)v;
    nc_put(b, &x, 1);
}

static inline void nc_u16(nc_bytes *b, unsigned v)
{
    nc_u8(b, v >> 8);
    nc_u8(b, v);
}

static inline void nc_u24(nc_bytes *b, size_t v)
{
    nc_u8(b, (unsigned)(v >> 16));
    nc_u8(b, (unsigned)(v >> 8));
    nc_u8(b, (unsigned)v);
}

static inline void nc_hex(nc_bytes *b, const char *hex)
{
    uint8_t tmp[8192];
    size_t n = nc_unhex(hex, tmp, sizeof tmp);
    nc_put(b, tmp, n);
}

/* plaintext records of one type carrying p[0..n), at most max bytes each */
static inline void nc_records(nc_bytes *b, uint8_t type, const uint8_t *p, size_t n, size_t max)
{
    size_t off = 0;
    do {
        size_t k = n - off < max ? n - off : max;
        nc_u8(b, type);
        nc_u16(b, 0x0303);
        nc_u16(b, (unsigned)k);
        nc_put(b, p + off, k);
        off += k;
    } while (off < n);
}

/* ---- ClientHello ---- */

/* Extensions as hex (RFC 8446 §4.2 wire form), joined by string concatenation. */
#define NC_SV13 "002b0003020304"
#define NC_SV12 "002b0003020303"
#define NC_SIGALGS "000d000400020403"
#define NC_GROUPS_X25519 "000a00040002001d"
#define NC_X25519_NINE "0900000000000000000000000000000000000000000000000000000000000000"
#define NC_KS_X25519 "003300260024001d0020" NC_X25519_NINE
/* P-256 generator, uncompressed: a valid public value */
#define NC_P256_G                                                                              \
    "046b17d1f2e12c4247f8bce6e563a440f277037d812deb33a0f4a13945d898c296"                       \
    "4fe342e2fe1a7f9b8ee7eb4a7c0f9e162bce33576b315ececbb6406837bf51f5"
#define NC_P384_G                                                                              \
    "04aa87ca22be8b05378eb1c71ef320ad746e1d3b628ba79b9859f741e082542a385502f25dbf55296c3a545e" \
    "3872760ab73617de4a96262c6f5d9e98bf9292dc29f8f41dbd289a147ce9da3113b5f0b8c00a60b1ce1d7e81" \
    "9d7a431d7c90ea0e5f"

/* body = legacy_version, random, session id, suites, compression, extensions */
static inline void nc_client_hello_body(nc_bytes *b, const char *suites_hex, const char *comp_hex,
                                        const uint8_t *exts, size_t exts_len)
{
    uint8_t random[32];
    memset(random, 0xab, sizeof random);
    nc_u16(b, 0x0303);
    nc_put(b, random, 32);
    nc_u8(b, 0);
    nc_u16(b, (unsigned)strlen(suites_hex) / 2);
    nc_hex(b, suites_hex);
    nc_hex(b, comp_hex);
    nc_u16(b, (unsigned)exts_len);
    nc_put(b, exts, exts_len);
}

/* handshake(type, body) into msg */
static inline void nc_message(nc_bytes *msg, uint8_t type, const uint8_t *body, size_t len)
{
    nc_u8(msg, type);
    nc_u24(msg, len);
    nc_put(msg, body, len);
}

/* record(handshake(ClientHello)) with the given extensions */
static inline void nc_client_hello(nc_bytes *out, const char *suites_hex, const char *comp_hex,
                                   const uint8_t *exts, size_t exts_len, size_t max_record)
{
    nc_bytes body = {0}, msg = {0};
    nc_client_hello_body(&body, suites_hex, comp_hex, exts, exts_len);
    nc_message(&msg, TLS_HS_CLIENT_HELLO, body.p, body.len);
    nc_records(out, TLS_CT_HANDSHAKE, msg.p, msg.len, max_record);
    free(body.p);
    free(msg.p);
}

static inline void nc_client_hello_hex(nc_bytes *out, const char *exts_hex)
{
    nc_bytes e = {0};
    nc_hex(&e, exts_hex);
    nc_client_hello(out, "1301", "0100", e.p, e.len, TLS_MAX_PLAINTEXT);
    free(e.p);
}

/* extensions: supported_versions, signature_algorithms, supported_groups = {group}
 * (plus extra_group if nonzero), key_share = {group: share} */
static inline void nc_exts_one_share(nc_bytes *e, uint16_t group, uint16_t extra_group,
                                     const uint8_t *share, size_t share_len)
{
    nc_hex(e, NC_SV13 NC_SIGALGS);
    nc_u16(e, TLS_EXT_SUPPORTED_GROUPS);
    nc_u16(e, extra_group ? 6 : 4);
    nc_u16(e, extra_group ? 4 : 2);
    nc_u16(e, group);
    if (extra_group)
        nc_u16(e, extra_group);
    nc_u16(e, TLS_EXT_KEY_SHARE);
    nc_u16(e, (unsigned)(share_len + 6));
    nc_u16(e, (unsigned)(share_len + 4));
    nc_u16(e, group);
    nc_u16(e, (unsigned)share_len);
    nc_put(e, share, share_len);
}

/* ---- sealing records by hand (RFC 8446 §5.2-5.4), with full control ---- */

/* TLSInnerPlaintext = content || type || zeros[pad]; type 0 = omit the type byte */
static inline void nc_seal(tls_traffic *t, uint8_t inner_type, const uint8_t *content, size_t len,
                           size_t pad, int corrupt_tag, pqify_tls_buf *out)
{
    size_t inner = len + (inner_type != 0) + pad, body = inner + TLS_AEAD_TAG;
    uint8_t *buf = calloc(1, TLS_RECORD_HEADER + body);
    uint8_t nonce[TLS_IV_LEN];
    int n = 0;
    if (buf == NULL)
        nc_die("calloc");
    buf[0] = TLS_CT_APPDATA;
    buf[1] = buf[2] = 3;
    buf[3] = (uint8_t)(body >> 8);
    buf[4] = (uint8_t)body;
    if (len > 0)
        memcpy(buf + TLS_RECORD_HEADER, content, len);
    if (inner_type != 0)
        buf[TLS_RECORD_HEADER + len] = inner_type;
    memcpy(nonce, t->iv, TLS_IV_LEN);
    for (int i = 0; i < 8; i++)
        nonce[TLS_IV_LEN - 1 - i] ^= (uint8_t)(t->seq >> (8 * i));
    uint8_t *p = buf + TLS_RECORD_HEADER;
    if (EVP_CipherInit_ex(t->ctx, NULL, NULL, NULL, nonce, 1) != 1 ||
        EVP_CipherUpdate(t->ctx, NULL, &n, buf, TLS_RECORD_HEADER) != 1 ||
        EVP_CipherUpdate(t->ctx, p, &n, p, (int)inner) != 1 ||
        EVP_CipherFinal_ex(t->ctx, p + inner, &n) != 1 ||
        EVP_CIPHER_CTX_ctrl(t->ctx, EVP_CTRL_AEAD_GET_TAG, TLS_AEAD_TAG, p + inner) != 1)
        nc_die("seal");
    if (corrupt_tag)
        p[inner + TLS_AEAD_TAG - 1] ^= 0x80;
    t->seq++;
    if (tls_buf_reserve(out, TLS_RECORD_HEADER + body) != 0 ||
        tls_write_bytes(out, buf, TLS_RECORD_HEADER + body) != 0)
        nc_die("buf");
    free(buf);
}

static inline void nc_seal_hs(tls_traffic *t, uint8_t type, const char *body_hex, pqify_tls_buf *out)
{
    nc_bytes body = {0}, msg = {0};
    if (body_hex != NULL)
        nc_hex(&body, body_hex);
    nc_message(&msg, type, body.p, body.len);
    nc_seal(t, TLS_CT_HANDSHAKE, msg.p, msg.len, 0, 0, out);
    free(body.p);
    free(msg.p);
}

/* ---- forged cases (arg picks a variant) ---- */

/* in place of the client's Finished: a handshake message of type arg */
static inline void nc_forge_unexpected(const nc_forge *f, int arg)
{
    const char *body = arg == TLS_HS_KEY_UPDATE ? "00" : "0000";
    nc_seal_hs(f->c_hs, (uint8_t)arg, body, f->out);
}

/* the Finished with one bit flipped in verify_data */
static inline void nc_forge_bad_finished(const nc_forge *f, int arg)
{
    (void)arg;
    uint8_t m[4 + TLS_MAX_HASH];
    memcpy(m, f->finished, f->finished_len);
    m[f->finished_len - 1] ^= 1;
    nc_seal(f->c_hs, TLS_CT_HANDSHAKE, m, f->finished_len, 0, 0, f->out);
}

/* the Finished whose length field says one byte more / less */
static inline void nc_forge_finished_length(const nc_forge *f, int arg)
{
    nc_bytes m = {0};
    nc_put(&m, f->finished, f->finished_len);
    if (arg > 0)
        nc_u8(&m, 0);
    else
        m.len--;
    size_t body = m.len - 4;
    m.p[1] = (uint8_t)(body >> 16);
    m.p[2] = (uint8_t)(body >> 8);
    m.p[3] = (uint8_t)body;
    nc_seal(f->c_hs, TLS_CT_HANDSHAKE, m.p, m.len, 0, 0, f->out);
    free(m.p);
}

enum {
    NC_REC_TAG,          /* tag corrupted */
    NC_REC_SEQ,          /* sealed with sequence number 1 (a record went missing) */
    NC_REC_SHORT,        /* a protected record shorter than the tag */
    NC_REC_NO_TYPE,      /* TLSInnerPlaintext all zeros: no content type */
    NC_REC_PAD_OVER,     /* padding takes the inner plaintext over 2^14 + 1 */
    NC_REC_PAD_MAX,      /* the most padding allowed: legal, the Finished follows */
    NC_REC_BIG,          /* a protected record over 2^14 + 256 */
    NC_REC_APPDATA,      /* application data under the handshake key */
    NC_REC_CCS,          /* a protected change_cipher_spec */
    NC_REC_ALERT_SHORT,  /* a protected alert of one byte */
    NC_REC_TYPE_99,      /* unknown inner content type */
    NC_REC_HS_EMPTY,     /* a zero-length handshake fragment */
    NC_REC_SPLIT,        /* the Finished one byte per record: legal */
    NC_REC_INTERLEAVE,   /* the Finished split, with application data in between */
    NC_REC_PLAIN_HS,     /* the Finished in a plaintext record */
    NC_REC_TRAILING,     /* the Finished, then the first bytes of another message, same record */
    NC_REC_EARLY,        /* 0-RTT application data: sealed with a key the server never had */
};

static inline void nc_forge_record(const nc_forge *f, int arg)
{
    static uint8_t big[TLS_MAX_PLAINTEXT + 2];
    switch (arg) {
    case NC_REC_TAG:
        nc_seal(f->c_hs, TLS_CT_HANDSHAKE, f->finished, f->finished_len, 0, 1, f->out);
        break;
    case NC_REC_SEQ:
        f->c_hs->seq = 1;
        nc_seal(f->c_hs, TLS_CT_HANDSHAKE, f->finished, f->finished_len, 0, 0, f->out);
        break;
    case NC_REC_SHORT: {
        const uint8_t rec[5 + 15] = {23, 3, 3, 0, 15};
        if (tls_write_bytes(f->out, rec, sizeof rec) != 0)
            nc_die("buf");
        break;
    }
    case NC_REC_NO_TYPE:
        nc_seal(f->c_hs, 0, NULL, 0, 40, 0, f->out);
        break;
    case NC_REC_PAD_OVER:
        /* §5.4: the inner plaintext is at most 2^14 + 1 bytes (here 2^14 + 2) */
        nc_seal(f->c_hs, TLS_CT_HANDSHAKE, f->finished, f->finished_len,
                TLS_MAX_PLAINTEXT + 1 - f->finished_len, 0, f->out);
        break;
    case NC_REC_PAD_MAX:
        nc_seal(f->c_hs, TLS_CT_HANDSHAKE, f->finished, f->finished_len,
                TLS_MAX_PLAINTEXT - f->finished_len, 0, f->out);
        break;
    case NC_REC_BIG: {
        /* header announcing 2^14 + 257 bytes, then that many */
        pqify_tls_buf *o = f->out;
        size_t n = TLS_MAX_CIPHERTEXT + 1;
        const uint8_t h[5] = {23, 3, 3, (uint8_t)(n >> 8), (uint8_t)n};
        static uint8_t junk[TLS_MAX_CIPHERTEXT + 1];
        if (tls_write_bytes(o, h, 5) != 0 || tls_write_bytes(o, junk, n) != 0)
            nc_die("buf");
        break;
    }
    case NC_REC_APPDATA:
        nc_seal(f->c_hs, TLS_CT_APPDATA, (const uint8_t *)"early", 5, 0, 0, f->out);
        break;
    case NC_REC_CCS: {
        const uint8_t one = 1;
        nc_seal(f->c_hs, TLS_CT_CCS, &one, 1, 0, 0, f->out);
        break;
    }
    case NC_REC_ALERT_SHORT: {
        const uint8_t lvl = 2;
        nc_seal(f->c_hs, TLS_CT_ALERT, &lvl, 1, 0, 0, f->out);
        break;
    }
    case NC_REC_TYPE_99:
        nc_seal(f->c_hs, 99, f->finished, f->finished_len, 0, 0, f->out);
        break;
    case NC_REC_HS_EMPTY:
        nc_seal(f->c_hs, TLS_CT_HANDSHAKE, NULL, 0, 0, 0, f->out);
        break;
    case NC_REC_SPLIT:
        for (size_t i = 0; i < f->finished_len; i++)
            nc_seal(f->c_hs, TLS_CT_HANDSHAKE, f->finished + i, 1, 0, 0, f->out);
        break;
    case NC_REC_INTERLEAVE:
        nc_seal(f->c_hs, TLS_CT_HANDSHAKE, f->finished, 3, 0, 0, f->out);
        nc_seal(f->c_hs, TLS_CT_APPDATA, (const uint8_t *)"x", 1, 0, 0, f->out);
        nc_seal(f->c_hs, TLS_CT_HANDSHAKE, f->finished + 3, f->finished_len - 3, 0, 0, f->out);
        break;
    case NC_REC_PLAIN_HS: {
        nc_bytes b = {0};
        nc_records(&b, TLS_CT_HANDSHAKE, f->finished, f->finished_len, TLS_MAX_PLAINTEXT);
        if (tls_write_bytes(f->out, b.p, b.len) != 0)
            nc_die("buf");
        free(b.p);
        break;
    }
    case NC_REC_TRAILING: {
        /* §5.1: the key changes after Finished, so it must end its record */
        memcpy(big, f->finished, f->finished_len);
        big[f->finished_len] = TLS_HS_KEY_UPDATE;
        nc_seal(f->c_hs, TLS_CT_HANDSHAKE, big, f->finished_len + 1, 0, 0, f->out);
        break;
    }
    case NC_REC_EARLY: {
        /* §4.2.10: early data the server did not accept fails to decrypt */
        uint8_t rec[5 + 40] = {23, 3, 3, 0, 40};
        for (int i = 5; i < 45; i++)
            rec[i] = (uint8_t)(i * 37);
        if (tls_write_bytes(f->out, rec, sizeof rec) != 0)
            nc_die("buf");
        break;
    }
    default:
        nc_die("record variant");
    }
}

/* after the handshake, under the client's application key */
enum {
    NC_POST_CLIENT_HELLO,   /* renegotiation attempt */
    NC_POST_CERTIFICATE,    /* post-handshake authentication was never offered */
    NC_POST_FINISHED,
    NC_POST_BAD_KEY_UPDATE, /* request_update = 2 */
    NC_POST_TAG,            /* application data with a corrupted tag */
    NC_POST_PLAIN_APPDATA,  /* application data in clear */
    NC_POST_EOED,           /* end_of_early_data: no early data was accepted */
    NC_POST_KU_INTERLEAVE,  /* a KeyUpdate split over two records, application data between */
};

static inline void nc_forge_post(const nc_forge *f, int arg)
{
    tls_traffic *t = f->c_ap;
    switch (arg) {
    case NC_POST_CLIENT_HELLO:
        nc_seal_hs(t, TLS_HS_CLIENT_HELLO, "0303", f->out);
        break;
    case NC_POST_CERTIFICATE:
        nc_seal_hs(t, TLS_HS_CERTIFICATE, "00000000", f->out);
        break;
    case NC_POST_FINISHED:
        nc_seal(t, TLS_CT_HANDSHAKE, f->finished, f->finished_len, 0, 0, f->out);
        break;
    case NC_POST_BAD_KEY_UPDATE:
        nc_seal_hs(t, TLS_HS_KEY_UPDATE, "02", f->out);
        break;
    case NC_POST_TAG:
        nc_seal(t, TLS_CT_APPDATA, (const uint8_t *)"hello", 5, 0, 1, f->out);
        break;
    case NC_POST_PLAIN_APPDATA: {
        const uint8_t rec[] = {23, 3, 3, 0, 5, 'h', 'e', 'l', 'l', 'o'};
        if (tls_write_bytes(f->out, rec, sizeof rec) != 0)
            nc_die("buf");
        break;
    }
    case NC_POST_EOED:
        nc_seal_hs(t, TLS_HS_END_OF_EARLY_DATA, NULL, f->out);
        break;
    case NC_POST_KU_INTERLEAVE: {
        /* §5.1: the fragments of one handshake message must be adjacent records */
        static const uint8_t ku[5] = {TLS_HS_KEY_UPDATE, 0, 0, 1, 0};
        nc_seal(t, TLS_CT_HANDSHAKE, ku, 2, 0, 0, f->out);
        nc_seal(t, TLS_CT_APPDATA, (const uint8_t *)"x", 1, 0, 0, f->out);
        nc_seal(t, TLS_CT_HANDSHAKE, ku + 2, 3, 0, 0, f->out);
        break;
    }
    default:
        nc_die("post variant");
    }
}

/* mTLS server: the certificate messages in the wrong place */
enum {
    NC_MTLS_FINISHED_FIRST,   /* Finished where the Certificate must come */
    NC_MTLS_CV_FIRST,         /* CertificateVerify before any Certificate */
    NC_MTLS_CERT_TWICE,       /* Certificate, then Certificate again (want CertificateVerify) */
    NC_MTLS_CERT_FINISHED,    /* Certificate, then Finished (CertificateVerify skipped) */
    NC_MTLS_EMPTY_CERT,       /* an empty Certificate where one is required */
    NC_MTLS_BAD_CV,           /* CertificateVerify with a flipped signature bit */
    NC_MTLS_EMPTY_CV,         /* CertificateVerify with the client's scheme and an empty signature */
};

static inline void nc_forge_mtls(const nc_forge *f, int arg)
{
    tls_traffic *t = f->c_hs;
    switch (arg) {
    case NC_MTLS_FINISHED_FIRST:
        nc_seal(t, TLS_CT_HANDSHAKE, f->finished, f->finished_len, 0, 0, f->out);
        break;
    case NC_MTLS_CV_FIRST:
        nc_seal(t, TLS_CT_HANDSHAKE, f->certificate_verify, f->certificate_verify_len, 0, 0, f->out);
        break;
    case NC_MTLS_CERT_TWICE:
        nc_seal(t, TLS_CT_HANDSHAKE, f->certificate, f->certificate_len, 0, 0, f->out);
        nc_seal(t, TLS_CT_HANDSHAKE, f->certificate, f->certificate_len, 0, 0, f->out);
        break;
    case NC_MTLS_CERT_FINISHED:
        nc_seal(t, TLS_CT_HANDSHAKE, f->certificate, f->certificate_len, 0, 0, f->out);
        nc_seal(t, TLS_CT_HANDSHAKE, f->finished, f->finished_len, 0, 0, f->out);
        break;
    case NC_MTLS_EMPTY_CERT:
        nc_seal_hs(t, TLS_HS_CERTIFICATE, "00000000", f->out);
        break;
    case NC_MTLS_BAD_CV: {
        uint8_t *cv = malloc(f->certificate_verify_len);
        if (cv == NULL)
            nc_die("malloc");
        memcpy(cv, f->certificate_verify, f->certificate_verify_len);
        cv[f->certificate_verify_len - 1] ^= 1;
        nc_seal(t, TLS_CT_HANDSHAKE, f->certificate, f->certificate_len, 0, 0, f->out);
        nc_seal(t, TLS_CT_HANDSHAKE, cv, f->certificate_verify_len, 0, 0, f->out);
        free(cv);
        break;
    }
    case NC_MTLS_EMPTY_CV: {
        /* §4.4.3: signature<0..2^16-1>, so empty decodes and then fails to verify */
        uint8_t cv[8];
        memcpy(cv, f->certificate_verify, 6);
        cv[1] = cv[2] = 0;
        cv[3] = 4;
        cv[6] = cv[7] = 0;
        nc_seal(t, TLS_CT_HANDSHAKE, f->certificate, f->certificate_len, 0, 0, f->out);
        nc_seal(t, TLS_CT_HANDSHAKE, cv, 8, 0, 0, f->out);
        break;
    }
    default:
        nc_die("mtls variant");
    }
}


/* length of the first complete record in p[0..n), 0 if none yet */
static inline size_t nc_first_record(const uint8_t *p, size_t n)
{
    if (n < 5)
        return 0;
    size_t len = 5 + ((size_t)p[3] << 8 | p[4]);
    return n >= len ? len : 0;
}

/* ---- first-ClientHello rewrites (forged cases with edit_ch) ---- */

/* What a rewrite adds around the real client's extensions. Unknown code points are
 * chosen outside every registry range pqify knows (RFC 8446 §4.2, §4.2.3, §4.2.7). */
typedef struct nc_ch_edit {
    size_t unknown_exts;     /* empty extensions 0x4000 + i */
    int interleave;          /* spread them between the real ones instead of before */
    size_t unknown_shares;   /* key shares (and supported_groups entries) for 0x7a00 + i */
    size_t schemes;          /* signature_algorithms of this many, ecdsa_secp256r1_sha256 last */
    int early_data;          /* add an early_data extension (§4.2.10) */
} nc_ch_edit;

static inline void nc_ch_rebuild(nc_bytes *e, const uint8_t *orig, size_t len, const nc_ch_edit *ed)
{
    size_t n_real = 0, placed = 0;
    for (size_t off = 0; off + 4 <= len; n_real++)
        off += 4 + ((size_t)orig[off + 2] << 8 | orig[off + 3]);
    if (ed->early_data)
        nc_hex(e, "002a0000");
    size_t per_gap = ed->interleave && n_real > 0 ? ed->unknown_exts / n_real : 0;
    if (!ed->interleave)
        for (; placed < ed->unknown_exts; placed++)
            nc_u16(e, (unsigned)(0x4000 + placed)), nc_u16(e, 0);
    for (size_t off = 0; off + 4 <= len;) {
        unsigned type = (unsigned)orig[off] << 8 | orig[off + 1];
        size_t blen = (size_t)orig[off + 2] << 8 | orig[off + 3];
        const uint8_t *body = orig + off + 4;
        off += 4 + blen;
        for (size_t g = 0; g < per_gap && placed < ed->unknown_exts; g++, placed++)
            nc_u16(e, (unsigned)(0x4000 + placed)), nc_u16(e, 0);
        if (type == TLS_EXT_KEY_SHARE && ed->unknown_shares > 0) {
            size_t inner = blen - 2 + ed->unknown_shares * (4 + 32);
            nc_u16(e, type);
            nc_u16(e, (unsigned)(inner + 2));
            nc_u16(e, (unsigned)inner);
            for (size_t i = 0; i < ed->unknown_shares; i++) {
                uint8_t junk[32];
                memset(junk, (int)(i + 1), sizeof junk);
                nc_u16(e, (unsigned)(0x7a00 + i));
                nc_u16(e, 32);
                nc_put(e, junk, 32);
            }
            nc_put(e, body + 2, blen - 2);
        } else if (type == TLS_EXT_SUPPORTED_GROUPS && ed->unknown_shares > 0) {
            size_t inner = blen - 2 + 2 * ed->unknown_shares;
            nc_u16(e, type);
            nc_u16(e, (unsigned)(inner + 2));
            nc_u16(e, (unsigned)inner);
            for (size_t i = 0; i < ed->unknown_shares; i++)
                nc_u16(e, (unsigned)(0x7a00 + i));
            nc_put(e, body + 2, blen - 2);
        } else if (type == TLS_EXT_SIGNATURE_ALGORITHMS && ed->schemes > 0) {
            nc_u16(e, type);
            nc_u16(e, (unsigned)(2 * ed->schemes + 2));
            nc_u16(e, (unsigned)(2 * ed->schemes));
            for (size_t i = 0; i + 1 < ed->schemes; i++)
                nc_u16(e, (unsigned)(0x7000 + i));
            nc_u16(e, TLS_SIG_ECDSA_P256_SHA256);
        } else {
            nc_put(e, orig + off - 4 - blen, 4 + blen);
        }
    }
    for (; placed < ed->unknown_exts; placed++)
        nc_u16(e, (unsigned)(0x4000 + placed)), nc_u16(e, 0);
}

#define NC_CH_EDIT(fn, ...)                                                                     \
    static inline void fn(nc_bytes *e, const uint8_t *orig, size_t len)                         \
    {                                                                                           \
        const nc_ch_edit ed = {__VA_ARGS__};                                                    \
        nc_ch_rebuild(e, orig, len, &ed);                                                       \
    }
NC_CH_EDIT(nc_ch_65_exts, .unknown_exts = 65)
NC_CH_EDIT(nc_ch_300_exts_interleaved, .unknown_exts = 300, .interleave = 1)
NC_CH_EDIT(nc_ch_100_shares, .unknown_shares = 100)
NC_CH_EDIT(nc_ch_2000_schemes, .schemes = 2000)
NC_CH_EDIT(nc_ch_all_three, .unknown_exts = 300, .unknown_shares = 100, .schemes = 2000)
NC_CH_EDIT(nc_ch_early_data, .early_data = 1)

/*
 * Rewrite the client's first flight (its ClientHello, in clear) with k->edit_ch,
 * and rebuild the client's transcript over the new bytes, so the handshake still
 * completes when the server accepts the hello. Returns 0 or -1.
 */
static inline int nc_rewrite_first_hello(pqify_tls_conn *client, pqify_tls_buf *out,
                                         void (*edit)(nc_bytes *, const uint8_t *, size_t))
{
    nc_bytes msg = {0}, body = {0}, exts = {0}, rec = {0};
    int ret = -1;
    for (size_t off = 0, n; off < out->len; off += n) {
        n = nc_first_record(out->base + off, out->len - off);
        if (n == 0 || out->base[off] != TLS_CT_HANDSHAKE)
            goto done;
        nc_put(&msg, out->base + off + 5, n - 5);
    }
    if (msg.len < 4 + 2 + 32 + 1 || msg.p[0] != TLS_HS_CLIENT_HELLO)
        goto done;
    size_t at = 4 + 2 + 32;
    at += 1 + msg.p[at];                                         /* legacy_session_id */
    at += 2 + ((size_t)msg.p[at] << 8 | msg.p[at + 1]);          /* cipher_suites */
    at += 1 + msg.p[at];                                         /* compression */
    if (at + 2 > msg.len)
        goto done;
    size_t elen = (size_t)msg.p[at] << 8 | msg.p[at + 1];
    if (at + 2 + elen != msg.len)
        goto done;
    edit(&exts, msg.p + at + 2, elen);
    nc_put(&body, msg.p + 4, at - 4);
    nc_u16(&body, (unsigned)exts.len);
    nc_put(&body, exts.p, exts.len);
    msg.len = 0;
    nc_message(&msg, TLS_HS_CLIENT_HELLO, body.p, body.len);
    nc_records(&rec, TLS_CT_HANDSHAKE, msg.p, msg.len, TLS_MAX_PLAINTEXT);
    if (client->hs == NULL || tls_transcript_init(&client->hs->transcript) != 0 ||
        tls_transcript_update(&client->hs->transcript, msg.p, msg.len) != 0)
        goto done;
    out->len = 0;
    if (tls_write_bytes(out, rec.p, rec.len) != 0)
        goto done;
    ret = 0;
done:
    free(msg.p);
    free(body.p);
    free(exts.p);
    free(rec.p);
    return ret;
}

/* ---- the corpus ---- */

typedef struct nc_corpus {
    nc_case *cases;
    size_t n, cap;
} nc_corpus;

static inline nc_case *nc_add(nc_corpus *c, const char *name, enum nc_server server, int err, int alert)
{
    if (c->n == c->cap) {
        c->cap = c->cap * 2 + 64;
        c->cases = realloc(c->cases, c->cap * sizeof *c->cases);
        if (c->cases == NULL)
            nc_die("realloc");
    }
    nc_case *k = &c->cases[c->n++];
    memset(k, 0, sizeof *k);
    k->name = strdup(name);
    k->server = server;
    k->err = err;
    k->alert = alert;
    return k;
}

static inline void nc_add_raw(nc_corpus *c, const char *name, enum nc_server server, nc_bytes *b,
                              int err, int alert)
{
    nc_case *k = nc_add(c, name, server, err, alert);
    k->bytes = b->p;
    k->len = b->len;
    memset(b, 0, sizeof *b);
}

static inline void nc_add_hex_ch(nc_corpus *c, const char *name, enum nc_server server,
                                 const char *exts_hex, int err, int alert)
{
    nc_bytes b = {0};
    nc_client_hello_hex(&b, exts_hex);
    nc_add_raw(c, name, server, &b, err, alert);
}

static inline void nc_add_forged(nc_corpus *c, const char *name, enum nc_server server,
                                 void (*forge)(const nc_forge *, int), int arg, int before_finished,
                                 int err, int alert)
{
    nc_case *k = nc_add(c, name, server, err, alert);
    k->forge = forge;
    k->arg = arg;
    k->before_finished = before_finished;
}

/* the groups and their client share lengths (DESIGN.md "Groups") */
static const struct {
    uint16_t id;
    const char *name;
    size_t share_len;
    int ecdh_first;   /* 1: ECDH part first in the share, 0: KEM first; -1 pure */
    size_t ecdh_len;  /* 32 X25519, 65 P-256, 97 P-384, 0 none */
} nc_groups[] = {
    {0x11EC, "X25519MLKEM768", 1184 + 32, 0, 32},
    {0x11EB, "SecP256r1MLKEM768", 65 + 1184, 1, 65},
    {0x11ED, "SecP384r1MLKEM1024", 97 + 1568, 1, 97},
    {0x0200, "MLKEM512", 800, -1, 0},
    {0x0201, "MLKEM768", 1184, -1, 0},
    {0x0202, "MLKEM1024", 1568, -1, 0},
    {0x6399, "X25519Kyber768Draft00", 32 + 1184, 1, 32},
    {0xFE30, "X25519Kyber512Draft00", 32 + 800, 1, 32},
    {0xFE32, "P256Kyber768Draft00", 65 + 1184, 1, 65},
    {0x2F3A, "P256Kyber512", 65 + 800, 1, 65},
    {0x001D, "x25519", 32, 1, 32},
    {0x0017, "secp256r1", 65, 1, 65},
    {0x0018, "secp384r1", 97, 1, 97},
};
#define NC_N_GROUPS (sizeof nc_groups / sizeof nc_groups[0])

/* A valid client share for a group, made by the engine's own group code (the corpus
 * checks what the server does with broken ones, not how shares are made). */
static inline size_t nc_valid_share(size_t gi, uint8_t *share)
{
    const tls_group *g = tls_group_by_id(nc_groups[gi].id);
    tls_group_state st;
    size_t len = 0;
    memset(&st, 0, sizeof st);
    if (g == NULL || g->client_share(g, &st, share, &len) != 0 || len != nc_groups[gi].share_len)
        nc_die(nc_groups[gi].name);
    tls_group_state_wipe(&st);
    return len;
}

static inline void nc_add_share_case(nc_corpus *c, const char *what, size_t gi, const uint8_t *share,
                                     size_t len, uint16_t extra_group, int err, int alert)
{
    char name[160];
    nc_bytes e = {0}, b = {0};
    snprintf(name, sizeof name, "%s: %s", nc_groups[gi].name, what);
    nc_exts_one_share(&e, nc_groups[gi].id, extra_group, share, len);
    nc_client_hello(&b, "1301", "0100", e.p, e.len, TLS_MAX_PLAINTEXT);
    free(e.p);
    nc_add_raw(c, name, NC_SRV_ALL, &b, err, alert);
}

/* invalid points for a curve part of len 65 (P-256) or 97 (P-384) at p */
static inline void nc_bad_point(uint8_t *p, size_t len, int kind)
{
    const char *g = len == 65 ? NC_P256_G : NC_P384_G;
    nc_unhex(g, p, len);
    switch (kind) {
    case 0: p[len - 1] ^= 1; break;            /* off the curve */
    case 1: p[0] = 0x02; break;                /* compressed form marker */
    case 2: p[0] = 0x03; break;
    case 3: memset(p, 0, len); break;          /* the point at infinity (SEC1: 0x00) */
    case 4: memset(p + 1, 0xff, len - 1); break; /* coordinates >= p */
    case 5: p[0] = 0x06; break;                /* hybrid form, refused by TLS 1.3 */
    }
}
static const char *const nc_point_names[] = {"point off the curve", "compressed point (02)",
                                             "compressed point (03)", "point at infinity",
                                             "coordinates not below p", "hybrid point form (06)"};

/* X25519 u-coordinates whose shared secret is all zero (small order, RFC 7748 §6.1) */
static const char *const nc_x25519_small[] = {
    "0000000000000000000000000000000000000000000000000000000000000000",
    "0100000000000000000000000000000000000000000000000000000000000000",
    "e0eb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b800",
    "ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
};

/* Key shares: truncated, padded, oversized and empty for every group; broken points,
 * small-order X25519 and (if the vectors are there) ML-KEM keys failing the modulus
 * check, in every group that has the part. */
static inline void nc_corpus_key_shares(nc_corpus *c, const char *vectors_dir, size_t modulus_max)
{
    uint8_t share[4 * 1700];
    for (size_t gi = 0; gi < NC_N_GROUPS; gi++) {
        size_t len = nc_valid_share(gi, share);
        nc_add_share_case(c, "share one byte short", gi, share, len - 1, 0,
                          PQIFY_TLS_ERR_BAD_KEY_SHARE, TLS_ALERT_ILLEGAL_PARAMETER);
        share[len] = 0;
        nc_add_share_case(c, "share padded with one zero byte", gi, share, len + 1, 0,
                          PQIFY_TLS_ERR_BAD_KEY_SHARE, TLS_ALERT_ILLEGAL_PARAMETER);
        memset(share + len, 0x5a, len);
        nc_add_share_case(c, "share of twice the length", gi, share, 2 * len, 0,
                          PQIFY_TLS_ERR_BAD_KEY_SHARE, TLS_ALERT_ILLEGAL_PARAMETER);
        /* §4.2.8: key_exchange<1..2^16-1> */
        nc_add_share_case(c, "empty share", gi, share, 0, 0, PQIFY_TLS_ERR_DECODE,
                          TLS_ALERT_DECODE_ERROR);
        size_t ecdh_at = nc_groups[gi].ecdh_first == 1 ? 0 : len - nc_groups[gi].ecdh_len;
        if (nc_groups[gi].ecdh_len == 65 || nc_groups[gi].ecdh_len == 97) {
            for (int kind = 0; kind < 6; kind++) {
                len = nc_valid_share(gi, share);
                nc_bad_point(share + ecdh_at, nc_groups[gi].ecdh_len, kind);
                nc_add_share_case(c, nc_point_names[kind], gi, share, len, 0,
                                  PQIFY_TLS_ERR_BAD_POINT, TLS_ALERT_ILLEGAL_PARAMETER);
            }
        }
        if (nc_groups[gi].ecdh_len == 32) {
            for (size_t k = 0; k < sizeof nc_x25519_small / sizeof nc_x25519_small[0]; k++) {
                char what[64];
                len = nc_valid_share(gi, share);
                nc_unhex(nc_x25519_small[k], share + ecdh_at, 32);
                snprintf(what, sizeof what, "X25519 small-order u #%zu (all-zero secret)", k);
                nc_add_share_case(c, what, gi, share, len, 0, PQIFY_TLS_ERR_X25519_ZERO,
                                  TLS_ALERT_ILLEGAL_PARAMETER);
            }
        }
    }
    if (vectors_dir == NULL)
        return;
    /* FIPS 203 §7.2 modulus check, mlkem-cctv/modulus: every line is an invalid ek */
    const struct { const char *set; size_t ek; } sets[] = {
        {"ML-KEM-512", 800}, {"ML-KEM-768", 1184}, {"ML-KEM-1024", 1568}};
    for (size_t s = 0; s < 3; s++) {
        char cmd[4096];
        snprintf(cmd, sizeof cmd, "gzip -dc '%s/mlkem-cctv/modulus/%s.txt.gz'", vectors_dir, sets[s].set);
        FILE *f = popen(cmd, "r");
        if (f == NULL)
            nc_die(cmd);
        static char line[2 * 1568 + 8];
        size_t lines = 0;
        while (fgets(line, sizeof line, f) != NULL) {
            line[strcspn(line, "\r\n")] = 0;
            if (strlen(line) != 2 * sets[s].ek)
                nc_die("modulus vector line length");
            lines++;
            if (lines > modulus_max && (lines % 97) != 0)
                continue;   /* a spread-out sample past the first modulus_max */
            for (size_t gi = 0; gi < NC_N_GROUPS; gi++) {
                const char *n = nc_groups[gi].name;
                size_t kem = nc_groups[gi].share_len - nc_groups[gi].ecdh_len;
                if (kem != sets[s].ek || strstr(n, "Kyber") != NULL)
                    continue;   /* round-3 Kyber has no modulus check */
                size_t len = nc_valid_share(gi, share);
                size_t kem_at = nc_groups[gi].ecdh_first == 1 ? nc_groups[gi].ecdh_len : 0;
                nc_unhex(line, share + kem_at, kem);
                char what[96];
                snprintf(what, sizeof what, "%s modulus-check key #%zu", sets[s].set, lines);
                nc_add_share_case(c, what, gi, share, len, 0, PQIFY_TLS_ERR_BAD_EK,
                                  TLS_ALERT_ILLEGAL_PARAMETER);
            }
        }
        if (pclose(f) != 0 || lines == 0)
            nc_die("modulus vectors unreadable");
    }
}


static inline void nc_forge_nothing(const nc_forge *f, int arg)
{
    (void)f;
    (void)arg;
}

static inline nc_case *nc_add_edited(nc_corpus *c, const char *name,
                                     void (*edit)(nc_bytes *, const uint8_t *, size_t), int err,
                                     int alert)
{
    nc_add_forged(c, name, NC_SRV_DEFAULT, nc_forge_nothing, 0, 0, err, alert);
    nc_case *k = &c->cases[c->n - 1];
    k->edit_ch = edit;
    k->want_group = 0x11EC;
    return k;
}

/*
 * Issue 16: the RFC 8446 deviations an external conformance suite found. Each name
 * starts with "devN " (tests/tls/test_negative_corpus.c runs each group as its own
 * test); the legal cases must complete and echo, the hostile ones end with the alert.
 */
static inline void nc_corpus_issue16(nc_corpus *c)
{
    nc_bytes b = {0}, e = {0};
    /* 1. §4.2.10, §5.2: no early data after a HelloRetryRequest */
    nc_add_forged(c, "dev1 §4.2.10: 0-RTT record before the second ClientHello is skipped (legal)",
                  NC_SRV_DEFAULT, nc_forge_record, NC_REC_SPLIT, 1, 0, -1);
    c->cases[c->n - 1].hrr_early_data = 1;
    c->cases[c->n - 1].edit_ch = nc_ch_early_data;
    c->cases[c->n - 1].want_group = 0x11EC;
    nc_add_forged(c, "dev1 §4.2.10: undecryptable record after HelloRetryRequest and second ClientHello",
                  NC_SRV_DEFAULT, nc_forge_record, NC_REC_EARLY, 1, PQIFY_TLS_ERR_BAD_RECORD_MAC,
                  TLS_ALERT_BAD_RECORD_MAC);
    c->cases[c->n - 1].hrr_early_data = 1;
    c->cases[c->n - 1].edit_ch = nc_ch_early_data;
    /* 2. §5.1: no other record between the fragments of a handshake message */
    nc_add_forged(c, "dev2 §5.1: application data between two fragments of a KeyUpdate", NC_SRV_DEFAULT,
                  nc_forge_post, NC_POST_KU_INTERLEAVE, 0, PQIFY_TLS_ERR_UNEXPECTED_MESSAGE,
                  TLS_ALERT_UNEXPECTED_MESSAGE);
    /* 3. §4.2: unknown extensions are ignored, however many */
    nc_add_edited(c, "dev3 §4.2: 65 unknown extensions before the known ones", nc_ch_65_exts, 0, -1);
    nc_add_edited(c, "dev3 §4.2: 300 unknown extensions between the known ones",
                  nc_ch_300_exts_interleaved, 0, -1);
    nc_hex(&e, NC_SV13 NC_SIGALGS NC_GROUPS_X25519);
    for (unsigned i = 0; i < 200; i++)
        nc_u16(&e, 0x4000 + i), nc_u16(&e, 0);
    nc_hex(&e, "40000000" NC_KS_X25519);
    nc_client_hello(&b, "1301", "0100", e.p, e.len, TLS_MAX_PLAINTEXT);
    nc_add_raw(c, "dev3 §4.2: unknown extension twice, 200 extensions apart", NC_SRV_DEFAULT, &b,
               PQIFY_TLS_ERR_DUPLICATE_EXTENSION, TLS_ALERT_ILLEGAL_PARAMETER);
    /* 4. §4.2.8: shares for unknown groups are ignored, however many */
    nc_add_edited(c, "dev4 §4.2.8: 100 key shares for unknown groups before the real ones",
                  nc_ch_100_shares, 0, -1);
    e.len = 0;
    nc_hex(&e, NC_SV13 NC_SIGALGS);
    nc_u16(&e, TLS_EXT_SUPPORTED_GROUPS);
    nc_u16(&e, 2 + 2 * 101);
    nc_u16(&e, 2 * 101);
    for (unsigned i = 0; i < 100; i++)
        nc_u16(&e, 0x7a00 + i);
    nc_u16(&e, 0x001d);
    nc_u16(&e, TLS_EXT_KEY_SHARE);
    nc_u16(&e, 2 + 102 * 5 + 4 + 32);
    nc_u16(&e, 102 * 5 + 4 + 32);
    for (unsigned i = 0; i < 101; i++)
        nc_u16(&e, 0x7a00 + (i % 100)), nc_u16(&e, 1), nc_u8(&e, i);
    nc_u16(&e, 0x7a63), nc_u16(&e, 1), nc_u8(&e, 0);
    nc_hex(&e, "001d0020" NC_X25519_NINE);
    nc_client_hello(&b, "1301", "0100", e.p, e.len, TLS_MAX_PLAINTEXT);
    nc_add_raw(c, "dev4 §4.2.8: a share for an unknown group twice, 100 shares apart", NC_SRV_DEFAULT,
               &b, PQIFY_TLS_ERR_ILLEGAL_PARAMETER, TLS_ALERT_ILLEGAL_PARAMETER);
    /* 5. §4.2.3: the whole signature_algorithms list is read */
    nc_add_edited(c, "dev5 §4.2.3: 2,000 signature schemes, the supported one last",
                  nc_ch_2000_schemes, 0, -1);
    /* 6. §4.4.3: an empty signature decodes, then fails to verify */
    nc_add_forged(c, "dev6 §4.4.3: mTLS: CertificateVerify with an empty signature", NC_SRV_MTLS,
                  nc_forge_mtls, NC_MTLS_EMPTY_CV, 1, PQIFY_TLS_ERR_BAD_SIGNATURE,
                  TLS_ALERT_DECRYPT_ERROR);
    /* all at once: still X25519MLKEM768 */
    nc_add_edited(c, "dev345 300 unknown extensions, 100 unknown-group shares, 2,000 schemes "
                     "(supported last)", nc_ch_all_three, 0, -1);
    free(e.p);
}

#define NC_UNEXPECTED(name, type)                                                              \
    do {                                                                                        \
        nc_bytes b_ = {0}, m_ = {0};                                                            \
        uint8_t z_[4] = {0};                                                                    \
        nc_message(&m_, (type), z_, (type) == TLS_HS_KEY_UPDATE ? 1 : 4);                       \
        nc_records(&b_, TLS_CT_HANDSHAKE, m_.p, m_.len, TLS_MAX_PLAINTEXT);                     \
        free(m_.p);                                                                             \
        nc_add_raw(c, name, NC_SRV_DEFAULT, &b_, PQIFY_TLS_ERR_UNEXPECTED_MESSAGE,              \
                   TLS_ALERT_UNEXPECTED_MESSAGE);                                               \
    } while (0)

/* A ClientHello that makes the default server ask again (it prefers the PQ group,
 * for which this hello has no share). */
#define NC_CH1_EXTS NC_SV13 NC_SIGALGS "000a0006000411ec001d" NC_KS_X25519

static inline void nc_corpus_build(nc_corpus *c, const char *vectors_dir, size_t modulus_max)
{
    const int DEC = PQIFY_TLS_ERR_DECODE, A_DEC = TLS_ALERT_DECODE_ERROR;
    const int ILL = PQIFY_TLS_ERR_ILLEGAL_PARAMETER, A_ILL = TLS_ALERT_ILLEGAL_PARAMETER;
    const int DUP = PQIFY_TLS_ERR_DUPLICATE_EXTENSION;
    const int UNX = PQIFY_TLS_ERR_UNEXPECTED_MESSAGE, A_UNX = TLS_ALERT_UNEXPECTED_MESSAGE;
    const int MAC = PQIFY_TLS_ERR_BAD_RECORD_MAC, A_MAC = TLS_ALERT_BAD_RECORD_MAC;
    const int OVF = PQIFY_TLS_ERR_RECORD_OVERFLOW, A_OVF = TLS_ALERT_RECORD_OVERFLOW;
    const int PV = PQIFY_TLS_ERR_PROTOCOL_VERSION, A_PV = TLS_ALERT_PROTOCOL_VERSION;
    nc_bytes b = {0}, m = {0};

    nc_corpus_key_shares(c, vectors_dir, modulus_max);
    nc_corpus_issue16(c);

    /* a KEM group in a hello that offers only TLS 1.2 (or older) */
    nc_add_hex_ch(c, "KEM group and share, supported_versions = {1.2}", NC_SRV_DEFAULT,
                  NC_SV12 NC_SIGALGS "000a0004000211ec" "0033000800060201000200ab", PV, A_PV);
    nc_add_hex_ch(c, "KEM group, no supported_versions", NC_SRV_DEFAULT,
                  NC_SIGALGS "000a000400020201", PV, A_PV);
    nc_add_hex_ch(c, "KEM group, supported_versions = {1.1, 1.2}", NC_SRV_DEFAULT,
                  "002b00050403020303" NC_SIGALGS "000a000400020200", PV, A_PV);
    nc_add_hex_ch(c, "KEM group, pq=required server, TLS 1.2 only", NC_SRV_REQUIRED,
                  NC_SV12 NC_SIGALGS "000a0004000211ec", PV, A_PV);
    nc_add_hex_ch(c, "supported_versions empty", NC_SRV_DEFAULT,
                  "002b000100" NC_SIGALGS NC_GROUPS_X25519 NC_KS_X25519, DEC, A_DEC);
    nc_add_hex_ch(c, "supported_versions odd length", NC_SRV_DEFAULT,
                  "002b0004030304ff" NC_SIGALGS NC_GROUPS_X25519 NC_KS_X25519, DEC, A_DEC);

    /* duplicates (§4.2: one extension of a type per block; §4.2.8: one share per group) */
    nc_add_hex_ch(c, "supported_groups twice", NC_SRV_DEFAULT,
                  NC_SV13 NC_SIGALGS NC_GROUPS_X25519 NC_GROUPS_X25519 NC_KS_X25519, DUP, A_ILL);
    nc_add_hex_ch(c, "key_share twice", NC_SRV_DEFAULT,
                  NC_SV13 NC_SIGALGS NC_GROUPS_X25519 NC_KS_X25519 NC_KS_X25519, DUP, A_ILL);
    nc_add_hex_ch(c, "signature_algorithms twice", NC_SRV_DEFAULT,
                  NC_SV13 NC_SIGALGS NC_SIGALGS NC_GROUPS_X25519 NC_KS_X25519, DUP, A_ILL);
    nc_add_hex_ch(c, "unknown extension twice", NC_SRV_DEFAULT,
                  NC_SV13 NC_SIGALGS "ff010000" NC_GROUPS_X25519 "ff010000" NC_KS_X25519, DUP, A_ILL);
    nc_add_hex_ch(c, "server_name twice", NC_SRV_DEFAULT,
                  NC_SV13 "0000000a000800000561612e7474" NC_SIGALGS NC_GROUPS_X25519
                  "0000000a000800000561612e7474" NC_KS_X25519, DUP, A_ILL);
    nc_add_hex_ch(c, "x25519 share twice", NC_SRV_DEFAULT,
                  NC_SV13 NC_SIGALGS NC_GROUPS_X25519
                  "0033004a0048001d0020" NC_X25519_NINE "001d0020" NC_X25519_NINE, ILL, A_ILL);
    {
        uint8_t share[1300];
        size_t len = nc_valid_share(0, share);
        nc_bytes e = {0};
        nc_hex(&e, NC_SV13 NC_SIGALGS "000a0004000211ec");
        nc_u16(&e, TLS_EXT_KEY_SHARE);
        nc_u16(&e, (unsigned)(2 * (len + 4) + 2));
        nc_u16(&e, (unsigned)(2 * (len + 4)));
        for (int i = 0; i < 2; i++) {
            nc_u16(&e, 0x11EC);
            nc_u16(&e, (unsigned)len);
            nc_put(&e, share, len);
        }
        nc_client_hello(&b, "1301", "0100", e.p, e.len, TLS_MAX_PLAINTEXT);
        free(e.p);
        nc_add_raw(c, "X25519MLKEM768 share twice", NC_SRV_DEFAULT, &b, ILL, A_ILL);
    }
    nc_add_hex_ch(c, "P-256 share twice", NC_SRV_DEFAULT,
                  NC_SV13 NC_SIGALGS "000a000400020017"
                  "0033008c008a00170041" NC_P256_G "00170041" NC_P256_G, ILL, A_ILL);

    /* §4.2.8: shares only for groups in supported_groups */
    nc_add_hex_ch(c, "x25519 share, supported_groups = {secp256r1}", NC_SRV_DEFAULT,
                  NC_SV13 NC_SIGALGS "000a000400020017" NC_KS_X25519, ILL, A_ILL);
    {
        uint8_t share[1300];
        size_t len = nc_valid_share(0, share);
        nc_bytes e = {0};
        nc_exts_one_share(&e, 0x11EC, 0, share, len);
        /* rewrite supported_groups {11ec} as {001d}: the share is now for a group not offered */
        for (size_t i = 0; i + 8 <= e.len; i++)
            if (memcmp(e.p + i, "\x00\x0a\x00\x04\x00\x02\x11\xec", 8) == 0) {
                e.p[i + 6] = 0x00;
                e.p[i + 7] = 0x1d;
                break;
            }
        nc_client_hello(&b, "1301", "0100", e.p, e.len, TLS_MAX_PLAINTEXT);
        free(e.p);
        nc_add_raw(c, "X25519MLKEM768 share, supported_groups = {x25519}", NC_SRV_DEFAULT, &b,
                   ILL, A_ILL);
    }
    nc_add_hex_ch(c, "P-256 share, no supported_groups entry at all", NC_SRV_DEFAULT,
                  NC_SV13 NC_SIGALGS "000a0002" "0000" "0033004700450017004104"
                  "6b17d1f2e12c4247f8bce6e563a440f277037d812deb33a0f4a13945d898c296"
                  "4fe342e2fe1a7f9b8ee7eb4a7c0f9e162bce33576b315ececbb6406837bf51f5", DEC, A_DEC);

    /* an unexpected message as the first message (server state WAIT_CH) */
    NC_UNEXPECTED("ServerHello first", TLS_HS_SERVER_HELLO);
    NC_UNEXPECTED("NewSessionTicket first", TLS_HS_NEW_SESSION_TICKET);
    NC_UNEXPECTED("EndOfEarlyData first", TLS_HS_END_OF_EARLY_DATA);
    NC_UNEXPECTED("EncryptedExtensions first", TLS_HS_ENCRYPTED_EXTENSIONS);
    NC_UNEXPECTED("Certificate first", TLS_HS_CERTIFICATE);
    NC_UNEXPECTED("CertificateRequest first", TLS_HS_CERTIFICATE_REQUEST);
    NC_UNEXPECTED("CertificateVerify first", TLS_HS_CERTIFICATE_VERIFY);
    NC_UNEXPECTED("Finished first", TLS_HS_FINISHED);
    NC_UNEXPECTED("KeyUpdate first", TLS_HS_KEY_UPDATE);
    NC_UNEXPECTED("message_hash first", TLS_HS_MESSAGE_HASH);
    NC_UNEXPECTED("unknown handshake type 99 first", 99);

    /* the second ClientHello (state WAIT_CH2): §4.1.2 it repeats the first */
    {
        static const char *const second[][2] = {
            {"second ClientHello changes its groups",
             NC_SV13 NC_SIGALGS "000a00040002001d" NC_KS_X25519},
            {"second ClientHello drops a group",
             NC_SV13 NC_SIGALGS "000a0004000211ec" NC_KS_X25519},
            {"second ClientHello changes signature_algorithms",
             NC_SV13 "000d000400020804" "000a0006000411ec001d" NC_KS_X25519},
            {"second ClientHello adds an extension",
             NC_SV13 NC_SIGALGS "000a0006000411ec001d" NC_KS_X25519 "ff010000"},
            {"second ClientHello without the cookie", NC_CH1_EXTS},
        };
        for (size_t i = 0; i < sizeof second / sizeof second[0]; i++) {
            nc_client_hello_hex(&b, NC_CH1_EXTS);
            nc_client_hello_hex(&b, second[i][1]);
            nc_add_raw(c, second[i][0], NC_SRV_DEFAULT, &b, PQIFY_TLS_ERR_SECOND_CLIENT_HELLO, A_ILL);
        }
        /* anything but a ClientHello after the HelloRetryRequest */
        nc_client_hello_hex(&b, NC_CH1_EXTS);
        nc_message(&m, TLS_HS_FINISHED, (const uint8_t *)"\0\0\0\0", 4);
        nc_records(&b, TLS_CT_HANDSHAKE, m.p, m.len, TLS_MAX_PLAINTEXT);
        m.len = 0;
        nc_add_raw(c, "Finished after the HelloRetryRequest", NC_SRV_DEFAULT, &b, UNX, A_UNX);
        nc_client_hello_hex(&b, NC_CH1_EXTS);
        nc_records(&b, TLS_CT_APPDATA, (const uint8_t *)"early", 5, TLS_MAX_PLAINTEXT);
        nc_add_raw(c, "application data after the HelloRetryRequest", NC_SRV_DEFAULT, &b, UNX, A_UNX);
    }

    /* framing */
    {
        const uint8_t big_hdr[5] = {22, 3, 3, 0x41, 0x01};   /* 2^14 + 257 */
        nc_put(&b, big_hdr, 5);
        nc_add_raw(c, "plaintext record header over 2^14 + 256", NC_SRV_DEFAULT, &b, OVF, A_OVF);
        const uint8_t max_hdr[5] = {22, 3, 3, 0xff, 0xff};
        nc_put(&b, max_hdr, 5);
        nc_add_raw(c, "plaintext record header of 65535", NC_SRV_DEFAULT, &b, OVF, A_OVF);
        static uint8_t zeros[TLS_MAX_PLAINTEXT + 1];
        nc_u8(&b, 22);
        nc_u16(&b, 0x0303);
        nc_u16(&b, TLS_MAX_PLAINTEXT + 1);
        nc_put(&b, zeros, sizeof zeros);
        nc_add_raw(c, "plaintext record of 2^14 + 1", NC_SRV_DEFAULT, &b, OVF, A_OVF);
        const uint8_t empty[5] = {22, 3, 3, 0, 0};
        nc_put(&b, empty, 5);
        nc_add_raw(c, "empty handshake record", NC_SRV_DEFAULT, &b, DEC, A_DEC);
        const uint8_t huge_msg[9] = {22, 3, 3, 0, 4, 1, 0xff, 0xff, 0xff};
        nc_put(&b, huge_msg, 9);
        nc_add_raw(c, "ClientHello claiming 16 MiB", NC_SRV_DEFAULT, &b,
                   PQIFY_TLS_ERR_MESSAGE_TOO_LARGE, A_DEC);
        nc_put(&b, "GET / HTTP/1.1\r\nHost: localhost\r\n\r\n", 35);
        nc_add_raw(c, "an HTTP request instead of a ClientHello", NC_SRV_DEFAULT, &b,
                   PQIFY_TLS_ERR_NOT_TLS, A_UNX);
        const uint8_t type24[6] = {24, 3, 3, 0, 1, 0};
        nc_put(&b, type24, 6);
        nc_add_raw(c, "unknown content type 24", NC_SRV_DEFAULT, &b, UNX, A_UNX);
        const uint8_t app[8] = {23, 3, 3, 0, 3, 1, 2, 3};
        nc_put(&b, app, 8);
        nc_add_raw(c, "application data before the hello", NC_SRV_DEFAULT, &b, UNX, A_UNX);
        const uint8_t bad_alert[8] = {21, 3, 3, 0, 3, 2, 40, 0};
        nc_put(&b, bad_alert, 8);
        nc_add_raw(c, "alert of three bytes", NC_SRV_DEFAULT, &b, DEC, A_DEC);
        const uint8_t ccs_first[6] = {20, 3, 3, 0, 1, 1};
        nc_put(&b, ccs_first, 6);
        nc_add_raw(c, "change_cipher_spec before the hello", NC_SRV_DEFAULT, &b, UNX, A_UNX);
        const uint8_t ccs_bad[6] = {20, 3, 3, 0, 1, 2};
        nc_client_hello_hex(&b, NC_CH1_EXTS);   /* answered by a HelloRetryRequest */
        nc_put(&b, ccs_bad, 6);
        nc_add_raw(c, "change_cipher_spec of value 2", NC_SRV_DEFAULT, &b, UNX, A_UNX);
    }
    /* the hello split one byte per record: legal (§5.1), must succeed up to the flight */
    {
        nc_bytes exts = {0}, body = {0}, msg = {0};
        nc_hex(&exts, NC_SV13 NC_SIGALGS NC_GROUPS_X25519 NC_KS_X25519);
        nc_client_hello_body(&body, "1301", "0100", exts.p, exts.len);
        nc_message(&msg, TLS_HS_CLIENT_HELLO, body.p, body.len);
        nc_records(&b, TLS_CT_HANDSHAKE, msg.p, msg.len, 1);
        nc_add_raw(c, "ClientHello one byte per record (legal)", NC_SRV_DEFAULT, &b, 0, -1);
        /* interleaved with another content type: §5.1 forbids it */
        nc_records(&b, TLS_CT_HANDSHAKE, msg.p, 10, 10);
        nc_records(&b, TLS_CT_CCS, (const uint8_t *)"\x01", 1, 1);
        nc_records(&b, TLS_CT_HANDSHAKE, msg.p + 10, msg.len - 10, TLS_MAX_PLAINTEXT);
        nc_add_raw(c, "ClientHello split around a change_cipher_spec", NC_SRV_DEFAULT, &b, UNX, A_UNX);
        /* the hello and the start of another message in one record (§5.1: the key changes) */
        nc_put(&msg, "\x14\x00", 2);
        nc_records(&b, TLS_CT_HANDSHAKE, msg.p, msg.len, TLS_MAX_PLAINTEXT);
        nc_add_raw(c, "ClientHello and more handshake bytes in one record", NC_SRV_DEFAULT, &b, UNX, A_UNX);
        c->cases[c->n - 1].sealed_alert = 1;   /* found after the server's flight went out */
        free(exts.p);
        free(body.p);
        free(msg.p);
    }
    /* the pq switch (DESIGN.md) */
    nc_add_hex_ch(c, "classical-only client, pq=required server", NC_SRV_REQUIRED,
                  NC_SV13 NC_SIGALGS NC_GROUPS_X25519 NC_KS_X25519, PQIFY_TLS_ERR_NO_PQ_GROUP,
                  TLS_ALERT_INSUFFICIENT_SECURITY);
    nc_add_hex_ch(c, "PQ-only client, pq=off server", NC_SRV_OFF,
                  NC_SV13 NC_SIGALGS "000a0004000211ec" "003300080006" "11ec0002abcd",
                  PQIFY_TLS_ERR_NO_COMMON_GROUP, TLS_ALERT_HANDSHAKE_FAILURE);
    nc_add_hex_ch(c, "PQ-only client without a share, pq=off server", NC_SRV_OFF,
                  NC_SV13 NC_SIGALGS "000a0004000211ec" "00330002" "0000",
                  PQIFY_TLS_ERR_NO_COMMON_GROUP, TLS_ALERT_HANDSHAKE_FAILURE);

    /* forged: after the server's flight, under the client's handshake key */
    static const struct { uint8_t type; const char *name; } unexpected[] = {
        {TLS_HS_CLIENT_HELLO, "ClientHello in place of Finished"},
        {TLS_HS_SERVER_HELLO, "ServerHello in place of Finished"},
        {TLS_HS_NEW_SESSION_TICKET, "NewSessionTicket in place of Finished"},
        {TLS_HS_END_OF_EARLY_DATA, "EndOfEarlyData in place of Finished"},
        {TLS_HS_ENCRYPTED_EXTENSIONS, "EncryptedExtensions in place of Finished"},
        {TLS_HS_CERTIFICATE, "Certificate in place of Finished (none requested)"},
        {TLS_HS_CERTIFICATE_REQUEST, "CertificateRequest in place of Finished"},
        {TLS_HS_CERTIFICATE_VERIFY, "CertificateVerify in place of Finished"},
        {TLS_HS_KEY_UPDATE, "KeyUpdate in place of Finished"},
    };
    for (size_t i = 0; i < sizeof unexpected / sizeof unexpected[0]; i++)
        nc_add_forged(c, unexpected[i].name, NC_SRV_DEFAULT, nc_forge_unexpected, unexpected[i].type,
                      1, UNX, A_UNX);
    nc_add_forged(c, "Finished with a wrong verify_data", NC_SRV_DEFAULT, nc_forge_bad_finished, 0, 1,
                  PQIFY_TLS_ERR_BAD_FINISHED, TLS_ALERT_DECRYPT_ERROR);
    nc_add_forged(c, "Finished one byte long", NC_SRV_DEFAULT, nc_forge_finished_length, 1, 1, DEC, A_DEC);
    nc_add_forged(c, "Finished one byte short", NC_SRV_DEFAULT, nc_forge_finished_length, -1, 1, DEC, A_DEC);
    static const struct { int v; const char *name; int err, alert; } records[] = {
        {NC_REC_TAG, "decrypt failure: corrupted tag", PQIFY_TLS_ERR_BAD_RECORD_MAC, TLS_ALERT_BAD_RECORD_MAC},
        {NC_REC_SEQ, "decrypt failure: wrong sequence number", PQIFY_TLS_ERR_BAD_RECORD_MAC, TLS_ALERT_BAD_RECORD_MAC},
        {NC_REC_SHORT, "decrypt failure: record shorter than the tag", PQIFY_TLS_ERR_BAD_RECORD_MAC, TLS_ALERT_BAD_RECORD_MAC},
        {NC_REC_NO_TYPE, "bad padding: no content type (all zeros)", PQIFY_TLS_ERR_UNEXPECTED_MESSAGE, TLS_ALERT_UNEXPECTED_MESSAGE},
        {NC_REC_PAD_OVER, "bad padding: inner plaintext over 2^14 + 1", PQIFY_TLS_ERR_RECORD_OVERFLOW, TLS_ALERT_RECORD_OVERFLOW},
        {NC_REC_PAD_MAX, "padding to exactly 2^14 + 1 (legal)", 0, -1},
        {NC_REC_BIG, "protected record over 2^14 + 256", PQIFY_TLS_ERR_RECORD_OVERFLOW, TLS_ALERT_RECORD_OVERFLOW},
        {NC_REC_APPDATA, "early application data under the handshake key", PQIFY_TLS_ERR_UNEXPECTED_MESSAGE, TLS_ALERT_UNEXPECTED_MESSAGE},
        {NC_REC_CCS, "protected change_cipher_spec", PQIFY_TLS_ERR_UNEXPECTED_MESSAGE, TLS_ALERT_UNEXPECTED_MESSAGE},
        {NC_REC_ALERT_SHORT, "protected alert of one byte", PQIFY_TLS_ERR_DECODE, TLS_ALERT_DECODE_ERROR},
        {NC_REC_TYPE_99, "unknown inner content type", PQIFY_TLS_ERR_UNEXPECTED_MESSAGE, TLS_ALERT_UNEXPECTED_MESSAGE},
        {NC_REC_HS_EMPTY, "zero-length handshake fragment", PQIFY_TLS_ERR_UNEXPECTED_MESSAGE, TLS_ALERT_UNEXPECTED_MESSAGE},
        {NC_REC_SPLIT, "Finished one byte per record (legal)", 0, -1},
        {NC_REC_INTERLEAVE, "Finished split around application data", PQIFY_TLS_ERR_UNEXPECTED_MESSAGE, TLS_ALERT_UNEXPECTED_MESSAGE},
        {NC_REC_PLAIN_HS, "Finished in a plaintext record", PQIFY_TLS_ERR_UNEXPECTED_MESSAGE, TLS_ALERT_UNEXPECTED_MESSAGE},
        {NC_REC_TRAILING, "Finished and more handshake bytes in one record", PQIFY_TLS_ERR_UNEXPECTED_MESSAGE, TLS_ALERT_UNEXPECTED_MESSAGE},
        {NC_REC_EARLY, "early (0-RTT) application data", PQIFY_TLS_ERR_BAD_RECORD_MAC, TLS_ALERT_BAD_RECORD_MAC},
    };
    for (size_t i = 0; i < sizeof records / sizeof records[0]; i++)
        nc_add_forged(c, records[i].name, NC_SRV_DEFAULT, nc_forge_record, records[i].v, 1,
                      records[i].err, records[i].alert);
    static const struct { int v; const char *name; int err, alert; } post[] = {
        {NC_POST_CLIENT_HELLO, "ClientHello after the handshake (renegotiation)", UNX, A_UNX},
        {NC_POST_CERTIFICATE, "Certificate after the handshake", UNX, A_UNX},
        {NC_POST_FINISHED, "Finished after the handshake", UNX, A_UNX},
        {NC_POST_EOED, "EndOfEarlyData after the handshake", UNX, A_UNX},
        {NC_POST_BAD_KEY_UPDATE, "KeyUpdate with request_update = 2", ILL, A_ILL},
        {NC_POST_TAG, "application data with a corrupted tag", MAC, A_MAC},
        {NC_POST_PLAIN_APPDATA, "application data in clear after the handshake", MAC, A_MAC},
    };
    for (size_t i = 0; i < sizeof post / sizeof post[0]; i++)
        nc_add_forged(c, post[i].name, NC_SRV_DEFAULT, nc_forge_post, post[i].v, 0, post[i].err,
                      post[i].alert);
    static const struct { int v; const char *name; int err, alert; } mtls[] = {
        {NC_MTLS_FINISHED_FIRST, "mTLS: Finished where the Certificate must come",
         PQIFY_TLS_ERR_UNEXPECTED_MESSAGE, TLS_ALERT_UNEXPECTED_MESSAGE},
        {NC_MTLS_CV_FIRST, "mTLS: CertificateVerify before the Certificate",
         PQIFY_TLS_ERR_UNEXPECTED_MESSAGE, TLS_ALERT_UNEXPECTED_MESSAGE},
        {NC_MTLS_CERT_TWICE, "mTLS: Certificate twice", PQIFY_TLS_ERR_UNEXPECTED_MESSAGE,
         TLS_ALERT_UNEXPECTED_MESSAGE},
        {NC_MTLS_CERT_FINISHED, "mTLS: Certificate then Finished (no CertificateVerify)",
         PQIFY_TLS_ERR_UNEXPECTED_MESSAGE, TLS_ALERT_UNEXPECTED_MESSAGE},
        {NC_MTLS_EMPTY_CERT, "mTLS: empty Certificate", PQIFY_TLS_ERR_CERT_REQUIRED,
         TLS_ALERT_CERTIFICATE_REQUIRED},
        {NC_MTLS_BAD_CV, "mTLS: CertificateVerify signature flipped", PQIFY_TLS_ERR_BAD_SIGNATURE,
         TLS_ALERT_DECRYPT_ERROR},
    };
    for (size_t i = 0; i < sizeof mtls / sizeof mtls[0]; i++)
        nc_add_forged(c, mtls[i].name, NC_SRV_MTLS, nc_forge_mtls, mtls[i].v, 1, mtls[i].err,
                      mtls[i].alert);
    free(m.p);
    free(b.p);
}

/* ---- running a case against a server behind an io ---- */

/* The server under test, in memory or behind a socket. */
typedef struct nc_io {
    void *ctx;
    void (*send)(void *ctx, const uint8_t *p, size_t n);
    /* Append what the server has sent; for a socket wait up to a timeout for more.
     * Returns the number of new bytes, 0 at EOF or timeout. */
    size_t (*recv)(void *ctx, pqify_tls_buf *into);
} nc_io;

/* What the client side saw. */
typedef struct nc_result {
    int handshake_ok;    /* forged: the client completed (it always should) */
    int alert;           /* alert received, -1 none */
    int echoed;          /* success cases: "ping" came back */
    char why[256];       /* why the run itself went wrong, "" if it did not */
} nc_result;


/* The alert in the plaintext records of buf (the last record must be it), or -1. */
static inline int nc_plain_alert(const pqify_tls_buf *buf)
{
    size_t off = 0, last = 0;
    int found = 0;
    while (off < buf->len) {
        size_t n = nc_first_record(buf->base + off, buf->len - off);
        if (n == 0)
            return -2;   /* a torn record */
        last = off;
        found = 1;
        off += n;
    }
    if (!found)
        return -1;
    const uint8_t *r = buf->base + last;
    if (r[0] != TLS_CT_ALERT || r[3] != 0 || r[4] != 2 || r[5] != 2)
        return -1;
    return r[6];
}

/* The alert in the last record of buf if it is protected under the sender's current
 * write key (a copy of it is used, one sequence number back), or -1. */
static inline int nc_sealed_alert(const tls_traffic *wr, const pqify_tls_buf *buf)
{
    size_t off = 0, last = 0, n;
    int alert = -1;
    while (off < buf->len && (n = nc_first_record(buf->base + off, buf->len - off)) != 0) {
        last = off;
        off += n;
    }
    if (!wr->active || buf->len == 0 || buf->base[last] != TLS_CT_APPDATA || wr->seq == 0)
        return -1;
    tls_traffic dec;
    uint8_t type, *copy = malloc(off - last);
    size_t len;
    memset(&dec, 0, sizeof dec);
    if (copy == NULL || tls_traffic_set(&dec, wr->suite, wr->secret, 0) != 0)
        nc_die("traffic");
    dec.seq = wr->seq - 1;
    memcpy(copy, buf->base + last, off - last);
    if (tls_record_open(&dec, copy, off - last, &type, &len) == 0 && type == TLS_CT_ALERT && len == 2)
        alert = copy[6];
    tls_traffic_wipe(&dec);
    free(copy);
    return alert;
}

/* Decrypt the handshake messages in protected records (a copy of the sender's key
 * state, decrypt direction) into msgs; returns 0 or -1. */
static inline int nc_open_all(tls_traffic *t, const uint8_t *p, size_t n, nc_bytes *msgs)
{
    size_t off = 0;
    while (off < n) {
        size_t len = nc_first_record(p + off, n - off);
        if (len == 0)
            return -1;
        if (p[off] == TLS_CT_APPDATA) {
            uint8_t *copy = malloc(len), type;
            size_t plen;
            if (copy == NULL)
                return -1;
            memcpy(copy, p + off, len);
            int r = tls_record_open(t, copy, len, &type, &plen);
            if (r == 0 && type == TLS_CT_HANDSHAKE)
                nc_put(msgs, copy + 5, plen);
            free(copy);
            if (r != 0)
                return -1;
        }
        off += len;
    }
    return 0;
}

/* the handshake message of a type in msgs (first one), header included */
static inline int nc_find_message(const nc_bytes *msgs, uint8_t type, const uint8_t **m, size_t *len)
{
    size_t off = 0;
    while (off + 4 <= msgs->len) {
        size_t l = 4 + ((size_t)msgs->p[off + 1] << 16 | (size_t)msgs->p[off + 2] << 8 | msgs->p[off + 3]);
        if (off + l > msgs->len)
            return -1;
        if (msgs->p[off] == type) {
            *m = msgs->p + off;
            *len = l;
            return 0;
        }
        off += l;
    }
    return -1;
}

/* Read from the server into the client until it has taken whatever came (bounded). */
static inline int nc_client_read_alert(nc_io *io, pqify_tls_conn *client, int *alert)
{
    pqify_tls_buf in, plain, back;
    pqify_tls_buf_init(&in, NULL, 0);
    pqify_tls_buf_init(&plain, NULL, 0);
    pqify_tls_buf_init(&back, NULL, 0);
    int ret = 0;
    *alert = -1;
    for (int rounds = 0; rounds < 64 && ret == 0; rounds++) {
        in.len = 0;
        if (io->recv(io->ctx, &in) == 0)
            break;
        size_t used = in.len;
        ret = pqify_tls_receive(client, &plain, in.base, &used, &back);
    }
    if (ret <= PQIFY_TLS_ERR_PEER_ALERT && ret > PQIFY_TLS_ERR_PEER_ALERT - 256)
        *alert = PQIFY_TLS_ERR_PEER_ALERT - ret;
    pqify_tls_buf_dispose(&in);
    pqify_tls_buf_dispose(&plain);
    pqify_tls_buf_dispose(&back);
    return ret;
}

/*
 * A forged case: a real client (ccfg) handshakes through io up to the server's
 * flight, keeps its own answer, and sends the forged records instead (or after it).
 */
static inline void nc_run_forged(const nc_case *k, const pqify_tls_config *ccfg, nc_io *io,
                                 nc_result *res)
{
    pqify_tls_conn *client = pqify_tls_conn_new(ccfg, 0);
    pqify_tls_buf out, in, answer, forged;
    tls_traffic c_hs, c_hs_dec;
    nc_bytes msgs = {0};
    memset(res, 0, sizeof *res);
    memset(&c_hs, 0, sizeof c_hs);
    memset(&c_hs_dec, 0, sizeof c_hs_dec);
    res->alert = -1;
    pqify_tls_buf_init(&out, NULL, 0);
    pqify_tls_buf_init(&in, NULL, 0);
    pqify_tls_buf_init(&answer, NULL, 0);
    pqify_tls_buf_init(&forged, NULL, 0);
    size_t zero = 0;
    if (client == NULL || pqify_tls_handshake(client, NULL, &zero, &out) != PQIFY_TLS_IN_PROGRESS) {
        snprintf(res->why, sizeof res->why, "client could not start");
        goto done;
    }
    if (k->edit_ch != NULL && nc_rewrite_first_hello(client, &out, k->edit_ch) != 0) {
        snprintf(res->why, sizeof res->why, "could not rewrite the ClientHello");
        goto done;
    }
    io->send(io->ctx, out.base, out.len);
    if (k->hrr_early_data) {
        /* §4.2.10: 0-RTT data right behind the hello; the server rejects it by
         * skipping records until the second hello */
        uint8_t rec[5 + 40] = {23, 3, 3, 0, 40};
        for (int i = 5; i < 45; i++)
            rec[i] = (uint8_t)(i * 41);
        io->send(io->ctx, rec, sizeof rec);
    }
    /* the ServerHello alone first: the client then holds client_handshake_traffic_secret */
    int ret = PQIFY_TLS_IN_PROGRESS, keyed = 0;
    size_t off = 0;
    for (int rounds = 0; rounds < 256 && ret == PQIFY_TLS_IN_PROGRESS; rounds++) {
        size_t n = keyed ? in.len - off : in.len == 0 ? 0 : nc_first_record(in.base + off, in.len - off);
        if (n == 0) {
            if (io->recv(io->ctx, &in) == 0)
                break;
            continue;
        }
        size_t used = n;
        ret = pqify_tls_handshake(client, in.base + off, &used, &answer);
        off += used;
        if (!keyed && !client->wr.active && answer.len > 0) {
            /* the second ClientHello, after a HelloRetryRequest */
            io->send(io->ctx, answer.base, answer.len);
            answer.len = 0;
        }
        if (!keyed && client->hs != NULL && client->wr.active) {
            if (tls_traffic_set(&c_hs, client->suite, client->hs->c_hs, 1) != 0 ||
                tls_traffic_set(&c_hs_dec, client->suite, client->hs->c_hs, 0) != 0) {
                snprintf(res->why, sizeof res->why, "could not copy the handshake key");
                goto done;
            }
            keyed = 1;
        }
    }
    if (ret != 0 || !keyed) {
        snprintf(res->why, sizeof res->why, "real handshake did not complete: %s",
                 ret < 0 ? pqify_tls_strerror(ret) : "no more bytes from the server");
        goto done;
    }
    res->handshake_ok = 1;
    if (k->hrr_early_data && !client->hrr) {
        snprintf(res->why, sizeof res->why, "the server did not send a HelloRetryRequest");
        goto done;
    }
    if (k->want_group != 0 && (client->group == NULL || client->group->id != k->want_group)) {
        snprintf(res->why, sizeof res->why, "negotiated group 0x%04x, want 0x%04x",
                 client->group != NULL ? client->group->id : 0, k->want_group);
        goto done;
    }
    /* the client's own flight, decrypted: its Finished (and Certificate, CertificateVerify) */
    nc_forge f;
    memset(&f, 0, sizeof f);
    if (nc_open_all(&c_hs_dec, answer.base, answer.len, &msgs) != 0 ||
        nc_find_message(&msgs, TLS_HS_FINISHED, &f.finished, &f.finished_len) != 0) {
        snprintf(res->why, sizeof res->why, "could not read the client's own Finished");
        goto done;
    }
    (void)nc_find_message(&msgs, TLS_HS_CERTIFICATE, &f.certificate, &f.certificate_len);
    (void)nc_find_message(&msgs, TLS_HS_CERTIFICATE_VERIFY, &f.certificate_verify,
                          &f.certificate_verify_len);
    if (k->server == NC_SRV_MTLS && (f.certificate == NULL || f.certificate_verify == NULL)) {
        snprintf(res->why, sizeof res->why, "the mTLS client sent no certificate");
        goto done;
    }
    f.c_hs = &c_hs;
    f.c_ap = &client->wr;
    f.out = &forged;
    if (!k->before_finished)
        io->send(io->ctx, answer.base, answer.len);
    k->forge(&f, k->arg);
    io->send(io->ctx, forged.base, forged.len);
    if (k->err == 0) {
        /* a legal case: the server must finish and echo */
        pqify_tls_buf wire, plain, back;
        pqify_tls_buf_init(&wire, NULL, 0);
        pqify_tls_buf_init(&plain, NULL, 0);
        pqify_tls_buf_init(&back, NULL, 0);
        if (pqify_tls_send(client, &wire, "ping", 4) == 0) {
            io->send(io->ctx, wire.base, wire.len);
            for (int rounds = 0; rounds < 64 && plain.len < 4; rounds++) {
                in.len = 0;
                if (io->recv(io->ctx, &in) == 0)
                    break;
                size_t used = in.len;
                int r = pqify_tls_receive(client, &plain, in.base, &used, &back);
                if (r < 0) {
                    if (r <= PQIFY_TLS_ERR_PEER_ALERT && r > PQIFY_TLS_ERR_PEER_ALERT - 256)
                        res->alert = PQIFY_TLS_ERR_PEER_ALERT - r;
                    break;
                }
            }
            res->echoed = plain.len == 4 && memcmp(plain.base, "ping", 4) == 0;
        }
        pqify_tls_buf_dispose(&wire);
        pqify_tls_buf_dispose(&plain);
        pqify_tls_buf_dispose(&back);
    } else {
        (void)nc_client_read_alert(io, client, &res->alert);
    }
done:
    tls_traffic_wipe(&c_hs);
    tls_traffic_wipe(&c_hs_dec);
    free(msgs.p);
    pqify_tls_buf_dispose(&out);
    pqify_tls_buf_dispose(&in);
    pqify_tls_buf_dispose(&answer);
    pqify_tls_buf_dispose(&forged);
    pqify_tls_conn_free(client);
}

static inline void nc_corpus_free(nc_corpus *c)
{
    for (size_t i = 0; i < c->n; i++) {
        free((char *)c->cases[i].name);
        free(c->cases[i].bytes);
    }
    free(c->cases);
    memset(c, 0, sizeof *c);
}

#endif
