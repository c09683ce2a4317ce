/*
 * The negative corpus (negative_corpus.h) against the engine in memory: every
 * server-role case with the exact error code and the exact alert, fed whole and in
 * small pieces; then client-role cases (crafted ServerHellos and server flights,
 * an unexpected message in every client state). Under ASan in CI; every case must
 * end in bounded time (the drivers loop a bounded number of rounds).
 */
#include "tls_test.h"

#include "conn.h"
#include "negative_corpus.h"

static tt_ca ca;
static tt_identity server_id, client_id;
static pqify_tls_config *scfg[NC_SRV_N], *ccfg, *ccfg_mtls, *ccfg_hrr;

static int setup(void **state)
{
    (void)state;
    tt_ca_new(&ca, "pqify test CA");
    tt_identity_new(&server_id, &ca, "P-256", "server.test", "DNS:server.test", -1, 30);
    tt_identity_new(&client_id, &ca, "P-256", "client.test", NULL, -1, 30);
    for (int i = 0; i < NC_SRV_N; i++)
        scfg[i] = tt_server_config(&server_id);
    assert_int_equal(pqify_tls_config_set_groups(scfg[NC_SRV_ALL], NC_ALL_GROUPS), 0);
    assert_int_equal(pqify_tls_config_set_pq(scfg[NC_SRV_REQUIRED], PQIFY_PQ_REQUIRED), 0);
    assert_int_equal(pqify_tls_config_set_pq(scfg[NC_SRV_OFF], PQIFY_PQ_OFF), 0);
    assert_int_equal(pqify_tls_config_set_ca_pem(scfg[NC_SRV_MTLS], ca.pem.data, ca.pem.len), 0);
    ccfg = tt_client_config(&ca, "server.test");
    ccfg_mtls = tt_client_config(&ca, "server.test");
    ccfg_hrr = tt_client_config(&ca, "server.test");
    assert_int_equal(pqify_tls_config_set_groups(ccfg_hrr, "x25519,X25519MLKEM768"), 0);
    assert_int_equal(pqify_tls_config_set_cert_chain_pem(ccfg_mtls, client_id.chain.data,
                                                         client_id.chain.len), 0);
    assert_int_equal(pqify_tls_config_set_key_pem(ccfg_mtls, client_id.key.data, client_id.key.len), 0);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    for (int i = 0; i < NC_SRV_N; i++)
        pqify_tls_config_free(scfg[i]);
    pqify_tls_config_free(ccfg);
    pqify_tls_config_free(ccfg_mtls);
    pqify_tls_config_free(ccfg_hrr);
    tt_identity_free(&server_id);
    tt_identity_free(&client_id);
    tt_ca_free(&ca);
    return 0;
}

/* ---- an in-memory server behind nc_io: it answers like `pqify serve` (echo) ---- */

typedef struct eng_io {
    pqify_tls_conn *server;
    pqify_tls_buf pending;   /* server -> client, not yet read */
    int ret;                 /* the server's last result */
    size_t chunk;            /* bytes per engine call */
} eng_io;

static void eng_send(void *ctx, const uint8_t *p, size_t n)
{
    eng_io *e = ctx;
    pqify_tls_buf plain;
    pqify_tls_buf_init(&plain, NULL, 0);
    while (n > 0 && (e->ret == PQIFY_TLS_IN_PROGRESS || e->ret == 0)) {
        size_t k = n < e->chunk ? n : e->chunk, used = k;
        if (!pqify_tls_is_established(e->server)) {
            e->ret = pqify_tls_handshake(e->server, p, &used, &e->pending);
            if (e->ret == PQIFY_TLS_IN_PROGRESS)
                assert_int_equal(used, k);
        } else {
            plain.len = 0;
            e->ret = pqify_tls_receive(e->server, &plain, p, &used, &e->pending);
            if (e->ret == 0 && plain.len > 0)
                assert_int_equal(pqify_tls_send(e->server, &e->pending, plain.base, plain.len), 0);
        }
        assert_true(used <= k);
        if (e->ret < 0)
            assert_int_equal(pqify_tls_error(e->server), e->ret);   /* sticky */
        p += used;
        n -= used;
    }
    pqify_tls_buf_dispose(&plain);
}

static size_t eng_recv(void *ctx, pqify_tls_buf *into)
{
    eng_io *e = ctx;
    size_t n = e->pending.len;
    if (n > 0) {
        assert_int_equal(tls_write_bytes(into, e->pending.base, n), 0);
        e->pending.len = 0;
    }
    return n;
}

static void eng_io_init(eng_io *e, enum nc_server server, size_t chunk, nc_io *io)
{
    memset(e, 0, sizeof *e);
    e->server = pqify_tls_conn_new(scfg[server], 1);
    assert_non_null(e->server);
    pqify_tls_buf_init(&e->pending, NULL, 0);
    e->ret = PQIFY_TLS_IN_PROGRESS;
    e->chunk = chunk;
    io->ctx = e;
    io->send = eng_send;
    io->recv = eng_recv;
}

static void eng_io_free(eng_io *e)
{
    pqify_tls_conn_free(e->server);
    pqify_tls_buf_dispose(&e->pending);
}

static const char *err_name(int err)
{
    return err == 0 ? "success" : pqify_tls_strerror(err);
}

