/*
 * inspect_checksum.c — `nib inspect MODEL --checksum [--json]`: a CRC32
 * (zlib's, the one `crc32` and gzip use) of every tensor's bytes and of the
 * whole tensor data section (data offset to end of file, padding included),
 * so two files can be compared tensor by tensor and a copy checked against
 * its source.
 */
#include "cli.h"
#include "inspect_json.h"

#include <cjson/cJSON.h>
#include <inttypes.h>
#include <stdlib.h>
#include <zlib.h>

/* zlib's crc32_z takes size_t lengths; fed in 1 GiB pieces to stay portable. */
static uint32_t crc_of(const void *data, uint64_t n) {
    const uint8_t *p = data;
    uLong crc = crc32_z(0, NULL, 0);
    while (n > 0) {
        size_t k = n > ((uint64_t)1 << 30) ? (size_t)1 << 30 : (size_t)n;
        crc = crc32_z(crc, p, k);
        p += k;
        n -= k;
    }
    return (uint32_t)crc;
}

int inspect_checksum(const char *path, const struct nib_gguf *g, bool json) {
    const uint8_t *file = nib_gguf_file_data(g);
    uint64_t off = nib_gguf_data_offset(g), size = nib_gguf_file_size(g);
    uint64_t data_bytes = size > off ? size - off : 0;
    uint32_t data_crc = crc_of(file + off, data_bytes);
    if (!json) {
        printf("file: %s\ncrc32 (zlib) of each tensor's bytes\n", path);
        for (int64_t i = 0; i < nib_gguf_n_tensors(g); i++) {
            const struct nib_gguf_tensor *t = nib_gguf_get_tensor(g, i);
            printf("  %08" PRIx32 "  %-7s %12" PRIu64 "  %s\n", crc_of(t->data, t->n_bytes), nib_type_name(t->type),
                   t->n_bytes, t->name);
        }
        printf("data section: %08" PRIx32 " (%" PRIu64 " bytes from offset %" PRIu64 ")\n", data_crc, data_bytes, off);
        return ferror(stdout) ? cli_fail("writing to stdout failed") : 0;
    }
    cJSON *root = cJSON_CreateObject();
    cJSON_AddStringToObject(root, "file", path);
    cJSON *tensors = cJSON_AddArrayToObject(root, "tensors");
    char hex[16];
    for (int64_t i = 0; tensors && i < nib_gguf_n_tensors(g); i++) {
        const struct nib_gguf_tensor *t = nib_gguf_get_tensor(g, i);
        cJSON *o = cJSON_CreateObject();
        snprintf(hex, sizeof hex, "%08" PRIx32, crc_of(t->data, t->n_bytes));
        cJSON_AddStringToObject(o, "name", t->name);
        cJSON_AddStringToObject(o, "type", nib_type_name(t->type));
        cJSON_AddNumberToObject(o, "bytes", (double)t->n_bytes);
        cJSON_AddStringToObject(o, "crc32", hex);
        cJSON_AddItemToArray(tensors, o);
    }
    cJSON *ds = cJSON_AddObjectToObject(root, "data_section");
    snprintf(hex, sizeof hex, "%08" PRIx32, data_crc);
    cJSON_AddNumberToObject(ds, "offset", (double)off);
    cJSON_AddNumberToObject(ds, "bytes", (double)data_bytes);
    cJSON_AddStringToObject(ds, "crc32", hex);
    char *text = cJSON_Print(root);
    cJSON_Delete(root);
    if (!text) return cli_fail("inspect: out of memory");
    puts(text);
    free(text);
    return ferror(stdout) ? cli_fail("writing to stdout failed") : 0;
}
