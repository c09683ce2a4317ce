/*
 * Backend dispatch for the hot ML-KEM / Kyber routines.
 *
 * Everything above this table (K-PKE, the FO transforms, the public API) is
 * written once in portable C and calls the routines below through the active
 * table, which is picked once at start-up (PQIFY_KEM_BACKEND=portable|avx2,
 * or pqify_kem_set_backend()). A backend fills every slot; the portable one
 * (table in backend.c; routines in ntt.c, poly.c, sampling.c, fips202.c) is
 * the reference every other backend must match.
 *
 * ---------------------------------------------------------------------------
 * Data conventions (a backend may rely on its inputs meeting these, and must
 * make its outputs meet them)
 * ---------------------------------------------------------------------------
 * q = 3329, n = 256, R = 2^16 (Montgomery factor).
 *
 * Polynomials are pqify_poly: int16_t coeffs[256], 32-byte aligned. A value is
 * only meaningful modulo q; each routine states a bound on the representative
 * it accepts and the one it returns. Backends do NOT have to return the same
 * representative as the portable code, only the same value mod q within the
 * stated bound. Every byte string a routine writes (tobytes, compress) is
 * canonical and MUST be bit-identical across backends.
 *
 * "Normal domain" means coefficients of f in Z_q[X]/(X^256+1).
 * "NTT domain" means the 128 degree-one residues of FIPS 203 §4.3:
 * f^[2i], f^[2i+1] for i = 0..127, paired with gamma_i = zeta^(2*BitRev7(i)+1).
 * The portable backend stores NTT-domain coefficients in exactly that FIPS 203
 * order. Another backend MAY keep NTT-domain coefficients in a private
 * permutation, provided that it then overrides ALL of ntt, invntt,
 * basemul_acc, tobytes, frombytes and gen_matrix together (these are the only
 * routines that see positions in the NTT domain; the generic code applies only
 * coefficient-wise add/sub/reduce/tomont to NTT-domain polys, which do not
 * care about order). Byte encodings (ek, dk) are always in FIPS 203 order.
 * To compare an NTT-domain poly across backends, compare its tobytes output.
 *
 * Scaling: NTT-domain values are NOT in Montgomery form. basemul_acc returns
 * its result times R^-1, and invntt returns its result times R, so
 * invntt(basemul_acc(a, b)) is the true product in the normal domain
 * (K-PKE encrypt/decrypt), while K-PKE keygen applies tomont (times R) to
 * basemul_acc output to get t^ in plain NTT form.
 *
 * Secrets: every routine here handles secret data (s, e, y, m, the
 * re-encryption in decaps) and must be constant time: no branch or memory
 * index on coefficient values; no '/' or '%' on them (KyberSlash) - use
 * multiply-and-shift. gen_matrix is the only routine that may branch on its
 * data (rejection sampling of public rho); sample_cbd's seed is secret.
 * ---------------------------------------------------------------------------
 */
#ifndef PQIFY_KEM_BACKEND_H
#define PQIFY_KEM_BACKEND_H

#include <stddef.h>
#include <stdint.h>

#define PQIFY_N 256
#define PQIFY_Q 3329
#define PQIFY_KMAX 4

typedef struct {
    _Alignas(32) int16_t coeffs[PQIFY_N];
} pqify_poly;

