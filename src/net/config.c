/* YAML configuration from a settings table (see include/pqify/net/config.h). */
#include "pqify/net/config.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <yaml.h>

#include "textbuf.h"

#define MAX_FILE (1u << 20)
#define MAX_VALUES 100000    /* nodes walked: aliases can make a small file look huge */
#define MAX_TABLE 128        /* entries per table (the loader's seen-set) */
#define MAX_PATH 512

/* ---- the arena: everything a load allocates, freed at once ---- */

typedef struct chunk {
    struct chunk *next;
    max_align_t data[];
} chunk;

struct pqify_config {
    chunk *chunks;
};

static void *arena_alloc(pqify_config *c, size_t n)
{
    if (n > SIZE_MAX - sizeof(chunk))
        return NULL;
    chunk *k = calloc(1, sizeof(chunk) + n);
    if (k == NULL)
        return NULL;
    k->next = c->chunks;
    c->chunks = k;
    return k->data;
}

static char *arena_strndup(pqify_config *c, const char *s, size_t n)
{
    char *p = arena_alloc(c, n + 1);
    if (p != NULL)
        memcpy(p, s, n);
    return p;
}

void pqify_config_free(pqify_config *c)
{
    if (c == NULL)
        return;
    for (chunk *k = c->chunks, *next; k != NULL; k = next) {
        next = k->next;
        free(k);
    }
    free(c);
}

/* ---- scalars ---- */

static const char *type_word(pqify_setting_type t)
{
    switch (t) {
    case PQIFY_SET_STRING: return "string";
    case PQIFY_SET_INT: return "integer";
    case PQIFY_SET_BOOL: return "true/false";
    case PQIFY_SET_DURATION: return "duration";
    case PQIFY_SET_ENUM: return "word";
    case PQIFY_SET_HOSTPORT: return "HOST:PORT";
    case PQIFY_SET_MAP: return "map";
    case PQIFY_SET_LIST: return "list";
    case PQIFY_SET_LINE: return "line";
    }
    return "?";
}

static int is_scalar_type(pqify_setting_type t)
{
    return t >= PQIFY_SET_STRING && t <= PQIFY_SET_HOSTPORT;
}

static size_t scalar_size(pqify_setting_type t)
{
    switch (t) {
    case PQIFY_SET_INT: return sizeof(int64_t);
    case PQIFY_SET_BOOL: return sizeof(int);
    case PQIFY_SET_DURATION:
    case PQIFY_SET_LINE: return sizeof(unsigned);
    default: return sizeof(const char *);
    }
}

static int64_t int_min(const pqify_setting *s) { return s->min == 0 && s->max == 0 ? INT64_MIN : s->min; }
static int64_t int_max(const pqify_setting *s) { return s->min == 0 && s->max == 0 ? INT64_MAX : s->max; }
static int64_t dur_max(const pqify_setting *s) { return s->max == 0 ? UINT_MAX : s->max; }

/* 250ms, 10s, 5m, 1h as the shortest whole unit */
static void put_duration(textbuf *b, int64_t ms)
{
    if (ms != 0 && ms % 3600000 == 0)
        tb_printf(b, "%lldh", (long long)(ms / 3600000));
    else if (ms != 0 && ms % 60000 == 0)
        tb_printf(b, "%lldm", (long long)(ms / 60000));
    else if (ms != 0 && ms % 1000 == 0)
        tb_printf(b, "%llds", (long long)(ms / 1000));
    else
        tb_printf(b, "%lldms", (long long)ms);
}

static void put_words(textbuf *b, const char *const *words)
{
    for (size_t i = 0; words[i] != NULL; i++)
        tb_printf(b, "%s%s", i ? ", " : "", words[i]);
}

/* "expected ..." for a scalar of type t with s's bounds and words */
static void put_expected(textbuf *b, const pqify_setting *s, pqify_setting_type t)
{
    switch (t) {
    case PQIFY_SET_STRING:
        if (s->max > 0)
            tb_printf(b, "expected a string of %lld to %lld bytes", (long long)s->min, (long long)s->max);
        else
            tb_puts(b, "expected a string");
        break;
    case PQIFY_SET_INT:
        if (s->min == 0 && s->max == 0)
            tb_puts(b, "expected an integer");
        else
            tb_printf(b, "expected an integer from %lld to %lld", (long long)s->min, (long long)s->max);
        break;
    case PQIFY_SET_BOOL:
        tb_puts(b, "expected true or false");
        break;
    case PQIFY_SET_DURATION:
        tb_puts(b, "expected a duration such as 500ms, 10s or 5m, from ");
        put_duration(b, s->min);
        tb_puts(b, " to ");
        put_duration(b, dur_max(s));
        break;
    case PQIFY_SET_ENUM:
        tb_puts(b, "expected one of ");
        put_words(b, s->words);
        break;
    case PQIFY_SET_HOSTPORT:
        tb_puts(b, "expected HOST:PORT (an IPv6 host in brackets, port 0 to 65535)");
        break;
    default:
        tb_printf(b, "expected a %s", type_word(t));
    }
}

