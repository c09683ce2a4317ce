/* What the service commands (serve, keyserver, logrecv, logfwd) share around the
 * chassis of src/net: loading --config through their settings table, starting the
 * service runner, and the Forward protocol's `security:` block of logrecv and logfwd.
 * Every failure prints one line "pqify <cmd>: <why>" on stderr. */
#ifndef PQIFY_CLI_SERVICE_CMD_H
#define PQIFY_CLI_SERVICE_CMD_H

#include <stddef.h>

#include <uv.h>

#include "pqify/net/config.h"
#include "pqify/net/service.h"

/* --config FILE into out through table: 0 with *cfg the loaded file (free it with
 * pqify_config_free once out's strings are no longer used), or -1 after printing why.
 * Without a file, --check-config is an error, and *cfg holds the table's defaults when
 * `defaults` is set (else NULL). */
int cli_config_load(const char *cmd, const pqify_setting *table, void *out, const char *path,
                    int check_config, int defaults, pqify_config **cfg);

/* pqify_service_start, or -1 after printing why ("pqify <o->name>: ..."). */
int cli_service_start(pqify_service *svc, uv_loop_t *loop, const pqify_service_options *o);

/* `security:` (Forward v1 shared-key handshake, docs/logs.md), a map in the file. */
typedef struct cli_fwd_security {
    const char *shared_key, *self_hostname;
} cli_fwd_security;

extern const pqify_setting cli_fwd_security_settings[];
#define CLI_FWD_SECURITY_SETTING(st, field)                                           \
    PQIFY_SETTING_MAP("security", st, field, cli_fwd_security_settings,                \
                      "The Forward protocol's shared key (sent inside TLS).")

/* The name HELO/PING/PONG carry: self_hostname, else with a shared key the host name
 * (written into buf), else NULL. */
const char *cli_fwd_self_hostname(const cli_fwd_security *s, char *buf, size_t cap);

#endif
