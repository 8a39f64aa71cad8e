/*
 * repack.c — the interleaved layouts of repack.h (portable C).
 */
#include "repack.h"

#include "nib.h"
#include "quant_blocks.h"
#include "type_traits.h"

#include <string.h>

/* The struct of one block of a 16-row unit (repack.h), 0 for a type packed otherwise or not at all. */
static size_t unit_block_bytes(int type) {
    switch (type) {
    case NIB_TYPE_Q8_0: return sizeof(struct nib_block_q8_0x16);
    case NIB_TYPE_Q4_1: return sizeof(struct nib_block_q4_1x16);
    case NIB_TYPE_Q5_0: return sizeof(struct nib_block_q5_0x16);
    case NIB_TYPE_Q5_1: return sizeof(struct nib_block_q5_1x16);
    case NIB_TYPE_Q5_K: return sizeof(struct nib_block_q5_Kx16);
    case NIB_TYPE_Q6_K: return sizeof(struct nib_block_q6_Kx16);
    default: return 0;
    }
}

size_t nib_repack_size(int type, int64_t ne0, int64_t ne1) {
    if (ne1 % 8 != 0) return 0;
    const int64_t bs = nib_type_block_size(type);
    if (unit_block_bytes(type))
        return ne1 % 16 == 0 && ne0 % bs == 0 ? (size_t)(ne1 / 16) * (size_t)(ne0 / bs) * unit_block_bytes(type) : 0;
    if (type == NIB_TYPE_Q4_0 && ne0 % NIB_QK4_0 == 0)
        return (size_t)(ne1 / 8) * (size_t)(ne0 / NIB_QK4_0) * sizeof(struct nib_block_q4_0x8);
    if (type == NIB_TYPE_Q4_K && ne0 % NIB_QK_K == 0)
        return (size_t)(ne1 / 8) * (size_t)(ne0 / NIB_QK_K) * sizeof(struct nib_block_q4_Kx8);
    return 0;
}

/* 32 weights (value j = nib(j)) into the chunk layout: byte 32c + 4r + i. */
static void put_block32(uint8_t *qs, int r, const uint8_t *vals) {
    for (int c = 0; c < 4; c++)
        for (int i = 0; i < 4; i++) qs[32 * c + 4 * r + i] = (uint8_t)(vals[8 * c + i] | vals[8 * c + 4 + i] << 4);
}

static void pack_q4_0(const struct nib_block_q4_0 *const rows[8], int64_t b, struct nib_block_q4_0x8 *out) {
    for (int r = 0; r < 8; r++) {
        const struct nib_block_q4_0 *x = (const struct nib_block_q4_0 *)rows[r] + b;
        uint8_t v[32];
        for (int j = 0; j < 16; j++) {
            v[j] = x->qs[j] & 0x0F;
            v[j + 16] = x->qs[j] >> 4;
        }
        out->d[r] = x->d;
        put_block32(out->qs, r, v);
    }
}

static void pack_q4_K(const struct nib_block_q4_K *const rows[8], int64_t b, struct nib_block_q4_Kx8 *out) {
    for (int r = 0; r < 8; r++) {
        const struct nib_block_q4_K *x = rows[r] + b;
        out->d[r] = x->d;
        out->dmin[r] = x->dmin;
        for (int s = 0; s < 8; s++) {
            uint8_t sc, m;
            nib_q4_K_scale_min(s, x->scales, &sc, &m);
            out->sc[s][r] = sc;
            out->m[s][r] = m;
        }
        for (int j = 0; j < 4; j++) { /* 32 bytes of qs: sub-block 2j in the low nibbles, 2j+1 in the high */
            uint8_t lo[32], hi[32];
            for (int i = 0; i < 32; i++) {
                lo[i] = x->qs[32 * j + i] & 0x0F;
                hi[i] = x->qs[32 * j + i] >> 4;
            }
            put_block32(out->qs + 128 * (2 * j), r, lo);
            put_block32(out->qs + 128 * (2 * j + 1), r, hi);
        }
    }
}

/* 4 * n_dwords bytes of row r into a 16-row unit's dword layout: byte
 * 4c + i at dst[64c + 4r + i], xor flip. */
static void put_dwords(uint8_t *dst, int r, const uint8_t *src, int n_dwords, uint8_t flip) {
    for (int c = 0; c < n_dwords; c++)
        for (int i = 0; i < 4; i++) dst[64 * c + 4 * r + i] = src[4 * c + i] ^ flip;
}

/* Row r (0..15) of a Q8_0 unit's block from x. */
static void put_q8_0(const struct nib_block_q8_0 *x, int r, struct nib_block_q8_0x16 *out) {
    out->d[r] = x->d;
    put_dwords(out->qs, r, (const uint8_t *)x->qs, 8, 0x80);
}

