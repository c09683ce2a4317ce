/* pqify logfwd: the log pipeline's forwarder (issue 11, docs/logs.md). The work is
 * src/logs/forwarder.c on the chassis; this file reads the options (flags, or
 * --config logfwd.yaml through src/net/config; flags override the file, --file and
 * --socket add inputs to the file's) and runs the forwarder through the service
 * runner: SIGHUP reloads the inputs from the file, SIGTERM/SIGINT drain (every open
 * batch spooled, then acks awaited within the grace period), --admin serves the
 * metrics. With stdin the only input it exits 0 after stdin's EOF once everything
 * read is acked. */
#include <limits.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <uv.h>

#include "cli.h"
#include "pqify/logs_forwarder.h"
#include "pqify/net/config.h"
#include "pqify/net/log.h"
#include "pqify/net/service.h"
#include "pqify/tls.h"
#include "service_cmd.h"
#include "tls_io.h"

#define MAX_TARGETS 8
#define MAX_INPUTS 256
#define DEFAULT_GRACE_MS 10000u

struct fwd_args {
    const char *to, *spool, *tag, *servername, *config, *admin, *file, *socket, *compression;
    pqify_tls_options tls;
    int check_config;
    unsigned batch_bytes, batch_events, batch_ms, spool_mb, ack_timeout_ms, grace_s;
};

#define A(field) offsetof(struct fwd_args, field)
static const struct pqify_opt fwd_opts[] = {
    {"--to", "HOST:PORT", PQIFY_OPT_STRING, A(to), 0, 0, 0,
     "a receiver; give --to again for failover, tried in order"},
    {"--ca", "FILE", PQIFY_OPT_STRING, A(tls.ca), 0, 0, 0, "CA certificates to verify the receiver"},
    {"--cert", "FILE", PQIFY_OPT_STRING, A(tls.cert), 0, 0, 0, "client certificate (mutual TLS)"},
    {"--key", "FILE", PQIFY_OPT_STRING, A(tls.key), 0, 0, 0, "its private key"},
    {"--pq", "MODE", PQIFY_OPT_STRING, A(tls.pq), 0, 0, 0, "required (default) | preferred | off"},
    {"--servername", "NAME", PQIFY_OPT_STRING, A(servername), 0, 0, 0,
     "name checked in the receiver's certificate (default: the host)"},
    {"--file", "GLOB=TAG", PQIFY_OPT_STRING, A(file), 0, 0, 0,
     "follow the files GLOB matches as stream TAG (rotation followed,\noffsets kept in the spool); repeatable"},
    {"--socket", "PATH=TAG", PQIFY_OPT_STRING, A(socket), 0, 0, 0,
     "read JSON lines (one object per line) from a Unix socket at PATH\nas stream TAG; repeatable"},
    {"--tag", "NAME", PQIFY_OPT_STRING, A(tag), 0, 0, 0,
     "read stdin as stream NAME (the default input, as `stdin`, when\nno other is given)"},
    {"--spool", "DIR", PQIFY_OPT_STRING, A(spool), 0, 0, 0,
     "where batches wait for their ack (default ./pqify-logfwd.spool);\na restart resends what is there"},
    {"--spool-max", "MiB", PQIFY_OPT_UINT, A(spool_mb), 1, 1u << 20, 0,
     "spool bound (default 256); full pauses the inputs"},
    {"--batch-bytes", "N", PQIFY_OPT_UINT, A(batch_bytes), 64, 64u << 20, 0,
     "send a batch at this many bytes of events (default 1 MiB)"},
    {"--batch-events", "N", PQIFY_OPT_UINT, A(batch_events), 1, 1000000, 0,
     "... or this many events (default 10000)"},
    {"--batch-ms", "MS", PQIFY_OPT_UINT, A(batch_ms), 1, 600000, 0,
     "... or this long after its first event (default 200)"},
    {"--compression", "C", PQIFY_OPT_STRING, A(compression), 0, 0, 0,
     "zstd (default) | gzip | none"},
    {"--ack-timeout-ms", "MS", PQIFY_OPT_UINT, A(ack_timeout_ms), 100, 3600000, 0,
     "no ack this long for a batch sent: reconnect and resend (default 30000)"},
    {"--admin", "HOST:PORT", PQIFY_OPT_STRING, A(admin), 0, 0, 0,
     "/metrics, /ready and /healthz on a loopback address"},
    {"--config", "FILE", PQIFY_OPT_STRING, A(config), 0, 0, 0,
     "YAML settings (to, tls:, admin:, inputs:, spool:, batch: ...);\nflags override the file"},
    {"--check-config", NULL, PQIFY_OPT_FLAG, A(check_config), 0, 0, 0,
     "load --config and the TLS files, report, and exit (0 when usable)"},
};
#undef A

