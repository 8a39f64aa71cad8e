/*
 * gpu.h — a context's CUDA offload (-ngl N, nib_context_params.n_gpu_layers):
 * the first N layers run on the GPU (weights uploaded once at context
 * creation, K/V of those layers in device pools mirroring the CPU cache's
 * slots), the rest on the CPU; with every layer on the GPU the final norm and
 * the output matrix run there too, and only token rows in and logits out
 * cross the bus. Dense llama / qwen2 / qwen3 (biases, q/k norms, GQA, NEOX
 * or normal RoPE with freq factors), F16 KV. MoE layers, a Q8_0 KV cache and
 * YaRN are refused with a clear error (run them with -ngl 0).
 *
 * Per batch: the embedded rows, positions and slot arrays go up. A prompt
 * batch runs each GPU layer as RMSNorm, cuBLAS GEMMs for q/k/v, RoPE + the
 * K/V store into the rows' slots, attention of every row over its
 * sequence's causal prefix (one launch), wo, add + RMSNorm, the SwiGLU FFN
 * and the residual add. One-token steps and row-exact batches run each row
 * as a lone decode: q/k/v in one matvec launch with the norm folded in, wo
 * added into the residual, gate and up with the norm and SwiGLU folded in,
 * down added into the residual; a one-token step is captured once as a CUDA
 * graph and replayed (NIB_CUDA_GRAPH=0: plain launches). Without NIB_CUDA
 * every entry point fails with NIB_E_UNSUPPORTED ("built without CUDA").
 */
#ifndef NIB_GPU_H
#define NIB_GPU_H

#include "nib.h"

#include <stdbool.h>
#include <stdint.h>

struct nib_context;
struct nib_model;
struct nib_gpu;

/* Device bytes for n_gpu_layers layers of m with n_ctx KV slots and
 * batches of n_batch: weights, KV pools, activations and scratch. */
uint64_t nib_gpu_bytes(const struct nib_model *m, int32_t n_gpu_layers, int32_t n_ctx, int32_t n_batch);

/* Uploads layers [0, min(n_gpu_layers, n_layer)) of c's model (and the
 * output head when all of them) and allocates the device state. */
int  nib_gpu_new(struct nib_context *c, int32_t n_gpu_layers, struct nib_gpu **out, struct nib_error *err);
void nib_gpu_free(struct nib_gpu *g);
/* Layers on the device. */
int32_t nib_gpu_layers(const struct nib_gpu *g);

/* Runs the GPU layers over the n embedded rows in c->x (the batch's tokens
 * already placed in the KV bookkeeping). *head_done: the logits of the
 * wanted rows are in c->logits; otherwise c->x holds the rows after the GPU
 * layers, for the CPU to go on from layer nib_gpu_layers(). */
int  nib_gpu_forward(struct nib_context *c, int32_t n, bool *head_done, struct nib_error *err);

#endif
