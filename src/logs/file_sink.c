/*
 * The file sink: DIR/<tag>.jsonl per stream. A chunk is durable once its bytes are
 * written and fsynced (and the directory fsynced when the file is new), and only then
 * may the receiver ack it. A failed append is cut back to the old length, so the file
 * never holds part of a chunk that the sender will retry.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "internal.h"

typedef struct stream {
    char *name; /* file-safe form of the tag */
    int fd;
    uint64_t size;
    unsigned next_rotation;
} stream;

struct pqify_file_sink {
    char *dir;
    int dir_fd;
    uint64_t max_file;
    stream *streams;
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

static int io_error(int e)
{
    return e == ENOSPC || e == EDQUOT || e == EFBIG ? PQIFY_LOGS_ERR_NOSPACE : PQIFY_LOGS_ERR_IO;
}

pqify_file_sink *pqify_file_sink_open(const char *dir, uint64_t max_file_bytes, char *err,
                                      size_t cap)
{
    pqify_file_sink *s = calloc(1, sizeof *s);
    if (s == NULL || (s->dir = strdup(dir)) == NULL) {
        say(err, cap, "file sink %s: out of memory", dir);
        goto fail;
    }
    s->dir_fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (s->dir_fd < 0) {
        say(err, cap, "file sink %s: %s", dir, strerror(errno));
        goto fail;
    }
    s->max_file = max_file_bytes ? max_file_bytes : 64ull << 20;
    return s;
fail:
    if (s) {
        if (s->dir && s->dir_fd > 0)
            close(s->dir_fd);
        free(s->dir);
    }
    free(s);
    return NULL;
}

void pqify_file_sink_close(pqify_file_sink *s)
{
    if (s == NULL)
        return;
    for (size_t i = 0; i < s->n; i++) {
        if (s->streams[i].fd >= 0)
            close(s->streams[i].fd);
        free(s->streams[i].name);
    }
    free(s->streams);
    close(s->dir_fd);
    free(s->dir);
    free(s);
}

/* Tags are dotted words (app.web); anything else is %XX-escaped so a tag can never
 * climb out of the directory or collide with a rotated file's name. */
static char *file_name(const char *tag, size_t len)
{
    static const char hex[] = "0123456789ABCDEF";
    char *n, *p;
    if (len == 0 || len > 200)
        return NULL;
    n = p = malloc(3 * len + 1);
    if (n == NULL)
        return NULL;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)tag[i];
        int plain = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    c == '_' || c == '-' || (c == '.' && i > 0);
        if (plain) {
            *p++ = (char)c;
        } else {
            *p++ = '%';
            *p++ = hex[c >> 4];
            *p++ = hex[c & 15];
        }
    }
    *p = 0;
    return n;
}

static int open_current(pqify_file_sink *s, stream *st, char *err, size_t cap)
{
    char path[512];
    struct stat sb;
    int created;

    snprintf(path, sizeof path, "%s.jsonl", st->name);
    created = fstatat(s->dir_fd, path, &sb, 0) != 0;
    st->fd = openat(s->dir_fd, path, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
    if (st->fd < 0 || fstat(st->fd, &sb) != 0) {
        int e = errno;
        say(err, cap, "file sink %s/%s: %s", s->dir, path, strerror(e));
        if (st->fd >= 0)
            close(st->fd);
        st->fd = -1;
        return io_error(e);
    }
    st->size = (uint64_t)sb.st_size;
    /* a new name in the directory is durable only once the directory is synced */
    if (created && fsync(s->dir_fd) != 0) {
        int e = errno;
        say(err, cap, "file sink %s: fsync: %s", s->dir, strerror(e));
        return io_error(e);
    }
    return 0;
}

static int find_stream(pqify_file_sink *s, const char *tag, size_t len, stream **out, char *err,
                       size_t cap)
{
    char *name = file_name(tag, len);
    stream *st;
    int ret = 0;

    if (name == NULL) {
        say(err, cap, "file sink: tag of %zu bytes cannot name a file", len);
        return PQIFY_LOGS_ERR_BAD_TAG;
    }
    for (size_t i = 0; i < s->n; i++)
        if (strcmp(s->streams[i].name, name) == 0) {
            free(name);
            *out = &s->streams[i];
            return s->streams[i].fd >= 0 ? 0 : open_current(s, *out, err, cap);
        }
    if (s->n == s->cap) {
        size_t c = s->cap ? 2 * s->cap : 8;
        stream *p = realloc(s->streams, c * sizeof *p);
        if (p == NULL) {
            free(name);
            return PQIFY_LOGS_ERR_NOMEM;
        }
        s->streams = p;
        s->cap = c;
    }
    st = &s->streams[s->n++];
    st->name = name;
    st->fd = -1;
    st->next_rotation = 1;
    *out = st;
    ret = open_current(s, st, err, cap);
    return ret;
}

/* <name>.jsonl becomes <name>.jsonl.N, the first N not taken, and a new file starts. */
static int rotate(pqify_file_sink *s, stream *st, char *err, size_t cap)
{
    char from[512], to[560];
    struct stat sb;

    snprintf(from, sizeof from, "%s.jsonl", st->name);
    do
        snprintf(to, sizeof to, "%s.jsonl.%u", st->name, st->next_rotation++);
    while (fstatat(s->dir_fd, to, &sb, 0) == 0);
    if (renameat(s->dir_fd, from, s->dir_fd, to) != 0) {
        int e = errno;
        say(err, cap, "file sink %s/%s: rotate: %s", s->dir, from, strerror(e));
        return io_error(e);
    }
    close(st->fd);
    st->fd = -1;
    return open_current(s, st, err, cap);
}

int pqify_file_sink_append(pqify_file_sink *s, const char *tag, size_t tag_len,
                           const uint8_t *lines, size_t len, char *err, size_t cap)
{
    stream *st = NULL;
    size_t done = 0;
    uint64_t before;
    int ret = 0, e = 0;

    TRY(find_stream(s, tag, tag_len, &st, err, cap));
    if (st->size > 0 && st->size + len > s->max_file)
        TRY(rotate(s, st, err, cap));
    before = st->size;
    while (done < len) {
        ssize_t w = pwrite(st->fd, lines + done, len - done, (off_t)(before + done));
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0) {
            e = w < 0 ? errno : ENOSPC;
            break;
        }
        done += (size_t)w;
    }
    if (e == 0 && fdatasync(st->fd) != 0)
        e = errno;
    if (e != 0) {
        /* cut the partial chunk so a retry appends it whole, once */
        if (ftruncate(st->fd, (off_t)before) != 0 || fdatasync(st->fd) != 0) {
            int e2 = errno;
            say(err, cap, "file sink %s/%s.jsonl: %s; truncating back to %llu failed: %s",
                s->dir, st->name, strerror(e), (unsigned long long)before, strerror(e2));
            close(st->fd); /* reopened, and its size read again, on the next append */
            st->fd = -1;
        } else {
            say(err, cap, "file sink %s/%s.jsonl: %s (chunk of %zu bytes not written)", s->dir,
                st->name, strerror(e), len);
        }
        return io_error(e);
    }
    st->size = before + len;
out:
    return ret;
}
