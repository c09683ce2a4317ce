/*
 * The forwarder's spool: one file per batch, DIR/<seq>.batch, seq a 16-digit hex counter
 * so names sort in send order. A batch is written as <seq>.tmp, fsynced, renamed and the
 * directory fsynced: after a crash a .tmp was never promised to anyone and is removed.
 * Each file carries its length and a CRC, so a .batch torn by a filesystem that
 * reorders writes is found at recovery and set aside as .torn, never resent half.
 *
 * File: "PQSPOOL1" | u32 payload length | u32 CRC-32(chunk ‖ payload) | chunk (24) | payload
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "internal.h"

#define SPOOL_MAGIC "PQSPOOL1"
#define SPOOL_HDR (8 + 4 + 4 + PQIFY_FWD_CHUNK_ID_LEN)

typedef struct entry {
    uint64_t seq;
    uint64_t bytes; /* whole file */
    char chunk[PQIFY_FWD_CHUNK_ID_LEN + 1];
} entry;

struct pqify_spool {
    char *dir;
    int dir_fd;
    uint64_t max_bytes, used, next_seq, torn;
    entry *e;
    size_t n, cap;
};

__attribute__((format(printf, 3, 4))) static void say(char *err, size_t cap, const char *fmt, ...)
{
    va_list ap;
    if (err == NULL || cap == 0)
        return;
    va_start(ap, fmt);
    vsnprintf(err, cap, fmt, ap);
    va_end(ap);
}

static void be32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24); p[1] = (uint8_t)(v >> 16); p[2] = (uint8_t)(v >> 8); p[3] = (uint8_t)v;
}

static uint32_t rd32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static uint32_t record_crc(const char *chunk, const uint8_t *data, size_t len)
{
    uint8_t *tmp = malloc(PQIFY_FWD_CHUNK_ID_LEN + len);
    uint32_t c;
    if (tmp == NULL)
        return 0;
    memcpy(tmp, chunk, PQIFY_FWD_CHUNK_ID_LEN);
    if (len)
        memcpy(tmp + PQIFY_FWD_CHUNK_ID_LEN, data, len);
    c = logs_crc32(tmp, PQIFY_FWD_CHUNK_ID_LEN + len);
    free(tmp);
    return c;
}

static int add_entry(pqify_spool *sp, uint64_t seq, uint64_t bytes, const char *chunk)
{
    if (sp->n == sp->cap) {
        size_t c = sp->cap ? 2 * sp->cap : 16;
        entry *p = realloc(sp->e, c * sizeof *p);
        if (p == NULL)
            return PQIFY_LOGS_ERR_NOMEM;
        sp->e = p;
        sp->cap = c;
    }
    sp->e[sp->n].seq = seq;
    sp->e[sp->n].bytes = bytes;
    memcpy(sp->e[sp->n].chunk, chunk, PQIFY_FWD_CHUNK_ID_LEN);
    sp->e[sp->n].chunk[PQIFY_FWD_CHUNK_ID_LEN] = 0;
    sp->n++;
    sp->used += bytes;
    return 0;
}

/* Reads and checks one file; on success data (may be NULL) gets the payload. */
static int read_batch(pqify_spool *sp, uint64_t seq, char chunk[PQIFY_FWD_CHUNK_ID_LEN + 1],
                      uint8_t **data, size_t *len, uint64_t *bytes)
{
    char name[40];
    uint8_t hdr[SPOOL_HDR], *buf = NULL;
    struct stat sb;
    uint32_t plen;
    int fd, ret = 0;

    snprintf(name, sizeof name, "%016" PRIx64 ".batch", seq);
    fd = openat(sp->dir_fd, name, O_RDONLY | O_CLOEXEC);
    ENSURE(fd >= 0, errno == ENOENT ? PQIFY_LOGS_ERR_NOT_FOUND : PQIFY_LOGS_ERR_IO);
    ENSURE(fstat(fd, &sb) == 0, PQIFY_LOGS_ERR_IO);
    ENSURE(sb.st_size >= SPOOL_HDR, PQIFY_LOGS_ERR_CORRUPT);
    ENSURE(pread(fd, hdr, SPOOL_HDR, 0) == SPOOL_HDR, PQIFY_LOGS_ERR_CORRUPT);
    plen = rd32(hdr + 8);
    ENSURE(memcmp(hdr, SPOOL_MAGIC, 8) == 0 && (uint64_t)sb.st_size == SPOOL_HDR + (uint64_t)plen,
           PQIFY_LOGS_ERR_CORRUPT);
    buf = malloc(plen ? plen : 1);
    ENSURE(buf != NULL, PQIFY_LOGS_ERR_NOMEM);
    ENSURE(pread(fd, buf, plen, SPOOL_HDR) == (ssize_t)plen, PQIFY_LOGS_ERR_CORRUPT);
    memcpy(chunk, hdr + 16, PQIFY_FWD_CHUNK_ID_LEN);
    chunk[PQIFY_FWD_CHUNK_ID_LEN] = 0;
    ENSURE(record_crc(chunk, buf, plen) == rd32(hdr + 12), PQIFY_LOGS_ERR_CORRUPT);
    *bytes = (uint64_t)sb.st_size;
    if (data) {
        *data = buf;
        *len = plen;
        buf = NULL;
    }
out:
    if (fd >= 0)
        close(fd);
    free(buf);
    return ret;
}

