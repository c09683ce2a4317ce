/* The gokeyless codec: the packets gokeyless's own encoder produced, byte for byte, and
 * every malformed shape a reader must refuse (shared/vectors/keyless). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/param_build.h>

#include "keyless_test.h"

static uint8_t buf[PQIFY_KEYLESS_MAX_PACKET];

typedef struct vec {
    uint8_t b[2048];
    size_t n;
} vec;

static void load(const char *name, vec *v)
{
    assert_int_equal(kt_vector(name, v->b, sizeof(v->b), &v->n), 0);
}

static void encode_equals(const pqify_keyless_packet *p, const vec *want)
{
    size_t n = 0;
    assert_int_equal(pqify_keyless_encode(p, buf, sizeof(buf), &n), 0);
    assert_int_equal(n, want->n);
    assert_memory_equal(buf, want->b, n);
}

static void test_sign_request(void **state)
{
    vec v, digest, ski;
    pqify_keyless_packet p, q;
    (void)state;
    load("sign_request", &v);
    load("digest", &digest);
    load("ski", &ski);
    assert_int_equal(v.n, PQIFY_KEYLESS_PADDED_BYTES);
    assert_int_equal(pqify_keyless_frame_len(v.b, v.n), v.n);
    assert_int_equal(pqify_keyless_decode(v.b, v.n, &p), 0);
    assert_int_equal(p.major, 1);
    assert_int_equal(p.minor, 0);
    assert_int_equal(p.id, 1);
    assert_int_equal(p.opcode, PQIFY_KEYLESS_OP_ECDSA_SIGN_SHA256);
    assert_int_equal(p.payload.len, 32);
    assert_memory_equal(p.payload.data, digest.b, 32);
    assert_memory_equal(p.ski, ski.b, 20);
    assert_int_equal(p.sni.len, 11);
    assert_memory_equal(p.sni.data, "example.com", 11);
    assert_true(p.padded);
    assert_int_equal(p.client_ip.len, 0);
    /* the same packet built field by field encodes to gokeyless's bytes */
    pqify_keyless_packet_init(&q, 1, PQIFY_KEYLESS_OP_ECDSA_SIGN_SHA256);
    q.payload.data = digest.b;
    q.payload.len = digest.n;
    memcpy(q.ski, ski.b, 20);
    q.sni.data = (const uint8_t *)"example.com";
    q.sni.len = 11;
    encode_equals(&q, &v);
    encode_equals(&p, &v);
}

static void test_ping_request(void **state)
{
    vec v;
    pqify_keyless_packet p, q;
    (void)state;
    load("ping_request", &v);
    assert_int_equal(pqify_keyless_decode(v.b, v.n, &p), 0);
    assert_int_equal(p.id, 2);
    assert_int_equal(p.opcode, PQIFY_KEYLESS_OP_PING);
    assert_int_equal(p.payload.len, 4);
    assert_memory_equal(p.payload.data, "ping", 4);
    pqify_keyless_packet_init(&q, 2, PQIFY_KEYLESS_OP_PING);
    q.payload.data = (const uint8_t *)"ping";
    q.payload.len = 4;
    encode_equals(&q, &v);
}

/* the P-256 key of the vectors, from d alone: pub = d*G */
static EVP_PKEY *vector_key(void)
{
    vec d;
    uint8_t pub[65];
    BIGNUM *bd;
    EC_GROUP *g = EC_GROUP_new_by_curve_name(NID_X9_62_prime256v1);
    EC_POINT *pt = EC_POINT_new(g);
    OSSL_PARAM_BLD *bld = OSSL_PARAM_BLD_new();
    OSSL_PARAM *params;
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_name(NULL, "EC", NULL);
    EVP_PKEY *k = NULL;
    load("d", &d);
    bd = BN_bin2bn(d.b, (int)d.n, NULL);
    assert_int_equal(EC_POINT_mul(g, pt, bd, NULL, NULL, NULL), 1);
    assert_int_equal(EC_POINT_point2oct(g, pt, POINT_CONVERSION_UNCOMPRESSED, pub, sizeof(pub), NULL), 65);
    assert_int_equal(OSSL_PARAM_BLD_push_utf8_string(bld, OSSL_PKEY_PARAM_GROUP_NAME, "prime256v1", 0), 1);
    assert_int_equal(OSSL_PARAM_BLD_push_octet_string(bld, OSSL_PKEY_PARAM_PUB_KEY, pub, 65), 1);
    assert_int_equal(OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_PRIV_KEY, bd), 1);
    params = OSSL_PARAM_BLD_to_param(bld);
    assert_int_equal(EVP_PKEY_fromdata_init(ctx), 1);
    assert_int_equal(EVP_PKEY_fromdata(ctx, &k, EVP_PKEY_KEYPAIR, params), 1);
    OSSL_PARAM_free(params);
    OSSL_PARAM_BLD_free(bld);
    EVP_PKEY_CTX_free(ctx);
    BN_free(bd);
    EC_POINT_free(pt);
    EC_GROUP_free(g);
    return k;
}