/* Row r (0..15) of a Q5_K unit's super-block from x. */
static void put_q5_K(const struct nib_block_q5_K *x, int r, struct nib_block_q5_Kx16 *out) {
    out->d[r] = x->d;
    out->dmin[r] = x->dmin;
    for (int s = 0; s < 8; s++) nib_q4_K_scale_min(s, x->scales, &out->sc[s][r], &out->m[s / 2][r][s % 2]);
    put_dwords(out->qh[0], r, x->qh, 8, 0);
    for (int j = 0; j < 4; j++) put_dwords(out->qs[j][0], r, x->qs + 32 * j, 8, 0);
}

/* A Q5_0/Q5_1 block's fifth bits (qh, little-endian) as row r's 4 bytes of a
 * unit's qh: bit L of byte i = bit 4L + i. */
static void put_fifth_bits(uint8_t *qh, int r, const uint8_t src[4]) {
    const uint32_t h = (uint32_t)src[0] | (uint32_t)src[1] << 8 | (uint32_t)src[2] << 16 | (uint32_t)src[3] << 24;
    for (int i = 0; i < 4; i++) {
        uint8_t v = 0;
        for (int L = 0; L < 8; L++) v |= (uint8_t)((h >> (4 * L + i) & 1) << L);
        qh[4 * r + i] = v;
    }
}

/* Row r (0..15) of a Q4_1 / Q5_0 / Q5_1 unit's block b from the row's blocks. */
static void put_legacy(int type, const void *row, int64_t b, int r, void *unit) {
    if (type == NIB_TYPE_Q4_1) {
        const struct nib_block_q4_1 *x = (const struct nib_block_q4_1 *)row + b;
        struct nib_block_q4_1x16 *out = (struct nib_block_q4_1x16 *)unit + b;
        out->d[r] = x->d;
        out->m[r] = x->m;
        put_dwords(out->qs[0], r, x->qs, 4, 0);
    } else if (type == NIB_TYPE_Q5_0) {
        const struct nib_block_q5_0 *x = (const struct nib_block_q5_0 *)row + b;
        struct nib_block_q5_0x16 *out = (struct nib_block_q5_0x16 *)unit + b;
        out->d[r] = x->d;
        put_fifth_bits(out->qh, r, x->qh);
        put_dwords(out->qs[0], r, x->qs, 4, 0);
    } else {
        const struct nib_block_q5_1 *x = (const struct nib_block_q5_1 *)row + b;
        struct nib_block_q5_1x16 *out = (struct nib_block_q5_1x16 *)unit + b;
        out->d[r] = x->d;
        out->m[r] = x->m;
        put_fifth_bits(out->qh, r, x->qh);
        put_dwords(out->qs[0], r, x->qs, 4, 0);
    }
}

/* Row r (0..15) of a Q6_K unit's super-block from x (repack.h). */
static void put_q6_K(const struct nib_block_q6_K *x, int r, struct nib_block_q6_Kx16 *out) {
    out->d[r] = x->d;
    for (int s = 0; s < 16; s++) out->sc[s / 2][r][s % 2] = x->scales[s];
    for (int h = 0; h < 2; h++)
        for (int l = 0; l < 32; l++) { /* byte i = l % 4 of dword c = l / 4 */
            const uint8_t lo = x->ql[64 * h + l], hi = x->ql[64 * h + 32 + l], qh = x->qh[32 * h + l];
            const uint8_t v0 = (uint8_t)((lo & 0x0F) | (qh & 3) << 4), v1 = (uint8_t)((hi & 0x0F) | (qh >> 2 & 3) << 4);
            const uint8_t v2 = (uint8_t)(lo >> 4 | (qh >> 4 & 3) << 4), v3 = (uint8_t)(hi >> 4 | (qh >> 6) << 4);
            uint8_t *q = out->q[h][l / 4][0] + 4 * r + l % 4;
            q[0] = (uint8_t)(v0 | (v3 & 3) << 6);
            q[64] = (uint8_t)(v1 | (v3 >> 2 & 3) << 6);
            q[128] = (uint8_t)(v2 | (v3 >> 4) << 6);
        }
}

/* One group's super-block into half h of a 16-row one (repack.h). */
static void to_x16(const struct nib_block_q4_Kx8 *x8, int h, struct nib_block_q4_Kx16 *out) {
    for (int r = 0; r < 8; r++) {
        out->d[8 * h + r] = x8->d[r];
        out->dmin[8 * h + r] = x8->dmin[r];
        for (int s = 0; s < 8; s++) {
            out->sc[s][8 * h + r] = x8->sc[s][r];
            out->m[s][8 * h + r] = x8->m[s][r];
        }
    }
    for (int s = 0; s < 8; s++)
        for (int c = 0; c < 4; c++) memcpy(out->qs[s][c][h], x8->qs + 128 * s + 32 * c, 32);
}

