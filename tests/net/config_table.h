/*
 * A service-like settings table with every kind of setting (scalars, a list of maps,
 * lists of scalars, the shared tls: and admin: blocks), shared by test_config.c and
 * the config fuzz harness.
 */
#ifndef PQIFY_TEST_CONFIG_TABLE_H
#define PQIFY_TEST_CONFIG_TABLE_H

#include <stddef.h>
#include <stdint.h>

#include "pqify/net/config.h"

typedef struct route {
    const char *hostname, *service;
    int64_t weight;
    int enabled;
} route;

typedef struct svc {
    const char *name;
    int64_t workers;
    int verbose;
    unsigned grace_ms;
    const char *mode;
    const char *upstream;
    pqify_config_list routes;   /* of route */
    pqify_config_list tags;     /* of const char * */
    pqify_config_list ports;    /* of int64_t */
    pqify_tls_options tls;
    pqify_admin_config admin;
} svc;

static const char *const modes[] = {"fast", "safe", NULL};

static const pqify_setting route_settings[] = {
    {.name = "hostname", .type = PQIFY_SET_STRING, .offset = offsetof(route, hostname), .min = 1, .max = 253,
     .help = "Host this rule matches."},
    {.name = "service", .type = PQIFY_SET_STRING, .offset = offsetof(route, service),
     .flags = PQIFY_SET_REQUIRED, .help = "Where it goes."},
    {.name = "weight", .type = PQIFY_SET_INT, .offset = offsetof(route, weight), .def = "1", .min = 0, .max = 100,
     .help = "Share of traffic."},
    {.name = "enabled", .type = PQIFY_SET_BOOL, .offset = offsetof(route, enabled), .def = "true",
     .help = "Off skips the rule."},
    {0},
};

static const pqify_setting svc_settings[] = {
    {.name = "name", .type = PQIFY_SET_STRING, .offset = offsetof(svc, name), .min = 1, .max = 32,
     .flags = PQIFY_SET_REQUIRED, .help = "Instance name."},
    {.name = "workers", .type = PQIFY_SET_INT, .offset = offsetof(svc, workers), .def = "1", .min = 1, .max = 256,
     .help = "Event loops."},
    {.name = "verbose", .type = PQIFY_SET_BOOL, .offset = offsetof(svc, verbose), .def = "false",
     .flags = PQIFY_SET_RELOAD, .help = "Log more."},
    {.name = "grace", .type = PQIFY_SET_DURATION, .offset = offsetof(svc, grace_ms), .def = "30s", .min = 0,
     .max = 600000, .help = "Drain time on SIGTERM."},
    {.name = "mode", .type = PQIFY_SET_ENUM, .offset = offsetof(svc, mode), .def = "safe", .words = modes,
     .flags = PQIFY_SET_RELOAD, .help = "How hard to try."},
    {.name = "upstream", .type = PQIFY_SET_HOSTPORT, .offset = offsetof(svc, upstream),
     .help = "Where to send."},
    {.name = "routes", .type = PQIFY_SET_LIST, .offset = offsetof(svc, routes), .elem = PQIFY_SET_MAP,
     .sub = route_settings, .elem_size = sizeof(route), .min_items = 0, .max_items = 4, .flags = PQIFY_SET_RELOAD,
     .help = "Routing rules, first match wins."},
    {.name = "tags", .type = PQIFY_SET_LIST, .offset = offsetof(svc, tags), .elem = PQIFY_SET_STRING,
     .elem_size = sizeof(const char *), .help = "Labels."},
    {.name = "ports", .type = PQIFY_SET_LIST, .offset = offsetof(svc, ports), .elem = PQIFY_SET_INT,
     .elem_size = sizeof(int64_t), .min = 1, .max = 65535, .help = "Ports."},
    PQIFY_SETTING_MAP("tls", svc, tls, pqify_tls_settings, "TLS."),
    PQIFY_SETTING_MAP("admin", svc, admin, pqify_admin_settings, "Admin endpoint."),
    {0},
};

#endif