static void test_sign_response_and_ski(void **state)
{
    vec v, digest, ski;
    pqify_keyless_packet p, q;
    uint8_t got_ski[20];
    EVP_PKEY *k = vector_key();
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_pkey(NULL, k, NULL);
    (void)state;
    load("sign_response", &v);
    load("digest", &digest);
    load("ski", &ski);
    assert_int_equal(pqify_keyless_decode(v.b, v.n, &p), 0);
    assert_int_equal(p.id, 1);
    assert_int_equal(p.opcode, PQIFY_KEYLESS_OP_RESPONSE);
    assert_int_equal(p.payload.len, 0x48);
    /* the vector's signature verifies under the vector's key (libcrypto) */
    assert_int_equal(EVP_PKEY_verify_init(ctx), 1);
    assert_int_equal(EVP_PKEY_verify(ctx, p.payload.data, p.payload.len, digest.b, digest.n), 1);
    /* and the SKI gokeyless computed for that key is ours */
    assert_int_equal(pqify_keyless_ski(k, got_ski), 0);
    assert_memory_equal(got_ski, ski.b, 20);
    pqify_keyless_packet_init(&q, 1, PQIFY_KEYLESS_OP_RESPONSE);
    q.payload = p.payload;
    encode_equals(&q, &v);
    EVP_PKEY_CTX_free(ctx);
    EVP_PKEY_free(k);
}

static void test_unpadded(void **state)
{
    vec pong, err;
    pqify_keyless_packet p;
    (void)state;
    load("pong_unpadded", &pong);
    load("error_key_not_found_unpadded", &err);
    assert_int_equal(pqify_keyless_decode(pong.b, pong.n, &p), 0);
    assert_int_equal(p.id, 2);
    assert_int_equal(p.opcode, PQIFY_KEYLESS_OP_PONG);
    assert_false(p.padded);
    assert_memory_equal(p.payload.data, "ping", 4);
    encode_equals(&p, &pong); /* padded stays off: the same bytes */
    assert_int_equal(pqify_keyless_decode(err.b, err.n, &p), 0);
    assert_int_equal(p.id, 3);
    assert_int_equal(p.opcode, PQIFY_KEYLESS_OP_ERROR);
    assert_int_equal(p.payload.len, 1);
    assert_int_equal(p.payload.data[0], PQIFY_KEYLESS_E_KEY_NOT_FOUND);
    encode_equals(&p, &err);
}

