/*
 * One randomness source per handshake (issue 9): the engine's KEM coins come from
 * libcrypto's RAND_bytes, not from the kem layer's getrandom(2). This program
 * defines RAND_bytes itself (a definition in the executable takes precedence over
 * libcrypto's, as in tests/fuzz/fuzz_rand.h), replays the same stream twice, and
 * checks that the ML-KEM halves of two ClientHellos' shares, and of two servers'
 * ciphertexts, come out identical; with any other source they would differ.
 * It also checks those bytes against ML-KEM-768 derived by hand from the same
 * stream (pqify_mlkem768_keypair_derand on the first 64 bytes the engine drew).
 */
#include "tls_test.h"

#include "conn.h"

static uint64_t state;
static int draws;
static uint8_t first64[64];
static size_t have_first64;

int RAND_bytes(unsigned char *buf, int num);
int RAND_bytes(unsigned char *buf, int num)
{
    for (int i = 0; i < num; i++) {
        uint64_t z = (state += 0x9e3779b97f4a7c15u);
        z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9u;
        z = (z ^ (z >> 27)) * 0x94d049bb133111ebu;
        buf[i] = (unsigned char)(z ^ (z >> 31));
    }
    if (num == 64 && have_first64 == 0) {
        memcpy(first64, buf, 64);
        have_first64 = 1;
    }
    draws++;
    return 1;
}

static tt_ca ca;
static tt_identity id;

static int setup(void **state_)
{
    (void)state_;
    tt_ca_new(&ca, "pqify test CA");
    tt_identity_new(&id, &ca, "P-256", "server.test", "DNS:server.test", -1, 30);
    return 0;
}

static int teardown(void **state_)
{
    (void)state_;
    tt_identity_free(&id);
    tt_ca_free(&ca);
    return 0;
}

/* The X25519MLKEM768 share of a fresh client's hello (ML-KEM ek first, DESIGN.md)
 * and the server's answer, with the stream reset to `seed` first. */
static void one_run(uint64_t seed, uint8_t ek[PQIFY_MLKEM768_EK_BYTES], uint8_t ct[PQIFY_MLKEM768_CT_BYTES])
{
    pqify_tls_config *s = tt_server_config(&id), *c = tt_client_config(&ca, "server.test");
    state = seed;
    have_first64 = 0;
    draws = 0;
    pqify_tls_conn *client = pqify_tls_conn_new(c, 0), *server = pqify_tls_conn_new(s, 1);
    pqify_tls_buf ch, sh;
    pqify_tls_buf_init(&ch, NULL, 0);
    pqify_tls_buf_init(&sh, NULL, 0);
    size_t zero = 0;
    assert_int_equal(pqify_tls_handshake(client, NULL, &zero, &ch), PQIFY_TLS_IN_PROGRESS);
    assert_int_equal(client->hs->share_ids[0], 0x11EC);
    assert_int_equal(client->hs->share_pub_len[0], PQIFY_MLKEM768_EK_BYTES + 32);
    memcpy(ek, client->hs->share_pub[0], PQIFY_MLKEM768_EK_BYTES);
    size_t used = ch.len;
    assert_int_equal(pqify_tls_handshake(server, ch.base, &used, &sh), PQIFY_TLS_IN_PROGRESS);
    tls_server_hello hello;
    size_t sh_body = (size_t)sh.base[6] << 16 | (size_t)sh.base[7] << 8 | sh.base[8];
    assert_int_equal(sh.base[5], TLS_HS_SERVER_HELLO);
    assert_int_equal(tls_server_hello_parse(sh.base + 9, sh_body, &hello), 0);
    assert_int_equal(hello.group, 0x11EC);
    memcpy(ct, hello.share, PQIFY_MLKEM768_CT_BYTES);
    assert_true(draws > 0);
    pqify_tls_buf_dispose(&ch);
    pqify_tls_buf_dispose(&sh);
    pqify_tls_conn_free(client);
    pqify_tls_conn_free(server);
    pqify_tls_config_free(s);
    pqify_tls_config_free(c);
}

static void test_kem_coins_come_from_rand_bytes(void **state_)
{
    (void)state_;
    static uint8_t ek1[PQIFY_MLKEM768_EK_BYTES], ek2[PQIFY_MLKEM768_EK_BYTES],
        ek3[PQIFY_MLKEM768_EK_BYTES], ct1[PQIFY_MLKEM768_CT_BYTES], ct2[PQIFY_MLKEM768_CT_BYTES],
        ct3[PQIFY_MLKEM768_CT_BYTES];
    one_run(1, ek1, ct1);
    /* the engine's first 64-byte draw is the ML-KEM seed d || z (FIPS 203 Alg. 16) */
    assert_int_equal(have_first64, 1);
    static uint8_t ek_by_hand[PQIFY_MLKEM768_EK_BYTES], dk_by_hand[PQIFY_MLKEM768_DK_BYTES];
    assert_int_equal(pqify_mlkem768_keypair_derand(ek_by_hand, dk_by_hand, first64), 0);
    assert_memory_equal(ek1, ek_by_hand, sizeof ek1);
    one_run(1, ek2, ct2);
    assert_memory_equal(ek1, ek2, sizeof ek1);
    assert_memory_equal(ct1, ct2, sizeof ct1);
    one_run(2, ek3, ct3);
    assert_memory_not_equal(ek1, ek3, sizeof ek1);
    assert_memory_not_equal(ct1, ct3, sizeof ct1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_kem_coins_come_from_rand_bytes),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
