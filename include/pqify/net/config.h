/*
 * YAML configuration driven by a settings table (STYLE.md "Configuration is a
 * table"). A service declares each setting once: name, type, where it goes in the
 * service's struct, default, bounds, whether SIGHUP may change it, help. From that
 * one table come the loader (libyaml), --check-config (load and report), flag
 * overrides (pqify_config_set), the reload check and the docs/--help listing.
 *
 *   typedef struct { pqify_tls_options tls; pqify_admin_config admin; int64_t workers; } svc;
 *   static const pqify_setting svc_settings[] = {
 *       PQIFY_SETTING_MAP("tls", svc, tls, pqify_tls_settings, "TLS for the listener."),
 *       PQIFY_SETTING_MAP("admin", svc, admin, pqify_admin_settings, "Admin endpoint."),
 *       {"workers", PQIFY_SET_INT, offsetof(svc, workers), .def = "1", .min = 1, .max = 256,
 *        .help = "Event loops (one per core is best)."},
 *       {0}};
 *   svc s;
 *   pqify_config *c = pqify_config_load(svc_settings, &s, "edge.yaml", err, sizeof err);
 *
 * What each type stores at its offset:
 *   STRING    const char *     (NULL when unset and no default); min/max bound the length if max > 0
 *   INT       int64_t          min..max (both 0: any int64)
 *   BOOL      int              true | false
 *   DURATION  unsigned         milliseconds; written 250ms, 10s, 5m, 1h (or 0); min..max in ms (max 0: UINT_MAX)
 *   ENUM      const char *     one of .words (NULL-terminated); points into .words
 *   HOSTPORT  const char *     HOST:PORT or [V6]:PORT, port 0..65535
 *   MAP       a struct         .sub is its table, offsets relative to the struct
 *   LIST      pqify_config_list  .elem is the element's type (a MAP with .sub, or a
 *                              scalar type using this entry's min/max/words), .elem_size
 *                              its C size; min_items..max_items bound the count if max_items > 0
 *   LINE      unsigned         not a key in the file: the line (1-based) where the map holding
 *                              this entry starts, 0 when the map was absent. A service that checks
 *                              a list item after loading (the tunnel's ingress rules: "the last
 *                              rule must be a catch-all") names the item's line with it. Never
 *                              read from YAML, never in the listing, free to change on reload.
 * Names are lower-case letters, digits and _, or camelCase (a lower-case first letter),
 * as files in another program's shape spell them (cloudflared's originRequest).
 * Strings point into memory the pqify_config owns (or into the table for defaults and
 * words): keep the pqify_config while the struct is used.
 *
 * Errors are one line, "FILE:LINE: KEY: what", e.g.
 *   edge.yaml:12: tls.pq: expected one of preferred, required, off
 *   edge.yaml:20: routes[1].service: required
 *   edge.yaml:3: tls.cer: unknown key
 * Unknown keys, repeated keys, wrong types and values out of bounds are all errors.
 */
#ifndef PQIFY_NET_CONFIG_H
#define PQIFY_NET_CONFIG_H

#include <stddef.h>
#include <stdint.h>

#include "pqify/common.h"
#include "pqify/net/tls_options.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum pqify_setting_type {
    PQIFY_SET_STRING = 1,
    PQIFY_SET_INT,
    PQIFY_SET_BOOL,
    PQIFY_SET_DURATION,
    PQIFY_SET_ENUM,
    PQIFY_SET_HOSTPORT,
    PQIFY_SET_MAP,
    PQIFY_SET_LIST,
    PQIFY_SET_LINE,
} pqify_setting_type;

#define PQIFY_SET_RELOAD 1u     /* SIGHUP may change it (else a reload that changes it is refused) */
#define PQIFY_SET_REQUIRED 2u   /* must be in the file (a MAP: must be present) */