/* every opcode the README lists survives encode -> decode, with every field set */
static void test_every_opcode_and_field(void **state)
{
    static const uint8_t ops[] = {0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x12, 0x13, 0x14,
                                  0x15, 0x16, 0x17, 0x18, 0x21, 0x22, 0x23, 0x24, 0x35, 0x36, 0x37,
                                  0xF0, 0xF1, 0xF2, 0xFF};
    static const uint8_t ip4[4] = {192, 0, 2, 1}, ip6[16] = {0x20, 0x01, 0x0d, 0xb8, [15] = 1};
    (void)state;
    for (size_t i = 0; i < sizeof(ops); i++) {
        pqify_keyless_packet p, q;
        size_t n;
        pqify_keyless_packet_init(&p, 0xdeadbeef - (uint32_t)i, ops[i]);
        assert_string_not_equal(pqify_keyless_op_name(ops[i]), "unknown");
        p.payload = (pqify_keyless_bytes){(const uint8_t *)"abc", 3};
        memset(p.ski, 0x5a, sizeof(p.ski));
        memset(p.digest, 0xa5, sizeof(p.digest));
        p.client_ip = (pqify_keyless_bytes){ip4, 4};
        p.server_ip = (pqify_keyless_bytes){ip6, 16};
        p.sni = (pqify_keyless_bytes){(const uint8_t *)"a.example", 9};
        p.cert_id = (pqify_keyless_bytes){(const uint8_t *)"cert-1", 6};
        p.custom_func = (pqify_keyless_bytes){(const uint8_t *)"f", 1};
        p.extra = (pqify_keyless_bytes){(const uint8_t *)"x", 1};
        p.span = (pqify_keyless_bytes){(const uint8_t *)"span", 4};
        p.req_context = (pqify_keyless_bytes){(const uint8_t *)"ctx", 3};
        p.compliance_region = (pqify_keyless_bytes){(const uint8_t *)"\x01", 1};
        assert_int_equal(pqify_keyless_encode(&p, buf, sizeof(buf), &n), 0);
        assert_int_equal(n, 1024);
        assert_int_equal(pqify_keyless_decode(buf, n, &q), 0);
        assert_int_equal(q.id, p.id);
        assert_int_equal(q.opcode, ops[i]);
        assert_memory_equal(q.ski, p.ski, 20);
        assert_memory_equal(q.digest, p.digest, 32);
        assert_int_equal(q.client_ip.len, 4);
        assert_memory_equal(q.client_ip.data, ip4, 4);
        assert_int_equal(q.server_ip.len, 16);
        assert_memory_equal(q.server_ip.data, ip6, 16);
        assert_memory_equal(q.sni.data, "a.example", 9);
        assert_memory_equal(q.cert_id.data, "cert-1", 6);
        assert_memory_equal(q.span.data, "span", 4);
        assert_memory_equal(q.req_context.data, "ctx", 3);
        assert_int_equal(q.compliance_region.len, 1);
        assert_int_equal(q.custom_func.len, 1);
        assert_int_equal(q.extra.len, 1);
    }
    for (int e = 1; e <= 11; e++)
        assert_string_not_equal(pqify_keyless_wire_error_name((uint8_t)e), "unknown");
}

/* gokeyless pads to 1024 with one item; 1 or 2 bytes short, an empty item overshoots */
static void test_padding_edges(void **state)
{
    static uint8_t payload[1100];
    static const struct { size_t payload; size_t total; } cases[] = {
        {0, 1024}, {1, 1024}, {1006, 1024}, {1007, 1025}, {1008, 1026}, {1009, 1024}, {1010, 1025},
    };
    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        pqify_keyless_packet p, q;
        size_t n;
        pqify_keyless_packet_init(&p, 7, PQIFY_KEYLESS_OP_PING);
        p.payload = (pqify_keyless_bytes){payload, cases[i].payload};
        assert_int_equal(pqify_keyless_encode(&p, buf, sizeof(buf), &n), 0);
        assert_int_equal(n, cases[i].total);
        assert_int_equal(pqify_keyless_decode(buf, n, &q), 0);
        assert_int_equal(q.payload.len, cases[i].payload);
        /* 8 + 4 + 3 + payload reaches 1024 only past 1009: then no padding item */
        assert_int_equal(q.padded, 15 + cases[i].payload < 1024);
    }
}

static void test_truncated(void **state)
{
    vec v;
    pqify_keyless_packet p;
    (void)state;
    load("sign_request", &v);
    for (size_t n = 0; n < v.n; n++) {
        int rc = pqify_keyless_decode(v.b, n, &p);
        assert_int_equal(rc, PQIFY_KEYLESS_ERR_TRUNCATED);
        if (n >= 8)
            assert_int_equal(p.id, 1); /* the id is known: an error answer can name it */
        assert_int_equal(pqify_keyless_frame_len(v.b, n), n < 8 ? 0 : 1024);
    }
}