static const struct pqify_cmd_spec fwd_spec = {
    .name = "logfwd",
    .usage = "logfwd --to HOST:PORT [--to HOST:PORT ...] --ca FILE [options]\n"
             "       logfwd --config logfwd.yaml\n",
    .about = "Forward logs (files, a Unix socket of JSON lines, stdin) to pqify logrecv (or any\n"
             "Forward protocol receiver speaking TLS) with post-quantum TLS; every batch is\n"
             "spooled until acked.\n",
    .opts = fwd_opts,
    .n_opts = PQIFY_N_OPTS(fwd_opts),
    .footer = "Signals: SIGHUP reloads the inputs from --config; SIGTERM/SIGINT stop reading,\n"
              "spool what was read and wait (10 s) for its acks; what is unacked stays in the\n"
              "spool for the next run.\n"
              "Exit status: with stdin the only input, 0 after its EOF once every event read\n"
              "was acked.\n",
};

/* ---- the file: the settings table -------------------------------------------------- */

struct fwd_input_yaml {
    const char *type, *path, *tag;
};

struct fwd_file {
    pqify_tls_options tls;
    pqify_admin_config admin;
    pqify_config_list to, inputs;
    struct {
        const char *dir;
        int64_t max_bytes;
    } spool;
    struct {
        int64_t max_bytes, max_events;
        unsigned max_delay;
    } batch;
    const char *compression;
    unsigned ack_timeout, poll, grace;
    cli_fwd_security security;
};

static const char *const input_types[] = {"file", "socket", "stdin", NULL};
static const char *const compressions[] = {"zstd", "gzip", "none", NULL};

static const pqify_setting input_settings[] = {
    {.name = "type", .type = PQIFY_SET_ENUM, .offset = offsetof(struct fwd_input_yaml, type),
     .words = input_types, .flags = PQIFY_SET_REQUIRED | PQIFY_SET_RELOAD,
     .help = "file (path is a glob), socket (a Unix socket of JSON lines) or stdin."},
    {.name = "path", .type = PQIFY_SET_STRING, .offset = offsetof(struct fwd_input_yaml, path),
     .min = 1, .max = 4095, .flags = PQIFY_SET_RELOAD, .help = "The glob, or the socket's path."},
    {.name = "tag", .type = PQIFY_SET_STRING, .offset = offsetof(struct fwd_input_yaml, tag),
     .min = 1, .max = 255, .flags = PQIFY_SET_REQUIRED | PQIFY_SET_RELOAD,
     .help = "The stream (Forward tag) its events go to."},
    {0},
};

static const pqify_setting spool_settings[] = {
    {.name = "dir", .type = PQIFY_SET_STRING, .offset = offsetof(struct fwd_file, spool.dir) - offsetof(struct fwd_file, spool),
     .def = "pqify-logfwd.spool", .min = 1, .max = 4000,
     .help = "Where batches wait for their ack, and the file offsets."},
    {.name = "max_bytes", .type = PQIFY_SET_INT,
     .offset = offsetof(struct fwd_file, spool.max_bytes) - offsetof(struct fwd_file, spool),
     .def = "268435456", .min = 1048576, .max = INT64_MAX,
     .help = "Spool bound; full pauses the inputs (nothing is dropped)."},
    {0},
};

static const pqify_setting batch_settings[] = {
    {.name = "max_bytes", .type = PQIFY_SET_INT,
     .offset = offsetof(struct fwd_file, batch.max_bytes) - offsetof(struct fwd_file, batch),
     .def = "1048576", .min = 64, .max = 67108864, .help = "A batch is sent at this many bytes of events."},
    {.name = "max_events", .type = PQIFY_SET_INT,
     .offset = offsetof(struct fwd_file, batch.max_events) - offsetof(struct fwd_file, batch),
     .def = "10000", .min = 1, .max = 1000000, .help = "... or this many events."},
    {.name = "max_delay", .type = PQIFY_SET_DURATION,
     .offset = offsetof(struct fwd_file, batch.max_delay) - offsetof(struct fwd_file, batch),
     .def = "200ms", .min = 1, .max = 600000, .help = "... or this long after its first event."},
    {0},
};

