/*
 * pqify scan HOST:PORT: which key-exchange groups a TLS 1.3 server accepts, and
 * whether it prefers post-quantum ones ("which of my services are quantum-safe
 * yet?"). Every probe is one full handshake on a fresh connection with the engine's
 * expert group override (include/pqify/tls.h, pqify_tls_config_set_groups):
 *
 *  - per group G: supported_groups = [G] with a key share for G. The server either
 *    selects G at once, asks for it again through a HelloRetryRequest (RFC 8446
 *    §4.1.4: it may, e.g. to send a cookie), or refuses.
 *  - preference: pqify's default hello, X25519MLKEM768 and X25519 shares: which one
 *    does the server pick when it could have either in one round trip?
 *  - upgrade: X25519 and X25519MLKEM768 offered, a share for X25519 only: does the
 *    server take X25519 at once, or pay a HelloRetryRequest to get PQ?
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "pqify/tls.h"
#include "tls_io.h"

#define SCAN_MAX_GROUPS 32

static void usage(FILE *f)
{
    fprintf(f,
            "usage: pqify scan HOST:PORT [--servername NAME] [--ca FILE | --insecure]\n"
            "                  [--timeout SEC] [--json]\n"
            "\n"
            "Probes a TLS 1.3 server with one handshake per key-exchange group pqify knows\n"
            "(legacy Kyber groups included) and reports, per group, whether the server\n"
            "selects it in one round trip, only after a HelloRetryRequest, or not at all;\n"
            "which group it picks when offered X25519MLKEM768 and X25519 shares together;\n"
            "whether it asks for X25519MLKEM768 by HelloRetryRequest when the client sent\n"
            "only an X25519 share; and the size of the ClientHellos that worked. Ends with\n"
            "a one-line verdict.\n"
            "\n"
            "  --servername NAME   SNI and the name the certificate must match (default: HOST;\n"
            "                      an IP address is checked, not sent)\n"
            "  --ca FILE           verify the server certificate against FILE (PEM)\n"
            "  --insecure          do not verify the certificate (the groups are still found)\n"
            "                      (default: verify against the system store)\n"
            "  --timeout SEC       limit per probe, connect + handshake (default 5)\n"
            "  --json              one JSON object on stdout instead of the table\n"
            "\n"
            "Exit status: 0 when the scan ran (whatever the verdict), 1 when the server\n"
            "could not be reached or no probe completed, 2 on a usage error.\n");
}

struct scan_args {
    const char *target, *servername, *ca;
    int insecure, json, timeout_s;
};

enum probe_result { PROBE_ONE_RTT, PROBE_HRR, PROBE_REFUSED, PROBE_UNREACHABLE };

struct probe {
    enum probe_result result;
    int err;                 /* why it failed (pqify error or CLI_IO_*), 0 if it worked */
    int cert_failed;         /* the group was selected, the certificate check failed */
    const char *why;         /* a dial failure in words, else NULL */
    uint16_t group_id;       /* negotiated */
    size_t hello_bytes;      /* the first ClientHello flight, record headers included */
};

static int parse_args(int argc, char **argv, struct scan_args *a)
{
    memset(a, 0, sizeof *a);
    a->timeout_s = 5;
    for (int i = 1; i < argc; i++) {
        const char *v;
        int m;
        if ((m = pqify_cli_value("scan", argc, argv, &i, "--servername", &a->servername)) != 0 ||
            (m = pqify_cli_value("scan", argc, argv, &i, "--ca", &a->ca)) != 0) {
            if (m < 0)
                return -1;
        } else if ((m = pqify_cli_value("scan", argc, argv, &i, "--timeout", &v)) != 0) {
            unsigned long n;
            if (m < 0 || pqify_cli_uint("scan", "--timeout", v, 1, 3600, &n) != 0)
                return -1;
            a->timeout_s = (int)n;
        } else if (!strcmp(argv[i], "--insecure")) {
            a->insecure = 1;
        } else if (!strcmp(argv[i], "--json")) {
            a->json = 1;
        } else if (argv[i][0] == '-') {
            fprintf(stderr, "pqify scan: unknown option '%s' (see pqify scan --help)\n", argv[i]);
            return -1;
        } else if (a->target == NULL) {
            a->target = argv[i];
        } else {
            fprintf(stderr, "pqify scan: unexpected argument '%s'\n", argv[i]);
            return -1;
        }
    }
    if (a->target == NULL) {
        fprintf(stderr, "pqify scan: HOST:PORT is missing\n");
        return -1;
    }
    if (a->ca != NULL && a->insecure) {
        fprintf(stderr, "pqify scan: --ca and --insecure exclude each other\n");
        return -1;
    }
    return 0;
}

