#include "inspect_json.h"

#include "cli.h"

#include <cjson/cJSON.h>
#include <stdlib.h>
#include <string.h>

static cJSON *scalar_json(const struct nib_gguf_value *v) {
    switch (v->type) {
    case NIB_GGUF_UINT8: case NIB_GGUF_UINT16: case NIB_GGUF_UINT32: case NIB_GGUF_UINT64:
        return cJSON_CreateNumber((double)v->v.u64);
    case NIB_GGUF_INT8: case NIB_GGUF_INT16: case NIB_GGUF_INT32: case NIB_GGUF_INT64:
        return cJSON_CreateNumber((double)v->v.i64);
    case NIB_GGUF_FLOAT32: case NIB_GGUF_FLOAT64: return cJSON_CreateNumber(v->v.f64);
    case NIB_GGUF_BOOL: return cJSON_CreateBool(v->v.b);
    case NIB_GGUF_STRING: return cJSON_CreateString(v->v.str.ptr);
    default: return cJSON_CreateNull();
    }
}

static cJSON *value_json(const struct nib_gguf_value *v, int items);

static cJSON *array_elem_json(const struct nib_gguf_value *v, uint64_t i, int items) {
    const struct nib_gguf_value *e = nib_gguf_array_get_value(v, i);
    if (e) return value_json(e, items);
    double d;
    int64_t x;
    if (v->v.arr.type == NIB_GGUF_BOOL) return nib_gguf_array_get_i64(v, i, &x) ? cJSON_CreateNull() : cJSON_CreateBool(x != 0);
    if (nib_gguf_array_get_f64(v, i, &d) == NIB_OK) return cJSON_CreateNumber(d);
    return cJSON_CreateNull();
}

static cJSON *value_json(const struct nib_gguf_value *v, int items) {
    if (v->type != NIB_GGUF_ARRAY) return scalar_json(v);
    uint64_t n = v->v.arr.n;
    cJSON *list = cJSON_CreateArray();
    for (uint64_t i = 0; i < n && i < (uint64_t)items; i++) cJSON_AddItemToArray(list, array_elem_json(v, i, items));
    if (n <= (uint64_t)items) return list;
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "elem_type", nib_gguf_type_name(v->v.arr.type));
    cJSON_AddNumberToObject(o, "length", (double)n);
    cJSON_AddItemToObject(o, "first", list);
    return o;
}

static cJSON *metadata_json(const struct nib_gguf *g, int items) {
    cJSON *md = cJSON_CreateObject();
    for (int64_t i = 0; i < nib_gguf_n_kv(g); i++) {
        const struct nib_gguf_value *v = nib_gguf_kv_value(g, i);
        cJSON *e = cJSON_CreateObject();
        cJSON_AddStringToObject(e, "type", nib_gguf_type_name(v->type));
        cJSON_AddItemToObject(e, "value", value_json(v, items));
        cJSON_AddItemToObject(md, nib_gguf_kv_key(g, i), e);
    }
    return md;
}

static cJSON *tensors_json(const struct nib_gguf *g, cJSON *totals) {
    cJSON *list = cJSON_CreateArray();
    double params = 0, bytes = 0;
    for (int64_t i = 0; i < nib_gguf_n_tensors(g); i++) {
        const struct nib_gguf_tensor *t = nib_gguf_get_tensor(g, i);
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "name", t->name);
        cJSON_AddStringToObject(o, "type", nib_type_name(t->type));
        cJSON *shape = cJSON_CreateArray();
        for (uint32_t d = 0; d < t->n_dims; d++) cJSON_AddItemToArray(shape, cJSON_CreateNumber((double)t->ne[d]));
        cJSON_AddItemToObject(o, "shape", shape);
        cJSON_AddNumberToObject(o, "elements", (double)t->n_elements);
        cJSON_AddNumberToObject(o, "bytes", (double)t->n_bytes);
        cJSON_AddNumberToObject(o, "offset", (double)t->offset);
        cJSON_AddItemToArray(list, o);
        params += (double)t->n_elements;
        bytes += (double)t->n_bytes;
    }
    cJSON_AddNumberToObject(totals, "tensors", (double)nib_gguf_n_tensors(g));
    cJSON_AddNumberToObject(totals, "parameters", params);
    cJSON_AddNumberToObject(totals, "bytes", bytes);
    cJSON_AddNumberToObject(totals, "bits_per_weight", params > 0 ? 8.0 * bytes / params : 0.0);
    return list;
}

int inspect_json(const char *path, const struct nib_gguf *g, int items) {
    cJSON *root = cJSON_CreateObject();
    cJSON_AddStringToObject(root, "file", path);
    cJSON_AddNumberToObject(root, "file_size", (double)nib_gguf_file_size(g));
    cJSON_AddNumberToObject(root, "version", nib_gguf_version(g));
    cJSON_AddNumberToObject(root, "alignment", (double)nib_gguf_alignment(g));
    cJSON_AddNumberToObject(root, "data_offset", (double)nib_gguf_data_offset(g));
    const char *arch = NULL;
    if (nib_gguf_get_str(g, "general.architecture", &arch, NULL) == NIB_OK) cJSON_AddStringToObject(root, "architecture", arch);
    cJSON_AddItemToObject(root, "metadata", metadata_json(g, items));
    cJSON *tok = inspect_tokenizer_json(g);
    if (tok) cJSON_AddItemToObject(root, "tokenizer", tok);
    cJSON *exps = inspect_experts_json(g);
    if (exps) cJSON_AddItemToObject(root, "experts", exps);
    cJSON *totals = cJSON_CreateObject();
    cJSON_AddItemToObject(root, "tensors", tensors_json(g, totals));
    cJSON_AddItemToObject(root, "totals", totals);
    char *s = cJSON_Print(root);
    cJSON_Delete(root);
    if (!s) return cli_fail("out of memory formatting JSON");
    puts(s);
    free(s);
    return ferror(stdout) ? cli_fail("writing to stdout failed") : 0;
}