static int parse_i64(const char *t, size_t n, int64_t *out)
{
    size_t i = 0;
    int neg = n > 0 && t[0] == '-';
    i += (size_t)neg;
    if (i == n)
        return -1;
    uint64_t v = 0, limit = neg ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX;
    for (; i < n; i++) {
        if (t[i] < '0' || t[i] > '9')
            return -1;
        unsigned d = (unsigned)(t[i] - '0');
        if (v > (limit - d) / 10)
            return -1;
        v = v * 10 + d;
    }
    *out = neg ? (v == (uint64_t)INT64_MAX + 1 ? INT64_MIN : -(int64_t)v) : (int64_t)v;
    return 0;
}

static int parse_duration(const char *t, size_t n, int64_t *ms)
{
    size_t digits = 0;
    while (digits < n && t[digits] >= '0' && t[digits] <= '9')
        digits++;
    if (digits == 0 || digits > 12)
        return -1;
    int64_t v;
    if (parse_i64(t, digits, &v) < 0)
        return -1;
    const char *unit = t + digits;
    size_t ulen = n - digits;
    int64_t mul;
    if (ulen == 2 && memcmp(unit, "ms", 2) == 0)
        mul = 1;
    else if (ulen == 1 && unit[0] == 's')
        mul = 1000;
    else if (ulen == 1 && unit[0] == 'm')
        mul = 60000;
    else if (ulen == 1 && unit[0] == 'h')
        mul = 3600000;
    else if (ulen == 0 && v == 0)
        mul = 1;
    else
        return -1;
    *ms = v * mul;   /* at most 12 digits times 3.6e6: fits in int64 */
    return 0;
}

int pqify_hostport_parse(const char *text, char *host, size_t cap, uint16_t *port)
{
    if (text == NULL)
        return PQIFY_ERR_ARG;
    const char *colon = strrchr(text, ':');
    if (colon == NULL)
        return PQIFY_ERR_ARG;
    const char *h = text;
    size_t hlen = (size_t)(colon - text);
    if (text[0] == '[') {
        /* RFC 3986 §3.2.2: an IPv6 literal in brackets */
        if (hlen < 3 || text[hlen - 1] != ']' || memchr(text + 1, ':', hlen - 2) == NULL)
            return PQIFY_ERR_ARG;
        h = text + 1;
        hlen -= 2;
    } else if (memchr(text, ':', hlen) != NULL)
        return PQIFY_ERR_ARG;   /* an IPv6 host needs brackets */
    if (hlen == 0 || hlen >= cap)
        return PQIFY_ERR_ARG;
    for (size_t i = 0; i < hlen; i++)
        if ((unsigned char)h[i] <= ' ' || h[i] == '[' || h[i] == ']' || h[i] == '/' || (unsigned char)h[i] >= 0x7f)
            return PQIFY_ERR_ARG;
    const char *p = colon + 1;
    size_t plen = strlen(p);
    int64_t v;
    if (plen == 0 || plen > 5 || p[0] == '-' || parse_i64(p, plen, &v) < 0 || v > 65535)
        return PQIFY_ERR_ARG;
    memcpy(host, h, hlen);
    host[hlen] = '\0';
    *port = (uint16_t)v;
    return 0;
}

/*
 * Parse text (n bytes, possibly with NULs from a YAML escape) as type t with s's
 * bounds into out. c NULL: strings point at text itself (defaults in the table).
 */
