/* pqify logs: the Fluentd Forward protocol v1 codec, JSON lines, the file sink and
 * the forwarder's spool. No sockets here: bytes in, bytes and files out. */
#ifndef PQIFY_LOGS_H
#define PQIFY_LOGS_H

#include <stddef.h>
#include <stdint.h>

#include <msgpack.h>

#include "pqify/common.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Errors of the logs layer: -300 .. -349. pqify_logs_strerror() names each. */
enum pqify_logs_err {
    PQIFY_LOGS_ERR_MSGPACK = -300,      /* bytes are not valid msgpack */
    PQIFY_LOGS_ERR_TOO_LARGE = -301,    /* a message is larger than max_message */
    PQIFY_LOGS_ERR_TOO_DEEP = -302,     /* msgpack nesting deeper than PQIFY_FWD_MAX_DEPTH */
    PQIFY_LOGS_ERR_SHAPE = -303,        /* valid msgpack, but no Forward message shape */
    PQIFY_LOGS_ERR_TIME = -304,         /* an event time neither integer nor EventTime */
    PQIFY_LOGS_ERR_ENTRY = -305,        /* an entry is not [time, map] */
    PQIFY_LOGS_ERR_OPTION = -306,       /* an option has the wrong type */
    PQIFY_LOGS_ERR_SIZE_MISMATCH = -307,/* option size differs from the events found */
    PQIFY_LOGS_ERR_COMPRESSION = -308,  /* unknown `compressed` value */
    PQIFY_LOGS_ERR_INFLATE = -309,      /* the compressed entries do not decompress */
    PQIFY_LOGS_ERR_BOMB = -310,         /* entries decompress past max_decompressed */
    PQIFY_LOGS_ERR_UNEXPECTED = -311,   /* a message this side never receives */
    PQIFY_LOGS_ERR_NOMEM = -312,
    PQIFY_LOGS_ERR_AUTH = -313,         /* shared key digest or user digest mismatch */
    PQIFY_LOGS_ERR_AUTH_REFUSED = -314, /* the server's PONG said no */
    PQIFY_LOGS_ERR_SAME_HOST = -315,    /* peer claims our own hostname (spec: config error) */
    PQIFY_LOGS_ERR_IO = -316,           /* a file operation failed; errno says which */
    PQIFY_LOGS_ERR_NOSPACE = -317,      /* ENOSPC/EDQUOT/EFBIG: the chunk is not durable */
    PQIFY_LOGS_ERR_SPOOL_FULL = -318,   /* the spool is at its byte bound: pause inputs */
    PQIFY_LOGS_ERR_NOT_FOUND = -319,
    PQIFY_LOGS_ERR_CORRUPT = -320,      /* a spool file fails its length or CRC check */
    PQIFY_LOGS_ERR_BAD_TAG = -321,      /* a tag that cannot name a file */
    PQIFY_LOGS_ERR_FAILED = -322,       /* the decoder failed before; it stays failed */
};
const char *pqify_logs_strerror(int err);

/* ---- Forward protocol v1 ---------------------------------------------------- */

/* msgpack-c's own unpacker stops at 32 levels; the framer refuses the same depth. */
#define PQIFY_FWD_MAX_DEPTH 32
#define PQIFY_FWD_CHUNK_ID_LEN 24 /* base64 of 16 random bytes */
#define PQIFY_FWD_NONCE_BYTES 16

typedef enum pqify_fwd_role {
    PQIFY_FWD_SERVER = 0, /* reads what clients send: events, PING, heartbeats */
    PQIFY_FWD_CLIENT = 1, /* reads what servers send: HELO, PONG, acks */
} pqify_fwd_role;

typedef struct pqify_fwd_limits {
    size_t max_message;      /* one msgpack message on the wire; 0 = 8 MiB */
    size_t max_decompressed; /* entries after gzip/zstd; 0 = 8 * max_message */
    size_t max_events;       /* events in one message; 0 = 1,000,000 */
} pqify_fwd_limits;

