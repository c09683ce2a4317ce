/* pqify tunnel: the connector (docs/tunnel.md), and `pqify tunnel ingress validate|rule`,
 * which check ingress rules as cloudflared's commands of the same name do. */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "pqify/tunnel.h"

/* ---- pqify tunnel ingress validate | rule ---- */

struct ingress_args {
    const char *config, *url;
};

static const struct pqify_opt ingress_opts[] = {
    {"--config", "FILE", PQIFY_OPT_STRING, offsetof(struct ingress_args, config), 0, 0, 0,
     "the tunnel.yaml holding the ingress: rules"},
};

static const struct pqify_cmd_spec validate_spec = {
    .name = "tunnel ingress validate",
    .usage = "tunnel ingress validate --config FILE\n",
    .about = "Check the ingress rules of a tunnel.yaml (and the rest of the file): print OK,\n"
             "or one line naming FILE:LINE: KEY and what is wrong, and exit 1.\n",
    .opts = ingress_opts,
    .n_opts = PQIFY_N_OPTS(ingress_opts),
};

static const struct pqify_cmd_spec rule_spec = {
    .name = "tunnel ingress rule",
    .usage = "tunnel ingress rule --config FILE URL\n",
    .about = "Which ingress rule a request for URL would match, and the origin it would go to.\n",
    .opts = ingress_opts,
    .n_opts = PQIFY_N_OPTS(ingress_opts),
    .operand = "URL",
    .operand_offset = offsetof(struct ingress_args, url),
};

static int load_rules(const char *cmd, const struct ingress_args *a, pqify_ingress **out)
{
    if (a->config == NULL) {
        fprintf(stderr, "pqify %s: --config FILE is required (see pqify %s --help)\n", cmd, cmd);
        return 2;
    }
    pqify_tunnel_file f;
    pqify_config *cfg;
    char err[768];
    if (pqify_tunnel_file_load(a->config, &f, &cfg, out, err, sizeof err) < 0) {
        fprintf(stderr, "pqify %s: %s\n", cmd, err);
        return 1;
    }
    pqify_config_free(cfg);   /* the compiled rules own copies */
    return 0;
}

static void print_rule(const pqify_ingress_rule *r)
{
    printf("Matched rule #%zu", r->index + 1);
    if (r->line > 0)
        printf(" (line %u)", r->line);
    printf("\n");
    if (r->hostname != NULL)
        printf("\thostname: %s%s\n", r->wildcard ? "*" : "", r->hostname);
    if (r->path != NULL)
        printf("\tpath: %s\n", r->path);
    printf("\tservice: %s\n", r->service);
}

/* "https://a.example.com:8443/x?y" -> host "a.example.com:8443", path "/x?y" */
static int split_url(const char *url, const char **host, size_t *host_len, const char **path)
{
    const char *p = strstr(url, "://");
    if (p == NULL)
        return -1;
    const char *scheme_end = p;
    for (const char *s = url; s < scheme_end; s++)
        if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9') || *s == '+' ||
              *s == '-' || *s == '.'))
            return -1;
    *host = p + 3;
    size_t n = strcspn(*host, "/?#");
    if (n == 0)
        return -1;
    *host_len = n;
    *path = (*host)[n] == '/' ? *host + n : "/";
    return 0;
}

static int cmd_ingress(int argc, char **argv)
{
    if (argc < 2 || (strcmp(argv[1], "validate") != 0 && strcmp(argv[1], "rule") != 0)) {
        fprintf(stderr, "usage: pqify tunnel ingress validate --config FILE\n"
                        "       pqify tunnel ingress rule --config FILE URL\n");
        return pqify_wants_help(argc, argv) ? 0 : 2;
    }
    int validate = strcmp(argv[1], "validate") == 0;
    const struct pqify_cmd_spec *spec = validate ? &validate_spec : &rule_spec;
    if (pqify_wants_help(argc - 1, argv + 1)) {
        pqify_cli_help(spec, stdout);
        return 0;
    }
    struct ingress_args a = {0};
    if (pqify_cli_parse(spec, argc - 1, argv + 1, &a) != 0)
        return 2;
    const char *host = NULL, *path = NULL;
    size_t host_len = 0;
    if (!validate && (a.url == NULL || split_url(a.url, &host, &host_len, &path) < 0)) {
        fprintf(stderr, "pqify %s: expected a URL such as https://app.example.com/path, not '%s'\n", spec->name,
                a.url != NULL ? a.url : "");
        return 2;
    }
    pqify_ingress *in = NULL;
    int ret = load_rules(spec->name, &a, &in);
    if (ret != 0)
        return ret;
    if (validate) {
        printf("Validating rules from %s\nOK (%zu rule%s)\n", a.config, pqify_ingress_count(in),
               pqify_ingress_count(in) == 1 ? "" : "s");
    } else {
        printf("Using rules from %s\n", a.config);
        print_rule(pqify_ingress_match(in, host, host_len, path, strlen(path)));
    }
    pqify_ingress_free(in);
    return 0;
}

int pqify_cmd_tunnel(int argc, char **argv)
{
    if (argc >= 2 && strcmp(argv[1], "ingress") == 0)
        return cmd_ingress(argc - 1, argv + 1);
    fprintf(stderr, "usage: pqify tunnel ingress validate --config FILE\n"
                    "       pqify tunnel ingress rule --config FILE URL\n");
    return pqify_wants_help(argc, argv) ? 0 : 2;
}
