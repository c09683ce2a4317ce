/*
 * Seed corpora for the fuzz harnesses, cut from real handshakes between a pqify
 * client and server in memory (the same deterministic PKI and RAND_bytes as the
 * harnesses, so recorded HRR cookies and certificate chains stay valid).
 *   gen_seeds <dir>   writes <dir>/<harness>/seed-<n> for every harness
 */
#include <errno.h>
#include <stdint.h>
#include <string.h>
#include <sys/stat.h>

#include "conn.h"
#include "fuzz_common.h"
#include "fuzz_rand.h"

static const char *root;

static void put(const char *harness, const uint8_t *head, size_t head_len, const uint8_t *p, size_t n)
{
    static unsigned counter;
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", root, harness);
    if (mkdir(path, 0777) != 0 && errno != EEXIST)
        fuzz_die(path);
    snprintf(path, sizeof path, "%s/%s/seed-%03u", root, harness, counter++);
    FILE *f = fopen(path, "wb");
    if (f == NULL || fwrite(head, 1, head_len, f) != head_len || fwrite(p, 1, n, f) != n ||
        fclose(f) != 0)
        fuzz_die(path);
}

/* The handshake messages of the plaintext records at the start of buf (ClientHello,
 * ServerHello/HRR), each seeded as a body for the parser harness. */
static void seed_plain_messages(const pqify_tls_buf *buf, const char *harness, uint8_t want_type,
                                const uint8_t *head, size_t head_len)
{
    size_t off = 0;
    while (off + 5 <= buf->len && buf->base[off] == TLS_CT_HANDSHAKE) {
        size_t rlen = (size_t)buf->base[off + 3] << 8 | buf->base[off + 4];
        const uint8_t *m = buf->base + off + 5;
        if (off + 5 + rlen > buf->len || rlen < 4)
            break;
        size_t mlen = (size_t)m[1] << 16 | (size_t)m[2] << 8 | m[3];
        if (m[0] == want_type && mlen + 4 <= rlen)
            put(harness, head, head_len, m + 4, mlen);
        off += 5 + rlen;
    }
}

/* One real handshake; the byte streams each way are seeds for the full harnesses. */
static void run_with(const char *client_groups, int mtls, pqify_tls_config *ccfg,
                     pqify_tls_config *scfg);

static void run(const char *client_groups, int mtls, const fuzz_pki *pki)
{
    pqify_tls_config *ccfg = fuzz_client_config(pki, mtls), *scfg = fuzz_server_config(pki, mtls);
    if (client_groups != NULL && pqify_tls_config_set_groups(ccfg, client_groups) != 0)
        fuzz_die(client_groups);
    run_with(client_groups, mtls, ccfg, scfg);
    pqify_tls_config_free(ccfg);
    pqify_tls_config_free(scfg);
}

/* A handshake whose server_name picks the server's wildcard identity (SNI). */
static void run_wildcard(const fuzz_pki *pki)
{
    pqify_tls_config *ccfg = fuzz_client_config(pki, 0), *scfg = fuzz_server_config(pki, 0);
    if (pqify_tls_config_set_server_name(ccfg, "x.wild.test") != 0)
        fuzz_die("wildcard server name");
    run_with(NULL, 0, ccfg, scfg);
    pqify_tls_config_free(ccfg);
    pqify_tls_config_free(scfg);
}

/* A full handshake that leaves a ticket in the client's cache, then a resumed one
 * (pre_shared_key with a binder): both byte streams are seeds. */
static void run_resumed(const fuzz_pki *pki)
{
    pqify_tls_config *ccfg = fuzz_client_config(pki, 0), *scfg = fuzz_server_config(pki, 0);
    if (pqify_tls_config_set_session_cache(ccfg, 4) != 0)
        fuzz_die("session cache");
    run_with(NULL, 0, ccfg, scfg);
    run_with(NULL, 0, ccfg, scfg);
    pqify_tls_config_free(ccfg);
    pqify_tls_config_free(scfg);
}

