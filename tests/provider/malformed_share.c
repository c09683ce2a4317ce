/*
 * Malformed key shares over loopback TCP to a TLS server that has pqify.so
 * (tests/provider/provider_interop.sh runs it against Debian's openssl s_server):
 *
 *   provider_malformed_share PORT
 *
 * For every provider group, ClientHellos written with the negative corpus's
 * writer (tests/tls/negative_corpus.h) whose one key share is broken: a byte short,
 * a byte long, twice the length, an ML-KEM ek failing the FIPS 203 modulus check
 * (coefficients q and 4095, and mlkem-cctv's modulus vectors when
 * PQIFY_VECTORS_DIR has them), every small-order X25519 value, and the six broken
 * P-256/P-384 point forms. Each must be answered by a fatal illegal_parameter alert
 * (DESIGN.md "Groups"); after each, a hello with a valid share must get a
 * ServerHello, so the server is still up and serving. Every read waits at most 5
 * seconds. Prints one line per failure and a summary; exits 1 on any failure.
 */
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "conn.h"
#include "tls/negative_corpus.h"

#define READ_TIMEOUT_MS 5000

static int port, failures, cases;

/* the provider's groups: the first six rows of nc_groups[] */
static const uint16_t provider_groups[] = {0x11EC, 0x11EB, 0x11ED, 0x0200, 0x0201, 0x0202};

static int tcp_connect(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa;
    memset(&sa, 0, sizeof sa);
    sa.sin_family = AF_INET;
    sa.sin_port = htons((uint16_t)port);
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof sa) != 0) {
        if (fd >= 0)
            close(fd);
        return -1;
    }
    int one = 1;
    (void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    return fd;
}

/* Sends hello and reads the first 6 bytes after the record header's first byte:
 * out[0] = record type, out[5] and out[6] the first two body bytes. */
static int exchange(const nc_bytes *hello, uint8_t out[7])
{
    int fd = tcp_connect();
    size_t got = 0;
    if (fd < 0)
        return -1;
    if (send(fd, hello->p, hello->len, MSG_NOSIGNAL) != (ssize_t)hello->len) {
        close(fd);
        return -1;
    }
    while (got < 7) {
        struct pollfd pfd = {.fd = fd, .events = POLLIN};
        if (poll(&pfd, 1, READ_TIMEOUT_MS) <= 0)
            break;
        ssize_t r = recv(fd, out + got, 7 - got, 0);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            break;
        got += (size_t)r;
    }
    close(fd);
    return got == 7 ? 0 : -1;
}

static size_t group_index(uint16_t id)
{
    for (size_t i = 0; i < NC_N_GROUPS; i++)
        if (nc_groups[i].id == id)
            return i;
    nc_die("group");
    return 0;
}

static void hello_for(nc_bytes *out, uint16_t id, const uint8_t *share, size_t len)
{
    nc_bytes e = {0};
    nc_exts_one_share(&e, id, 0, share, len);
    nc_client_hello(out, "1301", "0100", e.p, e.len, TLS_MAX_PLAINTEXT);
    free(e.p);
}

/* the server still answers a good hello with a ServerHello */
static void still_serving(const char *after)
{
    uint8_t share[4 * 1700], r[7];
    nc_bytes b = {0};
    size_t gi = group_index(0x11EC);
    size_t len = nc_valid_share(gi, share);
    hello_for(&b, 0x11EC, share, len);
    if (exchange(&b, r) != 0 || r[0] != TLS_CT_HANDSHAKE || r[5] != TLS_HS_SERVER_HELLO) {
        printf("FAIL: no ServerHello for a valid X25519MLKEM768 share after '%s'\n", after);
        failures++;
    }
    free(b.p);
}

static void expect_illegal(const char *group, const char *what, const uint8_t *share, size_t len,
                           uint16_t id)
{
    char name[200];
    uint8_t r[7];
    nc_bytes b = {0};
    snprintf(name, sizeof name, "%s: %s", group, what);
    hello_for(&b, id, share, len);
    cases++;
    if (exchange(&b, r) != 0) {
        printf("FAIL [%s]: no answer (the server closed or timed out)\n", name);
        failures++;
    } else if (r[0] != TLS_CT_ALERT || r[5] != 2 || r[6] != TLS_ALERT_ILLEGAL_PARAMETER) {
        printf("FAIL [%s]: got record type %u, bytes %u %u; want a fatal illegal_parameter (21, 2 47)\n",
               name, r[0], r[5], r[6]);
        failures++;
    }
    free(b.p);
    still_serving(name);
}