static int cmp_seq(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

/* Recovery: .tmp files were never promised and go; .batch files are checked in order. */
static int recover(pqify_spool *sp, char *err, size_t cap)
{
    DIR *d = fdopendir(dup(sp->dir_fd));
    struct dirent *de;
    uint64_t *seqs = NULL;
    size_t n = 0, c = 0;
    int ret = 0;

    ENSURE(d != NULL, PQIFY_LOGS_ERR_IO);
    while ((de = readdir(d)) != NULL) {
        char *end;
        uint64_t seq = strtoull(de->d_name, &end, 16);
        if (strlen(de->d_name) < 17 || end != de->d_name + 16)
            continue;
        if (strcmp(end, ".tmp") == 0) {
            (void)unlinkat(sp->dir_fd, de->d_name, 0);
            if (seq >= sp->next_seq)
                sp->next_seq = seq + 1;
            continue;
        }
        if (strcmp(end, ".batch") != 0)
            continue;
        if (n == c) {
            uint64_t *p = realloc(seqs, (c = c ? 2 * c : 64) * sizeof *p);
            ENSURE(p != NULL, PQIFY_LOGS_ERR_NOMEM);
            seqs = p;
        }
        seqs[n++] = seq;
    }
    if (n)
        qsort(seqs, n, sizeof *seqs, cmp_seq);
    for (size_t i = 0; i < n; i++) {
        char chunk[PQIFY_FWD_CHUNK_ID_LEN + 1];
        uint64_t bytes = 0;
        int r = read_batch(sp, seqs[i], chunk, NULL, NULL, &bytes);
        if (seqs[i] >= sp->next_seq)
            sp->next_seq = seqs[i] + 1;
        if (r == PQIFY_LOGS_ERR_CORRUPT) {
            char from[40], to[40];
            snprintf(from, sizeof from, "%016" PRIx64 ".batch", seqs[i]);
            snprintf(to, sizeof to, "%016" PRIx64 ".torn", seqs[i]);
            ENSURE(renameat(sp->dir_fd, from, sp->dir_fd, to) == 0, PQIFY_LOGS_ERR_IO);
            sp->torn++;
            continue;
        }
        if (r < 0)
            say(err, cap, "spool %s: reading %016" PRIx64 ".batch: %s", sp->dir, seqs[i],
                strerror(errno));
        TRY(r);
        TRY(add_entry(sp, seqs[i], bytes, chunk));
    }
    if (fsync(sp->dir_fd) != 0)
        ret = PQIFY_LOGS_ERR_IO;
out:
    if (d)
        closedir(d);
    free(seqs);
    return ret;
}

pqify_spool *pqify_spool_open(const char *dir, uint64_t max_bytes, char *err, size_t cap)
{
    pqify_spool *sp = calloc(1, sizeof *sp);
    int r;
    if (sp)
        sp->dir_fd = -1;
    if (sp == NULL || (sp->dir = strdup(dir)) == NULL) {
        say(err, cap, "spool %s: out of memory", dir);
        goto fail;
    }
    if (mkdir(dir, 0700) != 0 && errno != EEXIST) {
        say(err, cap, "spool %s: %s", dir, strerror(errno));
        goto fail;
    }
    sp->dir_fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (sp->dir_fd < 0) {
        say(err, cap, "spool %s: %s", dir, strerror(errno));
        goto fail;
    }
    sp->max_bytes = max_bytes;
    sp->next_seq = 1;
    if ((r = recover(sp, err, cap)) < 0) {
        if (err && !err[0])
            say(err, cap, "spool %s: recovery failed: %s", dir, pqify_logs_strerror(r));
        goto fail;
    }
    return sp;
fail:
    pqify_spool_close(sp);
    return NULL;
}

void pqify_spool_close(pqify_spool *sp)
{
    if (sp == NULL)
        return;
    if (sp->dir_fd >= 0)
        close(sp->dir_fd);
    free(sp->dir);
    free(sp->e);
    free(sp);
}

static int write_all(int fd, const uint8_t *p, size_t n)
{
    while (n) {
        ssize_t w = write(fd, p, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return -1;
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

int pqify_spool_put(pqify_spool *sp, const char *chunk, const uint8_t *data, size_t len,
                    uint64_t *id, char *err, size_t cap)
{
    char tmp[40], name[40];
    uint8_t hdr[SPOOL_HDR];
    uint64_t bytes = SPOOL_HDR + (uint64_t)len, seq = sp->next_seq;
    int fd = -1, ret = 0, e = 0;

    ENSURE(chunk && strlen(chunk) == PQIFY_FWD_CHUNK_ID_LEN && len <= UINT32_MAX, PQIFY_ERR_ARG);
    ENSURE(bytes <= sp->max_bytes, PQIFY_LOGS_ERR_TOO_LARGE);
    ENSURE(sp->used + bytes <= sp->max_bytes, PQIFY_LOGS_ERR_SPOOL_FULL);
    memcpy(hdr, SPOOL_MAGIC, 8);
    be32(hdr + 8, (uint32_t)len);
    be32(hdr + 12, record_crc(chunk, data, len));
    memcpy(hdr + 16, chunk, PQIFY_FWD_CHUNK_ID_LEN);
    snprintf(tmp, sizeof tmp, "%016" PRIx64 ".tmp", seq);
    snprintf(name, sizeof name, "%016" PRIx64 ".batch", seq);
    sp->next_seq++;
    fd = openat(sp->dir_fd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0 || write_all(fd, hdr, sizeof hdr) != 0 || write_all(fd, data, len) != 0 ||
        fsync(fd) != 0 || renameat(sp->dir_fd, tmp, sp->dir_fd, name) != 0 ||
        fsync(sp->dir_fd) != 0) {
        e = errno;
        (void)unlinkat(sp->dir_fd, tmp, 0);
        say(err, cap, "spool %s/%s: %s", sp->dir, tmp, strerror(e));
        ret = e == ENOSPC || e == EDQUOT || e == EFBIG ? PQIFY_LOGS_ERR_NOSPACE : PQIFY_LOGS_ERR_IO;
        goto out;
    }
    TRY(add_entry(sp, seq, bytes, chunk));
    if (id)
        *id = seq;
out:
    if (fd >= 0)
        close(fd);
    return ret;
}

int pqify_spool_ack(pqify_spool *sp, const char *chunk, size_t chunk_len)
{
    char name[40];
    for (size_t i = 0; i < sp->n; i++) {
        if (chunk_len != PQIFY_FWD_CHUNK_ID_LEN || memcmp(sp->e[i].chunk, chunk, chunk_len) != 0)
            continue;
        snprintf(name, sizeof name, "%016" PRIx64 ".batch", sp->e[i].seq);
        if (unlinkat(sp->dir_fd, name, 0) != 0 && errno != ENOENT)
            return PQIFY_LOGS_ERR_IO;
        sp->used -= sp->e[i].bytes;
        memmove(&sp->e[i], &sp->e[i + 1], (sp->n - i - 1) * sizeof *sp->e);
        sp->n--;
        return 0;
    }
    return PQIFY_LOGS_ERR_NOT_FOUND;
}

int pqify_spool_get(pqify_spool *sp, size_t i, uint64_t *id, char chunk[PQIFY_FWD_CHUNK_ID_LEN + 1],
                    uint8_t **data, size_t *len)
{
    uint64_t bytes;
    if (i >= sp->n)
        return PQIFY_LOGS_ERR_NOT_FOUND;
    if (id)
        *id = sp->e[i].seq;
    return read_batch(sp, sp->e[i].seq, chunk, data, len, &bytes);
}

void pqify_spool_stat(const pqify_spool *sp, pqify_spool_stats *st)
{
    st->batches = sp->n;
    st->bytes = sp->used;
    st->max_bytes = sp->max_bytes;
    st->dropped_torn = sp->torn;
}