static const pqify_setting fwd_settings[] = {
    {.name = "to", .type = PQIFY_SET_LIST, .offset = offsetof(struct fwd_file, to),
     .elem = PQIFY_SET_HOSTPORT, .elem_size = sizeof(const char *), .max_items = MAX_TARGETS,
     .help = "Receivers (HOST:PORT), tried in order: failover."},
    PQIFY_SETTING_MAP("tls", struct fwd_file, tls, pqify_tls_settings,
                      "TLS to the receivers (pq: required unless set; ca to verify them)."),
    PQIFY_SETTING_MAP("admin", struct fwd_file, admin, pqify_admin_settings, "Admin endpoint."),
    {.name = "inputs", .type = PQIFY_SET_LIST, .offset = offsetof(struct fwd_file, inputs),
     .elem = PQIFY_SET_MAP, .sub = input_settings, .elem_size = sizeof(struct fwd_input_yaml),
     .max_items = MAX_INPUTS, .flags = PQIFY_SET_RELOAD,
     .help = "What is read, each as a stream (SIGHUP reloads them)."},
    PQIFY_SETTING_MAP("spool", struct fwd_file, spool, spool_settings, "The on-disk queue."),
    PQIFY_SETTING_MAP("batch", struct fwd_file, batch, batch_settings, "When a batch is closed."),
    CLI_FWD_SECURITY_SETTING(struct fwd_file, security),
    {.name = "compression", .type = PQIFY_SET_ENUM, .offset = offsetof(struct fwd_file, compression),
     .words = compressions, .def = "zstd", .help = "How batches are compressed (CompressedPackedForward)."},
    {.name = "ack_timeout", .type = PQIFY_SET_DURATION, .offset = offsetof(struct fwd_file, ack_timeout),
     .def = "30s", .min = 100, .help = "No ack this long for a batch sent: reconnect and resend."},
    {.name = "poll", .type = PQIFY_SET_DURATION, .offset = offsetof(struct fwd_file, poll),
     .def = "250ms", .min = 10, .max = 60000, .help = "How often files are looked at (growth, rotation, new matches)."},
    {.name = "grace", .type = PQIFY_SET_DURATION, .offset = offsetof(struct fwd_file, grace),
     .def = "10s", .min = 0, .max = 3600000, .help = "SIGTERM: how long acks are awaited."},
    {0},
};

/* ---- the process -------------------------------------------------------------------- */

struct fwd_proc {
    struct fwd_args a;
    int argc;
    char **argv;
    struct fwd_file file;
    pqify_config *cfg_file, *cfg_reloaded;
    uv_loop_t loop;
    pqify_tls_config *tls;
    pqify_metrics *metrics;
    pqify_logfwd *fwd;
    pqify_service svc;
    const char *targets[MAX_TARGETS];
    size_t n_targets;
    pqify_logfwd_input inputs[MAX_INPUTS];
    size_t n_inputs;
    char *owned[MAX_INPUTS * 2];   /* strings cut out of --file/--socket */
    size_t n_owned;
    int status;
    char server_name[256];   /* the first receiver's host, the default name checked */
};

static void owned_free(struct fwd_proc *p)
{
    for (size_t i = 0; i < p->n_owned; i++)
        free(p->owned[i]);
    p->n_owned = 0;
}

/* "PATH=TAG": the last '=' separates, so a glob may hold one. */
static int add_flag_input(struct fwd_proc *p, pqify_logfwd_input_kind kind, const char *flag,
                          const char *arg)
{
    const char *eq = strrchr(arg, '=');
    if (eq == NULL || eq == arg || eq[1] == '\0') {
        fprintf(stderr, "pqify logfwd: %s '%s': expected PATH=TAG\n", flag, arg);
        return -1;
    }
    if (p->n_inputs == MAX_INPUTS || p->n_owned + 2 > MAX_INPUTS * 2) {
        fprintf(stderr, "pqify logfwd: at most %d inputs\n", MAX_INPUTS);
        return -1;
    }
    char *path = strndup(arg, (size_t)(eq - arg));
    char *tag = strdup(eq + 1);
    if (path == NULL || tag == NULL) {
        free(path);
        free(tag);
        return -1;
    }
    p->owned[p->n_owned++] = path;
    p->owned[p->n_owned++] = tag;
    p->inputs[p->n_inputs++] = (pqify_logfwd_input){kind, path, tag};
    return 0;
}

