#include "ppl_logits_file.h"

#include "ppl_math.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define MAGIC "_logits_"
#define MAX_VOCAB (1 << 24)

int ppl_base_create(struct ppl_base_file *b, const char *path, int32_t n_ctx, int32_t n_vocab, int32_t n_chunk,
                    const int32_t *tokens, char *msg, size_t msg_cap) {
    memset(b, 0, sizeof(*b));
    b->f = fopen(path, "wb");
    if (!b->f) {
        snprintf(msg, msg_cap, "%s: cannot write: %s", path, strerror(errno));
        return 1;
    }
    struct stat st;
    b->path = path;
    b->regular = fstat(fileno(b->f), &st) == 0 && S_ISREG(st.st_mode);
    b->n_ctx = n_ctx, b->n_vocab = n_vocab, b->n_chunk = n_chunk;
    const int32_t hdr[3] = { n_ctx, n_vocab, n_chunk };
    size_t nt = (size_t)n_chunk * (size_t)n_ctx;
    if (fwrite(MAGIC, 1, 8, b->f) != 8 || fwrite(hdr, sizeof(int32_t), 3, b->f) != 3 ||
        fwrite(tokens, sizeof(int32_t), nt, b->f) != nt) {
        snprintf(msg, msg_cap, "%s: write failed: %s", path, strerror(errno));
        ppl_base_discard(b);
        return 1;
    }
    return 0;
}

void ppl_base_discard(struct ppl_base_file *b) {
    if (b->f) fclose(b->f);
    if (b->regular) remove(b->path); /* never a device or a pipe */
    free(b->tokens);
    memset(b, 0, sizeof(*b));
}

/* Size the header promises, or 0 when it does not fit in 63 bits. */
static uint64_t expected_size(int32_t n_ctx, int32_t n_vocab, int32_t n_chunk) {
    uint64_t tok, rows, row_bytes, data, total;
    if (__builtin_mul_overflow((uint64_t)n_chunk, (uint64_t)n_ctx * 4, &tok)) return 0;
    if (__builtin_mul_overflow((uint64_t)n_chunk, (uint64_t)ppl_rows_per_chunk(n_ctx), &rows)) return 0;
    row_bytes = PPL_PACKED_WORDS(n_vocab) * 2;
    if (__builtin_mul_overflow(rows, row_bytes, &data)) return 0;
    if (__builtin_add_overflow(tok, data, &total) || __builtin_add_overflow(total, (uint64_t)20, &total)) return 0;
    return total >> 62 ? 0 : total;
}

static int fail_open(struct ppl_base_file *b, int rc) {
    if (b->f) fclose(b->f);
    free(b->tokens);
    memset(b, 0, sizeof(*b));
    return rc;
}

int ppl_base_open(struct ppl_base_file *b, const char *path, char *msg, size_t msg_cap) {
    memset(b, 0, sizeof(*b));
    b->f = fopen(path, "rb");
    b->path = path;
    if (!b->f) {
        snprintf(msg, msg_cap, "%s: cannot open: %s", path, strerror(errno));
        return 1;
    }
    struct stat st;
    char magic[8];
    int32_t hdr[3];
    if (fstat(fileno(b->f), &st) != 0 || fread(magic, 1, 8, b->f) != 8 || memcmp(magic, MAGIC, 8) != 0 ||
        fread(hdr, sizeof(int32_t), 3, b->f) != 3) {
        snprintf(msg, msg_cap, "%s: not a KL-divergence base file (no '_logits_' header)", path);
        return fail_open(b, 1);
    }
    b->n_ctx = hdr[0], b->n_vocab = hdr[1], b->n_chunk = hdr[2];
    if (b->n_ctx < 3 || b->n_vocab < 1 || b->n_vocab > MAX_VOCAB || b->n_chunk < 1) {
        snprintf(msg, msg_cap, "%s: bad header: n_ctx %d, n_vocab %d, n_chunk %d", path, b->n_ctx, b->n_vocab, b->n_chunk);
        return fail_open(b, 1);
    }
    uint64_t want = expected_size(b->n_ctx, b->n_vocab, b->n_chunk);
    if (want == 0 || (uint64_t)st.st_size != want) {
        snprintf(msg, msg_cap, "%s: size %lld bytes, but its header (n_ctx %d, n_vocab %d, n_chunk %d) implies %llu", path,
                 (long long)st.st_size, b->n_ctx, b->n_vocab, b->n_chunk, (unsigned long long)want);
        return fail_open(b, 1);
    }
    size_t nt = (size_t)b->n_chunk * (size_t)b->n_ctx;
    b->tokens = malloc(nt * sizeof(int32_t));
    if (!b->tokens) {
        snprintf(msg, msg_cap, "%s: out of memory for %zu tokens", path, nt);
        return fail_open(b, 1);
    }
    if (fread(b->tokens, sizeof(int32_t), nt, b->f) != nt) {
        snprintf(msg, msg_cap, "%s: read failed", path);
        return fail_open(b, 1);
    }
    for (size_t i = 0; i < nt; i++) {
        if (b->tokens[i] < 0 || b->tokens[i] >= b->n_vocab) {
            snprintf(msg, msg_cap, "%s: token %zu is %d, outside the vocabulary of %d", path, i, b->tokens[i], b->n_vocab);
            return fail_open(b, 1);
        }
    }
    return 0;
}

int ppl_base_write_row(struct ppl_base_file *b, const uint16_t *row, char *msg, size_t msg_cap) {
    size_t n = PPL_PACKED_WORDS(b->n_vocab);
    if (fwrite(row, sizeof(uint16_t), n, b->f) != n) {
        snprintf(msg, msg_cap, "%s: write failed: %s", b->path, strerror(errno));
        return 1;
    }
    return 0;
}

int ppl_base_read_row(struct ppl_base_file *b, uint16_t *row, char *msg, size_t msg_cap) {
    size_t n = PPL_PACKED_WORDS(b->n_vocab);
    if (fread(row, sizeof(uint16_t), n, b->f) != n) {
        snprintf(msg, msg_cap, "%s: read failed (file changed while reading?)", b->path);
        return 1;
    }
    return 0;
}

int ppl_base_close(struct ppl_base_file *b, char *msg, size_t msg_cap) {
    int rc = 0;
    if (b->f && fclose(b->f) != 0) {
        snprintf(msg, msg_cap, "%s: write failed: %s", b->path, strerror(errno));
        if (b->regular) remove(b->path);
        rc = 1;
    }
    free(b->tokens);
    memset(b, 0, sizeof(*b));
    return rc;
}
