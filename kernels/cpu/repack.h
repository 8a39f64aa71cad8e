/*
 * repack.h — 8-row interleaved weight layouts for the packed matmul kernels.
 *
 * At load time a Q4_0 matrix whose row count is a multiple of 8 is copied
 * into groups of 8 rows: group g holds rows 8g..8g+7, block by block, as
 * struct nib_block_q4_0x8 (the same 144 bytes as eight Q4_0 blocks):
 *   d[r]          the scale of row r's block;
 *   qs[32c + 4r + i]   (c = 0..3 chunks of 8 weights, i = 0..3)
 *                 low nibble: weight 8c + i of row r, high nibble: weight
 *                 8c + 4 + i of row r (stored unsigned, q + 8).
 * A kernel then reads one 32-byte chunk and, with one nibble mask, has four
 * consecutive weights of each row in each 32-bit lane: a byte dot product
 * against the activation's four bytes broadcast leaves row r's partial sum
 * in lane r, with no horizontal additions (kernels/cpu/packed_avx2.c).
 * Q4_K: group g, super-block b, as struct nib_block_q4_Kx8 (1184 bytes for
 * eight 144-byte blocks):
 *   d[r], dmin[r]  row r's super-block scales (fp16, as stored);
 *   sc[s][r], m[s][r]  row r's 6-bit scale and min of sub-block s, unpacked;
 *   qs[128 s + 32c + 4r + i]  sub-block s (32 weights) laid out as a Q4_0
 *                 block above (weights unsigned 0..15 as stored).
 * Paired (pair != 0, for a kernel table with packed16 and ne1 % 16 == 0:
 * nib_op_packed_paired), so that a 16-row kernel reads one sequential
 * stream (same bytes, same size):
 *   Q4_0: groups 2u and 2u + 1 interleave block by block, block b of group
 *   2u + h at struct index 2u * nb + 2b + h;
 *   Q4_K: rows 16u..16u+15 as struct nib_block_q4_Kx16 per super-block:
 *   d, dmin, sc[s], m[s] for the 16 rows, then sub-block s's chunk c as 64
 *   bytes, the first group's 32 (as in Q4_Kx8) then the second's.
 * Q8_0 (kernel tables with gemv16[Q8_0], ne1 % 16 == 0): always 16-row
 * units, unit u, block b at struct index u * nb + b, as struct
 * nib_block_q8_0x16 (544 bytes, sixteen Q8_0 blocks' worth):
 *   d[r]          the scale of row r's block;
 *   qs[64c + 4r + i]   (c = 0..7 dwords, i = 0..3) quant 4c + i of row r,
 *                 stored xor 0x80 (q + 128, unsigned for vpdpbusd).
 * So one 64-byte load holds dword c of all 16 rows, row r in lane r:
 * AVX-512's and AMX's transposed layout (q8_0_transpose.h), and decode
 * reads one sequential stream. Group g (8 rows) fills lanes 8(g % 2)..+7
 * of unit g / 2; `pair` does not apply.
 * Q5_K (kernel tables with gemv16[Q5_K], ne1 % 16 == 0): 16-row units,
 * unit u, super-block b at struct index u * nb + b, as struct
 * nib_block_q5_Kx16 (2880 bytes for sixteen 176-byte blocks):
 *   d[r], dmin[r]  row r's scales (fp16, as stored);
 *   sc[s][r]       row r's 6-bit scale of sub-block s, unpacked;
 *   m[p][r][h]     row r's 6-bit min of sub-block 2p + h, unpacked;
 *   qh[c][4r + i]  byte 4c + i of row r's qh (c = 0..7);
 *   qs[j][c][4r + i]  byte 32j + 4c + i of row r's qs (j = 0..3).
 * A 64-byte load again holds dword c of all 16 rows.
 * Q6_K (kernel tables with gemv16[Q6_K], ne1 % 16 == 0): 16-row units,
 * unit u, super-block b at struct index u * nb + b, as struct
 * nib_block_q6_Kx16 (3360 bytes, sixteen 210-byte blocks' worth):
 *   d[r]           row r's scale (fp16, as stored);
 *   sc[k][r][e]    row r's 8-bit scale of sub-block 2k + e;
 *   q[h][c][p][4r + i]  half h (values 128h..128h+127), dword c (c = 0..7),
 *                 byte i of row r, with v_j the 6-bit quant (unsigned, as
 *                 stored) of value 128h + 32j + 4c + i:
 *                 p = 0: v_0 | (v_3 & 3) << 6,
 *                 p = 1: v_1 | (v_3 >> 2 & 3) << 6,
 *                 p = 2: v_2 | (v_3 >> 4) << 6.
 * So three 64-byte loads give the four 32-value chunks' dword c of all 16
 * rows: v_0..v_2 by one mask each, v_3 from the three top bit pairs.
 * Q4_1, Q5_0, Q5_1 (kernel tables with gemv16[type], ne1 % 16 == 0):
 * 16-row units, unit u, block b at struct index u * nb + b, as struct
 * nib_block_q4_1x16 / q5_0x16 / q5_1x16 (the bytes of sixteen blocks):
 *   d[r], m[r]     row r's scale and min (fp16, as stored; Q5_0: no m);
 *   qh[4r + i]     (Q5_0, Q5_1) bit L = the fifth bit of value 4L + i
 *                  (L = 0..7) of row r;
 *   qs[c][4r + i]  byte 4c + i of row r's qs (c = 0..3): value 4c + i in
 *                  the low nibble, 16 + 4c + i in the high one.
 * Lane L of a row's vec_dot (values 4L..4L+3) is then dword c = L % 4's
 * low (L < 4) or high nibbles, with its fifth bits at bit L of qh.
 * The values are those of the source blocks, bit for bit (Q8_0's quants
 * flipped as said).
 */
