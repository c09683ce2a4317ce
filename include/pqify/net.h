/*
 * The service chassis (DESIGN.md "The service chassis"), one header per module under
 * pqify/net/. Include this for all of it, or only the modules a program uses.
 */
#ifndef PQIFY_NET_H
#define PQIFY_NET_H

#include "pqify/net/pump.h"        /* the engine pump: one loop around pqify_tls_conn */
#include "pqify/net/pair.h"        /* two pumps joined in memory */
#include "pqify/net/selfsigned.h"  /* a throwaway identity for in-memory pairs */
#include "pqify/net/tls_options.h" /* the shared tls: block -> pqify_tls_config */
#include "pqify/net/stream.h"      /* a TLS stream on a libuv TCP handle */
#include "pqify/net/listener.h"    /* accept with a cap and back-off */
#include "pqify/net/dialer.h"      /* connect with capped, jittered back-off */
#include "pqify/net/pool.h"        /* N long-lived outbound TLS connections */
#include "pqify/net/signals.h"     /* SIGTERM/SIGINT drain, SIGHUP reload */
#include "pqify/net/metrics.h"     /* the Prometheus registry */
#include "pqify/net/admin.h"       /* /metrics, /ready, /healthz */
#include "pqify/net/config.h"      /* YAML from a settings table */
#include "pqify/net/log.h"         /* logfmt / JSON lines */

#endif