typedef enum pqify_fwd_kind {
    PQIFY_FWD_EVENTS = 1, /* Message, Forward, PackedForward or CompressedPackedForward */
    PQIFY_FWD_HEARTBEAT,  /* a msgpack nil in the transport phase */
    PQIFY_FWD_HELO,
    PQIFY_FWD_PING,
    PQIFY_FWD_PONG,
    PQIFY_FWD_ACK,
} pqify_fwd_kind;

typedef enum pqify_fwd_mode {
    PQIFY_FWD_MODE_MESSAGE = 1,
    PQIFY_FWD_MODE_FORWARD,
    PQIFY_FWD_MODE_PACKED,
    PQIFY_FWD_MODE_COMPRESSED,
} pqify_fwd_mode;

typedef enum pqify_fwd_compression {
    PQIFY_FWD_NONE = 0,
    PQIFY_FWD_GZIP,
    PQIFY_FWD_ZSTD,
} pqify_fwd_compression;

/* What the forwarder sends unless told otherwise (Fluentd >= 1.17 and Fluent Bit read it;
 * Node's FluentServer reads only gzip). */
#define PQIFY_FWD_DEFAULT_COMPRESSION PQIFY_FWD_ZSTD

typedef struct pqify_fwd_bytes {
    const uint8_t *ptr; /* NULL when absent */
    size_t len;
} pqify_fwd_bytes;

typedef struct pqify_fwd_event {
    int64_t sec;
    uint32_t nsec;
    int event_time;               /* 1: sent as EventTime (ext 0), 0: as an integer */
    const msgpack_object *record; /* a map */
} pqify_fwd_event;

/* Everything points into the decoder and is valid until its next call. */
typedef struct pqify_fwd_msg {
    pqify_fwd_kind kind;
    /* EVENTS */
    pqify_fwd_mode mode;
    pqify_fwd_compression compression;
    pqify_fwd_bytes tag;
    const pqify_fwd_event *events;
    size_t n_events;
    pqify_fwd_bytes chunk; /* option `chunk`; ptr NULL when not asked for an ack */
    int has_size;
    uint64_t size;
    /* ACK: chunk. HELO: nonce, auth_salt, keepalive. */
    pqify_fwd_bytes nonce, auth_salt;
    int keepalive;
    /* PING: hostname, salt, digest (hex), username, password digest (hex).
     * PONG: auth_ok, reason, hostname, digest. */
    pqify_fwd_bytes hostname, salt, digest, username, password_digest, reason;
    int auth_ok;
} pqify_fwd_msg;

typedef struct pqify_fwd_decoder pqify_fwd_decoder;

pqify_fwd_decoder *pqify_fwd_decoder_new(pqify_fwd_role role, const pqify_fwd_limits *limits);
void pqify_fwd_decoder_free(pqify_fwd_decoder *d);

/*
 * Streaming decode. Consumes bytes from *in (advancing it, shrinking *len) up to the end
 * of one message at most. Returns 1 with *msg filled when a whole message was decoded,
 * 0 when every byte was taken and more are needed, or a negative PQIFY_LOGS_ERR_*.
 * It buffers at most one message (max_message bytes): a larger one is an error as soon
 * as its size passes the limit. After an error the decoder stays failed.
 */
PQIFY_MUST_USE int pqify_fwd_decode(pqify_fwd_decoder *d, const uint8_t **in, size_t *len,
                                    pqify_fwd_msg *msg);
/* Bytes held of a message not yet complete (for tests and metrics). */
size_t pqify_fwd_decoder_buffered(const pqify_fwd_decoder *d);

/* ---- encoding (the forwarder's side, and the receiver's replies) ---- */

/* 24 base64 characters plus NUL, from 16 bytes of the CSPRNG. */
PQIFY_MUST_USE int pqify_fwd_chunk_id(char out[PQIFY_FWD_CHUNK_ID_LEN + 1]);

