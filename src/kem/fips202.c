/* Keccak-f[1600] and the FIPS 202 sponge. */
#include "fips202.h"

#include <string.h>

#include "backend.h"
#include "ct.h"

#define ROL64(x, n) (((x) << (n)) | ((x) >> (64 - (n))))

/* FIPS 202 §3.2.5 round constants RC[ir]. */
const uint64_t pqify_keccak_rc[24] = {
    0x0000000000000001ULL, 0x0000000000008082ULL, 0x800000000000808aULL, 0x8000000080008000ULL,
    0x000000000000808bULL, 0x0000000080000001ULL, 0x8000000080008081ULL, 0x8000000000008009ULL,
    0x000000000000008aULL, 0x0000000000000088ULL, 0x0000000080008009ULL, 0x000000008000000aULL,
    0x000000008000808bULL, 0x800000000000008bULL, 0x8000000000008089ULL, 0x8000000000008003ULL,
    0x8000000000008002ULL, 0x8000000000000080ULL, 0x000000000000800aULL, 0x800000008000000aULL,
    0x8000000080008081ULL, 0x8000000000008080ULL, 0x0000000080000001ULL, 0x8000000080008008ULL,
};

/*
 * One round = theta, rho, pi, chi, iota (FIPS 202 §3.2), generated with pi
 * folded into the read order: output row Y takes B[X] = rot(A[(X+3Y)%5, X]).
 * One macro, called alternately from the a.. lane set into e.. and back, so no
 * lane is copied.
 *
 * Lanes 1, 2, 8, 12, 17 and 20 are kept complemented inside the
 * permutation (the lane-complementing transform from the Keccak
 * implementation notes): chi's ~b & c then mostly becomes b & c or b | c on
 * the stored values, one NOT per row instead of five. The generator tracked
 * every lane's complement through theta, rho and pi and picked, per row, the
 * and/or form whose output lands in the same complement pattern
 * (gen_keccak_rounds.py prints these macros).
 */