void nib_repack_groups(int type, const void *src, size_t row_bytes, int64_t ne0, int64_t g0, int64_t g1, int pair,
                       void *dst) {
    for (int64_t g = g0; g < g1; g++) {
        const void *rows[8];
        for (int r = 0; r < 8; r++) rows[r] = (const char *)src + (size_t)(8 * g + r) * row_bytes;
        if (type == NIB_TYPE_Q4_0) {
            const int64_t nb = ne0 / NIB_QK4_0;
            for (int64_t b = 0; b < nb; b++) {
                const int64_t at = pair ? (g & ~(int64_t)1) * nb + 2 * b + (g & 1) : g * nb + b;
                pack_q4_0((const struct nib_block_q4_0 *const *)rows, b, (struct nib_block_q4_0x8 *)dst + at);
            }
        } else if (type == NIB_TYPE_Q8_0) {
            const int64_t nb = ne0 / NIB_QK8_0;
            struct nib_block_q8_0x16 *unit = (struct nib_block_q8_0x16 *)dst + (g / 2) * nb;
            for (int64_t b = 0; b < nb; b++)
                for (int r = 0; r < 8; r++)
                    put_q8_0((const struct nib_block_q8_0 *)rows[r] + b, 8 * (int)(g & 1) + r, unit + b);
        } else if (type == NIB_TYPE_Q5_K) {
            const int64_t nb = ne0 / NIB_QK_K;
            struct nib_block_q5_Kx16 *unit = (struct nib_block_q5_Kx16 *)dst + (g / 2) * nb;
            for (int64_t b = 0; b < nb; b++)
                for (int r = 0; r < 8; r++) put_q5_K((const struct nib_block_q5_K *)rows[r] + b, 8 * (int)(g & 1) + r, unit + b);
        } else if (type == NIB_TYPE_Q4_1 || type == NIB_TYPE_Q5_0 || type == NIB_TYPE_Q5_1) {
            const int64_t nb = ne0 / NIB_QK8_0;
            char *unit = (char *)dst + (size_t)(g / 2) * (size_t)nb * unit_block_bytes(type);
            for (int64_t b = 0; b < nb; b++)
                for (int r = 0; r < 8; r++) put_legacy(type, rows[r], b, 8 * (int)(g & 1) + r, unit);
        } else if (type == NIB_TYPE_Q6_K) {
            const int64_t nb = ne0 / NIB_QK_K;
            struct nib_block_q6_Kx16 *unit = (struct nib_block_q6_Kx16 *)dst + (g / 2) * nb;
            for (int64_t b = 0; b < nb; b++)
                for (int r = 0; r < 8; r++) put_q6_K((const struct nib_block_q6_K *)rows[r] + b, 8 * (int)(g & 1) + r, unit + b);
        } else if (type == NIB_TYPE_Q4_K) {
            const int64_t nb = ne0 / NIB_QK_K;
            for (int64_t b = 0; b < nb; b++) {
                if (!pair) {
                    pack_q4_K((const struct nib_block_q4_K *const *)rows, b, (struct nib_block_q4_Kx8 *)dst + g * nb + b);
                    continue;
                }
                struct nib_block_q4_Kx8 x8;
                pack_q4_K((const struct nib_block_q4_K *const *)rows, b, &x8);
                to_x16(&x8, (int)(g & 1), (struct nib_block_q4_Kx16 *)dst + (g / 2) * nb + b);
            }
        }
    }
}

_Static_assert(sizeof(struct nib_block_q5_Kx16) == 2880, "Q5_K units: 16 x 176 bytes and 64 of unpacked scales");
_Static_assert(sizeof(struct nib_block_q4_1x16) == 16 * sizeof(struct nib_block_q4_1), "Q4_1 units keep the bytes");
_Static_assert(sizeof(struct nib_block_q5_0x16) == 16 * sizeof(struct nib_block_q5_0), "Q5_0 units keep the bytes");
_Static_assert(sizeof(struct nib_block_q5_1x16) == 16 * sizeof(struct nib_block_q5_1), "Q5_1 units keep the bytes");
_Static_assert(sizeof(struct nib_block_q6_Kx16) == 16 * sizeof(struct nib_block_q6_K), "Q6_K units keep the bytes");
_Static_assert(sizeof(struct nib_block_q8_0x16) == 16 * sizeof(struct nib_block_q8_0), "Q8_0 units keep the bytes");
_Static_assert(sizeof(struct nib_block_q4_Kx16) == 2 * sizeof(struct nib_block_q4_Kx8), "paired Q4_K keeps the bytes");