/* A raw case, fed in chunks of `chunk` bytes. Returns the number of failures. */
static int run_raw(const nc_case *k, size_t chunk)
{
    eng_io e;
    nc_io io;
    eng_io_init(&e, k->server, chunk, &io);
    io.send(io.ctx, k->bytes, k->len);
    int failures = 0;
    if (k->err == 0) {
        /* legal: the server answers with its ServerHello and waits for the Finished */
        if (e.ret != PQIFY_TLS_IN_PROGRESS || e.pending.len < 5 || e.pending.base[0] != TLS_CT_HANDSHAKE) {
            print_error("  FAIL %s (chunk %zu): got %d (%s), want the server's flight\n", k->name,
                        chunk, e.ret, err_name(e.ret));
            failures++;
        }
    } else {
        int alert = k->sealed_alert ? nc_sealed_alert(&e.server->wr, &e.pending)
                                    : nc_plain_alert(&e.pending);
        if (e.ret != k->err || alert != k->alert || pqify_tls_alert_of(k->err) != k->alert) {
            print_error("  FAIL %s (chunk %zu): got %d (%s) alert %d, want %d (%s) alert %d\n",
                        k->name, chunk, e.ret, err_name(e.ret), alert, k->err, err_name(k->err),
                        k->alert);
            failures++;
        }
        /* sticky: a later call returns the same error and sends nothing more */
        size_t zero = 0, before = e.pending.len;
        if (pqify_tls_handshake(e.server, NULL, &zero, &e.pending) != k->err ||
            e.pending.len != before) {
            print_error("  FAIL %s: error not sticky\n", k->name);
            failures++;
        }
    }
    eng_io_free(&e);
    return failures;
}

static int run_forged(const nc_case *k)
{
    eng_io e;
    nc_io io;
    nc_result res;
    int failures = 0;
    eng_io_init(&e, k->server, 1u << 20, &io);
    nc_run_forged(k, k->hrr_early_data ? ccfg_hrr : k->server == NC_SRV_MTLS ? ccfg_mtls : ccfg, &io,
                  &res);
    if (res.why[0] != 0) {
        print_error("  FAIL %s: %s\n", k->name, res.why);
        failures++;
    } else if (k->err == 0) {
        if (e.ret != 0 || !res.echoed) {
            print_error("  FAIL %s: got %d (%s), echo %d; want success\n", k->name, e.ret,
                        err_name(e.ret), res.echoed);
            failures++;
        }
    } else if (e.ret != k->err || res.alert != k->alert || pqify_tls_alert_of(k->err) != k->alert) {
        print_error("  FAIL %s: got %d (%s) alert %d, want %d (%s) alert %d\n", k->name, e.ret,
                    err_name(e.ret), res.alert, k->err, err_name(k->err), k->alert);
        failures++;
    }
    eng_io_free(&e);
    return failures;
}

static const char *vectors_dir(void)
{
    const char *d = getenv("PQIFY_VECTORS_DIR");
    static char path[4096];
    if (d == NULL)
        return NULL;
    snprintf(path, sizeof path, "%s/mlkem-cctv/modulus/ML-KEM-512.txt.gz", d);
    FILE *f = fopen(path, "rb");
    if (f == NULL)
        return NULL;
    fclose(f);
    return d;
}

static void test_server_corpus(void **state)
{
    (void)state;
    nc_corpus c = {0};
    const char *vec = vectors_dir();
    if (vec == NULL)
        print_message("  (no ../shared/vectors: the ML-KEM modulus-check keys are left out)\n");
    /* every modulus-check key (775 per parameter set) in the pure ML-KEM groups */
    nc_corpus_build(&c, vec, 100000);
    size_t raw = 0, forged = 0, modulus = 0;
    int failures = 0;
    for (size_t i = 0; i < c.n; i++) {
        const nc_case *k = &c.cases[i];
        if (strncmp(k->name, "dev", 3) == 0)
            continue;   /* issue 16's cases have tests of their own, below */
        if (strstr(k->name, "modulus-check") != NULL) {
            modulus++;
            failures += run_raw(k, 1u << 20);
            continue;
        }
        if (k->forge != NULL) {
            forged++;
            failures += run_forged(k);
        } else {
            raw++;
            failures += run_raw(k, 1u << 20);
            /* the same bytes in pieces: the same verdict */
            failures += run_raw(k, k->len < 3000 ? 1 : 61);
        }
    }
    print_message("  %zu raw, %zu forged, %zu modulus-check cases; %d failures\n", raw, forged,
                  modulus, failures);
    assert_true(raw + forged >= 100);
    if (vec != NULL)
        assert_true(modulus >= 3 * 775);
    nc_corpus_free(&c);
    assert_int_equal(failures, 0);
}

/* ---- client role ---- */

/* A real server flight for a default client: ServerHello record, and the server's
 * handshake messages decrypted (EE, Certificate, CertificateVerify, Finished). */
typedef struct flight {
    pqify_tls_conn *client, *server;
    pqify_tls_buf ch, out;
    uint8_t sh[4096];        /* the ServerHello record */
    size_t sh_len;
    nc_bytes msgs;           /* decrypted server handshake messages */
    tls_traffic s_hs;        /* server handshake key, encrypt, sequence 0 */
} flight;

