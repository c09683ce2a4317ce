/* The per-config client session cache, keyed by server name (tls.h "Sessions"). */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "conn.h"

struct tls_session_cache {
    pthread_mutex_t lock;
    size_t n, next;
    tls_session *entries;   /* server_name[0] == 0 with ticket_len == 0: unused */
};

void tls_session_cache_free(struct tls_session_cache *cache)
{
    if (cache == NULL)
        return;
    pthread_mutex_destroy(&cache->lock);
    tls_zeroize(cache->entries, cache->n * sizeof *cache->entries);
    free(cache->entries);
    free(cache);
}

int pqify_tls_config_set_session_cache(pqify_tls_config *cfg, size_t entries)
{
    struct tls_session_cache *cache = NULL;
    if (cfg == NULL || entries > 1024)
        return PQIFY_TLS_ERR_ARG;
    if (entries > 0) {
        cache = calloc(1, sizeof *cache);
        if (cache == NULL)
            return PQIFY_TLS_ERR_NO_MEMORY;
        cache->entries = calloc(entries, sizeof *cache->entries);
        if (cache->entries == NULL || pthread_mutex_init(&cache->lock, NULL) != 0) {
            free(cache->entries);
            free(cache);
            return PQIFY_TLS_ERR_NO_MEMORY;
        }
        cache->n = entries;
    }
    tls_session_cache_free(cfg->cache);
    cfg->cache = cache;
    return 0;
}

int tls_session_cache_get(const pqify_tls_config *cfg, const char *name, tls_session *out)
{
    struct tls_session_cache *cache = cfg->cache;
    int found = 0;
    if (cache == NULL)
        return 0;
    pthread_mutex_lock(&cache->lock);
    for (size_t i = 0; i < cache->n && !found; i++)
        if (cache->entries[i].ticket_len != 0 && strcmp(cache->entries[i].server_name, name) == 0) {
            *out = cache->entries[i];
            found = 1;
        }
    pthread_mutex_unlock(&cache->lock);
    return found;
}

void tls_session_cache_put(const pqify_tls_config *cfg, const tls_session *s)
{
    struct tls_session_cache *cache = cfg->cache;
    size_t slot;
    if (cache == NULL)
        return;
    pthread_mutex_lock(&cache->lock);
    /* one entry per server name: the newest ticket replaces the older */
    for (slot = 0; slot < cache->n; slot++)
        if (cache->entries[slot].ticket_len != 0 &&
            strcmp(cache->entries[slot].server_name, s->server_name) == 0)
            break;
    if (slot == cache->n) {
        slot = cache->next;
        cache->next = (cache->next + 1) % cache->n;
    }
    tls_zeroize(&cache->entries[slot], sizeof cache->entries[slot]);
    cache->entries[slot] = *s;
    pthread_mutex_unlock(&cache->lock);
}
