/* Commands of the pqify binary. Each gets argv starting at its own name and
 * returns the process exit status (0 ok, 1 failure, 2 usage error). */
#ifndef PQIFY_CLI_H
#define PQIFY_CLI_H

#include <stddef.h>
#include <stdio.h>

struct pqify_command {
    const char *name;
    const char *summary;
    int (*run)(int argc, char **argv);
};

int pqify_cmd_demo(int argc, char **argv);
int pqify_cmd_bench(int argc, char **argv);
int pqify_cmd_serve(int argc, char **argv);
int pqify_cmd_keyserver(int argc, char **argv);
int pqify_cmd_keyless(int argc, char **argv);
int pqify_cmd_logrecv(int argc, char **argv);
int pqify_cmd_logfwd(int argc, char **argv);
int pqify_cmd_tunnel(int argc, char **argv);
int pqify_cmd_connect(int argc, char **argv);
int pqify_cmd_scan(int argc, char **argv);
#ifdef PQIFY_WITH_KAFKA
int pqify_cmd_kafka_mock(int argc, char **argv);   /* pqify-kafka only (cmd_kafka.c) */
int pqify_cmd_kafka_count(int argc, char **argv);
#endif
int pqify_cmd_edge(int argc, char **argv);

/* The path of the program `name` in this executable's directory (/proc/self/exe):
 * pqify finds pqify-bench there, pqify-bench finds pqify. 0, or -1. */
int pqify_cli_sibling_path(const char *name, char *out, size_t cap);
/* Runs pqify-bench (beside this binary) with argv (argv[0] its name): exec'd in
 * place, or waited for (wait_for_it = 1, returning its exit status). A missing
 * pqify-bench is said in words; then 1. */
int pqify_run_bench(const char *cmd, char **argv, int wait_for_it);

/* 1 if argv holds --help or -h (the caller prints its usage and returns 0). */
int pqify_wants_help(int argc, char **argv);

/*
 * Options are declared, not parsed by hand: each command has one table of
 * struct pqify_opt (name, kind, where the value goes, range, help line), and
 * pqify_cli_parse reads argv with it while pqify_cli_help prints --help from
 * it. So every command spells options alike ("--name VALUE" or "--name=VALUE"),
 * and unknown options, missing values and bad numbers read the same everywhere:
 *   pqify <cmd>: unknown option '--x' (see pqify <cmd> --help)
 *   pqify <cmd>: --x needs a value (see pqify <cmd> --help)
 *   pqify <cmd>: --x wants a whole number from MIN to MAX, not 'V'
 */
enum pqify_opt_kind {
    PQIFY_OPT_FLAG,   /* no value; sets an int to 1 */
    PQIFY_OPT_STRING, /* a value; sets a const char * (pointing into argv) */
    PQIFY_OPT_UINT,   /* a decimal in [min, max], times scale, into an unsigned */
    PQIFY_OPT_LIST,   /* a value, the option repeatable; appends to a struct pqify_opt_list */
};

/* A repeatable option's values (pointing into argv), in the order given. */
#define PQIFY_OPT_LIST_MAX 16
struct pqify_opt_list {
    const char *v[PQIFY_OPT_LIST_MAX];
    unsigned n;
};

struct pqify_opt {
    const char *name;          /* "--cert" */
    const char *value;         /* "FILE" in the help; NULL for a flag */
    enum pqify_opt_kind kind;
    size_t offset;             /* where it goes: offsetof() in the command's struct */
    unsigned long min, max;    /* PQIFY_OPT_UINT */
    unsigned scale;            /* PQIFY_OPT_UINT: stored value = given * scale (0 = 1) */
    const char *help;          /* one line; '\n' starts a continuation line */
};

struct pqify_cmd_spec {
    const char *name;          /* as in messages: "serve", "bench kem" */
    const char *usage;         /* the synopsis after "usage: pqify " */
    const char *about;         /* the paragraph after the usage line, or NULL */
    const struct pqify_opt *opts;
    size_t n_opts;
    const char *operand;       /* one positional operand's name ("HOST:PORT"), or NULL */
    size_t operand_offset;     /* where it goes (a const char *) */
    const char *footer;        /* text after the options, or NULL */
};

#define PQIFY_N_OPTS(a) (sizeof(a) / sizeof((a)[0]))

/* Parses argv[1..argc) into args. Returns 0, or 2 after printing one line on
 * stderr (the caller returns it as the exit status). --help is handled first
 * by the caller (pqify_wants_help), so it wins over any error on the line. */
int pqify_cli_parse(const struct pqify_cmd_spec *spec, int argc, char **argv, void *args);

/* --help from the table: usage, about, "options:", one line (or more) per option
 * with "-h, --help" last, then the footer. */
void pqify_cli_help(const struct pqify_cmd_spec *spec, FILE *f);

/* Prints "pqify <cmd>: unknown option 'arg' (see pqify <cmd> --help)" (or
 * "unknown argument" for a word not starting with '-') and returns 2. */
int pqify_cli_unknown(const char *cmd, const char *arg);

#endif
