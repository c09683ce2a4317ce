/* The gokeyless packet codec (shared/vectors/keyless/README.md): header, items, padding. */
#include <string.h>

#include "internal.h"

void pqify_keyless_packet_init(pqify_keyless_packet *p, uint32_t id, uint8_t opcode)
{
    memset(p, 0, sizeof(*p));
    p->major = PQIFY_KEYLESS_VERSION_MAJOR;
    p->minor = PQIFY_KEYLESS_VERSION_MINOR;
    p->id = id;
    p->opcode = opcode;
    p->padded = 1;
}

size_t pqify_keyless_frame_len(const uint8_t *in, size_t in_len)
{
    if (in == NULL || in_len < PQIFY_KEYLESS_HEADER_BYTES)
        return 0;
    return PQIFY_KEYLESS_HEADER_BYTES + ((size_t)in[2] << 8 | in[3]);
}

static int is_zero(const uint8_t *a, size_t n)
{
    uint8_t d = 0;
    for (size_t i = 0; i < n; i++)
        d |= a[i];
    return d == 0;
}

static int is_ip_len(size_t n)
{
    return n == 4 || n == 16;
}

/* the tags this codec knows; a known tag may appear once, an unknown one is skipped */
static pqify_keyless_bytes *bytes_field(pqify_keyless_packet *p, uint8_t tag)
{
    switch (tag) {
    case PQIFY_KEYLESS_TAG_PAYLOAD: return &p->payload;
    case PQIFY_KEYLESS_TAG_CLIENT_IP: return &p->client_ip;
    case PQIFY_KEYLESS_TAG_SERVER_IP: return &p->server_ip;
    case PQIFY_KEYLESS_TAG_SNI: return &p->sni;
    case PQIFY_KEYLESS_TAG_CERT_ID: return &p->cert_id;
    case PQIFY_KEYLESS_TAG_CUSTOM_FUNC: return &p->custom_func;
    case PQIFY_KEYLESS_TAG_EXTRA: return &p->extra;
    case PQIFY_KEYLESS_TAG_SPAN: return &p->span;
    case PQIFY_KEYLESS_TAG_REQ_CONTEXT: return &p->req_context;
    case PQIFY_KEYLESS_TAG_COMPLIANCE_REGION: return &p->compliance_region;
    default: return NULL;
    }
}

static int is_known_tag(uint8_t tag)
{
    switch (tag) {
    case PQIFY_KEYLESS_TAG_DIGEST: case PQIFY_KEYLESS_TAG_SNI: case PQIFY_KEYLESS_TAG_CLIENT_IP:
    case PQIFY_KEYLESS_TAG_SKI: case PQIFY_KEYLESS_TAG_SERVER_IP: case PQIFY_KEYLESS_TAG_CERT_ID:
    case PQIFY_KEYLESS_TAG_OPCODE: case PQIFY_KEYLESS_TAG_PAYLOAD:
    case PQIFY_KEYLESS_TAG_CUSTOM_FUNC: case PQIFY_KEYLESS_TAG_EXTRA: case PQIFY_KEYLESS_TAG_SPAN:
    case PQIFY_KEYLESS_TAG_REQ_CONTEXT: case PQIFY_KEYLESS_TAG_COMPLIANCE_REGION:
    case PQIFY_KEYLESS_TAG_PADDING:
        return 1;
    default:
        return 0;
    }
}