typedef struct pqify_setting {
    const char *name;                  /* YAML key; NULL ends a table */
    pqify_setting_type type;
    size_t offset;                     /* offsetof(struct, field) */
    const char *def;                   /* default, written as in YAML; NULL = none */
    int64_t min, max;                  /* bounds (see the types above) */
    unsigned flags;                    /* PQIFY_SET_RELOAD | PQIFY_SET_REQUIRED */
    const char *help;                  /* one line, for the listing */
    const char *const *words;          /* ENUM: the accepted words, NULL-terminated */
    const struct pqify_setting *sub;   /* MAP, or a LIST of MAP: the nested table */
    pqify_setting_type elem;           /* LIST: the element type */
    size_t elem_size;                  /* LIST: sizeof an element */
    size_t min_items, max_items;       /* LIST: bounds on the count (max_items 0: any) */
} pqify_setting;

typedef struct pqify_config_list {
    void *items;   /* count elements of elem_size bytes (a list of strings: const char **) */
    size_t count;
} pqify_config_list;

#define PQIFY_SETTING_MAP(key, st, field, table, helptext) \
    {.name = (key), .type = PQIFY_SET_MAP, .offset = offsetof(st, field), .sub = (table), .help = (helptext)}

/* The shared blocks (DESIGN.md "The service chassis"). */
extern const pqify_setting pqify_tls_settings[];     /* fills a pqify_tls_options */
typedef struct pqify_admin_config {
    const char *listen;   /* HOST:PORT; NULL = no admin endpoint */
} pqify_admin_config;
extern const pqify_setting pqify_admin_settings[];   /* fills a pqify_admin_config */

typedef struct pqify_config pqify_config;   /* owns the strings and lists a load made */

/*
 * Fill target from a YAML file: first every default, then the file. NULL on failure
 * with err holding one line (see above) and target holding the defaults only. The
 * file is at most 1 MiB. The caller frees the result with pqify_config_free after
 * it stops using target's strings.
 */
pqify_config *pqify_config_load(const pqify_setting *table, void *target, const char *path,
                                char *err, size_t cap);
/* The same from text in memory; name is what errors call it. */
pqify_config *pqify_config_parse(const pqify_setting *table, void *target, const char *name,
                                 const char *text, size_t len, char *err, size_t cap);
void pqify_config_free(pqify_config *c);

/*
 * Set one scalar setting by its dotted key ("tls.pq", "admin.listen") from text, as a
 * command-line flag overrides the file, with the same checks. Strings are copied into
 * c (c NULL: they point at value itself, fine for argv). 0, or PQIFY_ERR_ARG with err
 * "ORIGIN: expected one of ..." (origin is the flag, e.g. "--pq"; NULL = the key).
 *
 * --check-config is pqify_config_load (plus the service's own cross-checks): print err
 * and exit non-zero on failure, exit 0 otherwise. --help prints pqify_config_describe.
 */
PQIFY_MUST_USE int pqify_config_set(pqify_config *c, const pqify_setting *table, void *target,
                                    const char *key, const char *value, const char *origin,
                                    char *err, size_t cap);

/*
 * SIGHUP: 0 if going from old to new changes only settings marked PQIFY_SET_RELOAD
 * (a MAP or LIST marked so may change entirely); else PQIFY_ERR_ARG with err like
 * "admin.listen: cannot change on reload (restart the process)".
 */
PQIFY_MUST_USE int pqify_config_reload_check(const pqify_setting *table, const void *old_target,
                                             const void *new_target, char *err, size_t cap);

/*
 * Check a table itself (names, types, bounds, that every default parses and is in
 * bounds): services call it in a test. 0 or PQIFY_ERR_ARG with err naming the entry.
 */
PQIFY_MUST_USE int pqify_config_check_table(const pqify_setting *table, char *err, size_t cap);

/*
 * The listing (Markdown table: key, type, default, bounds, SIGHUP, help), one row per
 * setting with nested keys dotted ("tls.pq", "routes[].service"). malloc'd, NULL when
 * out of memory. --help and docs/operations.md print it.
 */
char *pqify_config_describe(const pqify_setting *table);

/*
 * "HOST:PORT", "[V6]:PORT": host (without brackets) into host[cap], port into *port.
 * 0 or PQIFY_ERR_ARG (empty host, port not a number in 0..65535, host too long).
 */
PQIFY_MUST_USE int pqify_hostport_parse(const char *text, char *host, size_t cap, uint16_t *port);

#ifdef __cplusplus
}
#endif
#endif