static void flight_new(flight *f, const pqify_tls_config *client_cfg, const pqify_tls_config *server_cfg)
{
    memset(f, 0, sizeof *f);
    f->client = pqify_tls_conn_new(client_cfg, 0);
    f->server = pqify_tls_conn_new(server_cfg, 1);
    pqify_tls_buf_init(&f->ch, NULL, 0);
    pqify_tls_buf_init(&f->out, NULL, 0);
    size_t zero = 0, used;
    assert_int_equal(pqify_tls_handshake(f->client, NULL, &zero, &f->ch), PQIFY_TLS_IN_PROGRESS);
    used = f->ch.len;
    assert_int_equal(pqify_tls_handshake(f->server, f->ch.base, &used, &f->out), PQIFY_TLS_IN_PROGRESS);
    f->sh_len = nc_first_record(f->out.base, f->out.len);
    assert_true(f->sh_len > 0 && f->sh_len <= sizeof f->sh && f->out.base[0] == TLS_CT_HANDSHAKE);
    memcpy(f->sh, f->out.base, f->sh_len);
    tls_traffic dec;
    memset(&dec, 0, sizeof dec);
    assert_int_equal(tls_traffic_set(&dec, f->server->suite, f->server->hs->s_hs, 0), 0);
    assert_int_equal(nc_open_all(&dec, f->out.base + f->sh_len, f->out.len - f->sh_len, &f->msgs), 0);
    tls_traffic_wipe(&dec);
    assert_int_equal(tls_traffic_set(&f->s_hs, f->server->suite, f->server->hs->s_hs, 1), 0);
}

static void flight_free(flight *f)
{
    pqify_tls_conn_free(f->client);
    pqify_tls_conn_free(f->server);
    pqify_tls_buf_dispose(&f->ch);
    pqify_tls_buf_dispose(&f->out);
    free(f->msgs.p);
    tls_traffic_wipe(&f->s_hs);
}

/* Feed bytes to the client; check the error and the alert it sent (the last record
 * of what it wrote; encrypted alerts are decrypted with the client's write key). */
static int expect_client(const char *name, pqify_tls_conn *c, const uint8_t *p, size_t n, int err,
                         int alert)
{
    pqify_tls_buf out;
    pqify_tls_buf_init(&out, NULL, 0);
    size_t used = n;
    int ret = pqify_tls_handshake(c, p, &used, &out);
    int got_alert = -1;
    size_t off = 0, last = 0;
    while (off < out.len) {
        size_t l = nc_first_record(out.base + off, out.len - off);
        assert_true(l > 0);
        last = off;
        off += l;
    }
    if (out.len > 0) {
        uint8_t *r = out.base + last;
        if (r[0] == TLS_CT_ALERT && r[4] == 2) {
            got_alert = r[6];
        } else if (r[0] == TLS_CT_APPDATA && c->wr.active && c->wr.seq == 1) {
            /* the alert is the first record under the client's handshake key */
            tls_traffic dec;
            uint8_t type;
            size_t len;
            memset(&dec, 0, sizeof dec);
            assert_int_equal(tls_traffic_set(&dec, c->wr.suite, c->wr.secret, 0), 0);
            if (tls_record_open(&dec, r, out.len - last, &type, &len) == 0 && type == TLS_CT_ALERT &&
                len == 2)
                got_alert = r[6];
            tls_traffic_wipe(&dec);
        }
    }
    int failures = 0;
    if (ret != err || got_alert != alert || pqify_tls_alert_of(err) != alert) {
        print_error("  FAIL client: %s: got %d (%s) alert %d, want %d (%s) alert %d\n", name, ret,
                    err_name(ret), got_alert, err, err_name(err), alert);
        failures++;
    }
    pqify_tls_buf_dispose(&out);
    return failures;
}

/* the ServerHello record with its body edited by hex replacements */
static size_t sh_body_offset(void)
{
    return 5 + 4;
}

