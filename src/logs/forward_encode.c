/* Forward protocol v1 encoder: the forwarder's PackedForward and CompressedPackedForward
 * batches, the receiver's acks, and the shared-key handshake messages. */
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include "internal.h"

int pqify_fwd_chunk_id(char out[PQIFY_FWD_CHUNK_ID_LEN + 1])
{
    uint8_t r[16];
    if (RAND_bytes(r, sizeof r) != 1)
        return PQIFY_ERR_RNG;
    EVP_EncodeBlock((unsigned char *)out, r, sizeof r); /* 24 chars + NUL */
    return 0;
}

void pqify_fwd_batch_init(pqify_fwd_batch *b)
{
    msgpack_sbuffer_init(&b->entries);
    msgpack_packer_init(&b->pk, &b->entries, msgpack_sbuffer_write);
    b->n_events = 0;
    b->zctx = logs_zstd_ctx_new(); /* NULL is fine: each batch then makes its own */
}

void pqify_fwd_batch_reset(pqify_fwd_batch *b)
{
    b->entries.size = 0;
    b->n_events = 0;
}

void pqify_fwd_batch_free(pqify_fwd_batch *b)
{
    msgpack_sbuffer_destroy(&b->entries);
    b->n_events = 0;
    logs_zstd_ctx_free(b->zctx);
    b->zctx = NULL;
}

/* [v1 §EventTime Ext Format]: fixext8, type 0, seconds then nanoseconds, big-endian. */
static int pack_time(msgpack_packer *pk, int64_t sec, uint32_t nsec)
{
    uint8_t t[8];
    if (sec < 0 || sec > UINT32_MAX || nsec > 999999999u)
        return PQIFY_ERR_ARG;
    for (int i = 0; i < 4; i++) {
        t[i] = (uint8_t)((uint64_t)sec >> (24 - 8 * i));
        t[4 + i] = (uint8_t)(nsec >> (24 - 8 * i));
    }
    if (msgpack_pack_ext(pk, 8, 0) != 0 || msgpack_pack_ext_body(pk, t, 8) != 0)
        return PQIFY_LOGS_ERR_NOMEM;
    return 0;
}

/* An entry's head, [EventTime, ... (the record follows). */
static int entry_start(pqify_fwd_batch *b, int64_t sec, uint32_t nsec)
{
    if (msgpack_pack_array(&b->pk, 2) != 0)
        return PQIFY_LOGS_ERR_NOMEM;
    return pack_time(&b->pk, sec, nsec);
}

/* Counts the entry, or on failure cuts the batch back to mark: no half entry stays. */
static int entry_end(pqify_fwd_batch *b, size_t mark, int ret)
{
    if (ret < 0)
        b->entries.size = mark;
    else
        b->n_events++;
    return ret;
}

int pqify_fwd_batch_add(pqify_fwd_batch *b, int64_t sec, uint32_t nsec,
                        const msgpack_object *record)
{
    int ret = 0;
    size_t mark = b->entries.size;

    ENSURE(record && record->type == MSGPACK_OBJECT_MAP, PQIFY_ERR_ARG);
    TRY(entry_start(b, sec, nsec));
    ENSURE(msgpack_pack_object(&b->pk, *record) == 0, PQIFY_LOGS_ERR_NOMEM);
out:
    return entry_end(b, mark, ret);
}

int pqify_fwd_batch_add_raw(pqify_fwd_batch *b, int64_t sec, uint32_t nsec,
                            const uint8_t *record, size_t len)
{
    mp_frame f;
    size_t used = 0, mark = b->entries.size;
    int ret = 0, r;

    /* exactly one whole map, so a bad record cannot shift the stream's framing */
    ENSURE(record && len > 0, PQIFY_ERR_ARG);
    ENSURE((record[0] & 0xf0) == 0x80 || record[0] == 0xde || record[0] == 0xdf,
           PQIFY_LOGS_ERR_ENTRY);
    mp_frame_reset(&f);
    r = mp_frame_feed(&f, record, len, &used);
    TRY(r);
    ENSURE(r == 1 && used == len, PQIFY_LOGS_ERR_MSGPACK);
    TRY(entry_start(b, sec, nsec));
    ENSURE(msgpack_sbuffer_write(&b->entries, (const char *)record, len) == 0,
           PQIFY_LOGS_ERR_NOMEM);
out:
    return entry_end(b, mark, ret);
}

