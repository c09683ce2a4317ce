/* The request handler a key server's worker runs: one packet in, its answer out. */
#include <string.h>

#include "internal.h"

static int encode_answer(uint32_t id, uint8_t opcode, pqify_keyless_bytes payload, uint8_t *out,
                         size_t cap, size_t *out_len)
{
    pqify_keyless_packet resp;
    pqify_keyless_packet_init(&resp, id, opcode);
    resp.payload = payload;
    return pqify_keyless_encode(&resp, out, cap, out_len);
}

int pqify_keyless_handle(const pqify_keyless_store *s, unsigned flags, const uint8_t *in,
                         size_t in_len, uint8_t *out, size_t cap, pqify_keyless_answer *a)
{
    pqify_keyless_packet req;
    pqify_keyless_result r;
    int drc, ret = 0;
    if (a == NULL || out == NULL || (in == NULL && in_len != 0))
        return PQIFY_KEYLESS_ERR_ARG;
    memset(a, 0, sizeof(*a));
    drc = pqify_keyless_decode(in, in_len, &req);
    a->id = req.id;
    if (drc < 0) {
        /* the framing can no longer be trusted: answer with the header's id, then close */
        uint8_t code = pqify_keyless_decode_error_code(drc);
        pqify_keyless_bytes payload = {&code, 1};
        a->verdict = PQIFY_KEYLESS_REPLY_CLOSE;
        a->result = PQIFY_KEYLESS_OP_ERROR;
        a->error = code;
        return encode_answer(a->id, PQIFY_KEYLESS_OP_ERROR, payload, out, cap, &a->out_len);
    }
    a->opcode = req.opcode;
    memcpy(a->ski, req.ski, sizeof(a->ski));
    pqify_keyless_operate(s, &req, &r);
    if (r.not_held && (flags & PQIFY_KEYLESS_HANDLE_FORWARD_UNKNOWN)) {
        a->verdict = PQIFY_KEYLESS_FORWARD;
        goto out;
    }
    a->verdict = PQIFY_KEYLESS_REPLY;
    a->result = r.opcode;
    a->error = r.error;
    TRY(encode_answer(a->id, r.opcode, r.payload, out, cap, &a->out_len));
out:
    pqify_keyless_result_wipe(&r);
    return ret;
}