static int parse_scalar(const pqify_setting *s, pqify_setting_type t, const char *text, size_t n,
                        void *out, pqify_config *c)
{
    int64_t v;
    switch (t) {
    case PQIFY_SET_STRING:
    case PQIFY_SET_HOSTPORT: {
        if (memchr(text, '\0', n) != NULL)
            return -1;
        if (t == PQIFY_SET_STRING && s->max > 0 && ((int64_t)n < s->min || (int64_t)n > s->max))
            return -1;
        if (t == PQIFY_SET_HOSTPORT) {
            char host[256];
            uint16_t port;
            char tmp[300];
            if (n >= sizeof tmp)
                return -1;
            memcpy(tmp, text, n);
            tmp[n] = '\0';
            if (pqify_hostport_parse(tmp, host, sizeof host, &port) < 0)
                return -1;
        }
        const char *str = c != NULL ? arena_strndup(c, text, n) : text;
        if (str == NULL)
            return -2;
        memcpy(out, &str, sizeof str);
        return 0;
    }
    case PQIFY_SET_INT:
        if (parse_i64(text, n, &v) < 0 || v < int_min(s) || v > int_max(s))
            return -1;
        memcpy(out, &v, sizeof v);
        return 0;
    case PQIFY_SET_BOOL: {
        int b;
        if (n == 4 && memcmp(text, "true", 4) == 0)
            b = 1;
        else if (n == 5 && memcmp(text, "false", 5) == 0)
            b = 0;
        else
            return -1;
        memcpy(out, &b, sizeof b);
        return 0;
    }
    case PQIFY_SET_DURATION: {
        if (parse_duration(text, n, &v) < 0 || v < s->min || v > dur_max(s))
            return -1;
        unsigned ms = (unsigned)v;
        memcpy(out, &ms, sizeof ms);
        return 0;
    }
    case PQIFY_SET_ENUM:
        for (size_t i = 0; s->words != NULL && s->words[i] != NULL; i++)
            if (strlen(s->words[i]) == n && memcmp(s->words[i], text, n) == 0) {
                memcpy(out, &s->words[i], sizeof(const char *));
                return 0;
            }
        return -1;
    default:
        return -1;
    }
}

/* ---- defaults ---- */

static void apply_defaults(const pqify_setting *table, unsigned char *base)
{
    for (const pqify_setting *s = table; s->name != NULL; s++) {
        unsigned char *field = base + s->offset;
        if (s->type == PQIFY_SET_MAP)
            apply_defaults(s->sub, field);
        else if (s->type == PQIFY_SET_LIST)
            memset(field, 0, sizeof(pqify_config_list));
        else {
            memset(field, 0, scalar_size(s->type));
            /* pqify_config_check_table proves every default parses */
            if (s->def != NULL && parse_scalar(s, s->type, s->def, strlen(s->def), field, NULL) != 0)
                memset(field, 0, scalar_size(s->type));
        }
    }
}

/* ---- the loader ---- */

typedef struct loader {
    pqify_config *c;
    yaml_document_t *doc;
    const char *name;
    char *err;
    size_t cap;
    size_t visits;
    char path[MAX_PATH];
} loader;

__attribute__((format(printf, 3, 4))) static int fail_at(loader *l, const yaml_node_t *node,
                                                         const char *fmt, ...)
{
    textbuf b = {0};
    tb_printf(&b, "%s:%zu: ", l->name, node != NULL ? (size_t)node->start_mark.line + 1 : (size_t)1);
    if (l->path[0] != '\0')
        tb_printf(&b, "%s: ", l->path);
    va_list ap;
    va_start(ap, fmt);
    char msg[512];
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    tb_puts(&b, msg);
    char *text = tb_take(&b, NULL);
    if (l->cap > 0)
        snprintf(l->err, l->cap, "%s", text != NULL ? text : "out of memory");
    free(text);
    return PQIFY_ERR_ARG;
}

static int fail_expected(loader *l, const yaml_node_t *node, const pqify_setting *s, pqify_setting_type t)
{
    textbuf b = {0};
    put_expected(&b, s, t);
    char *text = tb_take(&b, NULL);
    int ret = fail_at(l, node, "%s", text != NULL ? text : "bad value");
    free(text);
    return ret;
}

/* YAML 1.1/1.2 core schema: an empty plain scalar, ~ and null are null */
static int is_null(const yaml_node_t *n)
{
    if (n->type != YAML_SCALAR_NODE || n->data.scalar.style != YAML_PLAIN_SCALAR_STYLE)
        return 0;
    const char *v = (const char *)n->data.scalar.value;
    size_t len = n->data.scalar.length;
    return len == 0 || (len == 1 && v[0] == '~') ||
           (len == 4 && (memcmp(v, "null", 4) == 0 || memcmp(v, "Null", 4) == 0 || memcmp(v, "NULL", 4) == 0));
}

/* path grows by ".key" or "[i]" while a child is loaded, then is cut back */
static size_t path_push(loader *l, const char *key, size_t index)
{
    size_t old = strlen(l->path);
    if (key != NULL)
        snprintf(l->path + old, MAX_PATH - old, "%s%s", old ? "." : "", key);
    else
        snprintf(l->path + old, MAX_PATH - old, "[%zu]", index);
    return old;
}

static int load_map(loader *l, const pqify_setting *table, unsigned char *base, yaml_node_t *node);