static void modulus_vectors(size_t gi, const char *set, size_t ek, size_t kem_at)
{
    const char *dir = getenv("PQIFY_VECTORS_DIR");
    char cmd[4096];
    static char line[2 * 1568 + 8];
    uint8_t share[4 * 1700];
    if (dir == NULL)
        return;
    snprintf(cmd, sizeof cmd, "gzip -dc '%s/mlkem-cctv/modulus/%s.txt.gz' 2>/dev/null", dir, set);
    FILE *f = popen(cmd, "r");
    if (f == NULL)
        return;
    for (int n = 0; n < 3 && fgets(line, sizeof line, f) != NULL; n++) {
        line[strcspn(line, "\r\n")] = 0;
        size_t len = nc_valid_share(gi, share);
        if (strlen(line) != 2 * ek)
            nc_die("modulus vector length");
        nc_unhex(line, share + kem_at, ek);
        char what[80];
        snprintf(what, sizeof what, "mlkem-cctv %s modulus vector #%d", set, n + 1);
        expect_illegal(nc_groups[gi].name, what, share, len, nc_groups[gi].id);
    }
    pclose(f);
}

static void group_cases(uint16_t id)
{
    size_t gi = group_index(id);
    const char *g = nc_groups[gi].name;
    uint8_t share[4 * 1700];
    size_t len = nc_valid_share(gi, share);
    size_t ecdh_len = nc_groups[gi].ecdh_len, ek = len - ecdh_len;
    size_t kem_at = nc_groups[gi].ecdh_first == 1 ? ecdh_len : 0;
    size_t ecdh_at = nc_groups[gi].ecdh_first == 1 ? 0 : ek;

    expect_illegal(g, "share one byte short", share, len - 1, id);
    share[len] = 0;
    expect_illegal(g, "share with one byte more", share, len + 1, id);
    memset(share + len, 0x5a, len);
    expect_illegal(g, "share of twice the length", share, 2 * len, id);

    len = nc_valid_share(gi, share);
    share[kem_at] = 0x01;   /* coefficient 0 = 0xD01 = q (FIPS 203 §7.2) */
    share[kem_at + 1] = (uint8_t)((share[kem_at + 1] & 0xf0) | 0x0d);
    expect_illegal(g, "ek coefficient equal to q", share, len, id);
    len = nc_valid_share(gi, share);
    share[kem_at + 1] |= 0xf0;   /* coefficient 1 = 4095 */
    share[kem_at + 2] = 0xff;
    expect_illegal(g, "ek coefficient 4095", share, len, id);
    modulus_vectors(gi, ek == 800 ? "ML-KEM-512" : ek == 1184 ? "ML-KEM-768" : "ML-KEM-1024", ek,
                    kem_at);

    if (ecdh_len == 32) {
        static const char *const more[] = {
            /* beyond the corpus's four: the other point of order 8, p and p + 1 */
            "5f9c95bca3508c24b1d0b1559c83ef5b04445cc4581c8e86d8224eddd09f1157",
            "edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
            "eeffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
        };
        const char *all[7];
        size_t n = 0;
        for (size_t k = 0; k < sizeof nc_x25519_small / sizeof nc_x25519_small[0]; k++)
            all[n++] = nc_x25519_small[k];
        for (size_t k = 0; k < 3; k++)
            all[n++] = more[k];
        for (size_t k = 0; k < n; k++) {
            char what[64];
            len = nc_valid_share(gi, share);
            nc_unhex(all[k], share + ecdh_at, 32);
            snprintf(what, sizeof what, "X25519 small-order u #%zu", k);
            expect_illegal(g, what, share, len, id);
        }
    } else if (ecdh_len != 0) {
        for (int kind = 0; kind < 6; kind++) {
            len = nc_valid_share(gi, share);
            nc_bad_point(share + ecdh_at, ecdh_len, kind);
            expect_illegal(g, nc_point_names[kind], share, len, id);
        }
    }
}

int main(int argc, char **argv)
{
    if (argc != 2 || (port = atoi(argv[1])) <= 0 || port > 65535) {
        fprintf(stderr, "usage: provider_malformed_share PORT\n");
        return 2;
    }
    still_serving("nothing (the first check)");
    for (size_t i = 0; i < sizeof provider_groups / sizeof provider_groups[0]; i++)
        group_cases(provider_groups[i]);
    printf("%d malformed shares sent, %d failures\n", cases, failures);
    return failures == 0 && cases > 0 ? 0 : 1;
}
