/*
 * pqify_tls_options -> pqify_tls_config (include/pqify/net/tls_options.h). The
 * engine answers "configuration unusable" for every file problem; the words a user
 * needs (which file, what is wrong with it) are found out here, before and after
 * asking the engine.
 */
#include "pqify/net/tls_options.h"

#include <errno.h>
#include <fcntl.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

__attribute__((format(printf, 3, 4))) static void say(char *err, size_t cap, const char *fmt, ...)
{
    if (err == NULL || cap == 0)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, cap, fmt, ap);
    va_end(ap);
}

/* 0 if path is a readable regular file, else -1 with "<what> <path>: <why>". */
static int check_file(const char *what, const char *path, char *err, size_t cap)
{
    struct stat st;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        say(err, cap, "%s %s: %s", what, path, strerror(errno));
        return -1;
    }
    int ok = fstat(fd, &st) == 0 && S_ISREG(st.st_mode);
    int saved = errno;
    close(fd);
    if (!ok) {
        say(err, cap, "%s %s: %s", what, path,
            S_ISDIR(st.st_mode) ? "is a directory" : saved ? strerror(saved) : "not a regular file");
        return -1;
    }
    return 0;
}

/* Certificates in a PEM file (libcrypto's reading, not the engine's). */
static int count_certs(const char *path)
{
    BIO *b = BIO_new_file(path, "r");
    int n = 0;
    X509 *x;
    if (b == NULL)
        return 0;
    while ((x = PEM_read_bio_X509(b, NULL, NULL, NULL)) != NULL) {
        X509_free(x);
        n++;
    }
    BIO_free(b);
    return n;
}

static int set_cert(pqify_tls_config *cfg, const char *path, char *err, size_t cap)
{
    if (check_file("cert", path, err, cap) != 0)
        return -1;
    int rc = pqify_tls_config_set_cert_chain_file(cfg, path);
    if (rc == 0)
        return 0;
    int n = count_certs(path);
    if (n == 0)
        say(err, cap, "cert %s: no PEM certificate in it", path);
    else
        say(err, cap, "cert %s: its %d certificate%s cannot be used: %s", path, n,
            n == 1 ? "" : "s", pqify_tls_strerror(rc));
    return -1;
}

static int set_key(pqify_tls_config *cfg, const char *path, const char *cert, char *err,
                   size_t cap)
{
    if (check_file("key", path, err, cap) != 0)
        return -1;
    int rc = pqify_tls_config_set_key_file(cfg, path);
    if (rc == 0)
        return 0;
    /* The key alone is fine: then it is the pair that does not match. */
    pqify_tls_config *alone = pqify_tls_config_new();
    int usable = alone != NULL && pqify_tls_config_set_key_file(alone, path) == 0;
    pqify_tls_config_free(alone);
    if (usable && cert != NULL)
        say(err, cap, "key %s: does not match the certificate in %s", path, cert);
    else
        say(err, cap, "key %s: not a PEM private key pqify can use (ECDSA P-256/P-384, RSA, "
                      "Ed25519)", path);
    return -1;
}

static int set_ca(pqify_tls_config *cfg, const char *path, char *err, size_t cap)
{
    if (check_file("ca", path, err, cap) != 0)
        return -1;
    int rc = pqify_tls_config_set_ca_file(cfg, path);
    if (rc == 0)
        return 0;
    if (count_certs(path) == 0)
        say(err, cap, "ca %s: no PEM certificate in it", path);
    else
        say(err, cap, "ca %s: %s", path, pqify_tls_strerror(rc));
    return -1;
}

/* A list option the engine parses: its error, with the list. */
static int set_list(pqify_tls_config *cfg, int (*set)(pqify_tls_config *, const char *),
                    const char *what, const char *list, char *err, size_t cap)
{
    int rc = set(cfg, list);
    if (rc == 0)
        return 0;
    say(err, cap, "%s '%s': %s", what, list, pqify_tls_strerror(rc));
    return -1;
}

static int check_roles(const pqify_tls_options *o, int is_server, char *err, size_t cap)
{
    if (is_server && o->cert == NULL) {
        say(err, cap, "cert is required on a server");
        return -1;
    }
    if (!is_server && (o->cert == NULL) != (o->key == NULL)) {
        say(err, cap, "%s without %s: a client certificate needs both cert and key",
            o->cert ? "cert" : "key", o->cert ? "key" : "cert");
        return -1;
    }
    return 0;
}

pqify_tls_config *pqify_tls_options_build(const pqify_tls_options *o, int is_server,
                                          pqify_pq_mode default_pq, char *err, size_t cap)
{
    pqify_pq_mode mode = default_pq;
    if (err != NULL && cap > 0)
        err[0] = '\0';
    if (o->pq != NULL && pqify_tls_pq_mode_parse(o->pq, &mode) != 0) {
        say(err, cap, "pq must be preferred, required or off (got '%s')", o->pq);
        return NULL;
    }
    if (check_roles(o, is_server, err, cap) != 0)
        return NULL;
    pqify_tls_config *cfg = pqify_tls_config_new();
    if (cfg == NULL) {
        say(err, cap, "out of memory");
        return NULL;
    }
    int rc = pqify_tls_config_set_pq(cfg, mode);
    if (rc != 0) {
        say(err, cap, "pq %s: %s", pqify_tls_pq_mode_name(mode), pqify_tls_strerror(rc));
        goto fail;
    }
    /* groups after pq: the engine filters the list by the mode */
    if ((o->groups != NULL &&
         set_list(cfg, pqify_tls_config_set_groups, "groups", o->groups, err, cap) != 0) ||
        (o->cert != NULL && set_cert(cfg, o->cert, err, cap) != 0) ||
        (o->key != NULL && set_key(cfg, o->key, o->cert, err, cap) != 0) ||
        (o->ca != NULL && set_ca(cfg, o->ca, err, cap) != 0) ||
        (o->alpn != NULL && set_list(cfg, pqify_tls_config_set_alpn, "alpn", o->alpn, err, cap) != 0) ||
        (o->ciphers != NULL &&
         set_list(cfg, pqify_tls_config_set_ciphers, "ciphers", o->ciphers, err, cap) != 0) ||
        (!is_server && o->server_name != NULL &&
         set_list(cfg, pqify_tls_config_set_server_name, "server_name", o->server_name, err,
                  cap) != 0))
        goto fail;
    /* The engine takes a group list the pq mode empties and refuses only the
     * connection; a trial one says so now (a server without a key waits for
     * its caller's signer). */
    if (!is_server || o->key != NULL) {
        pqify_tls_conn *trial = pqify_tls_conn_new(cfg, is_server);
        pqify_tls_conn_free(trial);
        if (trial == NULL) {
            if (o->groups != NULL)
                say(err, cap, "groups '%s': no group is left with pq=%s", o->groups,
                    pqify_tls_pq_mode_name(mode));
            else
                say(err, cap, "no connection can be made from these options (out of memory?)");
            goto fail;
        }
    }
    return cfg;
fail:
    pqify_tls_config_free(cfg);
    return NULL;
}

unsigned pqify_tls_options_handshake_ms(const pqify_tls_options *o)
{
    return o->handshake_timeout_ms ? o->handshake_timeout_ms : PQIFY_TLS_DEFAULT_HANDSHAKE_TIMEOUT_MS;
}

unsigned pqify_tls_options_idle_ms(const pqify_tls_options *o, int is_server)
{
    if (o->idle_timeout_ms)
        return o->idle_timeout_ms;
    return is_server ? PQIFY_TLS_DEFAULT_SERVER_IDLE_TIMEOUT_MS : 0;
}
