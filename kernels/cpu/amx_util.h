/*
 * amx_util.h — Intel AMX tile configuration for the amx variant's kernels
 * (q8_0_gemm_amx.c, packed_amx.c), built with -mamx-tile -mamx-int8 and
 * AVX-512. Their layout: tiles 0-2 (A, B, C) for even blocks, 3-5 for odd;
 * A = m token rows x 32 activation bytes (one Q8_0 block), B = 8 rows of 16
 * dwords (16 weight rows x 4 consecutive weights: K = 32), C = m x 16 int32.
 */
#ifndef NIB_AMX_UTIL_H
#define NIB_AMX_UTIL_H

#include <immintrin.h>
#include <stdint.h>
#include <string.h>

/* Calls with fewer token rows go to the avx512 kernels (a tile of m rows
 * costs about what one of 16 does), and rows of more blocks too (the
 * kernels keep per-block scratch on the stack: 448 blocks, ~320 KiB, covers
 * rows of up to 14336 weights). */
#define NIB_AMX_MIN_TOKENS 16
#define NIB_AMX_MAX_BLOCKS 448

/* LDTILECFG's 64-byte operand (palette 1). */
struct nib_amx_config {
    uint8_t  palette, start_row, reserved[14];
    uint16_t colsb[16];
    uint8_t  rows[16];
};

static inline void nib_amx_configure(int m) {
    struct nib_amx_config c;
    memset(&c, 0, sizeof c);
    c.palette = 1;
    for (int h = 0; h < 2; h++) {
        c.rows[3 * h + 0] = (uint8_t)m, c.colsb[3 * h + 0] = 32;
        c.rows[3 * h + 1] = 8, c.colsb[3 * h + 1] = 64;
        c.rows[3 * h + 2] = (uint8_t)m, c.colsb[3 * h + 2] = 64;
    }
    /* GCC's _tile_loadconfig tells the compiler it reads 8 bytes: without
     * this barrier the stores to colsb and rows were dropped as dead. */
    __asm__ volatile("" : : "r"(&c) : "memory");
    _tile_loadconfig(&c);
}

#endif
