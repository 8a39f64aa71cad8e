/*
 * cuda_layout.cu — weight matrices into the GPU layout (cuda_backend.h,
 * nib_cuda_split_bytes in cuda_common.cuh): Q4_0, Q8_0 and Q6_K blocks split
 * into all quant parts, then all fp16 scales; the other types copied as
 * GGUF. A split type goes up a chunk of rows at a time (at most 8 MiB, so
 * the temporary device buffer stays small next to a full GPU) and a kernel
 * scatters the chunk's blocks into place.
 */
#include "cuda_common.cuh"

#define CHUNK_BYTES ((size_t)8 << 20)

/* Block i of src (GGUF, raw bytes each, d at d_off, quants at q_off) to
 * dst_q + i * qb and dst_d[i]: one thread per block. */
__global__ void split_blocks(const uint8_t *src, uint8_t *dst_q, uint16_t *dst_d, int64_t n, int raw, int qb, int q_off,
                             int d_off) {
    const int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= n) return;
    const uint8_t *b = src + i * raw;
    for (int k = 0; k < qb; k++) dst_q[i * qb + k] = b[q_off + k];
    dst_d[i] = (uint16_t)(b[d_off] | (b[d_off + 1] << 8));
}

static bool whole_blocks(int type, int64_t rows, int64_t cols) {
    const nib_dev_type ti = nib_cuda_type_info(type);
    return ti.block > 0 && rows > 0 && cols > 0 && cols % ti.block == 0 && rows <= INT64_MAX / cols;
}

extern "C" size_t nib_cuda_weight_bytes(int type, int64_t rows, int64_t cols) {
    if (!whole_blocks(type, rows, cols)) return 0;
    const nib_dev_type ti = nib_cuda_type_info(type);
    return (size_t)rows * (size_t)(cols / ti.block) * (size_t)ti.bytes; /* split or not, the same bytes */
}

extern "C" int nib_cuda_weight_upload(int type, int64_t rows, int64_t cols, const void *host, void *dev, struct nib_error *err) {
    if (!whole_blocks(type, rows, cols))
        return nib_cuda_fail(err, nib_cuda_type_info(type).block ? NIB_E_ARG : NIB_E_UNSUPPORTED,
                             "CUDA weight upload: %lld x %lld is not a matrix of whole %s blocks", (long long)rows,
                             (long long)cols, nib_type_name(type));
    const int qb = nib_cuda_split_bytes(type);
    const size_t total = nib_cuda_weight_bytes(type, rows, cols);
    if (qb == 0) return nib_cuda_upload(dev, host, total, err);
    const nib_dev_type ti = nib_cuda_type_info(type);
    const int64_t nb = cols / ti.block, n_blocks = rows * nb;
    const size_t row_bytes = (size_t)nb * (size_t)ti.bytes;
    const int64_t chunk_rows = CHUNK_BYTES / row_bytes > 0 ? (int64_t)(CHUNK_BYTES / row_bytes) : 1;
    const int64_t first = chunk_rows < rows ? chunk_rows : rows;
    uint8_t *tmp = static_cast<uint8_t *>(nib_cuda_malloc((size_t)first * row_bytes, err));
    if (!tmp) return err ? err->status : NIB_E_NOMEM;
    /* Q4_0, Q8_0: d first, quants after; Q6_K: quants first, d last */
    const int q_off = type == NIB_TYPE_Q6_K ? 0 : 2, d_off = type == NIB_TYPE_Q6_K ? qb : 0;
    uint8_t *dq = static_cast<uint8_t *>(dev);
    uint16_t *dd = reinterpret_cast<uint16_t *>(dq + n_blocks * qb);
    int rc = NIB_OK;
    for (int64_t r0 = 0; r0 < rows && rc == NIB_OK; r0 += chunk_rows) {
        const int64_t nr = rows - r0 < chunk_rows ? rows - r0 : chunk_rows, n = nr * nb;
        /* cudaMemcpy waits for the previous chunk's kernel before overwriting tmp */
        rc = nib_cuda_upload(tmp, static_cast<const uint8_t *>(host) + (size_t)r0 * row_bytes, (size_t)nr * row_bytes, err);
        if (rc) break;
        split_blocks<<<(unsigned)((n + 255) / 256), 256>>>(tmp, dq + r0 * nb * qb, dd + r0 * nb, n, ti.bytes, qb, q_off, d_off);
        rc = nib_cuda_launched("weight repack", err);
    }
    const int rs = nib_cuda_sync(rc ? nullptr : err);
    nib_cuda_free(tmp);
    return rc ? rc : rs;
}
