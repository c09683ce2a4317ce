/*
 * The YAML config loader (src/net/config.c) on arbitrary bytes, with a table holding
 * every kind of setting (tests/net/config_table.h). Beyond "no crash, no leak": a
 * load either fails with one line naming the input, or fills the struct so that the
 * reload check against itself passes and every required key is set.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "net/config_table.h"

/* checked in every build type (assert would vanish under NDEBUG) */
#define CHECK(c)                                              \
    do {                                                      \
        if (!(c)) {                                           \
            fprintf(stderr, "check failed: %s\n", #c);       \
            abort();                                          \
        }                                                     \
    } while (0)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    svc s;
    char err[512];
    pqify_config *c = pqify_config_parse(svc_settings, &s, "fuzz.yaml", (const char *)data, size, err, sizeof err);
    if (c == NULL) {
        /* every failure says where */
        CHECK(strncmp(err, "fuzz.yaml", 9) == 0);
        CHECK(strchr(err, '\n') == NULL);
        CHECK(s.name == NULL && s.routes.count == 0);   /* back to the defaults */
        return 0;
    }
    CHECK(s.name != NULL && strlen(s.name) >= 1 && strlen(s.name) <= 32);
    CHECK(s.workers >= 1 && s.workers <= 256);
    CHECK(s.routes.count <= 4);
    const route *r = s.routes.items;
    for (size_t i = 0; i < s.routes.count; i++)
        CHECK(r[i].service != NULL && r[i].weight >= 0 && r[i].weight <= 100);
    const int64_t *ports = s.ports.items;
    for (size_t i = 0; i < s.ports.count; i++)
        CHECK(ports[i] >= 1 && ports[i] <= 65535);
    CHECK(pqify_config_reload_check(svc_settings, &s, &s, err, sizeof err) == 0);
    /* a flag on top of whatever loaded */
    int ret = pqify_config_set(c, svc_settings, &s, "tls.pq", size > 0 && data[0] & 1 ? "off" : "on", "--pq", err,
                               sizeof err);
    CHECK(ret == 0 || strcmp(err, "--pq: expected one of preferred, required, off") == 0);
    pqify_config_free(c);
    return 0;
}