typedef struct pqify_kem_ops {
    const char *name; /* "portable", "avx2" */

    /* 1 if this CPU can run the backend (checked once, before selection). */
    int (*available)(void);

    /*
     * Keccak-f[1600] (FIPS 202 §3.3/§3.4, 24 rounds) on a state of 25 lanes,
     * lane index x + 5*y, each lane little-endian: byte 8*i+j of the state
     * string is bits 8j..8j+7 of st[i].
     */
    void (*keccakf1600)(uint64_t st[25]);
    /*
     * Four independent permutations, lane-interleaved: st[4*i + j] is lane i
     * of instance j (the natural layout for one 256-bit vector per lane).
     * Must equal four keccakf1600 calls on the de-interleaved states.
     */
    void (*keccakf1600_x4)(uint64_t st[4 * 25]);

    /*
     * Forward NTT (FIPS 203 Alg. 9), in place.
     * In: normal domain, |c| < q. Out: NTT domain (see order above), |c| < q.
     */
    void (*ntt)(pqify_poly *a);
    /*
     * Inverse NTT (FIPS 203 Alg. 10) times R, in place.
     * In: NTT domain, |c| < q. Out: normal domain, value NTT^-1(a) * R, |c| < q.
     */
    void (*invntt)(pqify_poly *a);
    /*
     * r = sum_{i<k} a[i] (x) b[i] * R^-1   (FIPS 203 Alg. 11/12 MultiplyNTTs,
     * summed over a vector). a, b: k NTT-domain polys each with |c| < q;
     * k in 2..4. Out: NTT domain, |c| < q. r may not alias a or b.
     * Used with a = row i of the matrix (&A[i*k]) and b = the secret vector.
     */
    void (*basemul_acc)(pqify_poly *r, const pqify_poly *a, const pqify_poly *b, unsigned k);

    /*
     * ByteEncode_12 of an NTT-domain poly (384 bytes, FIPS 203 order).
     * In: any int16 value (reduced mod q to [0,q) before encoding).
     */
    void (*tobytes)(uint8_t r[384], const pqify_poly *a);
    /*
     * ByteDecode_12 (FIPS 203 Alg. 6, d = 12: each 12-bit value taken mod q).
     * Out: NTT domain, every coefficient in [0, q). Constant time (dk's s^).
     */
    void (*frombytes)(pqify_poly *r, const uint8_t a[384]);

    /*
     * ByteEncode_d(Compress_d(a)) (FIPS 203 §4.2.1), d in {1, 4, 5, 10, 11};
     * writes 32*d bytes. In: normal domain, any int16 value (reduced mod q to
     * [0,q) first). Compress_d(x) = round(2^d * x / q) mod 2^d, computed with
     * multiply-shift, never '/'. d = 1 is the message encoding of K-PKE.Decrypt.
     */
    void (*compress)(uint8_t *r, const pqify_poly *a, unsigned d);
    /*
     * Decompress_d(ByteDecode_d(a)), d in {1, 4, 5, 10, 11}; reads 32*d bytes.
     * Out: normal domain, every coefficient in [0, q), exactly
     * round(q * y / 2^d). d = 1 is the message decoding of K-PKE.Encrypt
     * (bit b -> b * 1665), and must not branch on the bits.
     */
    void (*decompress)(pqify_poly *r, const uint8_t *a, unsigned d);

    /*
     * Matrix expansion, FIPS 203 Alg. 7 SampleNTT with XOF = SHAKE-128.
     * Writes k*k NTT-domain polys, every coefficient in [0, q):
     *   transposed == 0: A[i*k + j] = SampleNTT(rho || j || i)   (A^)
     *   transposed != 0: A[i*k + j] = SampleNTT(rho || i || j)   (A^ transposed)
     * A backend may batch four (i, j) entries per 4-way Keccak; output must
     * not depend on the batching. Must keep squeezing for as long as
     * rejection sampling needs (no fixed block count).
     */
    void (*gen_matrix)(pqify_poly *A, const uint8_t rho[32], unsigned k, int transposed);
    /*
     * Noise, FIPS 203 Alg. 8 SamplePolyCBD_eta(PRF_eta(sigma, N)) for
     * N = nonce, nonce+1, ..., nonce+count-1 into r[0..count-1], with
     * PRF_eta(s, b) = SHAKE-256(s || b, 64*eta). eta in {2, 3}; count in
     * 1..2*PQIFY_KMAX+1. Out: normal domain, |c| <= eta. A backend may batch
     * four nonces per 4-way Keccak. sigma is secret: constant time.
     */
    void (*sample_cbd)(pqify_poly *r, unsigned count, const uint8_t sigma[32],
                       uint8_t nonce, unsigned eta);
} pqify_kem_ops;

/* The portable C backend (always present). */
extern const pqify_kem_ops pqify_kem_ops_portable;

/*
 * The AVX2 backend (src/kem/x86_64/), compiled in when src/kem/CMakeLists.txt
 * finds sources there on an x86_64 target; it then defines PQIFY_KEM_HAVE_AVX2.
 * Its available() must check CPUID (AVX2, and whatever else it uses).
 */
#ifdef PQIFY_KEM_HAVE_AVX2
extern const pqify_kem_ops pqify_kem_ops_avx2;
#endif

/*
 * The active table. Set before main() from PQIFY_KEM_BACKEND (default: the
 * fastest available backend); pqify_kem_set_backend() may change it, but only
 * while no other thread is using the KEMs. Never NULL.
 */
extern const pqify_kem_ops *pqify_kem_ops_active;

#endif