static int is_auth_error(int err)
{
    return err <= PQIFY_TLS_ERR_BAD_CERT && err >= PQIFY_TLS_ERR_BAD_FINISHED &&
           err != PQIFY_TLS_ERR_BAD_FINISHED;
}

/* One handshake with `groups` as the client's whole offer. */
static void probe_once(const struct scan_args *a, const char *host, const char *port,
                       const char *groups, struct probe *p)
{
    pqify_tls_config *cfg = pqify_tls_config_new();
    pqify_pump pump;
    const char *why = NULL;
    int fd = -1, rc;
    memset(&pump, 0, sizeof pump);   /* disposable before it is initialised */
    memset(p, 0, sizeof *p);
    p->result = PROBE_REFUSED;

    if (cfg == NULL) {
        p->err = PQIFY_TLS_ERR_NO_MEMORY;
        goto out;
    }
    /* pq=preferred filters nothing out of an explicit list, classical or PQ */
    if ((rc = pqify_tls_config_set_groups(cfg, groups)) != 0 ||
        (rc = pqify_tls_config_set_server_name(cfg, a->servername ? a->servername : host)) != 0 ||
        (a->ca != NULL && (rc = pqify_tls_config_set_ca_file(cfg, a->ca)) != 0)) {
        p->err = rc;
        goto out;
    }
    if (a->insecure)
        pqify_tls_config_set_verify_peer(cfg, 0);
    if (pqify_pump_init(&pump, cfg, 0) != 0) {
        p->err = PQIFY_TLS_ERR_NO_MEMORY;
        goto out;
    }
    fd = cli_dial(host, port, a->timeout_s * 1000, &why);
    if (fd < 0) {
        p->result = PROBE_UNREACHABLE;
        p->err = CLI_IO_SOCKET;
        p->why = why;
        goto out;
    }
    if (pqify_pump_next(&pump) != PQIFY_PUMP_WANT_INPUT) {
        p->err = pqify_pump_error(&pump);
        goto out;
    }
    /* the ClientHello, measured before cli_handshake sends it */
    p->hello_bytes = pump.out.len;
    rc = cli_handshake(fd, &pump, a->timeout_s * 1000);
    if (rc == 0 || is_auth_error(rc)) {
        pqify_tls_info info;
        pqify_tls_get_info(pump.conn, &info);
        /* before Finished the engine reports no group; a lone offer names it */
        p->group_id = info.group_id ? info.group_id
                                    : (groups != NULL && strchr(groups, ',') == NULL
                                           ? (uint16_t)pqify_tls_group_id(groups)
                                           : 0);
        p->result = info.hrr ? PROBE_HRR : PROBE_ONE_RTT;
        p->cert_failed = rc != 0;
        p->err = rc;
        if (rc == 0 && pqify_pump_close_notify(&pump) == 0)
            (void)cli_flush(fd, &pump.out);
    } else {
        p->err = rc;
    }
out:
    if (fd >= 0)
        close(fd);
    pqify_pump_dispose(&pump);
    pqify_tls_config_free(cfg);
}

static const char *result_word(const struct probe *p)
{
    switch (p->result) {
    case PROBE_ONE_RTT: return "1-RTT";
    case PROBE_HRR: return "after-HRR";
    case PROBE_UNREACHABLE: return "unreachable";
    default: return "no";
    }
}

static const char *yes_no(int v)
{
    return v ? "yes" : "no";
}