static void test_client_states(void **state)
{
    (void)state;
    int failures = 0, cases = 0;
    const uint8_t *ee = NULL, *cert = NULL, *cv = NULL, *fin = NULL;
    size_t ee_len = 0, cert_len = 0, cv_len = 0, fin_len = 0;
    static const struct {
        uint8_t type;
        const char *body;
        const char *name;
    } plain_first[] = {
        {TLS_HS_CLIENT_HELLO, "0303", "WAIT_SH: ClientHello"},
        {TLS_HS_NEW_SESSION_TICKET, "00000000", "WAIT_SH: NewSessionTicket"},
        {TLS_HS_ENCRYPTED_EXTENSIONS, "0000", "WAIT_SH: EncryptedExtensions in clear"},
        {TLS_HS_CERTIFICATE, "00000000", "WAIT_SH: Certificate in clear"},
        {TLS_HS_CERTIFICATE_REQUEST, "00000000", "WAIT_SH: CertificateRequest in clear"},
        {TLS_HS_CERTIFICATE_VERIFY, "08070000", "WAIT_SH: CertificateVerify in clear"},
        {TLS_HS_FINISHED, "00000000000000000000000000000000", "WAIT_SH: Finished in clear"},
        {TLS_HS_KEY_UPDATE, "00", "WAIT_SH: KeyUpdate"},
        {TLS_HS_END_OF_EARLY_DATA, NULL, "WAIT_SH: EndOfEarlyData"},
    };
    for (size_t i = 0; i < sizeof plain_first / sizeof plain_first[0]; i++) {
        flight f;
        flight_new(&f, ccfg, scfg[NC_SRV_DEFAULT]);
        nc_bytes body = {0}, msg = {0}, rec = {0};
        if (plain_first[i].body != NULL)
            nc_hex(&body, plain_first[i].body);
        nc_message(&msg, plain_first[i].type, body.p, body.len);
        nc_records(&rec, TLS_CT_HANDSHAKE, msg.p, msg.len, TLS_MAX_PLAINTEXT);
        failures += expect_client(plain_first[i].name, f.client, rec.p, rec.len,
                                  PQIFY_TLS_ERR_UNEXPECTED_MESSAGE, TLS_ALERT_UNEXPECTED_MESSAGE);
        cases++;
        free(body.p);
        free(msg.p);
        free(rec.p);
        flight_free(&f);
    }

    /* encrypted states: the real ServerHello, then a forged sequence of the server's own
     * messages (plus a CertificateRequest) under the server handshake key */
    enum { EE = 1, CERT, CV, FIN, CR, SH };
    static const struct {
        int seq[6];
        const char *name;
        int err, alert;
    } forged[] = {
        {{CERT}, "WAIT_EE: Certificate", PQIFY_TLS_ERR_UNEXPECTED_MESSAGE, 10},
        {{FIN}, "WAIT_EE: Finished", PQIFY_TLS_ERR_UNEXPECTED_MESSAGE, 10},
        {{CR}, "WAIT_EE: CertificateRequest", PQIFY_TLS_ERR_UNEXPECTED_MESSAGE, 10},
        {{SH}, "WAIT_EE: a second ServerHello", PQIFY_TLS_ERR_UNEXPECTED_MESSAGE, 10},
        {{EE, EE}, "WAIT_CERT_CR: EncryptedExtensions again", PQIFY_TLS_ERR_UNEXPECTED_MESSAGE, 10},
        {{EE, CV}, "WAIT_CERT_CR: CertificateVerify", PQIFY_TLS_ERR_UNEXPECTED_MESSAGE, 10},
        {{EE, FIN}, "WAIT_CERT_CR: Finished (no certificate)", PQIFY_TLS_ERR_UNEXPECTED_MESSAGE, 10},
        {{EE, CR, CR}, "WAIT_CERT: CertificateRequest again", PQIFY_TLS_ERR_UNEXPECTED_MESSAGE, 10},
        {{EE, CR, FIN}, "WAIT_CERT: Finished", PQIFY_TLS_ERR_UNEXPECTED_MESSAGE, 10},
        {{EE, CR, CV}, "WAIT_CERT: CertificateVerify", PQIFY_TLS_ERR_UNEXPECTED_MESSAGE, 10},
        {{EE, CERT, FIN}, "WAIT_CV: Finished", PQIFY_TLS_ERR_UNEXPECTED_MESSAGE, 10},
        {{EE, CERT, CERT}, "WAIT_CV: Certificate again", PQIFY_TLS_ERR_UNEXPECTED_MESSAGE, 10},
        {{EE, CERT, CV, CV}, "WAIT_FINISHED: CertificateVerify again", PQIFY_TLS_ERR_UNEXPECTED_MESSAGE, 10},
        {{EE, CERT, CV, EE}, "WAIT_FINISHED: EncryptedExtensions", PQIFY_TLS_ERR_UNEXPECTED_MESSAGE, 10},
        {{EE, CERT, CV, CR}, "WAIT_FINISHED: CertificateRequest", PQIFY_TLS_ERR_UNEXPECTED_MESSAGE, 10},
        {{EE, CERT, -CV}, "CertificateVerify signature flipped", PQIFY_TLS_ERR_BAD_SIGNATURE, 51},
        {{EE, CERT, CV, -FIN}, "Finished verify_data flipped", PQIFY_TLS_ERR_BAD_FINISHED, 51},
        {{EE, CERT, CV, FIN}, "the real flight (control: must complete)", 0, -1},
    };
    for (size_t i = 0; i < sizeof forged / sizeof forged[0]; i++) {
        flight f;
        flight_new(&f, ccfg, scfg[NC_SRV_DEFAULT]);
        assert_int_equal(nc_find_message(&f.msgs, TLS_HS_ENCRYPTED_EXTENSIONS, &ee, &ee_len), 0);
        assert_int_equal(nc_find_message(&f.msgs, TLS_HS_CERTIFICATE, &cert, &cert_len), 0);
        assert_int_equal(nc_find_message(&f.msgs, TLS_HS_CERTIFICATE_VERIFY, &cv, &cv_len), 0);
        assert_int_equal(nc_find_message(&f.msgs, TLS_HS_FINISHED, &fin, &fin_len), 0);
        pqify_tls_buf wire;
        pqify_tls_buf_init(&wire, NULL, 0);
        assert_int_equal(tls_write_bytes(&wire, f.sh, f.sh_len), 0);
        for (int j = 0; j < 6 && forged[i].seq[j] != 0; j++) {
            int which = forged[i].seq[j] < 0 ? -forged[i].seq[j] : forged[i].seq[j];
            uint8_t m[8192];
            size_t len = 0;
            switch (which) {
            case EE: memcpy(m, ee, ee_len); len = ee_len; break;
            case CERT: memcpy(m, cert, cert_len); len = cert_len; break;
            case CV: memcpy(m, cv, cv_len); len = cv_len; break;
            case FIN: memcpy(m, fin, fin_len); len = fin_len; break;
            case CR: len = nc_unhex("0d00000d" "00" "000a" "000d0006000404030807", m, sizeof m); break;
            case SH: memcpy(m, f.sh + 5, f.sh_len - 5); len = f.sh_len - 5; break;
            }
            if (forged[i].seq[j] < 0)
                m[len - 1] ^= 1;
            nc_seal(&f.s_hs, TLS_CT_HANDSHAKE, m, len, 0, 0, &wire);
        }
        failures += expect_client(forged[i].name, f.client, wire.base, wire.len, forged[i].err,
                                  forged[i].alert);
        cases++;
        pqify_tls_buf_dispose(&wire);
        flight_free(&f);
    }

    /* records from the server, after its real ServerHello */
    static const struct {
        int v;
        const char *name;
        int err, alert;
    } records[] = {
        {0, "server record: corrupted tag", PQIFY_TLS_ERR_BAD_RECORD_MAC, 20},
        {1, "server record: no content type", PQIFY_TLS_ERR_UNEXPECTED_MESSAGE, 10},
        {2, "server record: over 2^14 + 256", PQIFY_TLS_ERR_RECORD_OVERFLOW, 22},
        {3, "server record: padding over 2^14 + 1", PQIFY_TLS_ERR_RECORD_OVERFLOW, 22},
        {4, "server record: application data before Finished", PQIFY_TLS_ERR_UNEXPECTED_MESSAGE, 10},
        {5, "server record: EncryptedExtensions one byte per record (legal), then Finished first",
         PQIFY_TLS_ERR_UNEXPECTED_MESSAGE, 10},
    };
    for (size_t i = 0; i < sizeof records / sizeof records[0]; i++) {
        flight f;
        flight_new(&f, ccfg, scfg[NC_SRV_DEFAULT]);
        assert_int_equal(nc_find_message(&f.msgs, TLS_HS_ENCRYPTED_EXTENSIONS, &ee, &ee_len), 0);
        assert_int_equal(nc_find_message(&f.msgs, TLS_HS_FINISHED, &fin, &fin_len), 0);
        pqify_tls_buf wire;
        pqify_tls_buf_init(&wire, NULL, 0);
        assert_int_equal(tls_write_bytes(&wire, f.sh, f.sh_len), 0);
        static uint8_t junk[TLS_MAX_CIPHERTEXT + 6];
        switch (records[i].v) {
        case 0: nc_seal(&f.s_hs, TLS_CT_HANDSHAKE, ee, ee_len, 0, 1, &wire); break;
        case 1: nc_seal(&f.s_hs, 0, NULL, 0, 16, 0, &wire); break;
        case 2:
            junk[0] = 23;
            junk[1] = junk[2] = 3;
            junk[3] = (uint8_t)((TLS_MAX_CIPHERTEXT + 1) >> 8);
            junk[4] = (uint8_t)(TLS_MAX_CIPHERTEXT + 1);
            assert_int_equal(tls_write_bytes(&wire, junk, sizeof junk), 0);
            break;
        case 3: nc_seal(&f.s_hs, TLS_CT_HANDSHAKE, ee, ee_len, TLS_MAX_PLAINTEXT + 1 - ee_len, 0, &wire); break;
        case 4: nc_seal(&f.s_hs, TLS_CT_APPDATA, (const uint8_t *)"x", 1, 0, 0, &wire); break;
        case 5:
            for (size_t j = 0; j < ee_len; j++)
                nc_seal(&f.s_hs, TLS_CT_HANDSHAKE, ee + j, 1, 0, 0, &wire);
            nc_seal(&f.s_hs, TLS_CT_HANDSHAKE, fin, fin_len, 0, 0, &wire);
            break;
        }
        failures += expect_client(records[i].name, f.client, wire.base, wire.len, records[i].err,
                                  records[i].alert);
        cases++;
        pqify_tls_buf_dispose(&wire);
        flight_free(&f);
    }

    /* edited ServerHellos (plaintext alerts): byte patches on the real one */
    static const struct {
        const char *name;
        int kind;
        int err, alert;
    } sh_edits[] = {
        {"ServerHello: legacy_session_id not echoed", 0, PQIFY_TLS_ERR_ILLEGAL_PARAMETER, 47},
        {"ServerHello: ML-KEM ciphertext one byte short", 1, PQIFY_TLS_ERR_BAD_CT, 47},
        {"ServerHello: ML-KEM ciphertext one byte long", 2, PQIFY_TLS_ERR_BAD_CT, 47},
        {"ServerHello: all-zero X25519 part of X25519MLKEM768", 3, PQIFY_TLS_ERR_X25519_ZERO, 47},
        {"ServerHello: compression method 1", 4, PQIFY_TLS_ERR_ILLEGAL_PARAMETER, 47},
        {"ServerHello: trailing byte after the extensions", 5, PQIFY_TLS_ERR_DECODE, 50},
    };
    for (size_t i = 0; i < sizeof sh_edits / sizeof sh_edits[0]; i++) {
        flight f;
        flight_new(&f, ccfg, scfg[NC_SRV_DEFAULT]);
        /* parse the real ServerHello to find the share */
        tls_server_hello sh;
        assert_int_equal(tls_server_hello_parse(f.sh + 9, f.sh_len - 9, &sh), 0);
        assert_int_equal(sh.group, 0x11EC);
        nc_bytes body = {0}, msg = {0}, rec = {0};
        size_t share_at = (size_t)(sh.share - f.sh) - sh_body_offset();
        const uint8_t *b = f.sh + sh_body_offset();
        size_t blen = f.sh_len - sh_body_offset();
        switch (sh_edits[i].kind) {
        case 0:   /* session id of one byte */
            nc_put(&body, b, 34);
            nc_u8(&body, 1);
            nc_u8(&body, 0x42);
            nc_put(&body, b + 35, blen - 35);
            break;
        case 1:
        case 2: {
            /* rebuild: header up to the extensions, then the two extensions with the
             * ML-KEM part resized (X25519MLKEM768: ct 1088 || x25519 32) */
            size_t share_len = sh.share_len + (sh_edits[i].kind == 1 ? (size_t)-1 : 1);
            nc_put(&body, b, 34 + 1 + 2 + 1);
            nc_bytes e = {0};
            nc_hex(&e, "002b00020304");
            nc_u16(&e, TLS_EXT_KEY_SHARE);
            nc_u16(&e, (unsigned)(share_len + 4));
            nc_u16(&e, 0x11EC);
            nc_u16(&e, (unsigned)share_len);
            if (sh_edits[i].kind == 1) {
                nc_put(&e, sh.share, 1087);
                nc_put(&e, sh.share + 1088, 32);
            } else {
                nc_put(&e, sh.share, 1088);
                nc_u8(&e, 0);
                nc_put(&e, sh.share + 1088, 32);
            }
            nc_u16(&body, (unsigned)e.len);
            nc_put(&body, e.p, e.len);
            free(e.p);
            break;
        }
        case 3:
            nc_put(&body, b, blen);
            memset(body.p + share_at + 1088, 0, 32);
            break;
        case 4:
            nc_put(&body, b, blen);
            body.p[34 + 1 + 2] = 1;
            break;
        case 5:
            nc_put(&body, b, blen);
            nc_u8(&body, 0);
            break;
        }
        nc_message(&msg, TLS_HS_SERVER_HELLO, body.p, body.len);
        nc_records(&rec, TLS_CT_HANDSHAKE, msg.p, msg.len, TLS_MAX_PLAINTEXT);
        failures += expect_client(sh_edits[i].name, f.client, rec.p, rec.len, sh_edits[i].err,
                                  sh_edits[i].alert);
        cases++;
        free(body.p);
        free(msg.p);
        free(rec.p);
        flight_free(&f);
    }

    /* HelloRetryRequests (RFC 8446 §4.1.4) */
#define HRR_RANDOM "cf21ad74e59a6111be1d8c021e65b891c2a211167abb8c5e079e09e2c8a8339c"
    static const struct {
        const char *name;
        const char *exts;
        const char *then;   /* a second server message, or NULL */
        int err, alert;
    } hrrs[] = {
        {"HRR that changes nothing", "002b00020304", NULL, PQIFY_TLS_ERR_HRR, 47},
        {"HRR for a group already shared", "002b00020304" "0033000211ec", NULL, PQIFY_TLS_ERR_HRR, 47},
        {"HRR for the classical group already shared", "002b00020304" "00330002001d", NULL, PQIFY_TLS_ERR_HRR, 47},
        {"HRR for a group never offered", "002b00020304" "00330002fe30", NULL, PQIFY_TLS_ERR_HRR, 47},
        {"HRR for an unknown group", "002b00020304" "003300021234", NULL, PQIFY_TLS_ERR_HRR, 47},
        {"HRR with an empty cookie", "002b00020304" "002c00020000", NULL, PQIFY_TLS_ERR_DECODE, 50},
        {"HRR without supported_versions", "0033000211eb", NULL, PQIFY_TLS_ERR_PROTOCOL_VERSION, 70},
        {"HRR twice", "002b00020304" "0033000211eb", "002b00020304" "0033000211eb",
         PQIFY_TLS_ERR_UNEXPECTED_MESSAGE, 10},
    };
    for (size_t i = 0; i < sizeof hrrs / sizeof hrrs[0]; i++) {
        flight f;
        flight_new(&f, ccfg, scfg[NC_SRV_DEFAULT]);
        nc_bytes body = {0}, msg = {0}, rec = {0};
        for (int round = 0; round < (hrrs[i].then ? 2 : 1); round++) {
            body.len = msg.len = 0;
            nc_u16(&body, 0x0303);
            nc_hex(&body, HRR_RANDOM);
            nc_u8(&body, 0);
            nc_u16(&body, 0x1301);
            nc_u8(&body, 0);
            const char *e = round == 0 ? hrrs[i].exts : hrrs[i].then;
            nc_u16(&body, (unsigned)strlen(e) / 2);
            nc_hex(&body, e);
            nc_message(&msg, TLS_HS_SERVER_HELLO, body.p, body.len);
            nc_records(&rec, TLS_CT_HANDSHAKE, msg.p, msg.len, TLS_MAX_PLAINTEXT);
        }
        failures += expect_client(hrrs[i].name, f.client, rec.p, rec.len, hrrs[i].err, hrrs[i].alert);
        cases++;
        free(body.p);
        free(msg.p);
        free(rec.p);
        flight_free(&f);
    }
    print_message("  %d client-role cases, %d failures\n", cases, failures);
    assert_int_equal(failures, 0);
}

