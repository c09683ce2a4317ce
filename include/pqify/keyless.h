/* pqify keyless: the gokeyless binary protocol, the key store and the operations a key
 * server performs (docs/keyless.md). Pure functions of bytes and keys: no sockets here;
 * the server and client sit on src/net. */
#ifndef PQIFY_KEYLESS_H
#define PQIFY_KEYLESS_H

#include <stddef.h>
#include <stdint.h>

#include "pqify/common.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- wire constants (shared/vectors/keyless/README.md, read off gokeyless's code) ---- */
#define PQIFY_KEYLESS_VERSION_MAJOR 1
#define PQIFY_KEYLESS_VERSION_MINOR 0
#define PQIFY_KEYLESS_HEADER_BYTES 8
#define PQIFY_KEYLESS_PADDED_BYTES 1024 /* header + body padded up to this */
#define PQIFY_KEYLESS_MAX_BODY 65535    /* the header's u16 */
#define PQIFY_KEYLESS_MAX_PACKET (PQIFY_KEYLESS_HEADER_BYTES + PQIFY_KEYLESS_MAX_BODY)
#define PQIFY_KEYLESS_SKI_BYTES 20      /* SHA-1, RFC 5280 §4.2.1.2 method 1 */
#define PQIFY_KEYLESS_DIGEST_BYTES 32   /* SHA-256 of the RSA modulus as uppercase hex */
#define PQIFY_KEYLESS_PENDING_PER_CONN 1024 /* gokeyless's cap on pending requests */
#define PQIFY_KEYLESS_DEFAULT_PORT 2407
#define PQIFY_KEYLESS_DEFAULT_METRICS_PORT 2406

/* item tags */
enum pqify_keyless_tag {
    PQIFY_KEYLESS_TAG_DIGEST = 0x01,
    PQIFY_KEYLESS_TAG_SNI = 0x02,
    PQIFY_KEYLESS_TAG_CLIENT_IP = 0x03,
    PQIFY_KEYLESS_TAG_SKI = 0x04,
    PQIFY_KEYLESS_TAG_SERVER_IP = 0x05,
    PQIFY_KEYLESS_TAG_CERT_ID = 0x06,
    PQIFY_KEYLESS_TAG_OPCODE = 0x11,
    PQIFY_KEYLESS_TAG_PAYLOAD = 0x12,
    PQIFY_KEYLESS_TAG_CUSTOM_FUNC = 0x13,
    PQIFY_KEYLESS_TAG_EXTRA = 0x14,
    PQIFY_KEYLESS_TAG_SPAN = 0x15,
    PQIFY_KEYLESS_TAG_REQ_CONTEXT = 0x16,
    PQIFY_KEYLESS_TAG_COMPLIANCE_REGION = 0x17,
    PQIFY_KEYLESS_TAG_PADDING = 0x20,
};

/* opcodes */
enum pqify_keyless_op {
    PQIFY_KEYLESS_OP_RSA_DECRYPT = 0x01,
    PQIFY_KEYLESS_OP_RSA_SIGN_MD5SHA1 = 0x02,
    PQIFY_KEYLESS_OP_RSA_SIGN_SHA1 = 0x03,
    PQIFY_KEYLESS_OP_RSA_SIGN_SHA224 = 0x04,
    PQIFY_KEYLESS_OP_RSA_SIGN_SHA256 = 0x05,
    PQIFY_KEYLESS_OP_RSA_SIGN_SHA384 = 0x06,
    PQIFY_KEYLESS_OP_RSA_SIGN_SHA512 = 0x07,
    PQIFY_KEYLESS_OP_RSA_DECRYPT_RAW = 0x08,
    PQIFY_KEYLESS_OP_ECDSA_SIGN_MD5SHA1 = 0x12,
    PQIFY_KEYLESS_OP_ECDSA_SIGN_SHA1 = 0x13,
    PQIFY_KEYLESS_OP_ECDSA_SIGN_SHA224 = 0x14,
    PQIFY_KEYLESS_OP_ECDSA_SIGN_SHA256 = 0x15,
    PQIFY_KEYLESS_OP_ECDSA_SIGN_SHA384 = 0x16,
    PQIFY_KEYLESS_OP_ECDSA_SIGN_SHA512 = 0x17,
    PQIFY_KEYLESS_OP_ED25519_SIGN = 0x18,
    PQIFY_KEYLESS_OP_SEAL = 0x21,
    PQIFY_KEYLESS_OP_UNSEAL = 0x22,
    PQIFY_KEYLESS_OP_RPC = 0x23,
    PQIFY_KEYLESS_OP_CUSTOM = 0x24,
    PQIFY_KEYLESS_OP_RSA_PSS_SIGN_SHA256 = 0x35,
    PQIFY_KEYLESS_OP_RSA_PSS_SIGN_SHA384 = 0x36,
    PQIFY_KEYLESS_OP_RSA_PSS_SIGN_SHA512 = 0x37,
    PQIFY_KEYLESS_OP_RESPONSE = 0xF0,
    PQIFY_KEYLESS_OP_PING = 0xF1,
    PQIFY_KEYLESS_OP_PONG = 0xF2,
    PQIFY_KEYLESS_OP_ERROR = 0xFF,
};

