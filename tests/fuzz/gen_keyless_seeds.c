/*
 * Seeds for fuzz_keyless: every packet in the gokeyless vectors
 * ($PQIFY_VECTORS_DIR/keyless/gokeyless-wire.txt, lines name=hex whose hex is a packet),
 * plus packets our encoder writes for every opcode with every item set.
 *   gen_keyless_seeds <dir>   writes <dir>/seed-<n>
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "pqify/keyless.h"

static const char *root;
static unsigned counter;

static void put(const uint8_t *p, size_t n)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/seed-%03u", root, counter++);
    FILE *f = fopen(path, "wb");
    if (f == NULL || fwrite(p, 1, n, f) != n || fclose(f) != 0) {
        perror(path);
        exit(1);
    }
}

static int hexval(int c)
{
    return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

static void from_vectors(void)
{
    static char line[16384];
    static uint8_t pkt[8192];
    char path[4096];
    const char *dir = getenv("PQIFY_VECTORS_DIR");
    FILE *f;
    if (dir == NULL)
        return;
    snprintf(path, sizeof path, "%s/keyless/gokeyless-wire.txt", dir);
    f = fopen(path, "r");
    if (f == NULL)
        return;
    while (fgets(line, sizeof line, f) != NULL) {
        char *hex = strchr(line, '=');
        size_t n = 0;
        if (line[0] == '#' || hex == NULL)
            continue;
        for (hex++; hexval(hex[0]) >= 0 && hexval(hex[1]) >= 0 && n < sizeof pkt; hex += 2)
            pkt[n++] = (uint8_t)(hexval(hex[0]) << 4 | hexval(hex[1]));
        /* only packets: a header whose length matches */
        if (pqify_keyless_frame_len(pkt, n) == n)
            put(pkt, n);
    }
    fclose(f);
}

static void ours(void)
{
    static const uint8_t ops[] = {0x01, 0x02, 0x05, 0x08, 0x12, 0x15, 0x18, 0x21, 0x24,
                                  0x35, 0x37, 0xF0, 0xF1, 0xF2, 0xFF, 0x00};
    static const uint8_t ip4[4] = {10, 0, 0, 1}, ip6[16] = {0xfe, 0x80, [15] = 1};
    static uint8_t out[PQIFY_KEYLESS_MAX_PACKET];
    for (size_t i = 0; i < sizeof ops; i++) {
        pqify_keyless_packet p;
        size_t n;
        pqify_keyless_packet_init(&p, (uint32_t)i + 100, ops[i]);
        p.payload = (pqify_keyless_bytes){(const uint8_t *)"0123456789abcdef0123456789abcdef", 32};
        memset(p.ski, (int)i + 1, sizeof p.ski);
        if (i % 2) {
            memset(p.digest, 0x33, sizeof p.digest);
            p.client_ip = (pqify_keyless_bytes){ip4, 4};
            p.server_ip = (pqify_keyless_bytes){ip6, 16};
            p.sni = (pqify_keyless_bytes){(const uint8_t *)"fuzz.example", 12};
            p.cert_id = (pqify_keyless_bytes){(const uint8_t *)"id", 2};
            p.custom_func = (pqify_keyless_bytes){(const uint8_t *)"fn", 2};
            p.extra = (pqify_keyless_bytes){(const uint8_t *)"x", 1};
            p.span = (pqify_keyless_bytes){(const uint8_t *)"span", 4};
            p.req_context = (pqify_keyless_bytes){(const uint8_t *)"rc", 2};
            p.compliance_region = (pqify_keyless_bytes){(const uint8_t *)"\x02", 1};
        }
        p.padded = i % 3 != 0;
        if (pqify_keyless_encode(&p, out, sizeof out, &n) != 0) {
            fprintf(stderr, "gen_keyless_seeds: encode failed\n");
            exit(1);
        }
        put(out, n);
    }
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: gen_keyless_seeds DIR\n");
        return 2;
    }
    root = argv[1];
    if (mkdir(root, 0777) != 0 && errno != EEXIST) {
        perror(root);
        return 1;
    }
    from_vectors();
    ours();
    printf("%u keyless seeds in %s\n", counter, root);
    return 0;
}