/* A client that offered P-256 (classical only) gets broken points back. */
static void test_client_bad_server_points(void **state)
{
    (void)state;
    int failures = 0;
    const struct { const char *groups; uint16_t id; size_t point; } curves[] = {
        {"secp256r1", 0x0017, 65}, {"secp384r1", 0x0018, 97}};
    for (size_t ci = 0; ci < 2; ci++) {
        pqify_tls_config *cc = tt_client_config(&ca, "server.test");
        assert_int_equal(pqify_tls_config_set_groups(cc, curves[ci].groups), 0);
        for (int kind = 0; kind < 6; kind++) {
            flight f;
            flight_new(&f, cc, scfg[NC_SRV_DEFAULT]);
            tls_server_hello sh;
            assert_int_equal(tls_server_hello_parse(f.sh + 9, f.sh_len - 9, &sh), 0);
            assert_int_equal(sh.group, curves[ci].id);
            assert_int_equal(sh.share_len, curves[ci].point);
            uint8_t rec[4096];
            memcpy(rec, f.sh, f.sh_len);
            nc_bad_point(rec + (sh.share - f.sh), curves[ci].point, kind);
            char name[128];
            snprintf(name, sizeof name, "server %s: %s", curves[ci].groups, nc_point_names[kind]);
            failures += expect_client(name, f.client, rec, f.sh_len, PQIFY_TLS_ERR_BAD_POINT, 47);
            flight_free(&f);
        }
        pqify_tls_config_free(cc);
    }
    assert_int_equal(failures, 0);
}