/* the one-byte payload of an OP_ERROR packet */
enum pqify_keyless_wire_error {
    PQIFY_KEYLESS_E_CRYPTO = 1,
    PQIFY_KEYLESS_E_KEY_NOT_FOUND = 2,
    PQIFY_KEYLESS_E_READ = 3,
    PQIFY_KEYLESS_E_VERSION_MISMATCH = 4,
    PQIFY_KEYLESS_E_BAD_OPCODE = 5,
    PQIFY_KEYLESS_E_UNEXPECTED_OPCODE = 6,
    PQIFY_KEYLESS_E_FORMAT = 7,
    PQIFY_KEYLESS_E_INTERNAL = 8,
    PQIFY_KEYLESS_E_CERT_NOT_FOUND = 9,
    PQIFY_KEYLESS_E_EXPIRED = 10,
    PQIFY_KEYLESS_E_REMOTE_CONFIG = 11,
};

/* Errors of this layer's functions (negative; pqify_keyless_strerror words them). */
enum pqify_keyless_err {
    PQIFY_KEYLESS_ERR_TRUNCATED = -400,    /* fewer bytes than the header says */
    PQIFY_KEYLESS_ERR_LENGTH = -401,       /* an item runs past the body, or bytes follow the packet */
    PQIFY_KEYLESS_ERR_VERSION = -402,      /* major version is not 1 */
    PQIFY_KEYLESS_ERR_REPEATED_TAG = -403, /* a known tag appears twice */
    PQIFY_KEYLESS_ERR_FORMAT = -404,       /* an opcode item not 1 byte, an IP not 4 or 16 */
    PQIFY_KEYLESS_ERR_TOO_LARGE = -405,    /* does not fit the u16 lengths or the output buffer */
    PQIFY_KEYLESS_ERR_ARG = -406,
    PQIFY_KEYLESS_ERR_NO_MEMORY = -407,
};

const char *pqify_keyless_strerror(int err);
/* "ecdsa-sha256", "ping" ...; "unknown" for an opcode this list lacks. Never NULL. */
const char *pqify_keyless_op_name(uint8_t opcode);
/* "crypto", "key not found" ...; never NULL. */
const char *pqify_keyless_wire_error_name(uint8_t code);

/* ---- the codec (packet.c) ---- */
typedef struct pqify_keyless_bytes {
    const uint8_t *data; /* borrowed: points into the decoded input or the caller's data */
    size_t len;
} pqify_keyless_bytes;

/*
 * One packet. Decoding fills it with pointers into the input buffer (nothing is
 * copied but the fixed-size fields). Encoding writes the fields gokeyless writes when
 * they are set: payload and strings when len > 0, SKI and digest when not all zero,
 * IPs when 4 or 16 bytes long.
 */
typedef struct pqify_keyless_packet {
    uint8_t major, minor; /* decode: as received; encode writes 1 and minor */
    uint32_t id;
    uint8_t opcode;       /* 0 when the packet had no opcode item */
    pqify_keyless_bytes payload;
    uint8_t ski[PQIFY_KEYLESS_SKI_BYTES];       /* all zero = absent */
    uint8_t digest[PQIFY_KEYLESS_DIGEST_BYTES]; /* all zero = absent */
    pqify_keyless_bytes client_ip, server_ip;   /* 0, 4 or 16 bytes */
    pqify_keyless_bytes sni, cert_id, custom_func, extra, span, req_context, compliance_region;
    int padded; /* decode: a padding item was present; encode: pad to 1024 bytes */
} pqify_keyless_packet;

/* Zero the packet, version 1.0, padded, with this id and opcode. */
void pqify_keyless_packet_init(pqify_keyless_packet *p, uint32_t id, uint8_t opcode);

/* The 8-byte header: how long the whole packet is. Returns the total length
 * (8 + body), or 0 while fewer than 8 bytes are at hand. Never fails: any length is
 * framable, and the version is judged by pqify_keyless_decode. */
size_t pqify_keyless_frame_len(const uint8_t *in, size_t in_len);

/* Decode exactly one packet: in_len must be 8 + the header's body length. On error the
 * packet still holds the header's id (when 8 bytes were there), so an answer can name it. */
PQIFY_MUST_USE int pqify_keyless_decode(const uint8_t *in, size_t in_len, pqify_keyless_packet *p);

/* Encode into out (cap bytes; PQIFY_KEYLESS_MAX_PACKET always suffices). */
PQIFY_MUST_USE int pqify_keyless_encode(const pqify_keyless_packet *p, uint8_t *out, size_t cap,
                                        size_t *out_len);

/* The wire error a server answers a decode error with: 4 for the version, else 7. */
uint8_t pqify_keyless_decode_error_code(int decode_err);

/* ---- the key store (store.c, pkcs11.c) ---- */
typedef struct pqify_keyless_store pqify_keyless_store;