#ifndef NIB_REPACK_H
#define NIB_REPACK_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

struct nib_block_q4_0x8 {
    uint16_t d[8];
    uint8_t  qs[128];
};

struct nib_block_q4_Kx8 {
    uint16_t d[8], dmin[8];
    uint8_t  sc[8][8], m[8][8];
    uint8_t  qs[1024];
};

struct nib_block_q4_Kx16 {
    uint16_t d[16], dmin[16];
    uint8_t  sc[8][16], m[8][16];
    uint8_t  qs[8][4][2][32]; /* [sub-block][chunk][group][32 bytes] */
};

struct nib_block_q8_0x16 {
    uint16_t d[16];
    uint8_t  qs[512];
};

struct nib_block_q6_Kx16 {
    uint16_t d[16];
    int8_t   sc[8][16][2];
    uint8_t  q[2][8][3][64];
};

struct nib_block_q4_1x16 {
    uint16_t d[16], m[16];
    uint8_t  qs[4][64];
};

struct nib_block_q5_0x16 {
    uint16_t d[16];
    uint8_t  qh[64];
    uint8_t  qs[4][64];
};

struct nib_block_q5_1x16 {
    uint16_t d[16], m[16];
    uint8_t  qh[64];
    uint8_t  qs[4][64];
};

struct nib_block_q5_Kx16 {
    uint16_t d[16], dmin[16];
    uint8_t  sc[8][16];
    uint8_t  m[4][16][2];
    uint8_t  qh[8][64];
    uint8_t  qs[4][8][64];
};

/* Bytes the packed copy of an ne1 x ne0 matrix of `type` takes; 0 when nib
 * has no packed layout for it (type, or ne1 % 8 != 0; the 16-row units:
 * ne1 % 16 != 0). */
size_t nib_repack_size(int type, int64_t ne0, int64_t ne1);

/* Packs rows [8 * g0, 8 * g1) (groups g0..g1-1) of src (row_bytes apart)
 * into dst, which holds the whole packed matrix; pair: the paired layout. */
void nib_repack_groups(int type, const void *src, size_t row_bytes, int64_t ne0, int64_t g0, int64_t g1, int pair,
                       void *dst);

#ifdef __cplusplus
}
#endif
#endif