#define KECCAK_ROUND(from, to, rc) \
    c0 = from##00 ^ from##05 ^ from##10 ^ from##15 ^ from##20; \
    c1 = from##01 ^ from##06 ^ from##11 ^ from##16 ^ from##21; \
    c2 = from##02 ^ from##07 ^ from##12 ^ from##17 ^ from##22; \
    c3 = from##03 ^ from##08 ^ from##13 ^ from##18 ^ from##23; \
    c4 = from##04 ^ from##09 ^ from##14 ^ from##19 ^ from##24; \
    d0 = c4 ^ ROL64(c1, 1); \
    d1 = c0 ^ ROL64(c2, 1); \
    d2 = c1 ^ ROL64(c3, 1); \
    d3 = c2 ^ ROL64(c4, 1); \
    d4 = c3 ^ ROL64(c0, 1); \
    b0 = from##00 ^ d0; \
    b1 = ROL64(from##06 ^ d1, 44); \
    b2 = ROL64(from##12 ^ d2, 43); \
    b3 = ROL64(from##18 ^ d3, 21); \
    b4 = ROL64(from##24 ^ d4, 14); \
    n2 = ~b2; \
    to##00 = b0 ^ (b1 | b2); \
    to##01 = b1 ^ (n2 | b3); \
    to##02 = b2 ^ (b3 & b4); \
    to##03 = b3 ^ (b4 | b0); \
    to##04 = b4 ^ (b0 & b1); \
    b0 = ROL64(from##03 ^ d3, 28); \
    b1 = ROL64(from##09 ^ d4, 20); \
    b2 = ROL64(from##10 ^ d0, 3); \
    b3 = ROL64(from##16 ^ d1, 45); \
    b4 = ROL64(from##22 ^ d2, 61); \
    n4 = ~b4; \
    to##05 = b0 ^ (b1 | b2); \
    to##06 = b1 ^ (b2 & b3); \
    to##07 = b2 ^ (b3 | n4); \
    to##08 = b3 ^ (b4 | b0); \
    to##09 = b4 ^ (b0 & b1); \
    b0 = ROL64(from##01 ^ d1, 1); \
    b1 = ROL64(from##07 ^ d2, 6); \
    b2 = ROL64(from##13 ^ d3, 25); \
    b3 = ROL64(from##19 ^ d4, 8); \
    b4 = ROL64(from##20 ^ d0, 18); \
    n3 = ~b3; \
    to##10 = b0 ^ (b1 | b2); \
    to##11 = b1 ^ (b2 & b3); \
    to##12 = b2 ^ (n3 & b4); \
    to##13 = n3 ^ (b4 | b0); \
    to##14 = b4 ^ (b0 & b1); \
    b0 = ROL64(from##04 ^ d4, 27); \
    b1 = ROL64(from##05 ^ d0, 36); \
    b2 = ROL64(from##11 ^ d1, 10); \
    b3 = ROL64(from##17 ^ d2, 15); \
    b4 = ROL64(from##23 ^ d3, 56); \
    n3 = ~b3; \
    to##15 = b0 ^ (b1 & b2); \
    to##16 = b1 ^ (b2 | b3); \
    to##17 = b2 ^ (n3 | b4); \
    to##18 = n3 ^ (b4 & b0); \
    to##19 = b4 ^ (b0 | b1); \
    b0 = ROL64(from##02 ^ d2, 62); \
    b1 = ROL64(from##08 ^ d3, 55); \
    b2 = ROL64(from##14 ^ d4, 39); \
    b3 = ROL64(from##15 ^ d0, 41); \
    b4 = ROL64(from##21 ^ d1, 2); \
    n1 = ~b1; \
    to##20 = b0 ^ (n1 & b2); \
    to##21 = n1 ^ (b2 | b3); \
    to##22 = b2 ^ (b3 & b4); \
    to##23 = b3 ^ (b4 | b0); \
    to##24 = b4 ^ (b0 & b1); \
    to##00 ^= (rc)

void pqify_keccakf1600_portable(uint64_t st[25])
{
    uint64_t a00 = st[0], a01 = st[1], a02 = st[2], a03 = st[3], a04 = st[4];
    uint64_t a05 = st[5], a06 = st[6], a07 = st[7], a08 = st[8], a09 = st[9];
    uint64_t a10 = st[10], a11 = st[11], a12 = st[12], a13 = st[13], a14 = st[14];
    uint64_t a15 = st[15], a16 = st[16], a17 = st[17], a18 = st[18], a19 = st[19];
    uint64_t a20 = st[20], a21 = st[21], a22 = st[22], a23 = st[23], a24 = st[24];
    uint64_t e00, e01, e02, e03, e04, e05, e06, e07, e08, e09, e10, e11, e12;
    uint64_t e13, e14, e15, e16, e17, e18, e19, e20, e21, e22, e23, e24;
    uint64_t b0, b1, b2, b3, b4, c0, c1, c2, c3, c4, d0, d1, d2, d3, d4;
    uint64_t n1, n2, n3, n4;

    a01 = ~a01; a02 = ~a02; a08 = ~a08; a12 = ~a12; a17 = ~a17; a20 = ~a20;
    for (unsigned i = 0; i < 24; i += 2) {
        KECCAK_ROUND(a, e, pqify_keccak_rc[i]);
        KECCAK_ROUND(e, a, pqify_keccak_rc[i + 1]);
    }
    a01 = ~a01; a02 = ~a02; a08 = ~a08; a12 = ~a12; a17 = ~a17; a20 = ~a20;

    st[0] = a00; st[1] = a01; st[2] = a02; st[3] = a03; st[4] = a04;
    st[5] = a05; st[6] = a06; st[7] = a07; st[8] = a08; st[9] = a09;
    st[10] = a10; st[11] = a11; st[12] = a12; st[13] = a13; st[14] = a14;
    st[15] = a15; st[16] = a16; st[17] = a17; st[18] = a18; st[19] = a19;
    st[20] = a20; st[21] = a21; st[22] = a22; st[23] = a23; st[24] = a24;
}

void pqify_keccakf1600_x4_portable(uint64_t st[4 * 25])
{
    uint64_t one[25];
    for (unsigned j = 0; j < 4; j++) {
        for (unsigned i = 0; i < 25; i++)
            one[i] = st[4 * i + j];
        pqify_keccakf1600_portable(one);
        for (unsigned i = 0; i < 25; i++)
            st[4 * i + j] = one[i];
    }
    pqify_zeroize(one, sizeof one);
}

/* Lanes are little-endian (FIPS 202 §B.1); on little-endian hosts a memcpy is the conversion. */
static inline uint64_t load64_le(const uint8_t *p)
{
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    uint64_t r;
    memcpy(&r, p, 8);
    return r;
#else
    uint64_t r = 0;
    for (unsigned i = 0; i < 8; i++)
        r |= (uint64_t)p[i] << (8 * i);
    return r;
#endif
}

static inline void store64_le(uint8_t *p, uint64_t v)
{
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    memcpy(p, &v, 8);
#else
    for (unsigned i = 0; i < 8; i++)
        p[i] = (uint8_t)(v >> (8 * i));
#endif
}

static inline void permute(uint64_t s[25])
{
    pqify_kem_ops_active->keccakf1600(s);
}

void pqify_keccak_init(pqify_keccak_ctx *ctx, unsigned rate, uint8_t dsep)
{
    memset(ctx->s, 0, sizeof ctx->s);
    ctx->pos = 0;
    ctx->rate = rate;
    ctx->dsep = dsep;
    ctx->squeezing = 0;
}

void pqify_keccak_absorb(pqify_keccak_ctx *ctx, const uint8_t *in, size_t len)
{
    unsigned pos = ctx->pos;
    const unsigned rate = ctx->rate;

    /* Finish a partial block byte by byte. */
    while (len > 0 && (pos & 7) != 0) {
        ctx->s[pos >> 3] ^= (uint64_t)*in++ << (8 * (pos & 7));
        len--;
        if (++pos == rate) {
            permute(ctx->s);
            pos = 0;
        }
    }
    /* Whole blocks, then whole lanes, permuting at every full block. */
    while (pos == 0 && len >= rate) {
        for (unsigned i = 0; i < rate / 8; i++)
            ctx->s[i] ^= load64_le(in + 8 * i);
        permute(ctx->s);
        in += rate;
        len -= rate;
    }
    while (len >= 8) {
        ctx->s[pos >> 3] ^= load64_le(in);
        in += 8;
        len -= 8;
        pos += 8;
        if (pos == rate) {
            permute(ctx->s);
            pos = 0;
        }
    }
    for (; len > 0; len--, pos++)
        ctx->s[pos >> 3] ^= (uint64_t)*in++ << (8 * (pos & 7));
    ctx->pos = pos;
}

void pqify_keccak_squeeze(pqify_keccak_ctx *ctx, uint8_t *out, size_t len)
{
    unsigned pos = ctx->pos;
    const unsigned rate = ctx->rate;

    if (!ctx->squeezing) {
        /* FIPS 202 §5.1 pad10*1, with the SHA-3/SHAKE suffix in dsep. */
        ctx->s[pos >> 3] ^= (uint64_t)ctx->dsep << (8 * (pos & 7));
        ctx->s[(rate - 1) >> 3] ^= (uint64_t)0x80 << (8 * ((rate - 1) & 7));
        ctx->squeezing = 1;
        pos = rate;
    }
    while (len > 0) {
        if (pos == rate) {
            permute(ctx->s);
            pos = 0;
            /* Whole blocks straight out of the state. */
            if (len >= rate) {
                for (unsigned i = 0; i < rate / 8; i++)
                    store64_le(out + 8 * i, ctx->s[i]);
                out += rate;
                len -= rate;
                pos = rate;
                continue;
            }
        }
        if ((pos & 7) == 0 && len >= 8) {
            store64_le(out, ctx->s[pos >> 3]);
            out += 8;
            len -= 8;
            pos += 8;
        } else {
            *out++ = (uint8_t)(ctx->s[pos >> 3] >> (8 * (pos & 7)));
            len--;
            pos++;
        }
    }
    ctx->pos = pos;
}

void pqify_keccak_wipe(pqify_keccak_ctx *ctx)
{
    pqify_zeroize(ctx, sizeof *ctx);
}

static void oneshot(uint8_t *out, size_t outlen, const uint8_t *in, size_t inlen,
                    unsigned rate, uint8_t dsep)
{
    pqify_keccak_ctx ctx;
    pqify_keccak_init(&ctx, rate, dsep);
    pqify_keccak_absorb(&ctx, in, inlen);
    pqify_keccak_squeeze(&ctx, out, outlen);
    pqify_keccak_wipe(&ctx);
}

void pqify_sha3_256(uint8_t out[32], const uint8_t *in, size_t len)
{
    oneshot(out, 32, in, len, PQIFY_SHA3_256_RATE, 0x06);
}

void pqify_sha3_512(uint8_t out[64], const uint8_t *in, size_t len)
{
    oneshot(out, 64, in, len, PQIFY_SHA3_512_RATE, 0x06);
}

void pqify_shake128(uint8_t *out, size_t outlen, const uint8_t *in, size_t inlen)
{
    oneshot(out, outlen, in, inlen, PQIFY_SHAKE128_RATE, 0x1F);
}

void pqify_shake256(uint8_t *out, size_t outlen, const uint8_t *in, size_t inlen)
{
    oneshot(out, outlen, in, inlen, PQIFY_SHAKE256_RATE, 0x1F);
}

/* Byte `off` onwards of in[0] || in[1], up to len bytes, copied into dst. */
static void job_copy(uint8_t *dst, const pqify_keccak_job *job, size_t off, size_t len)
{
    for (unsigned f = 0; f < 2 && len > 0; f++) {
        if (off >= job->inlen[f]) {
            off -= job->inlen[f];
            continue;
        }
        size_t n = job->inlen[f] - off;
        if (n > len)
            n = len;
        memcpy(dst, job->in[f] + off, n);
        dst += n;
        len -= n;
        off = 0;
    }
}

/*
 * Sponge i takes nabs = floor(L / rate) + 1 padded input blocks (FIPS 202
 * §5.1 always adds at least one pad byte) and nout = ceil(outlen / rate)
 * output blocks; its first output block is ready after permutation nabs, and
 * each further one after one more permutation. Step t absorbs block t (if
 * any), permutes once, and reads output block t - nabs + 1 (if any), so both
 * sponges finish within max(nabs + nout - 1) shared permutations.
 */
void pqify_keccak_x2(const pqify_keccak_job job[2])
{
    if (pqify_kem_ops_active->keccakf1600_x4 == pqify_keccakf1600_x4_portable) {
        /* x4 here is four x1 calls: sharing would double the work. */
        for (unsigned i = 0; i < 2; i++) {
            pqify_keccak_ctx ctx;
            pqify_keccak_init(&ctx, job[i].rate, job[i].dsep);
            pqify_keccak_absorb(&ctx, job[i].in[0], job[i].inlen[0]);
            pqify_keccak_absorb(&ctx, job[i].in[1], job[i].inlen[1]);
            pqify_keccak_squeeze(&ctx, job[i].out, job[i].outlen);
            pqify_keccak_wipe(&ctx);
        }
        return;
    }

    _Alignas(32) uint64_t st[4 * 25];
    uint8_t block[PQIFY_SHAKE128_RATE];
    size_t nabs[2], nout[2], steps = 0;

    memset(st, 0, sizeof st);
    for (unsigned i = 0; i < 2; i++) {
        size_t len = job[i].inlen[0] + job[i].inlen[1];
        nabs[i] = len / job[i].rate + 1;
        nout[i] = (job[i].outlen + job[i].rate - 1) / job[i].rate;
        if (nout[i] == 0)
            nout[i] = 1; /* the padded block is still absorbed and permuted */
        if (nabs[i] + nout[i] - 1 > steps)
            steps = nabs[i] + nout[i] - 1;
    }

    for (size_t t = 0; t < steps; t++) {
        for (unsigned i = 0; i < 2; i++) {
            if (t >= nabs[i])
                continue;
            const unsigned rate = job[i].rate;
            const size_t len = job[i].inlen[0] + job[i].inlen[1];
            const size_t off = t * rate;
            const size_t n = len - off < rate ? len - off : rate;
            memset(block, 0, rate);
            job_copy(block, &job[i], off, n);
            if (t == nabs[i] - 1) {
                /* pad10*1 with the SHA-3/SHAKE suffix (n < rate here). */
                block[n] ^= job[i].dsep;
                block[rate - 1] ^= 0x80;
            }
            for (unsigned l = 0; l < rate / 8; l++)
                st[4 * l + i] ^= load64_le(block + 8 * l);
        }
        pqify_kem_ops_active->keccakf1600_x4(st);
        for (unsigned i = 0; i < 2; i++) {
            if (t + 1 < nabs[i] || t + 1 - nabs[i] >= nout[i])
                continue;
            const unsigned rate = job[i].rate;
            const size_t off = (t + 1 - nabs[i]) * rate;
            if (off >= job[i].outlen)
                continue;
            const size_t n = job[i].outlen - off < rate ? job[i].outlen - off : rate;
            for (unsigned l = 0; l < rate / 8; l++)
                store64_le(block + 8 * l, st[4 * l + i]);
            memcpy(job[i].out + off, block, n);
        }
    }
    pqify_zeroize(st, sizeof st);
    pqify_zeroize(block, sizeof block);
}