/* The inputs: the file's, then the flags'; stdin when asked (--tag, type: stdin) or
 * when nothing else is read. */
static int collect_inputs(struct fwd_proc *p, const struct fwd_file *file)
{
    int have_stdin = 0;
    p->n_inputs = 0;
    owned_free(p);
    const struct fwd_input_yaml *yi = file->inputs.items;
    for (size_t i = 0; i < file->inputs.count; i++) {
        pqify_logfwd_input_kind k = strcmp(yi[i].type, "file") == 0     ? PQIFY_LOGFWD_FILE
                                    : strcmp(yi[i].type, "socket") == 0 ? PQIFY_LOGFWD_SOCKET
                                                                        : PQIFY_LOGFWD_STDIN;
        if (k != PQIFY_LOGFWD_STDIN && yi[i].path == NULL) {
            fprintf(stderr, "pqify logfwd: %s: inputs[%zu].path: required for type %s\n",
                    p->a.config, i, yi[i].type);
            return -1;
        }
        have_stdin |= k == PQIFY_LOGFWD_STDIN;
        p->inputs[p->n_inputs++] = (pqify_logfwd_input){k, yi[i].path, yi[i].tag};
    }
    for (int i = 1; i + 1 < p->argc; i++) {
        int is_file = strcmp(p->argv[i], "--file") == 0;
        if (!is_file && strcmp(p->argv[i], "--socket") != 0)
            continue;
        if (add_flag_input(p, is_file ? PQIFY_LOGFWD_FILE : PQIFY_LOGFWD_SOCKET, p->argv[i],
                           p->argv[i + 1]) != 0)
            return -1;
        i++;
    }
    if (!have_stdin && (p->a.tag != NULL || p->n_inputs == 0)) {
        if (p->n_inputs == MAX_INPUTS)
            return -1;
        p->inputs[p->n_inputs++] = (pqify_logfwd_input){PQIFY_LOGFWD_STDIN, NULL,
                                                        p->a.tag ? p->a.tag : "stdin"};
    }
    return 0;
}

static int parse(struct fwd_proc *p)
{
    struct fwd_args *a = &p->a;
    if (pqify_cli_parse(&fwd_spec, p->argc, p->argv, a) != 0)
        return -1;
    if (cli_config_load("logfwd", fwd_settings, &p->file, a->config, a->check_config, 1,
                        &p->cfg_file) != 0)
        return -1;
    pqify_tls_options_fill_unset(&a->tls, &p->file.tls);
    /* --to may repeat (the table keeps the last): the flags replace the file's list */
    for (int i = 1; i + 1 < p->argc; i++) {
        if (strcmp(p->argv[i], "--to") != 0)
            continue;
        if (p->n_targets == MAX_TARGETS) {
            fprintf(stderr, "pqify logfwd: at most %d --to\n", MAX_TARGETS);
            return -1;
        }
        p->targets[p->n_targets++] = p->argv[++i];
    }
    if (p->n_targets == 0) {
        const char *const *to = p->file.to.items;
        for (size_t i = 0; i < p->file.to.count; i++)
            p->targets[p->n_targets++] = to[i];
    }
    if (p->n_targets == 0 || a->tls.ca == NULL) {
        fprintf(stderr, "pqify logfwd: a receiver (--to or to:) and a CA (--ca or tls.ca) are "
                        "required (see pqify logfwd --help)\n");
        return -1;
    }
    if (a->spool == NULL)
        a->spool = p->file.spool.dir;
    if (a->admin == NULL)
        a->admin = p->file.admin.listen;
    if (a->tls.pq == NULL)
        a->tls.pq = "required";   /* logs are an internal hop (DESIGN.md) */
    char host[256], port[16];
    if (cli_split_hostport(p->targets[0], host, sizeof host, port, sizeof port) != 0) {
        fprintf(stderr, "pqify logfwd: receiver '%s' is not HOST:PORT\n", p->targets[0]);
        return -1;
    }
    if (a->servername == NULL && a->tls.server_name == NULL) {
        snprintf(p->server_name, sizeof p->server_name, "%s", host);
        a->servername = p->server_name;
    }
    if (a->servername != NULL)
        a->tls.server_name = a->servername;
    if (a->compression == NULL)
        a->compression = p->file.compression;
    if (strcmp(a->compression, "zstd") != 0 && strcmp(a->compression, "gzip") != 0 &&
        strcmp(a->compression, "none") != 0) {
        fprintf(stderr, "pqify logfwd: --compression '%s': expected zstd, gzip or none\n", a->compression);
        return -1;
    }
    return collect_inputs(p, &p->file);
}