static int decode_item(pqify_keyless_packet *p, uint8_t tag, const uint8_t *data, size_t n)
{
    pqify_keyless_bytes *b;
    switch (tag) {
    case PQIFY_KEYLESS_TAG_OPCODE:
        if (n != 1)
            return PQIFY_KEYLESS_ERR_FORMAT;
        p->opcode = data[0];
        return 0;
    case PQIFY_KEYLESS_TAG_SKI:
        /* gokeyless keeps a SKI only when it is 20 bytes; another length reads as absent */
        if (n == PQIFY_KEYLESS_SKI_BYTES)
            memcpy(p->ski, data, n);
        return 0;
    case PQIFY_KEYLESS_TAG_DIGEST:
        if (n == PQIFY_KEYLESS_DIGEST_BYTES)
            memcpy(p->digest, data, n);
        return 0;
    case PQIFY_KEYLESS_TAG_PADDING:
        p->padded = 1;
        return 0;
    case PQIFY_KEYLESS_TAG_CLIENT_IP:
    case PQIFY_KEYLESS_TAG_SERVER_IP:
        if (!is_ip_len(n))
            return PQIFY_KEYLESS_ERR_FORMAT;
        break;
    default:
        break;
    }
    b = bytes_field(p, tag);
    if (b != NULL) {
        b->data = data;
        b->len = n;
    }
    return 0;
}

static int decode_body(tls_reader *body, pqify_keyless_packet *p)
{
    uint64_t seen = 0; /* known tags are all below 64 */
    int ret = 0;
    while (tls_reader_left(body) != 0) {
        uint8_t tag;
        tls_reader item;
        TRY_READ(tls_read_u8(body, &tag));
        /* an item header or data that runs past the body is a length mismatch */
        ENSURE(tls_read_block(body, 2, &item) == 0, PQIFY_KEYLESS_ERR_LENGTH);
        if (!is_known_tag(tag))
            continue;
        ENSURE(!(seen >> tag & 1), PQIFY_KEYLESS_ERR_REPEATED_TAG);
        seen |= (uint64_t)1 << tag;
        TRY(decode_item(p, tag, item.base, item.len));
    }
out:
    return ret;
}

int pqify_keyless_decode(const uint8_t *in, size_t in_len, pqify_keyless_packet *p)
{
    tls_reader r, body;
    uint16_t body_len = 0;
    const uint8_t *b;
    int ret = 0;
    ENSURE(p != NULL, PQIFY_KEYLESS_ERR_ARG);
    memset(p, 0, sizeof(*p));
    tls_reader_init(&r, in, in_len);
    ENSURE(tls_reader_left(&r) >= PQIFY_KEYLESS_HEADER_BYTES, PQIFY_KEYLESS_ERR_TRUNCATED);
    TRY_READ(tls_read_u8(&r, &p->major));
    TRY_READ(tls_read_u8(&r, &p->minor));
    TRY_READ(tls_read_u16(&r, &body_len));
    TRY_READ(tls_read_u32(&r, &p->id));
    ENSURE(p->major == PQIFY_KEYLESS_VERSION_MAJOR, PQIFY_KEYLESS_ERR_VERSION);
    ENSURE(tls_reader_left(&r) >= body_len, PQIFY_KEYLESS_ERR_TRUNCATED);
    ENSURE(tls_reader_left(&r) == body_len, PQIFY_KEYLESS_ERR_LENGTH);
    TRY_READ(tls_read_bytes(&r, body_len, &b));
    tls_reader_init(&body, b, body_len);
    TRY(decode_body(&body, p));
out:
    return ret;
}

static int write_bytes_item(kl_writer *w, uint8_t tag, const pqify_keyless_bytes *b)
{
    if (b->len == 0)
        return 0;
    if (b->data == NULL)
        return PQIFY_KEYLESS_ERR_ARG;
    return kl_write_item(w, tag, b->data, b->len);
}

static int write_ip_item(kl_writer *w, uint8_t tag, const pqify_keyless_bytes *b)
{
    if (b->len != 0 && !is_ip_len(b->len))
        return PQIFY_KEYLESS_ERR_ARG;
    return write_bytes_item(w, tag, b);
}

/* gokeyless's padding: one item takes the packet to 1024 bytes; when fewer than the
 * item's own 3 header bytes are missing it is empty and the packet ends up 1-2 over. */
