#include "gguf_variant.h"

#include <cstring>

nib_gguf_value gv_str(const char *s) {
    nib_gguf_value v{};
    v.type = NIB_GGUF_STRING;
    v.v.str.ptr = s;
    v.v.str.len = std::strlen(s);
    return v;
}

nib_gguf_value gv_f32(double x) {
    nib_gguf_value v{};
    v.type = NIB_GGUF_FLOAT32;
    v.v.f64 = x;
    return v;
}

nib_gguf_value gv_u32(uint64_t x) {
    nib_gguf_value v{};
    v.type = NIB_GGUF_UINT32;
    v.v.u64 = x;
    return v;
}

namespace {

struct Planned {
    std::string name;
    int type;
    std::vector<int64_t> ne;
    const void *data; /* NULL: zeros */
    std::vector<float> f32;
    uint64_t bytes;
};

const TensorEdit *find_edit(const std::vector<TensorEdit> &edits, const char *name) {
    for (const auto &e : edits)
        if (e.name == name) return &e;
    return nullptr;
}

std::vector<Planned> plan(const nib_gguf *g, const std::vector<TensorEdit> &edits) {
    std::vector<Planned> out;
    for (int64_t i = 0; i < nib_gguf_n_tensors(g); i++) {
        const nib_gguf_tensor *t = nib_gguf_get_tensor(g, i);
        const TensorEdit *e = find_edit(edits, t->name);
        if (e && e->drop) continue;
        Planned p{ t->name, (int)t->type, std::vector<int64_t>(t->ne, t->ne + t->n_dims), t->data, {}, t->n_bytes };
        if (e && (e->type >= 0 || !e->shape.empty())) {
            if (e->type >= 0) p.type = e->type;
            if (!e->shape.empty()) p.ne = e->shape;
            p.data = nullptr;
        }
        out.push_back(p);
    }
    for (const auto &e : edits)
        if (!e.add_f32.empty() && nib_gguf_find_tensor(g, e.name.c_str()) < 0)
            out.push_back({ e.name, NIB_TYPE_F32, { (int64_t)e.add_f32.size() }, nullptr, e.add_f32, 0 });
    return out;
}

} // namespace

std::string write_gguf_variant(const std::string &src, const std::string &dst, const std::vector<GgufEdit> &kv,
                               const std::vector<TensorEdit> &tensors) {
    nib_gguf *g = nullptr;
    nib_gguf_writer *w = nullptr;
    nib_error err = {};
    if (nib_gguf_open(src.c_str(), nullptr, &g, &err) ||
        nib_gguf_writer_open(dst.c_str(), (uint32_t)nib_gguf_alignment(g), &w, &err)) {
        nib_gguf_free(g);
        return err.msg;
    }
    int rc = 0;
    for (int64_t i = 0; !rc && i < nib_gguf_n_kv(g); i++) {
        const char *k = nib_gguf_kv_key(g, i);
        bool replaced = !std::strcmp(k, "general.alignment");
        for (const auto &e : kv) replaced |= e.key == k;
        if (!replaced) rc = nib_gguf_writer_set_kv(w, k, nib_gguf_kv_value(g, i), &err);
    }
    for (size_t i = 0; !rc && i < kv.size(); i++) rc = nib_gguf_writer_set_kv(w, kv[i].key.c_str(), &kv[i].value, &err);
    std::vector<Planned> ts = plan(g, tensors);
    for (auto &t : ts) {
        if (!rc) rc = nib_gguf_writer_add_tensor(w, t.name.c_str(), (nib_type)t.type, (uint32_t)t.ne.size(), t.ne.data(), &err);
        int64_t n = 1;
        for (int64_t d : t.ne) n *= d;
        t.bytes = nib_type_row_bytes(t.type, t.ne[0]) * (uint64_t)(n / t.ne[0]);
    }
    if (!rc) rc = nib_gguf_writer_write_header(w, &err);
    for (const auto &t : ts) {
        if (rc) break;
        if (!t.f32.empty()) rc = nib_gguf_writer_write_data(w, t.f32.data(), t.f32.size() * sizeof(float), &err);
        else if (t.data) rc = nib_gguf_writer_write_data(w, t.data, (size_t)t.bytes, &err);
        else {
            std::vector<uint8_t> zeros((size_t)t.bytes, 0);
            rc = nib_gguf_writer_write_data(w, zeros.data(), zeros.size(), &err);
        }
    }
    if (!rc) rc = nib_gguf_writer_close(w, &err);
    nib_gguf_writer_free(w);
    nib_gguf_free(g);
    return rc ? err.msg : "";
}