static int load_value(loader *l, const pqify_setting *s, pqify_setting_type t, unsigned char *field,
                      yaml_node_t *node);

static int load_list(loader *l, const pqify_setting *s, unsigned char *field, yaml_node_t *node)
{
    pqify_config_list list = {NULL, 0};
    if (!is_null(node)) {
        if (node->type != YAML_SEQUENCE_NODE)
            return fail_at(l, node, "expected a list");
        size_t count = (size_t)(node->data.sequence.items.top - node->data.sequence.items.start);
        if (count > 0 && (list.items = arena_alloc(l->c, count * s->elem_size)) == NULL)
            return fail_at(l, node, "out of memory");
        for (size_t i = 0; i < count; i++) {
            yaml_node_t *item = yaml_document_get_node(l->doc, node->data.sequence.items.start[i]);
            unsigned char *elem = (unsigned char *)list.items + i * s->elem_size;
            if (s->elem == PQIFY_SET_MAP)
                apply_defaults(s->sub, elem);
            size_t old = path_push(l, NULL, i);
            int ret = item == NULL ? fail_at(l, node, "bad list item") : load_value(l, s, s->elem, elem, item);
            if (ret < 0)
                return ret;
            l->path[old] = '\0';
        }
        list.count = count;
    }
    if (s->max_items > 0 && (list.count < s->min_items || list.count > s->max_items))
        return fail_at(l, node, "expected a list of %zu to %zu items", s->min_items, s->max_items);
    memcpy(field, &list, sizeof list);
    return 0;
}

static int load_value(loader *l, const pqify_setting *s, pqify_setting_type t, unsigned char *field,
                      yaml_node_t *node)
{
    if (++l->visits > MAX_VALUES)
        return fail_at(l, node, "too many values (more than %u, counting what aliases repeat)", MAX_VALUES);
    if (t == PQIFY_SET_MAP)
        return load_map(l, s->sub, field, node);
    if (t == PQIFY_SET_LIST)
        return load_list(l, s, field, node);
    if (node->type != YAML_SCALAR_NODE || is_null(node))
        return fail_expected(l, node, s, t);
    int ret = parse_scalar(s, t, (const char *)node->data.scalar.value, node->data.scalar.length, field, l->c);
    if (ret == -2)
        return fail_at(l, node, "out of memory");
    return ret < 0 ? fail_expected(l, node, s, t) : 0;
}

static int load_map(loader *l, const pqify_setting *table, unsigned char *base, yaml_node_t *node)
{
    unsigned char seen[MAX_TABLE] = {0};
    if (node != NULL && !is_null(node)) {
        if (node->type != YAML_MAPPING_NODE)
            return fail_at(l, node, "expected a map");
        for (yaml_node_pair_t *p = node->data.mapping.pairs.start; p < node->data.mapping.pairs.top; p++) {
            yaml_node_t *k = yaml_document_get_node(l->doc, p->key);
            yaml_node_t *v = yaml_document_get_node(l->doc, p->value);
            if (k == NULL || v == NULL)
                return fail_at(l, node, "bad map entry");
            if (k->type != YAML_SCALAR_NODE)
                return fail_at(l, k, "a key must be a plain word");
            const char *key = (const char *)k->data.scalar.value;
            size_t klen = k->data.scalar.length;
            const pqify_setting *s = table;
            while (s->name != NULL &&
                   (s->type == PQIFY_SET_LINE || !(strlen(s->name) == klen && memcmp(s->name, key, klen) == 0)))
                s++;
            char shown[64];
            snprintf(shown, sizeof shown, "%.*s%s", klen > 40 ? 40 : (int)klen, key, klen > 40 ? "..." : "");
            for (char *q = shown; *q != '\0'; q++)
                if ((unsigned char)*q < ' ' || (unsigned char)*q == 0x7f)
                    *q = '?';
            size_t old = path_push(l, shown, 0);
            if (s->name == NULL)
                return fail_at(l, k, "unknown key");
            if (seen[s - table]++)
                return fail_at(l, k, "repeated key");
            int ret = load_value(l, s, s->type, base + s->offset, v);
            if (ret < 0)
                return ret;
            l->path[old] = '\0';
        }
    }
    for (const pqify_setting *s = table; s->name != NULL; s++)
        if (s->type == PQIFY_SET_LINE && node != NULL) {
            unsigned line = (unsigned)node->start_mark.line + 1;
            memcpy(base + s->offset, &line, sizeof line);
        }
    for (const pqify_setting *s = table; s->name != NULL; s++)
        if ((s->flags & PQIFY_SET_REQUIRED) && !seen[s - table]) {
            size_t old = path_push(l, s->name, 0);
            int ret = fail_at(l, node, "required");
            l->path[old] = '\0';
            return ret;
        }
    return 0;
}

