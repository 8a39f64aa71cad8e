/*
 * convert_parts.c — the safetensors files of a Hugging Face directory, as
 * ModelBase.index_tensors finds them: the files of
 * model.safetensors.index.json's weight_map when it exists (and then every
 * tensor the index names must be in its file, and every tensor of the files
 * in the index), else every model*.safetensors; in file-name order.
 */
#include "convert.h"

#include <cjson/cJSON.h>

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

struct names {
    char  **v;
    int64_t n, cap;
};

static int names_add(struct names *s, const char *name, struct nib_error *err) {
    for (int64_t i = 0; i < s->n; i++)
        if (!strcmp(s->v[i], name)) return NIB_OK;
    if (s->n == s->cap) {
        int64_t cap = s->cap ? 2 * s->cap : 8;
        char **nv = realloc(s->v, sizeof(*nv) * (size_t)cap);
        if (!nv) return cli_set_error(err, NIB_E_NOMEM, "out of memory");
        s->v = nv;
        s->cap = cap;
    }
    if (!(s->v[s->n] = strdup(name))) return cli_set_error(err, NIB_E_NOMEM, "out of memory");
    s->n++;
    return NIB_OK;
}

static void names_free(struct names *s) {
    for (int64_t i = 0; i < s->n; i++) free(s->v[i]);
    free(s->v);
}

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

static int read_index(const char *path, cJSON **index, struct names *parts, struct nib_error *err) {
    char *buf;
    size_t len;
    int rc = cv_slurp(path, &buf, &len, err);
    if (rc) return rc;
    *index = cJSON_ParseWithLength(buf, len);
    free(buf);
    const cJSON *wm = cJSON_GetObjectItemCaseSensitive(*index, "weight_map"), *e;
    if (!cJSON_IsObject(wm)) return cli_set_error(err, NIB_E_FORMAT, "%s: no \"weight_map\" object", path);
    cJSON_ArrayForEach(e, wm) {
        if (!cJSON_IsString(e) || strchr(e->valuestring, '/') || !strcmp(e->valuestring, "..") || !e->valuestring[0])
            return cli_set_error(err, NIB_E_FORMAT, "%s: weight_map entry '%s' is not a file name", path, e->string);
        if ((rc = names_add(parts, e->valuestring, err))) return rc;
    }
    return NIB_OK;
}

static int scan_dir(const char *dir, struct names *parts, struct nib_error *err) {
    DIR *d = opendir(dir);
    if (!d) return cli_set_error(err, NIB_E_IO, "cannot read directory %s", dir);
    struct dirent *de;
    int rc = NIB_OK;
    while (!rc && (de = readdir(d))) {
        size_t l = strlen(de->d_name);
        if (!strncmp(de->d_name, "model", 5) && l >= 12 && !strcmp(de->d_name + l - 12, ".safetensors"))
            rc = names_add(parts, de->d_name, err);
    }
    closedir(d);
    return rc;
}

/* The index and the parts must name the same tensors, each in its file. */
static int check_index(const cJSON *index, const char *path, const struct cv_plan *p, struct nib_error *err) {
    const cJSON *e;
    int64_t n_index = 0, n_parts = 0;
    cJSON_ArrayForEach(e, cJSON_GetObjectItemCaseSensitive(index, "weight_map")) {
        n_index++;
        const struct st_file *f = NULL;
        for (int64_t i = 0; i < p->n_files && !f; i++) {
            const char *base = strrchr(p->files[i].path, '/');
            if (!strcmp(base ? base + 1 : p->files[i].path, e->valuestring)) f = &p->files[i];
        }
        if (!f || !st_find(f, e->string))
            return cli_set_error(err, NIB_E_FORMAT, "%s: tensor '%s' is not in %s (missing or incomplete model file)", path,
                            e->string, e->valuestring);
    }
    for (int64_t i = 0; i < p->n_files; i++) n_parts += p->files[i].n_tensors;
    if (n_parts != n_index)
        return cli_set_error(err, NIB_E_FORMAT, "%s names %lld tensors but its files hold %lld", path, (long long)n_index,
                        (long long)n_parts);
    return NIB_OK;
}

int cv_open_parts(const char *dir, struct cv_plan *p, struct nib_error *err) {
    char path[4096];
    snprintf(path, sizeof(path), "%s/model.safetensors.index.json", dir);
    struct stat st;
    struct names parts = { 0 };
    cJSON *index = NULL;
    bool has_index = stat(path, &st) == 0;
    int rc = has_index ? read_index(path, &index, &parts, err) : scan_dir(dir, &parts, err);
    if (!rc && parts.n == 0) rc = cli_set_error(err, NIB_E_NOT_FOUND, "%s: no model*.safetensors files", dir);
    if (!rc) {
        qsort(parts.v, (size_t)parts.n, sizeof(*parts.v), cmp_str);
        if (!(p->files = calloc((size_t)parts.n, sizeof(*p->files)))) rc = cli_set_error(err, NIB_E_NOMEM, "out of memory");
    }
    for (int64_t i = 0; i < parts.n && !rc; i++) {
        char fp[4096];
        snprintf(fp, sizeof(fp), "%s/%s", dir, parts.v[i]);
        rc = st_open(fp, &p->files[i], err);
        if (!rc) p->n_files++;
    }
    if (!rc && has_index) rc = check_index(index, path, p, err);
    cJSON_Delete(index);
    names_free(&parts);
    return rc;
}