/* JSON string body: the texts here are ours or alert names, but stay safe. */
static void json_str(const char *s)
{
    putchar('"');
    for (; *s; s++) {
        if (*s == '"' || *s == '\\')
            printf("\\%c", *s);
        else if ((unsigned char)*s < 0x20)
            printf("\\u%04x", (unsigned char)*s);
        else
            putchar(*s);
    }
    putchar('"');
}

static const char *group_or_dash(uint16_t id)
{
    const char *n = id ? pqify_tls_group_name(id) : NULL;
    return n ? n : "-";
}

static const char *probe_why(const struct probe *p)
{
    if (p->why != NULL)
        return p->why;
    return p->err == 0 ? "" : cli_strerror(p->err);
}

int pqify_cmd_scan(int argc, char **argv)
{
    struct scan_args a;
    char host[256], port[16];
    uint16_t ids[SCAN_MAX_GROUPS];
    struct probe probes[SCAN_MAX_GROUPS], pref, upgrade;

    if (pqify_wants_help(argc, argv)) {
        usage(stdout);
        return 0;
    }
    if (parse_args(argc, argv, &a) != 0)
        return 2;
    if (cli_split_hostport(a.target, host, sizeof host, port, sizeof port) != 0) {
        fprintf(stderr, "pqify scan: '%s' is not HOST:PORT\n", a.target);
        return 2;
    }
    size_t n = pqify_tls_groups_all(ids, SCAN_MAX_GROUPS);
    if (n > SCAN_MAX_GROUPS)
        n = SCAN_MAX_GROUPS;

    /* The defaults first: if the server cannot be reached, say so once. */
    probe_once(&a, host, port, NULL, &pref);
    if (pref.result == PROBE_UNREACHABLE) {
        fprintf(stderr, "pqify scan: cannot reach %s: %s\n", a.target, probe_why(&pref));
        return 1;
    }
    probe_once(&a, host, port, "X25519,X25519MLKEM768", &upgrade);
    size_t n_pq = 0, n_ok = 0, max_hello = 0, cert_failures = 0;
    const char *cert_why = NULL;
    for (size_t i = 0; i < n; i++) {
        probe_once(&a, host, port, pqify_tls_group_name(ids[i]), &probes[i]);
        struct probe *p = &probes[i];
        if (p->result == PROBE_ONE_RTT || p->result == PROBE_HRR) {
            n_ok++;
            n_pq += (size_t)pqify_tls_group_is_pq(ids[i]);
            if (p->hello_bytes > max_hello)
                max_hello = p->hello_bytes;
        }
        if (p->cert_failed) {
            cert_failures++;
            cert_why = probe_why(p);
        }
    }
    int pref_ok = pref.result == PROBE_ONE_RTT || pref.result == PROBE_HRR;
    if (pref_ok && pref.hello_bytes > max_hello)
        max_hello = pref.hello_bytes;
    int prefers_pq = pref_ok && pqify_tls_group_is_pq(pref.group_id);
    int upgrades = (upgrade.result == PROBE_HRR) && pqify_tls_group_is_pq(upgrade.group_id);

    char verdict[512];
    if (n_ok == 0 && !pref_ok)
        snprintf(verdict, sizeof verdict, "no TLS 1.3 handshake completed with %s (%s)",
                 a.target, probe_why(&pref));
    else if (prefers_pq)
        snprintf(verdict, sizeof verdict,
                 "quantum-safe: %s picks %s over X25519 for a client that offers both%s",
                 a.target, group_or_dash(pref.group_id),
                 upgrades ? ", and asks for PQ by HelloRetryRequest when it was not sent" : "");
    else if (n_pq > 0)
        snprintf(verdict, sizeof verdict,
                 "not by default: %s accepts %zu post-quantum group%s but picks %s when "
                 "offered X25519MLKEM768 and X25519",
                 a.target, n_pq, n_pq == 1 ? "" : "s", group_or_dash(pref.group_id));
    else
        snprintf(verdict, sizeof verdict, "not quantum-safe: %s accepts no post-quantum group",
                 a.target);

    const char *cert_mode = a.insecure ? "not verified (--insecure)"
                            : a.ca     ? "verified against --ca"
                                       : "verified against the system store";
    if (a.json) {
        printf("{\"target\":");
        json_str(a.target);
        printf(",\"certificate\":");
        json_str(cert_mode);
        printf(",\"certificate_failures\":%zu", cert_failures);
        printf(",\"groups\":[");
        for (size_t i = 0; i < n; i++) {
            const struct probe *p = &probes[i];
            printf("%s{\"name\":\"%s\",\"id\":%u,\"pq\":%s,\"legacy\":%s,\"result\":\"%s\","
                   "\"hello_bytes\":%zu,\"error\":",
                   i ? "," : "", pqify_tls_group_name(ids[i]), ids[i],
                   pqify_tls_group_is_pq(ids[i]) ? "true" : "false",
                   pqify_tls_group_is_legacy(ids[i]) ? "true" : "false", result_word(p),
                   p->hello_bytes);
            json_str(probe_why(p));
            printf("}");
        }
        printf("],\"preference\":{\"offered\":\"X25519MLKEM768+X25519 shares\",\"group\":\"%s\","
               "\"pq\":%s,\"hrr\":%s,\"hello_bytes\":%zu,\"error\":",
               group_or_dash(pref.group_id), prefers_pq ? "true" : "false",
               pref.result == PROBE_HRR ? "true" : "false", pref.hello_bytes);
        json_str(probe_why(&pref));
        printf("},\"upgrade\":{\"offered\":\"X25519,X25519MLKEM768; X25519 share only\","
               "\"group\":\"%s\",\"hrr\":%s,\"upgrades_to_pq\":%s,\"error\":",
               group_or_dash(upgrade.group_id), upgrade.result == PROBE_HRR ? "true" : "false",
               upgrades ? "true" : "false");
        json_str(probe_why(&upgrade));
        printf("},\"largest_hello_bytes\":%zu,\"verdict\":", max_hello);
        json_str(verdict);
        printf("}\n");
    } else {
        printf("pqify scan %s  (certificate %s)\n\n", a.target, cert_mode);
        printf("%-22s %-3s %-6s %-11s %11s  %s\n", "group", "pq", "legacy", "selected",
               "hello_bytes", "why not");
        for (size_t i = 0; i < n; i++) {
            const struct probe *p = &probes[i];
            int ok = p->result == PROBE_ONE_RTT || p->result == PROBE_HRR;
            printf("%-22s %-3s %-6s %-11s %11zu  %s\n", pqify_tls_group_name(ids[i]),
                   yes_no(pqify_tls_group_is_pq(ids[i])), yes_no(pqify_tls_group_is_legacy(ids[i])),
                   result_word(p), p->hello_bytes, ok ? "" : probe_why(p));
        }
        printf("\npreference: X25519MLKEM768 + X25519 shares -> %s (pq=%s, hrr=%s)%s%s\n",
               group_or_dash(pref.group_id), yes_no(prefers_pq),
               yes_no(pref.result == PROBE_HRR), pref_ok ? "" : ": ", pref_ok ? "" : probe_why(&pref));
        printf("upgrade:    X25519 share only, X25519MLKEM768 listed -> %s (hrr=%s)%s%s\n",
               group_or_dash(upgrade.group_id), yes_no(upgrade.result == PROBE_HRR),
               (upgrade.result == PROBE_ONE_RTT || upgrade.result == PROBE_HRR) ? "" : ": ",
               (upgrade.result == PROBE_ONE_RTT || upgrade.result == PROBE_HRR)
                   ? ""
                   : probe_why(&upgrade));
        printf("largest ClientHello that worked: %zu bytes (the default hello: %zu bytes)\n",
               max_hello, pref.hello_bytes);
        if (cert_failures > 0)
            printf("certificate: the check failed (%s); the groups above were still negotiated\n",
                   cert_why);
        printf("verdict: %s\n", verdict);
    }
    return (n_ok == 0 && !pref_ok) ? 1 : 0;
}
