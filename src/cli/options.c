/* Option parsing shared by every command: one way to spell options, one way to fail. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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

int pqify_cli_value(const char *cmd, int argc, char **argv, int *i, const char *name,
                    const char **value)
{
    const char *arg = argv[*i];
    size_t n = strlen(name);
    if (strncmp(arg, name, n) != 0)
        return 0;
    if (arg[n] == '=') {
        *value = arg + n + 1;
        return 1;
    }
    if (arg[n] != '\0')
        return 0;
    if (*i + 1 >= argc) {
        fprintf(stderr, "pqify %s: %s needs a value (see pqify %s --help)\n", cmd, name, cmd);
        return -1;
    }
    *i += 1;
    *value = argv[*i];
    return 1;
}

int pqify_cli_uint(const char *cmd, const char *option, const char *text, unsigned long min,
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

int pqify_cli_unknown(const char *cmd, const char *arg)
{
    fprintf(stderr, "pqify %s: unknown %s '%s' (see pqify %s --help)\n", cmd,
            arg[0] == '-' ? "option" : "argument", arg, cmd);
    return 2;
}
