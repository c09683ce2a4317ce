/*
 * libFuzzer: the ServerHello / HelloRetryRequest parser (server_hello.c), plus the
 * other small messages a client parses in clear or before authentication
 * (EncryptedExtensions, CertificateRequest, Finished, KeyUpdate, alerts), chosen by
 * the first input byte. Input: selector byte, then a message body.
 */
#include <stdint.h>
#include <string.h>

#include "conn.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_inside(const uint8_t *p, size_t n, const uint8_t *data, size_t size)
{
    if (p == NULL)
        return;
    if (p < data || n > size || (size_t)(p - data) > size - n)
        __builtin_trap();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    uint8_t sel = data[0];
    const uint8_t *body = data + 1;
    size_t len = size - 1;
    switch (sel % 8) {
    default: {   /* 0..3: ServerHello / HRR gets most of the time */
        tls_server_hello sh;
        if (tls_server_hello_parse(body, len, &sh) != 0)
            return 0;
        check_inside(sh.random, 32, body, len);
        check_inside(sh.session_id, sh.session_id_len, body, len);
        check_inside(sh.share, sh.share_len, body, len);
        check_inside(sh.cookie, sh.cookie_len, body, len);
        if (sh.session_id_len > 32 || sh.is_hrr != (memcmp(sh.random, tls_hrr_random, 32) == 0))
            __builtin_trap();
        break;
    }
    case 4: {
        tls_encrypted_extensions ee;
        if (tls_encrypted_extensions_parse(body, len, &ee) == 0)
            check_inside(ee.alpn, ee.alpn_len, body, len);
        break;
    }
    case 5: {
        tls_reader schemes;
        if (tls_certificate_request_parse(body, len, &schemes) == 0) {
            /* the list lies inside the message, even and non-empty */
            if (schemes.len < 2 || schemes.len % 2 != 0)
                __builtin_trap();
            check_inside(schemes.base, schemes.len, body, len);
        }
        break;
    }
    case 6: {
        const uint8_t *vd;
        if (tls_finished_parse(body, len, 32, &vd) == 0)
            check_inside(vd, 32, body, len);
        if (tls_finished_parse(body, len, 48, &vd) == 0)
            check_inside(vd, 48, body, len);
        uint16_t scheme;
        const uint8_t *sig;
        size_t sig_len;
        if (tls_certificate_verify_parse(body, len, &scheme, &sig, &sig_len) == 0)
            check_inside(sig, sig_len, body, len);
        break;
    }
    case 7: {
        int req;
        uint8_t level, desc;
        if (tls_key_update_parse(body, len, &req) == 0 && req != 0 && req != 1)
            __builtin_trap();
        (void)tls_alert_parse(body, len, &level, &desc);
        break;
    }
    }
    return 0;
}