/* One stream's batch: entries packed as a MessagePackEventStream. */
typedef struct pqify_fwd_batch {
    msgpack_sbuffer entries;
    msgpack_packer pk;
    size_t n_events;
    void *zctx; /* zstd's compression context, kept from batch to batch (may be NULL) */
} pqify_fwd_batch;

void pqify_fwd_batch_init(pqify_fwd_batch *b);
void pqify_fwd_batch_reset(pqify_fwd_batch *b);
void pqify_fwd_batch_free(pqify_fwd_batch *b);
/* Appends [EventTime(sec, nsec), record]; record must be a map. */
PQIFY_MUST_USE int pqify_fwd_batch_add(pqify_fwd_batch *b, int64_t sec, uint32_t nsec,
                                       const msgpack_object *record);
/* Same, with the record already msgpack-encoded (checked to be exactly one map). */
PQIFY_MUST_USE int pqify_fwd_batch_add_raw(pqify_fwd_batch *b, int64_t sec, uint32_t nsec,
                                           const uint8_t *record, size_t len);

/* Appends [EventTime(sec, nsec), {"message": line}]: a line that is not a JSON object,
 * packed in place (the forwarder's per-line path, no record built apart). */
PQIFY_MUST_USE int pqify_fwd_batch_add_message(pqify_fwd_batch *b, int64_t sec, uint32_t nsec,
                                               const char *line, size_t len);

/* [tag, entries(bin), {"size": n, "chunk": id[, "compressed": "gzip"|"zstd"]}] appended
 * to out. NONE gives PackedForward, GZIP/ZSTD CompressedPackedForward. chunk may be NULL
 * (no ack asked). */
PQIFY_MUST_USE int pqify_fwd_encode_packed(const pqify_fwd_batch *b, const char *tag,
                                           size_t tag_len, pqify_fwd_compression c,
                                           const char *chunk, msgpack_sbuffer *out);

PQIFY_MUST_USE int pqify_fwd_encode_ack(const uint8_t *chunk, size_t len, msgpack_sbuffer *out);

/* ---- the shared-key handshake (spec: "Handshake Messages") ---- */

/* SHA-512 hex of salt ‖ hostname ‖ nonce ‖ shared_key: what PING and PONG carry. */
PQIFY_MUST_USE int pqify_fwd_shared_key_digest(pqify_fwd_bytes salt, pqify_fwd_bytes hostname,
                                               pqify_fwd_bytes nonce, pqify_fwd_bytes key,
                                               char hex[129]);

/* ["HELO", {"nonce": nonce, "auth": auth_salt (empty bin when NULL), "keepalive": k}] */
PQIFY_MUST_USE int pqify_fwd_encode_helo(const uint8_t nonce[PQIFY_FWD_NONCE_BYTES],
                                         pqify_fwd_bytes auth_salt, int keepalive,
                                         msgpack_sbuffer *out);
/* ["PING", hostname, salt, digest, username, password digest]; user NULL for none. */
PQIFY_MUST_USE int pqify_fwd_encode_ping(const char *hostname, pqify_fwd_bytes salt,
                                         pqify_fwd_bytes nonce, pqify_fwd_bytes key,
                                         const char *username, const char *password,
                                         pqify_fwd_bytes auth_salt, msgpack_sbuffer *out);
/* The server's check of a decoded PING: 0, PQIFY_LOGS_ERR_AUTH or _SAME_HOST.
 * With users == NULL no user authentication is asked. users is {name, password, ...,
 * NULL}. Digests are compared in constant time. */
PQIFY_MUST_USE int pqify_fwd_check_ping(const pqify_fwd_msg *ping, const char *self_hostname,
                                        pqify_fwd_bytes nonce, pqify_fwd_bytes key,
                                        pqify_fwd_bytes auth_salt, const char *const *users);
