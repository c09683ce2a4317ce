/*
 * libFuzzer: the server's choice of identity by SNI (src/tls/identity.c) over any
 * server_name bytes. Input: one byte picking the signature schemes the "client"
 * accepts (bit 0 Ed25519, bit 1 ECDSA P-256, bit 2 RSA-PSS), then the name.
 * Oracle: a name that chose an identity must also pass libcrypto's own host check
 * (X509_check_host, SAN only, no partial wildcards) against that identity's leaf;
 * the answer is an identity the config has, and identity 0 when no name chose.
 */
#include <stdint.h>
#include <string.h>

#include <openssl/x509v3.h>

#include "fuzz_common.h"
#include "internal.h"

static pqify_tls_config *cfg;
static X509 *leaves[2];

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static X509 *leaf_of(const char *pem, size_t len)
{
    BIO *b = BIO_new_mem_buf(pem, (int)len);
    X509 *x = b == NULL ? NULL : PEM_read_bio_X509(b, NULL, NULL, NULL);
    BIO_free(b);
    if (x == NULL)
        fuzz_die("leaf");
    return x;
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    fuzz_pki pki;
    fuzz_pki_init(&pki);
    cfg = fuzz_server_config(&pki, 0);
    leaves[0] = leaf_of(pki.server_chain_pem, pki.server_chain_len);
    leaves[1] = leaf_of(pki.wild_chain_pem, pki.wild_chain_len);
    fuzz_pki_free(&pki);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    static const uint16_t all[] = {0x0807, 0x0403, 0x0804};
    uint16_t schemes[3];
    size_t n = 0, index = 99;
    int by_name = -1;
    for (size_t i = 0; i < 3; i++)
        if (data[0] & (1u << i))
            schemes[n++] = all[i];
    int r = tls_choose_identity(cfg, data + 1, size - 1, schemes, n, &index, &by_name);
    if (r != 0 && r != PQIFY_TLS_ERR_NO_COMMON_SIGALG)
        __builtin_trap();
    if (r == 0 && (index >= pqify_tls_config_identities(cfg) || (!by_name && index != 0)))
        __builtin_trap();
    if (r == 0 && by_name) {
        const unsigned flags = X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS | X509_CHECK_FLAG_NEVER_CHECK_SUBJECT |
                               X509_CHECK_FLAG_SINGLE_LABEL_SUBDOMAINS;
        if (X509_check_host(leaves[index], (const char *)data + 1, size - 1, flags, NULL) != 1)
            __builtin_trap();
    }
    return 0;
}
