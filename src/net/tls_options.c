/*
 * pqify_tls_options -> pqify_tls_config (include/pqify/net/tls_options.h). Errors
 * name the option and take the engine's own words for what is wrong with a file
 * (pqify_tls_config_error_detail), so the checks live once, in the engine.
 */
#include "pqify/net/tls_options.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

__attribute__((format(printf, 3, 4))) static void say(char *err, size_t cap, const char *fmt, ...)
{
    if (err == NULL || cap == 0)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, cap, fmt, ap);
    va_end(ap);
}

/* A file setter's failure in words: the option, then what the engine found
 * (it names the file: "key /k.pem: the private key does not match ..."). */
static int set_file(pqify_tls_config *cfg, int (*set)(pqify_tls_config *, const char *),
                    const char *what, const char *path, char *err, size_t cap)
{
    int rc = set(cfg, path);
    if (rc == 0)
        return 0;
    const char *detail = pqify_tls_config_error_detail(cfg);
    if (detail[0] != '\0')
        say(err, cap, "%s %s", what, detail);
    else
        say(err, cap, "%s %s: %s", what, path, pqify_tls_strerror(rc));
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
        (o->cert != NULL &&
         set_file(cfg, pqify_tls_config_set_cert_chain_file, "cert", o->cert, err, cap) != 0) ||
        (o->key != NULL &&
         set_file(cfg, pqify_tls_config_set_key_file, "key", o->key, err, cap) != 0) ||
        (o->ca != NULL && set_file(cfg, pqify_tls_config_set_ca_file, "ca", o->ca, err, cap) != 0) ||
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

void pqify_tls_options_fill_unset(pqify_tls_options *o, const pqify_tls_options *file)
{
    const char **mine[] = {&o->cert, &o->key, &o->ca, &o->pq, &o->groups,
                           &o->alpn, &o->server_name, &o->ciphers};
    const char *const theirs[] = {file->cert, file->key, file->ca, file->pq, file->groups,
                                  file->alpn, file->server_name, file->ciphers};
    for (size_t i = 0; i < sizeof mine / sizeof mine[0]; i++)
        if (*mine[i] == NULL)
            *mine[i] = theirs[i];
    if (o->handshake_timeout_ms == 0)
        o->handshake_timeout_ms = file->handshake_timeout_ms;
    if (o->idle_timeout_ms == 0)
        o->idle_timeout_ms = file->idle_timeout_ms;
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