/* The client once established (state CONNECTED): handshake messages the server may
 * not send after the handshake, sealed with server_application_traffic_secret_0. */
static void test_client_connected(void **state)
{
    (void)state;
    static const struct {
        uint8_t type;
        const char *body;
        const char *name;
        int err, alert;
    } post[] = {
        {TLS_HS_CLIENT_HELLO, "0303", "CONNECTED: ClientHello", PQIFY_TLS_ERR_UNEXPECTED_MESSAGE, 10},
        {TLS_HS_SERVER_HELLO, "0303", "CONNECTED: ServerHello", PQIFY_TLS_ERR_UNEXPECTED_MESSAGE, 10},
        {TLS_HS_CERTIFICATE, "00000000", "CONNECTED: Certificate", PQIFY_TLS_ERR_UNEXPECTED_MESSAGE, 10},
        /* §4.6.2: post-handshake authentication only if the client offered it (we do not) */
        {TLS_HS_CERTIFICATE_REQUEST, "0100000a000d0006000404030807", "CONNECTED: CertificateRequest",
         PQIFY_TLS_ERR_UNEXPECTED_MESSAGE, 10},
        {TLS_HS_FINISHED, "00000000000000000000000000000000", "CONNECTED: Finished",
         PQIFY_TLS_ERR_UNEXPECTED_MESSAGE, 10},
        {TLS_HS_KEY_UPDATE, "05", "CONNECTED: KeyUpdate with request_update = 5",
         PQIFY_TLS_ERR_ILLEGAL_PARAMETER, 47},
        {TLS_HS_KEY_UPDATE, "0000", "CONNECTED: KeyUpdate one byte long", PQIFY_TLS_ERR_DECODE, 50},
    };
    int failures = 0;
    for (size_t i = 0; i < sizeof post / sizeof post[0]; i++) {
        flight f;
        flight_new(&f, ccfg, scfg[NC_SRV_DEFAULT]);
        tls_traffic s_ap;
        memset(&s_ap, 0, sizeof s_ap);
        assert_int_equal(tls_traffic_set(&s_ap, f.server->suite, f.server->hs->s_ap, 1), 0);
        pqify_tls_buf answer, wire, plain, back;
        pqify_tls_buf_init(&answer, NULL, 0);
        pqify_tls_buf_init(&wire, NULL, 0);
        pqify_tls_buf_init(&plain, NULL, 0);
        pqify_tls_buf_init(&back, NULL, 0);
        size_t used = f.out.len;
        assert_int_equal(pqify_tls_handshake(f.client, f.out.base, &used, &answer), 0);
        nc_seal_hs(&s_ap, post[i].type, post[i].body, &wire);
        used = wire.len;
        int ret = pqify_tls_receive(f.client, &plain, wire.base, &used, &back);
        /* the alert, sealed with the client's first application key */
        int alert = nc_sealed_alert(&f.client->wr, &back);
        if (ret != post[i].err || alert != post[i].alert) {
            print_error("  FAIL client: %s: got %d (%s) alert %d, want %d alert %d\n", post[i].name,
                        ret, err_name(ret), alert, post[i].err, post[i].alert);
            failures++;
        }
        pqify_tls_buf_dispose(&answer);
        pqify_tls_buf_dispose(&wire);
        pqify_tls_buf_dispose(&plain);
        pqify_tls_buf_dispose(&back);
        tls_traffic_wipe(&s_ap);
        flight_free(&f);
    }
    assert_int_equal(failures, 0);
}

