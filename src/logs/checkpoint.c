/*
 * The forwarder's file offsets across restarts. Text, so an operator can read it:
 *   pqify-logfwd-offsets 1
 *   DEV INO OFFSET PATH
 * A file is known by (device, inode), which survive a rename (rotation); the path is
 * only for people. Written as a tmp file, fsynced, renamed over the old one and the
 * directory fsynced, so a crash leaves either the old or the new checkpoint whole.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "internal.h"
#include "pqify/logs_forwarder.h"

#define HEADER "pqify-logfwd-offsets 1\n"

typedef struct ccur {
    const uint8_t *p;
    size_t len, pos;
} ccur;

/* A decimal number of at most 20 digits that fits uint64, then one space. */
static int dec_field(ccur *c, uint64_t *v)
{
    uint64_t x = 0;
    size_t digits = 0;
    while (c->pos < c->len && c->p[c->pos] >= '0' && c->p[c->pos] <= '9') {
        unsigned d = c->p[c->pos] - '0';
        if (x > (UINT64_MAX - d) / 10)
            return PQIFY_LOGS_ERR_CORRUPT;
        x = x * 10 + d;
        c->pos++;
        digits++;
    }
    if (digits == 0 || c->pos >= c->len || c->p[c->pos] != ' ')
        return PQIFY_LOGS_ERR_CORRUPT;
    c->pos++;
    *v = x;
    return 0;
}

int pqify_logfwd_offsets_parse(const uint8_t *text, size_t len, pqify_logfwd_offset *out,
                               size_t cap, size_t *n)
{
    int ret = 0;
    ccur c = {text, len, 0};
    size_t hl = strlen(HEADER);
    *n = 0;
    ENSURE(len >= hl && memcmp(text, HEADER, hl) == 0, PQIFY_LOGS_ERR_CORRUPT);
    c.pos = hl;
    while (c.pos < c.len) {
        pqify_logfwd_offset e;
        TRY(dec_field(&c, &e.dev));
        TRY(dec_field(&c, &e.ino));
        TRY(dec_field(&c, &e.offset));
        const uint8_t *nl = memchr(c.p + c.pos, '\n', c.len - c.pos);
        ENSURE(nl != NULL, PQIFY_LOGS_ERR_CORRUPT);   /* a torn last line */
        size_t plen = (size_t)(nl - (c.p + c.pos));
        ENSURE(plen < sizeof e.path, PQIFY_LOGS_ERR_CORRUPT);
        memcpy(e.path, c.p + c.pos, plen);
        e.path[plen] = '\0';
        c.pos += plen + 1;
        ENSURE(*n < cap, PQIFY_LOGS_ERR_CORRUPT);
        out[(*n)++] = e;
    }
out:
    return ret;
}

/* Internal: write the entries durably to path. 0 or PQIFY_LOGS_ERR_IO (errno set). */
int logs_offsets_write(const char *path, const pqify_logfwd_offset *e, size_t n)
{
    char tmp[4200];
    int ret = 0, fd = -1;
    FILE *fp = NULL;
    ENSURE(snprintf(tmp, sizeof tmp, "%s.tmp", path) < (int)sizeof tmp, PQIFY_LOGS_ERR_IO);
    fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    ENSURE(fd >= 0, PQIFY_LOGS_ERR_IO);
    fp = fdopen(fd, "w");
    ENSURE(fp != NULL, PQIFY_LOGS_ERR_IO);
    fd = -1;
    fputs(HEADER, fp);
    for (size_t i = 0; i < n; i++) {
        /* a path with a newline would break the line format: it is only informative */
        const char *p = strchr(e[i].path, '\n') ? "-" : e[i].path;
        fprintf(fp, "%llu %llu %llu %s\n", (unsigned long long)e[i].dev,
                (unsigned long long)e[i].ino, (unsigned long long)e[i].offset, p);
    }
    ENSURE(fflush(fp) == 0 && fsync(fileno(fp)) == 0, PQIFY_LOGS_ERR_IO);
    int closed = fclose(fp);
    fp = NULL;
    ENSURE(closed == 0, PQIFY_LOGS_ERR_IO);
    ENSURE(rename(tmp, path) == 0, PQIFY_LOGS_ERR_IO);
    {
        /* the rename itself is durable only once the directory is */
        char dir[4200];
        snprintf(dir, sizeof dir, "%s", path);
        char *slash = strrchr(dir, '/');
        if (slash == NULL)
            snprintf(dir, sizeof dir, ".");
        else if (slash == dir)
            dir[1] = '\0';
        else
            *slash = '\0';
        int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        ENSURE(dfd >= 0, PQIFY_LOGS_ERR_IO);
        int rc = fsync(dfd);
        close(dfd);
        ENSURE(rc == 0, PQIFY_LOGS_ERR_IO);
    }
out:
    if (fp != NULL)
        fclose(fp);
    if (fd >= 0)
        close(fd);
    return ret;
}