typedef struct pqify_keyless_store_options {
    /* A directory of PEM private keys: every *.key file must hold one; every *.pem
     * file holding a PRIVATE KEY block is loaded, others (certificates) are skipped.
     * NULL: no directory. */
    const char *dir;
    /* RFC 7512 URIs naming private keys on PKCS#11 tokens; every private key that
     * matches a URI is loaded (none matching is an error). The PIN comes from
     * pin-value= or pin-source=FILE in the URI; the module from module-path= in the
     * URI, else pkcs11_module. */
    const char *const *pkcs11_uris;
    size_t pkcs11_uri_count;
    const char *pkcs11_module;
} pqify_keyless_store_options;

enum pqify_keyless_key_type {
    PQIFY_KEYLESS_KEY_RSA = 1,
    PQIFY_KEYLESS_KEY_EC_P256,
    PQIFY_KEYLESS_KEY_EC_P384,
    PQIFY_KEYLESS_KEY_ED25519,
};

/*
 * Build a store: every key loaded and indexed by SKI. NULL on failure, with err
 * holding words naming the file or URI and what is wrong. The store is read-only
 * once built and may be used from many threads at once. To reload (SIGHUP), build a
 * new one and swap it in; the old one lives until its last holder releases it.
 * The new store holds one reference.
 */
pqify_keyless_store *pqify_keyless_store_load(const pqify_keyless_store_options *o, char *err,
                                              size_t cap);
void pqify_keyless_store_hold(pqify_keyless_store *s);    /* +1 reference (thread-safe) */
void pqify_keyless_store_release(pqify_keyless_store *s); /* -1; frees at 0 (NULL ok) */

size_t pqify_keyless_store_count(const pqify_keyless_store *s);
/* Key i (sorted by SKI): its SKI, type and where it came from (file path or URI). */
PQIFY_MUST_USE int pqify_keyless_store_key(const pqify_keyless_store *s, size_t i,
                                           uint8_t ski[PQIFY_KEYLESS_SKI_BYTES], int *type,
                                           const char **source);
int pqify_keyless_store_has(const pqify_keyless_store *s, const uint8_t ski[PQIFY_KEYLESS_SKI_BYTES]);

/* The SKI gokeyless computes for a public key: SHA-1 of the subjectPublicKey BIT
 * STRING contents. pkey is an EVP_PKEY * (void here so this header needs no OpenSSL). */
PQIFY_MUST_USE int pqify_keyless_ski(const void *pkey, uint8_t ski[PQIFY_KEYLESS_SKI_BYTES]);

/* ---- operations (ops.c): (store, request) -> response ---- */
#define PQIFY_KEYLESS_MAX_RESULT 1024 /* an RSA-8192 signature; larger keys are refused */

typedef struct pqify_keyless_result {
    uint8_t opcode;  /* RESPONSE, PONG or ERROR */
    uint8_t error;   /* the wire error when opcode is ERROR, else 0 */
    int not_held;    /* the request named an SKI this store lacks (error 2) */
    pqify_keyless_bytes payload; /* into buf, or into the request (pong) */
    uint8_t buf[PQIFY_KEYLESS_MAX_RESULT];
} pqify_keyless_result;

/* Perform one decoded request. Always fills r (an error is an answer too); the
 * plaintext of a decrypt sits in r->buf, so wipe r (pqify_keyless_result_wipe) after. */
void pqify_keyless_operate(const pqify_keyless_store *s, const pqify_keyless_packet *req,
                           pqify_keyless_result *r);
void pqify_keyless_result_wipe(pqify_keyless_result *r);

/* ---- the request handler a server's worker runs (handler.c) ---- */
enum pqify_keyless_verdict {
    PQIFY_KEYLESS_REPLY = 0,       /* send out */
    PQIFY_KEYLESS_REPLY_CLOSE = 1, /* send out, then close: the stream cannot be trusted */
    PQIFY_KEYLESS_FORWARD = 2,     /* not held here: send the request upstream unchanged */
};

#define PQIFY_KEYLESS_HANDLE_FORWARD_UNKNOWN 1u /* proxy mode: unknown SKI -> FORWARD */

typedef struct pqify_keyless_answer {
    int verdict;
    uint32_t id;      /* the request's id (the header's, even when the body is malformed) */
    uint8_t opcode;   /* the request's opcode (0 if it could not be decoded) */
    uint8_t result;   /* the answer's opcode: RESPONSE, PONG or ERROR (0 when FORWARD) */
    uint8_t error;    /* the wire error when result is ERROR */
    uint8_t ski[PQIFY_KEYLESS_SKI_BYTES]; /* the request's SKI (for FORWARD: pick an upstream) */
    size_t out_len;   /* bytes written to out (0 when FORWARD) */
} pqify_keyless_answer;

/*
 * One framed request packet in (in_len = pqify_keyless_frame_len), its answer out,
 * carrying the request's id. Thread-safe over a shared store. Fails (negative) only
 * when out is too small (PQIFY_KEYLESS_MAX_PACKET always suffices) or on bad arguments.
 */
PQIFY_MUST_USE int pqify_keyless_handle(const pqify_keyless_store *s, unsigned flags,
                                        const uint8_t *in, size_t in_len, uint8_t *out,
                                        size_t cap, pqify_keyless_answer *a);

#ifdef __cplusplus
}
#endif
#endif