static int load_document(loader *l, const pqify_setting *table, void *target, const char *text, size_t len)
{
    yaml_parser_t parser;
    yaml_document_t doc, extra;
    int ret = PQIFY_ERR_ARG;
    if (!yaml_parser_initialize(&parser)) {
        snprintf(l->err, l->cap, "%s: out of memory", l->name);
        return PQIFY_ERR_ARG;
    }
    yaml_parser_set_input_string(&parser, (const unsigned char *)text, len);
    if (!yaml_parser_load(&parser, &doc)) {
        /* the line is where the parser stopped */
        snprintf(l->err, l->cap, "%s:%zu: YAML: %s%s%s", l->name, (size_t)parser.problem_mark.line + 1,
                 parser.problem != NULL ? parser.problem : "unreadable",
                 parser.context != NULL ? " " : "", parser.context != NULL ? parser.context : "");
        yaml_parser_delete(&parser);
        return PQIFY_ERR_ARG;
    }
    l->doc = &doc;
    yaml_node_t *root = yaml_document_get_root_node(&doc);
    if (root != NULL && root->type != YAML_MAPPING_NODE && !is_null(root))
        ret = fail_at(l, root, "expected a map of settings at the top");
    else
        ret = load_map(l, table, target, root);
    if (ret == 0) {
        /* one document per file: a second one would be silently ignored otherwise */
        if (!yaml_parser_load(&parser, &extra)) {
            ret = PQIFY_ERR_ARG;
            snprintf(l->err, l->cap, "%s:%zu: YAML: %s", l->name, (size_t)parser.problem_mark.line + 1,
                     parser.problem != NULL ? parser.problem : "unreadable");
        } else {
            yaml_node_t *more = yaml_document_get_root_node(&extra);
            if (more != NULL)
                ret = fail_at(l, more, "only one YAML document may be in the file");
            yaml_document_delete(&extra);
        }
    }
    yaml_document_delete(&doc);
    yaml_parser_delete(&parser);
    return ret;
}

pqify_config *pqify_config_parse(const pqify_setting *table, void *target, const char *name,
                                 const char *text, size_t len, char *err, size_t cap)
{
    if (cap > 0)
        err[0] = '\0';
    apply_defaults(table, target);
    pqify_config *c = calloc(1, sizeof *c);
    if (c == NULL) {
        snprintf(err, cap, "%s: out of memory", name);
        return NULL;
    }
    loader l = {.c = c, .name = name, .err = err, .cap = cap};
    if (len > MAX_FILE) {
        snprintf(err, cap, "%s: larger than %u bytes", name, MAX_FILE);
        goto fail;
    }
    if (load_document(&l, table, target, text, len) < 0)
        goto fail;
    return c;
fail:
    pqify_config_free(c);
    apply_defaults(table, target);
    return NULL;
}

pqify_config *pqify_config_load(const pqify_setting *table, void *target, const char *path,
                                char *err, size_t cap)
{
    apply_defaults(table, target);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        snprintf(err, cap, "%s: %s", path, strerror(errno));
        return NULL;
    }
    textbuf b = {0};
    char chunk_buf[65536];
    for (;;) {
        ssize_t n = read(fd, chunk_buf, sizeof chunk_buf);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            snprintf(err, cap, "%s: %s", path, strerror(errno));
            close(fd);
            tb_free(&b);
            return NULL;
        }
        if (n == 0)
            break;
        tb_putn(&b, chunk_buf, (size_t)n);
        if (b.len > MAX_FILE)
            break;
    }
    close(fd);
    size_t len;
    char *text = tb_take(&b, &len);
    if (text == NULL) {
        snprintf(err, cap, "%s: out of memory", path);
        return NULL;
    }
    pqify_config *c = pqify_config_parse(table, target, path, text, len, err, cap);
    free(text);
    return c;
}

/* ---- flags ---- */