static void on_stdin_done(void *ctx)
{
    struct fwd_proc *p = ctx;
    PQIFY_LOG(PQIFY_LOG_INFO, "everything acked; exiting");
    pqify_service_drained(&p->svc);
}

static void on_drained(void *ctx)
{
    struct fwd_proc *p = ctx;
    pqify_logfwd_stats st;
    pqify_logfwd_get_stats(p->fwd, &st);
    char nb[21];
    PQIFY_LOG(PQIFY_LOG_INFO, "drained", "spooled_unacked", pqify_log_u64(nb, st.spool_batches));
    pqify_service_drained(&p->svc);
}

static void on_stop(void *ctx)
{
    struct fwd_proc *p = ctx;
    pqify_logfwd_drain(p->fwd, on_drained, p);
}

static void on_deadline(void *ctx)
{
    struct fwd_proc *p = ctx;
    pqify_logfwd_abort(p->fwd);
}

static void on_reload(void *ctx)
{
    struct fwd_proc *p = ctx;
    char err[512];
    if (p->a.config == NULL) {
        PQIFY_LOG(PQIFY_LOG_INFO, "SIGHUP: no --config; the inputs stay as they are");
        return;
    }
    struct fwd_file fresh;
    memset(&fresh, 0, sizeof fresh);
    pqify_config *c = pqify_config_load(fwd_settings, &fresh, p->a.config, err, sizeof err);
    if (c == NULL) {
        PQIFY_LOG(PQIFY_LOG_ERROR, "reload failed; the inputs stay as they are", "error", err);
        return;
    }
    if (pqify_config_reload_check(fwd_settings, &p->file, &fresh, err, sizeof err) != 0)
        PQIFY_LOG(PQIFY_LOG_WARN, "reload: only inputs change on SIGHUP; restart for the rest", "error", err);
    /* keep the old inputs until the new ones are running */
    pqify_logfwd_input keep[MAX_INPUTS];
    size_t n_keep = p->n_inputs;
    memcpy(keep, p->inputs, sizeof keep);
    char *kept_owned[MAX_INPUTS * 2];
    size_t n_kept_owned = p->n_owned;
    memcpy(kept_owned, p->owned, sizeof kept_owned);
    p->n_owned = 0;
    int stdin_was = 0;
    for (size_t i = 0; i < n_keep; i++)
        stdin_was |= keep[i].kind == PQIFY_LOGFWD_STDIN;
    if (collect_inputs(p, &fresh) != 0 ||
        pqify_logfwd_set_inputs(p->fwd, p->inputs, p->n_inputs, err, sizeof err) != 0) {
        PQIFY_LOG(PQIFY_LOG_ERROR, "reload failed; the inputs stay as they are", "error", err);
        owned_free(p);
        memcpy(p->inputs, keep, sizeof keep);
        p->n_inputs = n_keep;
        memcpy(p->owned, kept_owned, sizeof kept_owned);
        p->n_owned = n_kept_owned;
        pqify_config_free(c);
        return;
    }
    (void)stdin_was;
    for (size_t i = 0; i < n_kept_owned; i++)
        free(kept_owned[i]);
    /* The forwarder copied the inputs. The first load stays (the settings that do not
     * reload point into it); the previous reload's may go. */
    pqify_config_free(p->cfg_reloaded);
    p->cfg_reloaded = c;
    p->file.inputs = fresh.inputs;
    char n[21];
    PQIFY_LOG(PQIFY_LOG_INFO, "reloaded the inputs", "inputs", pqify_log_u64(n, p->n_inputs));
}