/* Issue 16: the corpus cases of one deviation ("devN " names), in memory, whole
 * and (raw cases) one byte at a time. */
static void run_deviation(const char *tag)
{
    nc_corpus c = {0};
    nc_corpus_build(&c, NULL, 0);
    int failures = 0, ran = 0;
    for (size_t i = 0; i < c.n; i++) {
        const nc_case *k = &c.cases[i];
        if (strncmp(k->name, tag, strlen(tag)) != 0)
            continue;
        ran++;
        if (k->forge != NULL) {
            failures += run_forged(k);
        } else {
            failures += run_raw(k, 1u << 20);
            failures += run_raw(k, 1);
        }
    }
    print_message("  %s: %d cases, %d failures\n", tag, ran, failures);
    nc_corpus_free(&c);
    assert_true(ran > 0);
    assert_int_equal(failures, 0);
}

static void test_dev1_no_early_data_after_hrr(void **state)
{
    (void)state;
    run_deviation("dev1 ");
}

static void test_dev2_no_interleaved_fragments(void **state)
{
    (void)state;
    run_deviation("dev2 ");
}

static void test_dev3_many_extensions(void **state)
{
    (void)state;
    run_deviation("dev3 ");
}

static void test_dev4_many_key_shares(void **state)
{
    (void)state;
    run_deviation("dev4 ");
}