int pqify_fwd_batch_add_message(pqify_fwd_batch *b, int64_t sec, uint32_t nsec,
                                const char *line, size_t len)
{
    size_t mark = b->entries.size;
    int ret = 0;

    ENSURE(line != NULL || len == 0, PQIFY_ERR_ARG);
    ENSURE(len <= UINT32_MAX, PQIFY_LOGS_ERR_TOO_LARGE);
    TRY(entry_start(b, sec, nsec));
    ENSURE(msgpack_pack_map(&b->pk, 1) == 0 && msgpack_pack_str_with_body(&b->pk, "message", 7) == 0 &&
               msgpack_pack_str_with_body(&b->pk, line ? line : "", len) == 0,
           PQIFY_LOGS_ERR_NOMEM);
out:
    return entry_end(b, mark, ret);
}

static int pack_str(msgpack_packer *pk, const char *s, size_t n)
{
    if (msgpack_pack_str(pk, n) != 0 || msgpack_pack_str_body(pk, s, n) != 0)
        return PQIFY_LOGS_ERR_NOMEM;
    return 0;
}

static int pack_cstr(msgpack_packer *pk, const char *s)
{
    return pack_str(pk, s, strlen(s));
}

static int pack_bin(msgpack_packer *pk, const uint8_t *p, size_t n)
{
    if (msgpack_pack_bin(pk, n) != 0 || msgpack_pack_bin_body(pk, p, n) != 0)
        return PQIFY_LOGS_ERR_NOMEM;
    return 0;
}

int pqify_fwd_encode_packed(const pqify_fwd_batch *b, const char *tag, size_t tag_len,
                            pqify_fwd_compression c, const char *chunk, msgpack_sbuffer *out)
{
    msgpack_packer pk;
    msgpack_sbuffer z;
    const uint8_t *body = (const uint8_t *)b->entries.data;
    size_t body_len = b->entries.size, mark = out->size;
    size_t n_opt = 1 + (chunk != NULL) + (c != PQIFY_FWD_NONE);
    int ret = 0;

    msgpack_sbuffer_init(&z);
    msgpack_packer_init(&pk, out, msgpack_sbuffer_write);
    ENSURE(tag && tag_len > 0, PQIFY_ERR_ARG);
    if (c == PQIFY_FWD_GZIP)
        TRY(logs_gzip(body, body_len, &z));
    else if (c == PQIFY_FWD_ZSTD)
        TRY(logs_zstd(b->zctx, body, body_len, &z));
    if (c != PQIFY_FWD_NONE) {
        body = (const uint8_t *)z.data;
        body_len = z.size;
    }
    ENSURE(msgpack_pack_array(&pk, 3) == 0, PQIFY_LOGS_ERR_NOMEM);
    TRY(pack_str(&pk, tag, tag_len));
    TRY(pack_bin(&pk, body ? body : (const uint8_t *)"", body_len));
    ENSURE(msgpack_pack_map(&pk, n_opt) == 0, PQIFY_LOGS_ERR_NOMEM);
    TRY(pack_cstr(&pk, "size"));
    ENSURE(msgpack_pack_uint64(&pk, b->n_events) == 0, PQIFY_LOGS_ERR_NOMEM);
    if (chunk) {
        TRY(pack_cstr(&pk, "chunk"));
        TRY(pack_cstr(&pk, chunk));
    }
    if (c != PQIFY_FWD_NONE) {
        TRY(pack_cstr(&pk, "compressed"));
        TRY(pack_cstr(&pk, c == PQIFY_FWD_GZIP ? "gzip" : "zstd"));
    }
out:
    if (ret < 0)
        out->size = mark;
    msgpack_sbuffer_destroy(&z);
    return ret;
}

int pqify_fwd_encode_ack(const uint8_t *chunk, size_t len, msgpack_sbuffer *out)
{
    msgpack_packer pk;
    int ret = 0;
    msgpack_packer_init(&pk, out, msgpack_sbuffer_write);
    ENSURE(msgpack_pack_map(&pk, 1) == 0, PQIFY_LOGS_ERR_NOMEM);
    TRY(pack_cstr(&pk, "ack"));
    TRY(pack_str(&pk, (const char *)chunk, len));
out:
    return ret;
}