static void run_with(const char *client_groups, int mtls, pqify_tls_config *ccfg,
                     pqify_tls_config *scfg)
{
    pqify_tls_conn *c = pqify_tls_conn_new(ccfg, 0), *s = pqify_tls_conn_new(scfg, 1);
    pqify_tls_buf to_s, to_c, all_to_s, all_to_c;
    pqify_tls_buf_init(&to_s, NULL, 0);
    pqify_tls_buf_init(&to_c, NULL, 0);
    pqify_tls_buf_init(&all_to_s, NULL, 0);
    pqify_tls_buf_init(&all_to_c, NULL, 0);
    size_t zero = 0;
    int cr = pqify_tls_handshake(c, NULL, &zero, &to_s), sr = PQIFY_TLS_IN_PROGRESS;
    fuzz_rand_reset();   /* the server's first RAND_bytes draw is what the harness sees */
    for (int round = 0; round < 8 && (cr > 0 || sr > 0); round++) {
        if (to_s.len > 0 && sr > 0) {
            seed_plain_messages(&to_s, "client_hello", TLS_HS_CLIENT_HELLO, NULL, 0);
            if (tls_buf_reserve(&all_to_s, to_s.len) != 0 ||
                tls_write_bytes(&all_to_s, to_s.base, to_s.len) != 0)
                fuzz_die("buf");
            size_t used = to_s.len;
            sr = pqify_tls_handshake(s, to_s.base, &used, &to_c);
            to_s.len = 0;
        }
        if (to_c.len > 0 && cr > 0) {
            const uint8_t sel = 0;
            seed_plain_messages(&to_c, "server_hello", TLS_HS_SERVER_HELLO, &sel, 1);
            if (tls_write_bytes(&all_to_c, to_c.base, to_c.len) != 0)
                fuzz_die("buf");
            size_t used = to_c.len;
            cr = pqify_tls_handshake(c, to_c.base, &used, &to_s);
            to_c.len = 0;
        }
    }
    if (cr != 0 || sr != 0)
        fuzz_die("seed handshake did not complete");
    /* the server's tickets reach the client (and its session cache) */
    if (to_c.len > 0) {
        pqify_tls_buf plain;
        pqify_tls_buf_init(&plain, NULL, 0);
        if (tls_write_bytes(&all_to_c, to_c.base, to_c.len) != 0)
            fuzz_die("buf");
        size_t used = to_c.len;
        if (pqify_tls_receive(c, &plain, to_c.base, &used, &to_s) != 0)
            fuzz_die("ticket");
        to_c.len = 0;
        pqify_tls_buf_dispose(&plain);
    }
    /* a little application data and a close_notify each way, after the handshake */
    if (pqify_tls_send(c, &all_to_s, "ping", 4) != 0 || pqify_tls_close_notify(c, &all_to_s) != 0 ||
        pqify_tls_send(s, &all_to_c, "pong", 4) != 0)
        fuzz_die("send");
    const uint8_t whole = (uint8_t)(mtls ? 0x80 : 0x00), bytewise = (uint8_t)(whole | 1),
                  sevens = (uint8_t)(whole | 7);
    put("server", &whole, 1, all_to_s.base, all_to_s.len);
    put("server", &bytewise, 1, all_to_s.base, all_to_s.len);
    put("server", &sevens, 1, all_to_s.base, all_to_s.len);
    /* fuzz_client: bit 6 = the default (PQ) client, else the X25519-only one; the
     * last byte of the stream picks mTLS (bit 0), as close as a seed can aim */
    const int x25519_only = client_groups != NULL && strcmp(client_groups, "x25519") == 0;
    const uint8_t cwhole = (uint8_t)(x25519_only ? 0x00 : 0x40),
                  csevens = (uint8_t)(cwhole | 7);
    if (x25519_only || client_groups == NULL) {
        put("client", &cwhole, 1, all_to_c.base, all_to_c.len);
        put("client", &csevens, 1, all_to_c.base, all_to_c.len);
    }
    pqify_tls_conn_free(c);
    pqify_tls_conn_free(s);
    pqify_tls_buf_dispose(&to_s);
    pqify_tls_buf_dispose(&to_c);
    pqify_tls_buf_dispose(&all_to_s);
    pqify_tls_buf_dispose(&all_to_c);
}

