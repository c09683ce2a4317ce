/* Options for every command, from one table each (cli.h): one way to spell them,
 * one way to fail, and --help generated from the same table. */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"

int pqify_wants_help(int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--"))
            break;
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h"))
            return 1;
    }
    return 0;
}

int pqify_cli_unknown(const char *cmd, const char *arg)
{
    fprintf(stderr, "pqify %s: unknown %s '%s' (see pqify %s --help)\n", cmd,
            arg[0] == '-' ? "option" : "argument", arg, cmd);
    return 2;
}

/* A decimal in [min, max]; 0, or -1 after saying why. */
static int parse_uint(const char *cmd, const char *option, const char *text, unsigned long min,
                      unsigned long max, unsigned long *out)
{
    char *end = NULL;
    errno = 0;
    unsigned long v = strtoul(text, &end, 10);
    /* strtoul accepts a sign and leading blanks; a count is plain digits. */
    if (text[0] < '0' || text[0] > '9' || *end != '\0' || errno != 0 || v < min || v > max) {
        fprintf(stderr, "pqify %s: %s wants a whole number from %lu to %lu, not '%s'\n", cmd,
                option, min, max, text);
        return -1;
    }
    *out = v;
    return 0;
}

/* The table entry argv[*i] names ("--name" or "--name=value"), or NULL. */
static const struct pqify_opt *find(const struct pqify_cmd_spec *spec, const char *arg,
                                    const char **inline_value)
{
    *inline_value = NULL;
    for (size_t k = 0; k < spec->n_opts; k++) {
        const struct pqify_opt *o = &spec->opts[k];
        size_t n = strlen(o->name);
        if (strncmp(arg, o->name, n) != 0)
            continue;
        if (arg[n] == '\0')
            return o;
        if (arg[n] == '=' && o->kind != PQIFY_OPT_FLAG) {
            *inline_value = arg + n + 1;
            return o;
        }
    }
    return NULL;
}

static int store(const struct pqify_cmd_spec *spec, const struct pqify_opt *o, const char *v,
                 void *args)
{
    char *slot = (char *)args + o->offset;
    unsigned long n;
    switch (o->kind) {
    case PQIFY_OPT_FLAG:
        *(int *)(void *)slot = 1;
        return 0;
    case PQIFY_OPT_STRING:
        *(const char **)(void *)slot = v;
        return 0;
    case PQIFY_OPT_UINT:
        if (parse_uint(spec->name, o->name, v, o->min, o->max, &n) != 0)
            return -1;
        *(unsigned *)(void *)slot = (unsigned)n * (o->scale ? o->scale : 1u);
        return 0;
    case PQIFY_OPT_LIST: {
        struct pqify_opt_list *l = (struct pqify_opt_list *)(void *)slot;
        if (l->n >= PQIFY_OPT_LIST_MAX) {
            fprintf(stderr, "pqify %s: %s is given more than %d times\n", spec->name, o->name,
                    PQIFY_OPT_LIST_MAX);
            return -1;
        }
        l->v[l->n++] = v;
        return 0;
    }
    }
    return -1;
}

int pqify_cli_parse(const struct pqify_cmd_spec *spec, int argc, char **argv, void *args)
{
    int have_operand = 0;
    for (int i = 1; i < argc; i++) {
        const char *arg = argv[i], *v = NULL;
        const struct pqify_opt *o = find(spec, arg, &v);
        if (o == NULL) {
            if (arg[0] == '-' || spec->operand == NULL || have_operand)
                return pqify_cli_unknown(spec->name, arg);
            *(const char **)(void *)((char *)args + spec->operand_offset) = arg;
            have_operand = 1;
            continue;
        }
        if (o->kind != PQIFY_OPT_FLAG && v == NULL) {
            if (i + 1 >= argc) {
                fprintf(stderr, "pqify %s: %s needs a value (see pqify %s --help)\n", spec->name,
                        o->name, spec->name);
                return 2;
            }
            v = argv[++i];
        }
        if (store(spec, o, v, args) != 0)
            return 2;
    }
    return 0;
}

/* "  --name VALUE" padded to the help column, then the help's lines. */
static void help_line(FILE *f, const char *left, const char *help)
{
    const int col = 20;
    int w = fprintf(f, "  %s", left);
    if (w - 2 > col - 2)
        fprintf(f, "\n%*s", col + 2, "");
    else
        fprintf(f, "%*s", col + 2 - w, "");
    for (const char *p = help; *p; p++) {
        fputc(*p, f);
        if (*p == '\n')
            fprintf(f, "%*s", col + 2, "");
    }
    fputc('\n', f);
}

void pqify_cli_help(const struct pqify_cmd_spec *spec, FILE *f)
{
    fprintf(f, "usage: pqify %s", spec->usage);   /* the synopsis ends its own lines */
    if (spec->about != NULL)
        fprintf(f, "\n%s", spec->about);
    fprintf(f, "\noptions:\n");
    for (size_t k = 0; k < spec->n_opts; k++) {
        const struct pqify_opt *o = &spec->opts[k];
        char left[64];
        snprintf(left, sizeof left, "%s%s%s", o->name, o->value ? " " : "", o->value ? o->value : "");
        help_line(f, left, o->help);
    }
    help_line(f, "-h, --help", "print this text");
    if (spec->footer != NULL)
        fprintf(f, "\n%s", spec->footer);
}

int pqify_cli_sibling_path(const char *name, char *out, size_t cap)
{
    char self[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
    if (n <= 0)
        return -1;
    self[n] = '\0';
    char *slash = strrchr(self, '/');
    if (slash == NULL)
        return -1;
    *slash = '\0';
    int w = snprintf(out, cap, "%s/%s", self, name);
    return w > 0 && (size_t)w < cap ? 0 : -1;
}
