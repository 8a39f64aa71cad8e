/*
 * synth_random.c — the values of `nib synth` tensors, defined exactly so that
 * any implementation reproduces them bit for bit (tests/test_synth.cc pins
 * values computed by an independent implementation of this text):
 *
 *   mix(z)     z = (z ^ z>>30) * 0xbf58476d1ce4e5b9; z = (z ^ z>>27) * 0x94d049bb133111eb; z ^ z>>31
 *   stream(s)  splitmix64: word i (i = 1, 2, ...) is mix(s + i * 0x9e3779b97f4a7c15), mod 2^64
 *   key        seed XOR FNV-1a-64(tensor name)   (offset basis 0xcbf29ce484222325, prime 0x100000001b3)
 *   row r      (ne[0] consecutive values; r counts over the whole tensor, experts included)
 *              a_r = word 2r+1 of stream(key), b_r = word 2r+2 of stream(key)
 *   normals    each word w of stream(a_r) proposes the float pair
 *                u = 2 ((w>>40) / 2^24) - 1,  v = 2 (((w>>16) & 0xffffff) / 2^24) - 1,  s = u*u + v*v,
 *              rejected when s >= 1 or s == 0, else (Marsaglia's polar method)
 *                m = sqrtf(-2 ln(s) / s),  z_2i = u*m,  z_2i+1 = v*m;
 *              an odd row length drops the last v*m
 *   factors    with --std-blocks N: group k (values kN .. kN+N-1 of the row) is scaled by
 *              g_k = 2^(4 ((w_k>>40) / 2^24) - 2), w_k = word k+1 of stream(b_r): log-uniform in [1/4, 4)
 *   value j    matrices (std * g_k) * z_j (g = 1 without --std-blocks); biases std * z_j;
 *              norms 1 + std * z_j
 *
 * Everything after the 64-bit words is IEEE single-precision arithmetic,
 * evaluated in float (FLT_EVAL_METHOD 0) with no fused multiply-add (the
 * build passes -ffp-contract=off), in the order written below. ln and 2^x are
 * the fixed series of det_log and det_exp2 below, from + - * / only (libm's
 * last bits differ between C libraries); sqrtf is exact by IEEE. So a file is
 * the same on every machine, for every thread count and chunk size.
 */
#include "synth_model.h"

#include <float.h>
#include <math.h>
#include <string.h>

_Static_assert(FLT_EVAL_METHOD == 0, "synth values are defined in float arithmetic");

#define GOLDEN 0x9e3779b97f4a7c15ull
#define LN2F   0.693147182f /* ln 2 rounded to float */

static uint64_t mix(uint64_t z) {
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static uint64_t next(uint64_t *state) { return mix(*state += GOLDEN); }

static float unit(uint64_t w) { return (float)(uint32_t)(w >> 40) * 0x1.0p-24f; }

/* ln(s) for s in (0, 1), s >= 2^-46 (a normal float: s = u*u + v*v with u, v
 * multiples of 2^-23): s = m 2^e with m in [sqrt(1/2), sqrt(2)) taken from
 * the bits (exact, as frexpf; the mantissa of sqrt(1/2) rounded to float is
 * 0x3504f3), then ln m = 2 atanh(t), t = (m-1)/(m+1), |t| < 0.172, by its
 * series to t^9 (next term < 2e-9 relative). */
static float det_log(float x) {
    uint32_t bits;
    memcpy(&bits, &x, sizeof bits);
    uint32_t mant = bits & 0x007fffffu;
    int lo = mant < 0x3504f3u; /* m < sqrt(1/2): use 2m in [1, sqrt(2)) */
    int e = (int)((bits >> 23) & 0xff) - 126 - lo;
    bits = mant | (lo ? 0x3f800000u : 0x3f000000u);
    float m;
    memcpy(&m, &bits, sizeof m);
    float t = (m - 1) / (m + 1), t2 = t * t;
    float p = (((t2 * (1.0f / 9) + 1.0f / 7) * t2 + 1.0f / 5) * t2 + 1.0f / 3) * t2 + 1;
    return (float)e * LN2F + 2 * t * p;
}

/* 2^y for y in [-2, 2): 2^floor(y) exactly (ldexpf) times e^(f ln 2),
 * f in [0, 1), by its Taylor series to the 9th power (remainder < 1e-7). */
static float det_exp2(float y) {
    float k = floorf(y), x = (y - k) * LN2F, p = 1;
    for (int n = 9; n >= 1; n--) p = 1 + p * x / (float)n;
    return ldexpf(p, (int)k);
}

uint64_t synth_stream_key(uint64_t seed, const char *name) {
    uint64_t h = 0xcbf29ce484222325ull;
    for (const unsigned char *p = (const unsigned char *)name; *p; p++) {
        h ^= *p;
        h *= 0x100000001b3ull;
    }
    return seed ^ h;
}

#define PAIRS 64

/* z[0..2k): the next k polar pairs of the stream. Candidates are drawn first,
 * then the multipliers computed in a separate loop: the pairs are
 * independent, so the CPU overlaps their ln/sqrt/divide chains. */
static void normals(uint64_t *state, int k, float *z) {
    float u[PAIRS], v[PAIRS], s[PAIRS];
    for (int i = 0; i < k;) {
        uint64_t w = next(state);
        u[i] = 2 * unit(w) - 1;
        v[i] = 2 * ((float)(uint32_t)((w >> 16) & 0xffffff) * 0x1.0p-24f) - 1;
        s[i] = u[i] * u[i] + v[i] * v[i];
        i += s[i] < 1 && s[i] != 0;
    }
    for (int i = 0; i < k; i++) {
        float m = sqrtf(-2 * det_log(s[i]) / s[i]);
        z[2 * i] = u[i] * m;
        z[2 * i + 1] = v[i] * m;
    }
}

void synth_fill_row(const struct synth_values *v, uint64_t key, enum synth_kind kind, int64_t row, float *dst,
                    int64_t n) {
    uint64_t a = mix(key + (uint64_t)(2 * row + 1) * GOLDEN), b = mix(key + (uint64_t)(2 * row + 2) * GOLDEN);
    float std = (float)v->std, g = 1, z[2 * PAIRS];
    int64_t group = kind == SYNTH_MATRIX ? v->std_blocks : 0;
    for (int64_t j0 = 0; j0 < n; j0 += 2 * PAIRS) {
        int64_t len = n - j0 < 2 * PAIRS ? n - j0 : 2 * PAIRS;
        normals(&a, (int)(len + 1) / 2, z);
        float *d = dst + j0;
        if (kind == SYNTH_NORM) {
            for (int64_t j = 0; j < len; j++) d[j] = 1 + std * z[j];
        } else if (group == 0) {
            for (int64_t j = 0; j < len; j++) d[j] = std * z[j];
        } else {
            for (int64_t j = 0; j < len; j++) {
                if ((j0 + j) % group == 0) g = det_exp2(4 * unit(next(&b)) - 2);
                d[j] = std * g * z[j];
            }
        }
    }
}