/* ---- the shared-key handshake ---- */

static int sha512_hex(const pqify_fwd_bytes *parts, size_t n, char hex[129])
{
    static const char digits[] = "0123456789abcdef";
    uint8_t md[64];
    unsigned mdlen = 0;
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    int ret = 0;

    ENSURE(ctx && EVP_DigestInit_ex(ctx, EVP_sha512(), NULL) == 1, PQIFY_LOGS_ERR_NOMEM);
    for (size_t i = 0; i < n; i++)
        ENSURE(EVP_DigestUpdate(ctx, parts[i].ptr ? parts[i].ptr : (const uint8_t *)"",
                                parts[i].len) == 1, PQIFY_LOGS_ERR_NOMEM);
    ENSURE(EVP_DigestFinal_ex(ctx, md, &mdlen) == 1 && mdlen == 64, PQIFY_LOGS_ERR_NOMEM);
    for (int i = 0; i < 64; i++) {
        hex[2 * i] = digits[md[i] >> 4];
        hex[2 * i + 1] = digits[md[i] & 15];
    }
    hex[128] = 0;
out:
    EVP_MD_CTX_free(ctx);
    OPENSSL_cleanse(md, sizeof md);
    return ret;
}

/* [v1 §PING]: sha512_hex(shared_key_salt + hostname + nonce + shared_key) */
int pqify_fwd_shared_key_digest(pqify_fwd_bytes salt, pqify_fwd_bytes hostname,
                                pqify_fwd_bytes nonce, pqify_fwd_bytes key, char hex[129])
{
    pqify_fwd_bytes parts[4] = {salt, hostname, nonce, key};
    return sha512_hex(parts, 4, hex);
}

static pqify_fwd_bytes cbytes(const char *s)
{
    pqify_fwd_bytes b = {(const uint8_t *)(s ? s : ""), s ? strlen(s) : 0};
    return b;
}

int pqify_fwd_encode_helo(const uint8_t nonce[PQIFY_FWD_NONCE_BYTES], pqify_fwd_bytes auth_salt,
                          int keepalive, msgpack_sbuffer *out)
{
    msgpack_packer pk;
    int ret = 0;
    msgpack_packer_init(&pk, out, msgpack_sbuffer_write);
    ENSURE(msgpack_pack_array(&pk, 2) == 0, PQIFY_LOGS_ERR_NOMEM);
    TRY(pack_cstr(&pk, "HELO"));
    ENSURE(msgpack_pack_map(&pk, 3) == 0, PQIFY_LOGS_ERR_NOMEM);
    TRY(pack_cstr(&pk, "nonce"));
    TRY(pack_bin(&pk, nonce, PQIFY_FWD_NONCE_BYTES));
    TRY(pack_cstr(&pk, "auth"));
    TRY(pack_bin(&pk, auth_salt.ptr ? auth_salt.ptr : (const uint8_t *)"", auth_salt.len));
    TRY(pack_cstr(&pk, "keepalive"));
    ENSURE((keepalive ? msgpack_pack_true(&pk) : msgpack_pack_false(&pk)) == 0,
           PQIFY_LOGS_ERR_NOMEM);
out:
    return ret;
}

int pqify_fwd_encode_ping(const char *hostname, pqify_fwd_bytes salt, pqify_fwd_bytes nonce,
                          pqify_fwd_bytes key, const char *username, const char *password,
                          pqify_fwd_bytes auth_salt, msgpack_sbuffer *out)
{
    msgpack_packer pk;
    char digest[129], pw[129] = "";
    int ret = 0;

    msgpack_packer_init(&pk, out, msgpack_sbuffer_write);
    TRY(pqify_fwd_shared_key_digest(salt, cbytes(hostname), nonce, key, digest));
    if (username) {
        /* [v1 §PING]: sha512_hex(auth_salt + username + password) */
        pqify_fwd_bytes parts[3] = {auth_salt, cbytes(username), cbytes(password)};
        TRY(sha512_hex(parts, 3, pw));
    }
    ENSURE(msgpack_pack_array(&pk, 6) == 0, PQIFY_LOGS_ERR_NOMEM);
    TRY(pack_cstr(&pk, "PING"));
    TRY(pack_cstr(&pk, hostname));
    TRY(pack_str(&pk, (const char *)salt.ptr, salt.len));
    TRY(pack_cstr(&pk, digest));
    TRY(pack_cstr(&pk, username ? username : ""));
    TRY(pack_cstr(&pk, pw));
out:
    return ret;
}