/* ["PONG", ok, reason, hostname, digest (empty unless ok)] */
PQIFY_MUST_USE int pqify_fwd_encode_pong(int ok, const char *reason, const char *hostname,
                                         pqify_fwd_bytes salt, pqify_fwd_bytes nonce,
                                         pqify_fwd_bytes key, msgpack_sbuffer *out);
/* The client's check of a decoded PONG. */
PQIFY_MUST_USE int pqify_fwd_check_pong(const pqify_fwd_msg *pong, const char *self_hostname,
                                        pqify_fwd_bytes salt, pqify_fwd_bytes nonce,
                                        pqify_fwd_bytes key);

/* ---- JSON lines ---- */

/*
 * One event as one JSON line (with '\n') appended to out:
 *   {"tag":"...","time":1700000000.123456789,"record":{...}}
 * Strings: control characters escaped (\n \t ... or \u00XX), invalid UTF-8 bytes become
 * U+FFFD. bin and ext values become base64 strings (ext as {"ext":type,"base64":"..."}).
 * Non-string map keys are written as the JSON text of the key, quoted. NaN and
 * infinities become null.
 */
PQIFY_MUST_USE int pqify_logs_event_json(pqify_fwd_bytes tag, const pqify_fwd_event *ev,
                                         msgpack_sbuffer *out);

/* ---- file sink: one JSON-lines file per stream ---- */

typedef struct pqify_file_sink pqify_file_sink;

/* dir must exist. Files are DIR/<tag>.jsonl; at max_file_bytes (0 = 64 MiB) the file is
 * renamed DIR/<tag>.jsonl.N (N = 1, 2, ...) and a new one started. */
pqify_file_sink *pqify_file_sink_open(const char *dir, uint64_t max_file_bytes, char *err,
                                      size_t cap);
void pqify_file_sink_close(pqify_file_sink *s);
/*
 * Appends lines (whole JSON lines) for one stream and fsyncs. 0 means durable. On any
 * failure the file is truncated back to its size before the call, so nothing of this
 * chunk stays and a retry writes it once; err gets words (file and errno).
 */
PQIFY_MUST_USE int pqify_file_sink_append(pqify_file_sink *s, const char *tag, size_t tag_len,
                                          const uint8_t *lines, size_t len, char *err,
                                          size_t cap);

/* ---- the forwarder's spool ---- */

typedef struct pqify_spool pqify_spool;

typedef struct pqify_spool_stats {
    uint64_t batches, bytes, max_bytes, dropped_torn;
} pqify_spool_stats;

/* Opens DIR (created if missing) and recovers what a previous run left, in order.
 * A file that fails its checks (torn by a crash) is renamed *.torn and counted. */
pqify_spool *pqify_spool_open(const char *dir, uint64_t max_bytes, char *err, size_t cap);
void pqify_spool_close(pqify_spool *sp);
/* Writes a batch durably (tmp file, fsync, rename, fsync dir). PQIFY_LOGS_ERR_SPOOL_FULL
 * when it would pass max_bytes: the caller pauses its inputs until acks free room. */
PQIFY_MUST_USE int pqify_spool_put(pqify_spool *sp, const char *chunk, const uint8_t *data,
                                   size_t len, uint64_t *id, char *err, size_t cap);
/* Removes the batch whose chunk id was acked. */
PQIFY_MUST_USE int pqify_spool_ack(pqify_spool *sp, const char *chunk, size_t chunk_len);
/* The i-th oldest batch (0 = oldest): its id, chunk and bytes (malloc'd; caller frees). */
PQIFY_MUST_USE int pqify_spool_get(pqify_spool *sp, size_t i, uint64_t *id,
                                   char chunk[PQIFY_FWD_CHUNK_ID_LEN + 1], uint8_t **data,
                                   size_t *len);
void pqify_spool_stat(const pqify_spool *sp, pqify_spool_stats *st);

#ifdef __cplusplus
}
#endif
#endif
