/* Errors, opcodes and wire errors as words (for logs, metrics labels and the CLI). */
#include <stdarg.h>
#include <stdio.h>

#include "internal.h"
#include "pqify/keyless_client.h"

const char *pqify_keyless_strerror(int err)
{
    switch (err) {
    case 0: return "ok";
    case PQIFY_KEYLESS_ERR_TRUNCATED: return "keyless packet truncated (fewer bytes than its header says)";
    case PQIFY_KEYLESS_ERR_LENGTH: return "keyless packet length mismatch (an item runs past the body, or bytes follow it)";
    case PQIFY_KEYLESS_ERR_VERSION: return "keyless protocol version is not 1";
    case PQIFY_KEYLESS_ERR_REPEATED_TAG: return "keyless packet repeats a tag";
    case PQIFY_KEYLESS_ERR_FORMAT: return "keyless item malformed (opcode not 1 byte, or IP not 4 or 16 bytes)";
    case PQIFY_KEYLESS_ERR_TOO_LARGE: return "keyless packet too large for its length fields or the buffer";
    case PQIFY_KEYLESS_ERR_ARG: return "keyless: bad argument";
    case PQIFY_KEYLESS_ERR_NO_MEMORY: return "keyless: out of memory";
    case PQIFY_KEYLESS_ERR_DEADLINE: return "keyless: no answer from a key server before the deadline";
    case PQIFY_KEYLESS_ERR_CLOSED: return "keyless: the client was closed";
    case PQIFY_KEYLESS_ERR_BUSY: return "keyless: too many requests waiting for a key server";
    default: return "keyless: unknown error";
    }
}

const char *pqify_keyless_op_name(uint8_t opcode)
{
    switch (opcode) {
    case PQIFY_KEYLESS_OP_RSA_DECRYPT: return "rsa-decrypt";
    case PQIFY_KEYLESS_OP_RSA_SIGN_MD5SHA1: return "rsa-md5sha1";
    case PQIFY_KEYLESS_OP_RSA_SIGN_SHA1: return "rsa-sha1";
    case PQIFY_KEYLESS_OP_RSA_SIGN_SHA224: return "rsa-sha224";
    case PQIFY_KEYLESS_OP_RSA_SIGN_SHA256: return "rsa-sha256";
    case PQIFY_KEYLESS_OP_RSA_SIGN_SHA384: return "rsa-sha384";
    case PQIFY_KEYLESS_OP_RSA_SIGN_SHA512: return "rsa-sha512";
    case PQIFY_KEYLESS_OP_RSA_DECRYPT_RAW: return "rsa-decrypt-raw";
    case PQIFY_KEYLESS_OP_ECDSA_SIGN_MD5SHA1: return "ecdsa-md5sha1";
    case PQIFY_KEYLESS_OP_ECDSA_SIGN_SHA1: return "ecdsa-sha1";
    case PQIFY_KEYLESS_OP_ECDSA_SIGN_SHA224: return "ecdsa-sha224";
    case PQIFY_KEYLESS_OP_ECDSA_SIGN_SHA256: return "ecdsa-sha256";
    case PQIFY_KEYLESS_OP_ECDSA_SIGN_SHA384: return "ecdsa-sha384";
    case PQIFY_KEYLESS_OP_ECDSA_SIGN_SHA512: return "ecdsa-sha512";
    case PQIFY_KEYLESS_OP_ED25519_SIGN: return "ed25519";
    case PQIFY_KEYLESS_OP_SEAL: return "seal";
    case PQIFY_KEYLESS_OP_UNSEAL: return "unseal";
    case PQIFY_KEYLESS_OP_RPC: return "rpc";
    case PQIFY_KEYLESS_OP_CUSTOM: return "custom";
    case PQIFY_KEYLESS_OP_RSA_PSS_SIGN_SHA256: return "rsa-pss-sha256";
    case PQIFY_KEYLESS_OP_RSA_PSS_SIGN_SHA384: return "rsa-pss-sha384";
    case PQIFY_KEYLESS_OP_RSA_PSS_SIGN_SHA512: return "rsa-pss-sha512";
    case PQIFY_KEYLESS_OP_RESPONSE: return "response";
    case PQIFY_KEYLESS_OP_PING: return "ping";
    case PQIFY_KEYLESS_OP_PONG: return "pong";
    case PQIFY_KEYLESS_OP_ERROR: return "error";
    default: return "unknown";
    }
}

const char *pqify_keyless_wire_error_name(uint8_t code)
{
    static const char *const names[] = {
        "none", "crypto", "key not found", "read", "version mismatch", "bad opcode",
        "unexpected opcode", "format", "internal", "certificate not found", "expired",
        "remote configuration",
    };
    return code < sizeof(names) / sizeof(names[0]) ? names[code] : "unknown";
}

void kl_err(char *err, size_t cap, const char *fmt, ...)
{
    va_list ap;
    if (err == NULL || cap == 0)
        return;
    va_start(ap, fmt);
    vsnprintf(err, cap, fmt, ap);
    va_end(ap);
}