static int write_padding(kl_writer *w)
{
    size_t left = 0;
    if (w->len >= PQIFY_KEYLESS_PADDED_BYTES)
        return 0;
    if (w->len + 3 < PQIFY_KEYLESS_PADDED_BYTES)
        left = PQIFY_KEYLESS_PADDED_BYTES - w->len - 3;
    int ret = 0;
    TRY(kl_write_u8(w, PQIFY_KEYLESS_TAG_PADDING));
    TRY(kl_write_u16(w, (uint16_t)left));
    TRY(kl_write_zeros(w, left));
out:
    return ret;
}

int pqify_keyless_encode(const pqify_keyless_packet *p, uint8_t *out, size_t cap, size_t *out_len)
{
    kl_writer w;
    int ret = 0;
    ENSURE(p != NULL && out != NULL && out_len != NULL, PQIFY_KEYLESS_ERR_ARG);
    *out_len = 0;
    kl_writer_init(&w, out, cap);
    TRY(kl_write_u8(&w, PQIFY_KEYLESS_VERSION_MAJOR));
    TRY(kl_write_u8(&w, p->minor));
    TRY(kl_write_u16(&w, 0)); /* the body length, set below */
    TRY(kl_write_u32(&w, p->id));
    /* gokeyless's order, so our packets match its byte for byte */
    TRY(kl_write_item(&w, PQIFY_KEYLESS_TAG_OPCODE, &p->opcode, 1));
    TRY(write_bytes_item(&w, PQIFY_KEYLESS_TAG_PAYLOAD, &p->payload));
    if (!is_zero(p->ski, sizeof(p->ski)))
        TRY(kl_write_item(&w, PQIFY_KEYLESS_TAG_SKI, p->ski, sizeof(p->ski)));
    if (!is_zero(p->digest, sizeof(p->digest)))
        TRY(kl_write_item(&w, PQIFY_KEYLESS_TAG_DIGEST, p->digest, sizeof(p->digest)));
    TRY(write_ip_item(&w, PQIFY_KEYLESS_TAG_CLIENT_IP, &p->client_ip));
    TRY(write_ip_item(&w, PQIFY_KEYLESS_TAG_SERVER_IP, &p->server_ip));
    TRY(write_bytes_item(&w, PQIFY_KEYLESS_TAG_SNI, &p->sni));
    TRY(write_bytes_item(&w, PQIFY_KEYLESS_TAG_CERT_ID, &p->cert_id));
    TRY(write_bytes_item(&w, PQIFY_KEYLESS_TAG_CUSTOM_FUNC, &p->custom_func));
    TRY(write_bytes_item(&w, PQIFY_KEYLESS_TAG_EXTRA, &p->extra));
    TRY(write_bytes_item(&w, PQIFY_KEYLESS_TAG_SPAN, &p->span));
    TRY(write_bytes_item(&w, PQIFY_KEYLESS_TAG_REQ_CONTEXT, &p->req_context));
    TRY(write_bytes_item(&w, PQIFY_KEYLESS_TAG_COMPLIANCE_REGION, &p->compliance_region));
    if (p->padded)
        TRY(write_padding(&w));
    ENSURE(w.len - PQIFY_KEYLESS_HEADER_BYTES <= PQIFY_KEYLESS_MAX_BODY, PQIFY_KEYLESS_ERR_TOO_LARGE);
    out[2] = (uint8_t)((w.len - PQIFY_KEYLESS_HEADER_BYTES) >> 8);
    out[3] = (uint8_t)(w.len - PQIFY_KEYLESS_HEADER_BYTES);
    *out_len = w.len;
out:
    return ret;
}

uint8_t pqify_keyless_decode_error_code(int decode_err)
{
    return decode_err == PQIFY_KEYLESS_ERR_VERSION ? PQIFY_KEYLESS_E_VERSION_MISMATCH
                                                   : PQIFY_KEYLESS_E_FORMAT;
}