static void hex_seed(const char *harness, uint8_t head, const char *hex)
{
    uint8_t buf[512];
    size_t n = strlen(hex) / 2;
    for (size_t i = 0; i < n; i++) {
        unsigned v;
        if (sscanf(hex + 2 * i, "%2x", &v) != 1)
            fuzz_die(hex);
        buf[i] = (uint8_t)v;
    }
    put(harness, &head, 1, buf, n);
}

static void certificate_seeds(const fuzz_pki *pki)
{
    pqify_tls_config *s = fuzz_server_config(pki, 0), *c = fuzz_client_config(pki, 1);
    const pqify_tls_config *cfgs[2] = {s, c};
    for (int role = 0; role < 2; role++) {
        pqify_tls_buf m;
        pqify_tls_buf_init(&m, NULL, 0);
        /* role 0: a client checking the server's chain; 1: a server checking a client's */
        if (tls_certificate_write(&cfgs[role]->ids[0], 1, &m) != 0)
            fuzz_die("certificate");
        size_t body = m.len - 4;
        uint8_t head[4] = {(uint8_t)role, (uint8_t)(body >> 16), (uint8_t)(body >> 8), (uint8_t)body};
        /* an Ed25519 CertificateVerify shape: scheme 0x0807, 64 bytes */
        if (tls_write_u16(&m, TLS_SIG_ED25519) != 0 || tls_write_u16(&m, 64) != 0)
            fuzz_die("cv");
        for (int i = 0; i < 64; i++)
            if (tls_write_u8(&m, (uint8_t)i) != 0)
                fuzz_die("cv");
        put("certificate", head, 4, m.base + 4, m.len - 4);
        pqify_tls_buf_dispose(&m);
    }
    pqify_tls_config_free(s);
    pqify_tls_config_free(c);
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: gen_seeds <dir>\n");
        return 2;
    }
    root = argv[1];
    if (mkdir(root, 0777) != 0 && errno != EEXIST)
        fuzz_die(root);
    fuzz_pki pki;
    fuzz_pki_init(&pki);
    /* defaults, every hybrid and pure group, a legacy one, and an HRR flow
     * (x25519 first: one classical share, and the server asks for the PQ group) */
    const char *groups[] = {NULL, "SecP256r1MLKEM768", "SecP384r1MLKEM1024", "MLKEM512",
                            "MLKEM1024", "secp384r1", "X25519Kyber768Draft00,x25519",
                            "x25519,SecP256r1MLKEM768", "secp256r1,X25519MLKEM768", "x25519"};
    for (size_t i = 0; i < sizeof groups / sizeof groups[0]; i++)
        run(groups[i], 0, &pki);
    run(NULL, 1, &pki);
    run_resumed(&pki);
    run_wildcard(&pki);
    certificate_seeds(&pki);
    /* the small messages of fuzz_server_hello (selector byte first) */
    hex_seed("server_hello", 4, "0000");
    hex_seed("server_hello", 4, "000a0010000600047071667900000000");
    hex_seed("server_hello", 5, "00000a000d0006000404030807");
    hex_seed("server_hello", 6, "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f");
    hex_seed("server_hello", 7, "01");
    hex_seed("server_hello", 7, "0228");
    /* fuzz_sni: the schemes byte, then a server name */
    const char *names[] = {"x.wild.test", "WILD.test", "server.test", "a.b.wild.test", "wild.test."};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        put("sni", (const uint8_t *)"\x07", 1, (const uint8_t *)names[i], strlen(names[i]));
    fuzz_pki_free(&pki);
    return 0;
}