int pqify_config_set(pqify_config *c, const pqify_setting *table, void *target, const char *key,
                     const char *value, const char *origin, char *err, size_t cap)
{
    unsigned char *base = target;
    const char *k = key;
    for (;;) {
        const char *dot = strchr(k, '.');
        size_t n = dot != NULL ? (size_t)(dot - k) : strlen(k);
        const pqify_setting *s = table;
        while (s->name != NULL && !(strlen(s->name) == n && memcmp(s->name, k, n) == 0))
            s++;
        if (s->name == NULL || (dot != NULL && s->type != PQIFY_SET_MAP) ||
            (dot == NULL && !is_scalar_type(s->type))) {
            snprintf(err, cap, "%s: no setting %s", origin != NULL ? origin : key, key);
            return PQIFY_ERR_ARG;
        }
        if (dot == NULL) {
            int ret = parse_scalar(s, s->type, value, strlen(value), base + s->offset, c);
            if (ret == 0)
                return 0;
            textbuf b = {0};
            put_expected(&b, s, s->type);
            char *text = tb_take(&b, NULL);
            snprintf(err, cap, "%s: %s", origin != NULL ? origin : key,
                     ret == -2 || text == NULL ? "out of memory" : text);
            free(text);
            return PQIFY_ERR_ARG;
        }
        base += s->offset;
        table = s->sub;
        k = dot + 1;
    }
}

/* ---- reload ---- */

static int scalar_equal(pqify_setting_type t, const unsigned char *a, const unsigned char *b)
{
    if (t == PQIFY_SET_STRING || t == PQIFY_SET_ENUM || t == PQIFY_SET_HOSTPORT) {
        const char *x, *y;
        memcpy(&x, a, sizeof x);
        memcpy(&y, b, sizeof y);
        return x == y || (x != NULL && y != NULL && strcmp(x, y) == 0);
    }
    return memcmp(a, b, scalar_size(t)) == 0;
}

static int reload_walk(const pqify_setting *table, const unsigned char *a, const unsigned char *b,
                       char *path, char *err, size_t cap);

static int reload_entry(const pqify_setting *s, pqify_setting_type t, const unsigned char *a,
                        const unsigned char *b, char *path, char *err, size_t cap)
{
    if (t == PQIFY_SET_MAP)
        return reload_walk(s->sub, a, b, path, err, cap);
    if (t == PQIFY_SET_LIST) {
        pqify_config_list x, y;
        memcpy(&x, a, sizeof x);
        memcpy(&y, b, sizeof y);
        if (x.count != y.count)
            goto changed;
        for (size_t i = 0; i < x.count; i++) {
            size_t old = strlen(path);
            snprintf(path + old, MAX_PATH - old, "[%zu]", i);
            if (reload_entry(s, s->elem, (const unsigned char *)x.items + i * s->elem_size,
                             (const unsigned char *)y.items + i * s->elem_size, path, err, cap) < 0)
                return PQIFY_ERR_ARG;
            path[old] = '\0';
        }
        return 0;
    }
    if (scalar_equal(t, a, b))
        return 0;
changed:
    snprintf(err, cap, "%s: cannot change on reload (restart the process)", path);
    return PQIFY_ERR_ARG;
}

static int reload_walk(const pqify_setting *table, const unsigned char *a, const unsigned char *b,
                       char *path, char *err, size_t cap)
{
    for (const pqify_setting *s = table; s->name != NULL; s++) {
        if ((s->flags & PQIFY_SET_RELOAD) || s->type == PQIFY_SET_LINE)
            continue;
        size_t old = strlen(path);
        snprintf(path + old, MAX_PATH - old, "%s%s", old ? "." : "", s->name);
        if (reload_entry(s, s->type, a + s->offset, b + s->offset, path, err, cap) < 0)
            return PQIFY_ERR_ARG;
        path[old] = '\0';
    }
    return 0;
}

int pqify_config_reload_check(const pqify_setting *table, const void *old_target,
                              const void *new_target, char *err, size_t cap)
{
    char path[MAX_PATH] = "";
    return reload_walk(table, old_target, new_target, path, err, cap);
}

/* ---- the table itself ---- */