static void test_dev5_long_signature_list(void **state)
{
    (void)state;
    run_deviation("dev5 ");
}

static void test_dev6_empty_signature(void **state)
{
    (void)state;
    run_deviation("dev6 ");
}

static void test_dev345_all_at_once(void **state)
{
    (void)state;
    run_deviation("dev345 ");
}

/* dev6, client role: a server CertificateVerify whose signature is empty, for the
 * scheme of every key type the engine signs with (§4.4.3: decrypt_error). */
static void test_dev6_empty_signature_client(void **state)
{
    (void)state;
    static const char *const types[] = {"P-256", "P-384", "Ed25519", "RSA"};
    int failures = 0;
    for (size_t i = 0; i < sizeof types / sizeof types[0]; i++) {
        tt_identity id;
        tt_identity_new(&id, &ca, types[i], "server.test", "DNS:server.test", -1, 30);
        pqify_tls_config *s = tt_server_config(&id);
        flight f;
        flight_new(&f, ccfg, s);
        const uint8_t *ee = NULL, *cert = NULL, *cv = NULL;
        size_t ee_len = 0, cert_len = 0, cv_len = 0;
        assert_int_equal(nc_find_message(&f.msgs, TLS_HS_ENCRYPTED_EXTENSIONS, &ee, &ee_len), 0);
        assert_int_equal(nc_find_message(&f.msgs, TLS_HS_CERTIFICATE, &cert, &cert_len), 0);
        assert_int_equal(nc_find_message(&f.msgs, TLS_HS_CERTIFICATE_VERIFY, &cv, &cv_len), 0);
        uint8_t empty[8] = {TLS_HS_CERTIFICATE_VERIFY, 0, 0, 4, cv[4], cv[5], 0, 0};
        pqify_tls_buf wire;
        pqify_tls_buf_init(&wire, NULL, 0);
        assert_int_equal(tls_write_bytes(&wire, f.sh, f.sh_len), 0);
        nc_seal(&f.s_hs, TLS_CT_HANDSHAKE, ee, ee_len, 0, 0, &wire);
        nc_seal(&f.s_hs, TLS_CT_HANDSHAKE, cert, cert_len, 0, 0, &wire);
        nc_seal(&f.s_hs, TLS_CT_HANDSHAKE, empty, sizeof empty, 0, 0, &wire);
        char name[96];
        snprintf(name, sizeof name, "dev6 %s server, scheme 0x%02x%02x: empty signature", types[i],
                 cv[4], cv[5]);
        failures += expect_client(name, f.client, wire.base, wire.len, PQIFY_TLS_ERR_BAD_SIGNATURE,
                                  TLS_ALERT_DECRYPT_ERROR);
        pqify_tls_buf_dispose(&wire);
        flight_free(&f);
        pqify_tls_config_free(s);
        tt_identity_free(&id);
    }
    assert_int_equal(failures, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_server_corpus),
        cmocka_unit_test(test_client_states),
        cmocka_unit_test(test_client_bad_server_points),
        cmocka_unit_test(test_client_connected),
        cmocka_unit_test(test_dev1_no_early_data_after_hrr),
        cmocka_unit_test(test_dev2_no_interleaved_fragments),
        cmocka_unit_test(test_dev3_many_extensions),
        cmocka_unit_test(test_dev4_many_key_shares),
        cmocka_unit_test(test_dev5_long_signature_list),
        cmocka_unit_test(test_dev6_empty_signature),
        cmocka_unit_test(test_dev6_empty_signature_client),
        cmocka_unit_test(test_dev345_all_at_once),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