/* Constant time over the digest: a mismatch position must not leak through timing. */
static int digest_eq(pqify_fwd_bytes got, const char want[129])
{
    return got.len == 128 && CRYPTO_memcmp(got.ptr, want, 128) == 0;
}

static int same_host(pqify_fwd_bytes peer, const char *self)
{
    return self && peer.len == strlen(self) && memcmp(peer.ptr, self, peer.len) == 0;
}

int pqify_fwd_check_ping(const pqify_fwd_msg *ping, const char *self_hostname,
                         pqify_fwd_bytes nonce, pqify_fwd_bytes key, pqify_fwd_bytes auth_salt,
                         const char *const *users)
{
    char want[129], pw[129];
    int ret = 0, ok;

    ENSURE(ping->kind == PQIFY_FWD_PING, PQIFY_LOGS_ERR_UNEXPECTED);
    /* [v1 §PING]: the same hostname on both ends is a configuration error */
    ENSURE(!same_host(ping->hostname, self_hostname), PQIFY_LOGS_ERR_SAME_HOST);
    TRY(pqify_fwd_shared_key_digest(ping->salt, ping->hostname, nonce, key, want));
    ok = digest_eq(ping->digest, want);
    if (users) {
        int user_ok = 0;
        for (size_t i = 0; users[i] && users[i + 1]; i += 2) {
            pqify_fwd_bytes parts[3] = {auth_salt, ping->username, cbytes(users[i + 1])};
            if (ping->username.len != strlen(users[i]) ||
                memcmp(ping->username.ptr, users[i], ping->username.len) != 0)
                continue;
            TRY(sha512_hex(parts, 3, pw));
            user_ok = digest_eq(ping->password_digest, pw);
        }
        ok &= user_ok;
    }
    ENSURE(ok, PQIFY_LOGS_ERR_AUTH);
out:
    OPENSSL_cleanse(want, sizeof want);
    OPENSSL_cleanse(pw, sizeof pw);
    return ret;
}

int pqify_fwd_encode_pong(int ok, const char *reason, const char *hostname, pqify_fwd_bytes salt,
                          pqify_fwd_bytes nonce, pqify_fwd_bytes key, msgpack_sbuffer *out)
{
    msgpack_packer pk;
    char digest[129] = "";
    int ret = 0;

    msgpack_packer_init(&pk, out, msgpack_sbuffer_write);
    if (ok)
        TRY(pqify_fwd_shared_key_digest(salt, cbytes(hostname), nonce, key, digest));
    ENSURE(msgpack_pack_array(&pk, 5) == 0, PQIFY_LOGS_ERR_NOMEM);
    TRY(pack_cstr(&pk, "PONG"));
    ENSURE((ok ? msgpack_pack_true(&pk) : msgpack_pack_false(&pk)) == 0, PQIFY_LOGS_ERR_NOMEM);
    TRY(pack_cstr(&pk, reason ? reason : ""));
    TRY(pack_cstr(&pk, hostname));
    TRY(pack_cstr(&pk, digest));
out:
    return ret;
}

int pqify_fwd_check_pong(const pqify_fwd_msg *pong, const char *self_hostname,
                         pqify_fwd_bytes salt, pqify_fwd_bytes nonce, pqify_fwd_bytes key)
{
    char want[129];
    int ret = 0;

    ENSURE(pong->kind == PQIFY_FWD_PONG, PQIFY_LOGS_ERR_UNEXPECTED);
    ENSURE(!same_host(pong->hostname, self_hostname), PQIFY_LOGS_ERR_SAME_HOST);
    ENSURE(pong->auth_ok, PQIFY_LOGS_ERR_AUTH_REFUSED);
    TRY(pqify_fwd_shared_key_digest(salt, pong->hostname, nonce, key, want));
    ENSURE(digest_eq(pong->digest, want), PQIFY_LOGS_ERR_AUTH);
out:
    OPENSSL_cleanse(want, sizeof want);
    return ret;
}
