/* The service commands' shared glue (service_cmd.h). */
#include "service_cmd.h"

#include <stdio.h>
#include <unistd.h>

int cli_config_load(const char *cmd, const pqify_setting *table, void *out, const char *path,
                    int check_config, int defaults, pqify_config **cfg)
{
    char err[512];
    *cfg = NULL;
    if (path != NULL)
        *cfg = pqify_config_load(table, out, path, err, sizeof err);
    else if (defaults)
        *cfg = pqify_config_parse(table, out, "defaults", "{}", 2, err, sizeof err);
    if (*cfg == NULL && (path != NULL || defaults)) {
        fprintf(stderr, "pqify %s: %s\n", cmd, err);
        return -1;
    }
    if (path == NULL && check_config) {
        fprintf(stderr, "pqify %s: --check-config needs --config FILE\n", cmd);
        return -1;
    }
    return 0;
}

int cli_service_start(pqify_service *svc, uv_loop_t *loop, const pqify_service_options *o)
{
    char err[512];
    if (pqify_service_start(svc, loop, o, err, sizeof err) != 0) {
        fprintf(stderr, "pqify %s: %s\n", o->name, err);
        return -1;
    }
    return 0;
}

const pqify_setting cli_fwd_security_settings[] = {
    {.name = "shared_key", .type = PQIFY_SET_STRING, .offset = offsetof(cli_fwd_security, shared_key),
     .min = 1, .max = 1024,
     .help = "Forward v1 shared-key handshake (HELO/PING/PONG) before any event."},
    {.name = "self_hostname", .type = PQIFY_SET_STRING,
     .offset = offsetof(cli_fwd_security, self_hostname), .min = 1, .max = 255,
     .help = "The name this side gives in HELO/PING/PONG (default: the host name)."},
    {0},
};

const char *cli_fwd_self_hostname(const cli_fwd_security *s, char *buf, size_t cap)
{
    if (s->shared_key == NULL || s->self_hostname != NULL)
        return s->self_hostname;
    if (gethostname(buf, cap) != 0)
        snprintf(buf, cap, "localhost");
    buf[cap - 1] = '\0';
    return buf;
}