/* bytes past the packet, and an item that runs past the body */
static void test_length_mismatch(void **state)
{
    vec v;
    pqify_keyless_packet p;
    uint8_t b[2048];
    (void)state;
    load("sign_request", &v);
    memcpy(b, v.b, v.n);
    b[v.n] = 0;
    assert_int_equal(pqify_keyless_decode(b, v.n + 1, &p), PQIFY_KEYLESS_ERR_LENGTH);
    /* the padding item claims one byte more than the body has */
    memcpy(b, v.b, v.n);
    assert_int_equal(b[v.n - 0x3a9 - 3], PQIFY_KEYLESS_TAG_PADDING);
    b[v.n - 0x3a9 - 1] = 0xaa;
    assert_int_equal(pqify_keyless_decode(b, v.n, &p), PQIFY_KEYLESS_ERR_LENGTH);
    /* the header's body length shorter than the items: the last item is cut */
    {
        vec pong;
        load("pong_unpadded", &pong);
        memcpy(b, pong.b, pong.n);
        b[3] = (uint8_t)(b[3] - 1);
        assert_int_equal(pqify_keyless_decode(b, pong.n - 1, &p), PQIFY_KEYLESS_ERR_LENGTH);
        /* one or two stray bytes: an item header cut short */
        b[3] = (uint8_t)(b[3] + 3);
        b[pong.n] = 0x12;
        b[pong.n + 1] = 0x00;
        assert_int_equal(pqify_keyless_decode(b, pong.n + 2, &p), PQIFY_KEYLESS_ERR_LENGTH);
    }
}

/* an unpadded packet from items written here: header then items */
static size_t build(uint8_t *b, uint8_t major, const uint8_t *items, size_t n)
{
    b[0] = major;
    b[1] = 0;
    b[2] = (uint8_t)(n >> 8);
    b[3] = (uint8_t)n;
    b[4] = 0, b[5] = 0, b[6] = 0x01, b[7] = 0x02;
    if (n != 0)
        memcpy(b + 8, items, n);
    return 8 + n;
}

static void test_repeated_tag(void **state)
{
    static const uint8_t two_opcodes[] = {0x11, 0, 1, 0xf1, 0x11, 0, 1, 0xf1};
    static const uint8_t two_skis[50] = {0x11, 0, 1, 0x15, 0x04, 0, 20, [7] = 1, [27] = 0x04, 0, 20, [30] = 2};
    static const uint8_t two_paddings[] = {0x11, 0, 1, 0xf1, 0x20, 0, 0, 0x20, 0, 1, 0};
    static const uint8_t two_unknown[] = {0x11, 0, 1, 0xf1, 0x99, 0, 1, 7, 0x99, 0, 0};
    uint8_t b[128];
    pqify_keyless_packet p;
    (void)state;
    assert_int_equal(pqify_keyless_decode(b, build(b, 1, two_opcodes, sizeof(two_opcodes)), &p),
                     PQIFY_KEYLESS_ERR_REPEATED_TAG);
    assert_int_equal(pqify_keyless_decode(b, build(b, 1, two_skis, 7 + 20 + 3 + 20), &p),
                     PQIFY_KEYLESS_ERR_REPEATED_TAG);
    assert_int_equal(pqify_keyless_decode(b, build(b, 1, two_paddings, sizeof(two_paddings)), &p),
                     PQIFY_KEYLESS_ERR_REPEATED_TAG);
    /* unknown tags are skipped, even twice */
    assert_int_equal(pqify_keyless_decode(b, build(b, 1, two_unknown, sizeof(two_unknown)), &p), 0);
    assert_int_equal(p.opcode, PQIFY_KEYLESS_OP_PING);
    assert_int_equal(p.id, 0x0102);
}

