/*
 * libFuzzer harness for the forwarder's parsers (src/logs): the socket's JSON lines
 * (json_parse.c) and the checkpoint file (checkpoint.c). The first byte picks which.
 * JSON: what is accepted must be exactly one msgpack map, every byte used, that the
 * JSON-lines writer (json.c) can print; what is refused must leave the output empty.
 * Checkpoint: what parses, printed again in the file's format, must parse to the same.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pqify/logs.h"
#include "pqify/logs_forwarder.h"

#define CHECK(c)        \
    do {                \
        if (!(c))       \
            abort();    \
    } while (0)

static void fuzz_json(const uint8_t *data, size_t size)
{
    msgpack_sbuffer out, line;
    msgpack_sbuffer_init(&out);
    msgpack_sbuffer_init(&line);
    int rc = pqify_logs_json_to_msgpack((const char *)data, size, &out);
    if (rc != 0) {
        CHECK(out.size == 0);
    } else {
        msgpack_unpacked u;
        size_t off = 0;
        msgpack_unpacked_init(&u);
        CHECK(msgpack_unpack_next(&u, out.data, out.size, &off) == MSGPACK_UNPACK_SUCCESS);
        CHECK(off == out.size);
        CHECK(u.data.type == MSGPACK_OBJECT_MAP);
        pqify_fwd_event ev = {.sec = 1, .nsec = 0, .event_time = 1, .record = &u.data};
        pqify_fwd_bytes tag = {(const uint8_t *)"t", 1};
        CHECK(pqify_logs_event_json(tag, &ev, &line) == 0);
        CHECK(line.size > 0 && line.data[line.size - 1] == '\n');
        msgpack_unpacked_destroy(&u);
    }
    msgpack_sbuffer_destroy(&out);
    msgpack_sbuffer_destroy(&line);
}

static void fuzz_offsets(const uint8_t *data, size_t size)
{
    static pqify_logfwd_offset a[64], b[64];
    size_t na, nb;
    if (pqify_logfwd_offsets_parse(data, size, a, 64, &na) != 0)
        return;
    size_t cap = 64 + na * 1100, len = 0;
    char *text = malloc(cap);
    CHECK(text != NULL);
    len += (size_t)snprintf(text, cap, "pqify-logfwd-offsets 1\n");
    for (size_t i = 0; i < na; i++)
        len += (size_t)snprintf(text + len, cap - len, "%llu %llu %llu %s\n",
                                (unsigned long long)a[i].dev, (unsigned long long)a[i].ino,
                                (unsigned long long)a[i].offset, a[i].path);
    /* a path holding a NUL prints shorter: compare what C strings can say */
    CHECK(pqify_logfwd_offsets_parse((const uint8_t *)text, len, b, 64, &nb) == 0);
    CHECK(na == nb);
    for (size_t i = 0; i < na; i++)
        CHECK(a[i].dev == b[i].dev && a[i].ino == b[i].ino && a[i].offset == b[i].offset &&
              strcmp(a[i].path, b[i].path) == 0);
    free(text);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0)
        return 0;
    if (data[0] & 1)
        fuzz_json(data + 1, size - 1);
    else
        fuzz_offsets(data + 1, size - 1);
    return 0;
}