int pqify_cmd_logfwd(int argc, char **argv)
{
    struct fwd_proc *p = calloc(1, sizeof *p);
    char err[512];
    int status = 2;
    if (p == NULL)
        return 1;
    if (pqify_wants_help(argc, argv)) {
        pqify_cli_help(&fwd_spec, stdout);
        free(p);
        return 0;
    }
    p->argc = argc;
    p->argv = argv;
    if (parse(p) != 0)
        goto out;
    status = 1;
    p->tls = cli_tls_config("logfwd", &p->a.tls, 0);
    if (p->tls == NULL)
        goto out;
    if (p->a.check_config) {
        fprintf(stderr, "pqify logfwd: %s is usable (%zu receivers, %zu inputs)\n", p->a.config,
                p->n_targets, p->n_inputs);
        status = 0;
        goto out;
    }
    p->metrics = pqify_metrics_new();
    if (p->metrics == NULL)
        goto out;
    signal(SIGPIPE, SIG_IGN);
    uv_loop_init(&p->loop);
    pqify_logfwd_options o = {
        .targets = p->targets,
        .n_targets = p->n_targets,
        .tls = p->tls,
        .handshake_ms = pqify_tls_options_handshake_ms(&p->a.tls),
        .spool_dir = p->a.spool,
        .spool_max_bytes = p->a.spool_mb ? (uint64_t)p->a.spool_mb << 20 : (uint64_t)p->file.spool.max_bytes,
        .batch_bytes = p->a.batch_bytes ? p->a.batch_bytes : (size_t)p->file.batch.max_bytes,
        .batch_events = p->a.batch_events ? p->a.batch_events : (size_t)p->file.batch.max_events,
        .batch_ms = p->a.batch_ms ? p->a.batch_ms : p->file.batch.max_delay,
        .poll_ms = p->file.poll,
        .ack_timeout_ms = p->a.ack_timeout_ms ? p->a.ack_timeout_ms : p->file.ack_timeout,
        .compression = strcmp(p->a.compression, "gzip") == 0 ? PQIFY_FWD_GZIP : PQIFY_FWD_ZSTD,
        .no_compression = strcmp(p->a.compression, "none") == 0,
        .metrics = p->metrics,
        .on_stdin_done = on_stdin_done,
        .ctx = p,
        .shared_key = p->file.security.shared_key,
    };
    char hostname[256];
    o.self_hostname = cli_fwd_self_hostname(&p->file.security, hostname, sizeof hostname);
    int ok = pqify_logfwd_start(&p->loop, &o, p->inputs, p->n_inputs, &p->fwd, err, sizeof err) == 0;
    if (!ok)
        fprintf(stderr, "pqify logfwd: %s\n", err);
    pqify_service_options svo = {.name = "logfwd", .admin = p->a.admin, .metrics = p->metrics,
                                 .grace_ms = p->file.grace ? p->file.grace : DEFAULT_GRACE_MS,
                                 .hooks = {on_stop, on_deadline, on_reload, NULL, p}};
    ok = ok && cli_service_start(&p->svc, &p->loop, &svo) == 0;
    if (ok) {
        /* the line supervisors wait for: the socket applications write to, if any */
        const char *sock = NULL;
        for (size_t i = 0; i < p->n_inputs && sock == NULL; i++)
            if (p->inputs[i].kind == PQIFY_LOGFWD_SOCKET)
                sock = p->inputs[i].path;
        if (sock != NULL) {
            char where[4200];
            snprintf(where, sizeof where, "unix:%s", sock);
            pqify_service_announce(&p->svc, where);
        } else if (p->svc.admin != NULL) {
            fprintf(stderr, "pqify logfwd: admin endpoint on 127.0.0.1:%d (/metrics, /ready, /healthz)\n",
                    pqify_admin_port(p->svc.admin));
        }
        uv_run(&p->loop, UV_RUN_DEFAULT);
        status = 0;
    }
    pqify_logfwd_free(p->fwd);
    pqify_service_close_loop(&p->loop);
out:
    pqify_tls_config_free(p->tls);
    pqify_metrics_free(p->metrics);
    pqify_config_free(p->cfg_file);
    pqify_config_free(p->cfg_reloaded);
    owned_free(p);
    free(p);
    return status;
}