static int check_walk(const pqify_setting *table, char *path, char *err, size_t cap, int depth)
{
    size_t count = 0;
    if (table == NULL || depth > 8) {
        snprintf(err, cap, "%s: no nested table, or nested too deep", path[0] ? path : "(top)");
        return PQIFY_ERR_ARG;
    }
    for (const pqify_setting *s = table; s->name != NULL; s++, count++) {
        size_t old = strlen(path);
        snprintf(path + old, MAX_PATH - old, "%s%s", old ? "." : "", s->name);
        const char *why = NULL;
        int64_t scratch[2];
        int name_ok = s->name[0] >= 'a' && s->name[0] <= 'z';
        for (const char *p = s->name; *p != '\0'; p++)
            name_ok &= (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') || *p == '_';
        for (const pqify_setting *o = table; o < s; o++)
            if (strcmp(o->name, s->name) == 0)
                why = "name used twice";
        pqify_setting_type scalar = s->type == PQIFY_SET_LIST ? s->elem : s->type;
        if (!name_ok)
            why = "name must be a lower-case letter, then letters, digits and _";
        else if (count >= MAX_TABLE)
            why = "too many entries";
        else if (s->type < PQIFY_SET_STRING || s->type > PQIFY_SET_LINE)
            why = "unknown type";
        else if (s->type == PQIFY_SET_LINE && (s->def != NULL || s->flags != 0))
            why = "a line has no default and no flags";
        else if (s->type == PQIFY_SET_LIST && (s->elem == PQIFY_SET_LIST || s->elem < PQIFY_SET_STRING ||
                                                s->elem > PQIFY_SET_MAP || s->elem_size == 0))
            why = "a list needs an element type (not a list) and elem_size";
        else if (s->type == PQIFY_SET_LIST && s->elem != PQIFY_SET_MAP && s->elem_size != scalar_size(s->elem))
            why = "elem_size does not match the element type";
        else if (scalar == PQIFY_SET_ENUM && (s->words == NULL || s->words[0] == NULL))
            why = "an enum needs words";
        else if ((s->type == PQIFY_SET_MAP || s->type == PQIFY_SET_LIST) && s->def != NULL)
            why = "a map or list has no default";
        else if (scalar == PQIFY_SET_STRING && s->max > 0 && (s->min < 0 || s->min > s->max))
            why = "min > max";
        else if (s->type == PQIFY_SET_LIST && s->max_items > 0 && s->min_items > s->max_items)
            why = "min_items > max_items";
        else if (scalar == PQIFY_SET_INT && s->min > s->max)
            why = "min > max";
        else if (scalar == PQIFY_SET_DURATION && (s->min < 0 || s->min > dur_max(s) || dur_max(s) > UINT_MAX))
            why = "duration bounds must be 0 <= min <= max <= UINT_MAX";
        else if (s->def != NULL && parse_scalar(s, s->type, s->def, strlen(s->def), scratch, NULL) != 0)
            why = "default does not parse or is out of bounds";
        if (why != NULL) {
            snprintf(err, cap, "%s: %s", path, why);
            return PQIFY_ERR_ARG;
        }
        if (scalar == PQIFY_SET_MAP && check_walk(s->sub, path, err, cap, depth + 1) < 0)
            return PQIFY_ERR_ARG;
        path[old] = '\0';
    }
    return 0;
}

int pqify_config_check_table(const pqify_setting *table, char *err, size_t cap)
{
    char path[MAX_PATH] = "";
    return check_walk(table, path, err, cap, 0);
}

/* ---- the listing ---- */

static void describe_type(textbuf *b, const pqify_setting *s, pqify_setting_type t)
{
    if (t == PQIFY_SET_ENUM) {
        tb_puts(b, "one of ");
        put_words(b, s->words);
    } else if (t == PQIFY_SET_LIST) {
        tb_printf(b, "list of %s", s->elem == PQIFY_SET_MAP ? "maps" : "");
        if (s->elem != PQIFY_SET_MAP)
            describe_type(b, s, s->elem);
    } else
        tb_puts(b, type_word(t));
}

static void describe_bounds(textbuf *b, const pqify_setting *s, pqify_setting_type t)
{
    if (t == PQIFY_SET_INT && !(s->min == 0 && s->max == 0))
        tb_printf(b, "%lld..%lld", (long long)s->min, (long long)s->max);
    else if (t == PQIFY_SET_DURATION) {
        put_duration(b, s->min);
        tb_puts(b, "..");
        put_duration(b, dur_max(s));
    } else if (t == PQIFY_SET_LIST && s->max_items > 0)
        tb_printf(b, "%zu..%zu items", s->min_items, s->max_items);
    else if (t == PQIFY_SET_STRING && s->max > 0)
        tb_printf(b, "%lld..%lld bytes", (long long)s->min, (long long)s->max);
    else if (t == PQIFY_SET_HOSTPORT)
        tb_puts(b, "port 0..65535");
}

static void describe_walk(textbuf *b, const pqify_setting *table, char *path)
{
    for (const pqify_setting *s = table; s->name != NULL; s++) {
        if (s->type == PQIFY_SET_LINE)
            continue;
        size_t old = strlen(path);
        snprintf(path + old, MAX_PATH - old, "%s%s", old ? "." : "", s->name);
        if (s->type == PQIFY_SET_MAP) {
            describe_walk(b, s->sub, path);
        } else {
            tb_printf(b, "| `%s` | ", path);
            describe_type(b, s, s->type);
            tb_puts(b, " | ");
            if (s->flags & PQIFY_SET_REQUIRED)
                tb_puts(b, "(required)");
            else if (s->def != NULL)
                tb_printf(b, "`%s`", s->def);
            tb_puts(b, " | ");
            describe_bounds(b, s, s->type);
            if (s->type == PQIFY_SET_LIST && s->elem != PQIFY_SET_MAP) {
                textbuf eb = {0};
                describe_bounds(&eb, s, s->elem);
                if (eb.len > 0)
                    tb_printf(b, "%seach %s", s->max_items > 0 ? "; " : "", eb.p);
                tb_free(&eb);
            }
            tb_printf(b, " | %s | %s |\n", (s->flags & PQIFY_SET_RELOAD) ? "yes" : "no",
                      s->help != NULL ? s->help : "");
            if (s->type == PQIFY_SET_LIST && s->elem == PQIFY_SET_MAP) {
                size_t mid = strlen(path);
                snprintf(path + mid, MAX_PATH - mid, "[]");
                describe_walk(b, s->sub, path);
            }
        }
        path[old] = '\0';
    }
}

char *pqify_config_describe(const pqify_setting *table)
{
    textbuf b = {0};
    char path[MAX_PATH] = "";
    tb_puts(&b, "| key | type | default | bounds | SIGHUP | what |\n|---|---|---|---|---|---|\n");
    describe_walk(&b, table, path);
    return tb_take(&b, NULL);
}

/* ---- the shared blocks ---- */

static const char *const pq_words[] = {"preferred", "required", "off", NULL};

const pqify_setting pqify_tls_settings[] = {
    {.name = "cert", .type = PQIFY_SET_STRING, .offset = offsetof(pqify_tls_options, cert),
     .flags = PQIFY_SET_RELOAD, .help = "Certificate chain, PEM file (leaf first)."},
    {.name = "key", .type = PQIFY_SET_STRING, .offset = offsetof(pqify_tls_options, key),
     .flags = PQIFY_SET_RELOAD, .help = "Private key of the certificate, PEM file."},
    {.name = "ca", .type = PQIFY_SET_STRING, .offset = offsetof(pqify_tls_options, ca),
     .flags = PQIFY_SET_RELOAD,
     .help = "CA certificates, PEM file: a client verifies the server with them; a server asks for client certificates (mutual TLS)."},
    {.name = "pq", .type = PQIFY_SET_ENUM, .offset = offsetof(pqify_tls_options, pq), .words = pq_words,
     .flags = PQIFY_SET_RELOAD,
     .help = "Post-quantum key exchange; unset = the service's default (preferred on public listeners, required on internal hops)."},
    {.name = "groups", .type = PQIFY_SET_STRING, .offset = offsetof(pqify_tls_options, groups),
     .min = 1, .max = 1024, .flags = PQIFY_SET_RELOAD,
     .help = "Expert override: comma-separated groups in preference order, still filtered by pq."},
    {.name = "alpn", .type = PQIFY_SET_STRING, .offset = offsetof(pqify_tls_options, alpn),
     .min = 1, .max = 1024, .flags = PQIFY_SET_RELOAD,
     .help = "Comma-separated ALPN protocols in preference order (h2,http/1.1)."},
    {.name = "server_name", .type = PQIFY_SET_STRING, .offset = offsetof(pqify_tls_options, server_name),
     .min = 1, .max = 255, .flags = PQIFY_SET_RELOAD,
     .help = "Client: the name sent as SNI and checked against the server certificate."},
    {.name = "ciphers", .type = PQIFY_SET_STRING, .offset = offsetof(pqify_tls_options, ciphers),
     .min = 1, .max = 1024, .flags = PQIFY_SET_RELOAD,
     .help = "Comma-separated TLS 1.3 suites in preference order."},
    {.name = "handshake_timeout", .type = PQIFY_SET_DURATION,
     .offset = offsetof(pqify_tls_options, handshake_timeout_ms), .def = "10s", .min = 100,
     .max = 300000, .flags = PQIFY_SET_RELOAD,
     .help = "A connection that has not finished its handshake by then is closed."},
    {.name = "idle_timeout", .type = PQIFY_SET_DURATION,
     .offset = offsetof(pqify_tls_options, idle_timeout_ms), .min = 0, .max = 86400000,
     .flags = PQIFY_SET_RELOAD,
     .help = "An established connection with no traffic for this long is closed; unset or 0 = 5m on a server, none on a client."},
    {0},
};

const pqify_setting pqify_admin_settings[] = {
    {.name = "listen", .type = PQIFY_SET_HOSTPORT, .offset = offsetof(pqify_admin_config, listen),
     .help = "Where /metrics, /ready and /healthz answer (plain HTTP, loopback only); unset = no admin endpoint."},
    {0},
};
