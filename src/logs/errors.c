/* Words for the logs layer's errors. */
#include "internal.h"

const char *pqify_logs_strerror(int err)
{
    switch (err) {
    case PQIFY_LOGS_ERR_MSGPACK: return "not valid msgpack";
    case PQIFY_LOGS_ERR_TOO_LARGE: return "message larger than the configured limit";
    case PQIFY_LOGS_ERR_TOO_DEEP: return "msgpack nested deeper than 32 levels";
    case PQIFY_LOGS_ERR_SHAPE: return "not a Forward protocol message";
    case PQIFY_LOGS_ERR_TIME: return "event time is neither an integer nor an EventTime";
    case PQIFY_LOGS_ERR_ENTRY: return "entry is not [time, record map]";
    case PQIFY_LOGS_ERR_OPTION: return "option of the wrong type";
    case PQIFY_LOGS_ERR_SIZE_MISMATCH: return "option size differs from the events sent";
    case PQIFY_LOGS_ERR_COMPRESSION: return "unknown compressed option (gzip or zstd expected)";
    case PQIFY_LOGS_ERR_INFLATE: return "compressed entries are corrupt or truncated";
    case PQIFY_LOGS_ERR_BOMB: return "entries decompress past the configured limit";
    case PQIFY_LOGS_ERR_UNEXPECTED: return "message not expected from this peer";
    case PQIFY_LOGS_ERR_NOMEM: return "out of memory";
    case PQIFY_LOGS_ERR_AUTH: return "shared key or user mismatch";
    case PQIFY_LOGS_ERR_AUTH_REFUSED: return "server refused authentication";
    case PQIFY_LOGS_ERR_SAME_HOST: return "peer has our own hostname (misconfiguration)";
    case PQIFY_LOGS_ERR_IO: return "file operation failed";
    case PQIFY_LOGS_ERR_NOSPACE: return "no space left: chunk not durable";
    case PQIFY_LOGS_ERR_SPOOL_FULL: return "spool full";
    case PQIFY_LOGS_ERR_NOT_FOUND: return "not found";
    case PQIFY_LOGS_ERR_CORRUPT: return "spool file fails its length or CRC check";
    case PQIFY_LOGS_ERR_BAD_TAG: return "tag cannot name a file";
    case PQIFY_LOGS_ERR_FAILED: return "decoder failed earlier";
    case PQIFY_ERR_ARG: return "bad argument";
    case PQIFY_ERR_RNG: return "the system RNG failed";
    default: return "unknown error";
    }
}