static void test_bad_version_and_items(void **state)
{
    static const uint8_t ping[] = {0x11, 0, 1, 0xf1};
    static const uint8_t wide_opcode[] = {0x11, 0, 2, 0xf1, 0};
    static const uint8_t empty_opcode[] = {0x11, 0, 0};
    static const uint8_t ip5[] = {0x11, 0, 1, 0xf1, 0x03, 0, 5, 1, 2, 3, 4, 5};
    static const uint8_t sip3[] = {0x11, 0, 1, 0xf1, 0x05, 0, 3, 1, 2, 3};
    static const uint8_t short_ski[26] = {0x11, 0, 1, 0x15, 0x04, 0, 19, [7] = 9};
    uint8_t b[128];
    pqify_keyless_packet p;
    (void)state;
    for (int major = 0; major < 256; major++) {
        int rc = pqify_keyless_decode(b, build(b, (uint8_t)major, ping, sizeof(ping)), &p);
        assert_int_equal(rc, major == 1 ? 0 : PQIFY_KEYLESS_ERR_VERSION);
        if (major != 1) {
            assert_int_equal(p.id, 0x0102);
            assert_int_equal(pqify_keyless_decode_error_code(rc), PQIFY_KEYLESS_E_VERSION_MISMATCH);
        }
    }
    /* a different minor is read: only the major version is a compatibility break */
    build(b, 1, ping, sizeof(ping));
    b[1] = 7;
    assert_int_equal(pqify_keyless_decode(b, 12, &p), 0);
    assert_int_equal(p.minor, 7);
    assert_int_equal(pqify_keyless_decode(b, build(b, 1, wide_opcode, sizeof(wide_opcode)), &p),
                     PQIFY_KEYLESS_ERR_FORMAT);
    assert_int_equal(pqify_keyless_decode(b, build(b, 1, empty_opcode, sizeof(empty_opcode)), &p),
                     PQIFY_KEYLESS_ERR_FORMAT);
    assert_int_equal(pqify_keyless_decode(b, build(b, 1, ip5, sizeof(ip5)), &p), PQIFY_KEYLESS_ERR_FORMAT);
    assert_int_equal(pqify_keyless_decode_error_code(PQIFY_KEYLESS_ERR_FORMAT), PQIFY_KEYLESS_E_FORMAT);
    assert_int_equal(pqify_keyless_decode(b, build(b, 1, sip3, sizeof(sip3)), &p), PQIFY_KEYLESS_ERR_FORMAT);
    /* gokeyless keeps a SKI only at 20 bytes: 19 reads as absent */
    assert_int_equal(pqify_keyless_decode(b, build(b, 1, short_ski, 7 + 19), &p), 0);
    for (int i = 0; i < 20; i++)
        assert_int_equal(p.ski[i], 0);
    /* no opcode item at all: opcode 0 (answered as a bad opcode) */
    assert_int_equal(pqify_keyless_decode(b, build(b, 1, NULL, 0), &p), 0);
    assert_int_equal(p.opcode, 0);
}

static void test_oversized(void **state)
{
    static uint8_t big[70000];
    pqify_keyless_packet p;
    size_t n = 1;
    uint8_t small[100];
    static const uint8_t ip3[3] = {1, 2, 3};
    (void)state;
    /* 8 + 4 + 3 + 65528 = 65543: the largest body, exactly */
    pqify_keyless_packet_init(&p, 1, PQIFY_KEYLESS_OP_PING);
    p.payload = (pqify_keyless_bytes){big, 65528};
    assert_int_equal(pqify_keyless_encode(&p, buf, sizeof(buf), &n), 0);
    assert_int_equal(n, PQIFY_KEYLESS_MAX_PACKET);
    assert_int_equal(pqify_keyless_frame_len(buf, n), n);
    p.payload.len = 65529;
    assert_int_equal(pqify_keyless_encode(&p, buf, sizeof(buf), &n), PQIFY_KEYLESS_ERR_TOO_LARGE);
    p.payload.len = 65536; /* not even one item's u16 */
    assert_int_equal(pqify_keyless_encode(&p, buf, sizeof(buf), &n), PQIFY_KEYLESS_ERR_TOO_LARGE);
    assert_int_equal(n, 0);
    p.payload.len = 10;
    assert_int_equal(pqify_keyless_encode(&p, small, sizeof(small), &n), PQIFY_KEYLESS_ERR_TOO_LARGE);
    p.padded = 0;
    assert_int_equal(pqify_keyless_encode(&p, small, sizeof(small), &n), 0);
    assert_int_equal(n, 8 + 4 + 13);
    p.client_ip = (pqify_keyless_bytes){ip3, 3};
    assert_int_equal(pqify_keyless_encode(&p, small, sizeof(small), &n), PQIFY_KEYLESS_ERR_ARG);
    assert_string_not_equal(pqify_keyless_strerror(PQIFY_KEYLESS_ERR_TOO_LARGE), "keyless: unknown error");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sign_request),       cmocka_unit_test(test_ping_request),
        cmocka_unit_test(test_sign_response_and_ski), cmocka_unit_test(test_unpadded),
        cmocka_unit_test(test_every_opcode_and_field), cmocka_unit_test(test_padding_edges),
        cmocka_unit_test(test_truncated),          cmocka_unit_test(test_length_mismatch),
        cmocka_unit_test(test_repeated_tag),       cmocka_unit_test(test_bad_version_and_items),
        cmocka_unit_test(test_oversized),
    };
    if (kt_vectors_file() == NULL) {
        printf("skip: PQIFY_VECTORS_DIR has no keyless/gokeyless-wire.txt\n");
        return KT_SKIP;
    }
    return cmocka_run_group_tests(tests, NULL, NULL);
}
