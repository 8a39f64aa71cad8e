/*
 * cuda_device.cu — device discovery, memory and copies, the copy bandwidth
 * (see cuda_backend.h).
 */
#include "cuda_common.cuh"

#include <cstdlib>
#include <cstring>

#define MIN_MAJOR 7
#define MIN_MINOR 5

bool nib_cuda_pdl(void) {
    static int on = -1; /* one device per process */
    if (on < 0) {
        int dev = 0, major = 0;
        const char *env = getenv("NIB_CUDA_PDL");
        on = cudaGetDevice(&dev) == cudaSuccess && cudaDeviceGetAttribute(&major, cudaDevAttrComputeCapabilityMajor, dev) == cudaSuccess &&
             major >= 9 && !(env && !strcmp(env, "0"));
        cudaGetLastError();
    }
    return on == 1;
}

extern "C" int nib_cuda_device_count(void) {
    int n = 0;
    if (cudaGetDeviceCount(&n) != cudaSuccess) {
        cudaGetLastError(); /* no driver / no device: clear the sticky error */
        return 0;
    }
    return n;
}

extern "C" int nib_cuda_device_get(int dev, struct nib_cuda_device *out, struct nib_error *err) {
    const int n = nib_cuda_device_count();
    if (dev < 0 || dev >= n)
        return nib_cuda_fail(err, NIB_E_ARG, "CUDA device %d does not exist (%d device%s found)", dev, n, n == 1 ? "" : "s");
    cudaDeviceProp p;
    int rc = nib_cuda_check(cudaGetDeviceProperties(&p, dev), "device query", err);
    if (rc) return rc;
    snprintf(out->name, sizeof out->name, "%s", p.name);
    out->major = p.major;
    out->minor = p.minor;
    out->sm_count = p.multiProcessorCount;
    out->total_mem = p.totalGlobalMem;
    out->free_mem = 0;
    int cur = 0;
    cudaGetDevice(&cur);
    if (cudaSetDevice(dev) == cudaSuccess) {
        size_t fr = 0, tot = 0;
        if (cudaMemGetInfo(&fr, &tot) == cudaSuccess) out->free_mem = fr;
        cudaSetDevice(cur);
    }
    cudaGetLastError();
    if (p.major < MIN_MAJOR || (p.major == MIN_MAJOR && p.minor < MIN_MINOR))
        return nib_cuda_fail(err, NIB_E_UNSUPPORTED,
                             "CUDA device %d (%s) has compute capability %d.%d; nib needs %d.%d or newer (T4 and later); "
                             "run on the CPU instead", dev, p.name, p.major, p.minor, MIN_MAJOR, MIN_MINOR);
    return NIB_OK;
}

extern "C" int nib_cuda_use_device(int dev, struct nib_error *err) {
    struct nib_cuda_device d;
    int rc = nib_cuda_device_get(dev, &d, err);
    if (rc) return rc;
    return nib_cuda_check(cudaSetDevice(dev), "set device", err);
}

extern "C" void *nib_cuda_malloc(size_t bytes, struct nib_error *err) {
    void *p = NULL;
    if (bytes == 0) bytes = 1;
    cudaError_t e = cudaMalloc(&p, bytes);
    if (e == cudaSuccess) return p;
    cudaGetLastError();
    size_t fr = 0, tot = 0;
    cudaMemGetInfo(&fr, &tot);
    cudaGetLastError();
    if (e == cudaErrorMemoryAllocation)
        nib_cuda_fail(err, NIB_E_NOMEM,
                      "out of device memory: %.1f MiB asked, %.1f MiB free of %.1f MiB; try fewer GPU layers (-ngl) "
                      "or a smaller context (-c)", bytes / 1048576.0, fr / 1048576.0, tot / 1048576.0);
    else
        nib_cuda_check(e, "malloc", err);
    return NULL;
}

extern "C" void nib_cuda_free(void *p) {
    if (p) cudaFree(p);
}

extern "C" int nib_cuda_upload(void *dst, const void *src, size_t bytes, struct nib_error *err) {
    return nib_cuda_check(cudaMemcpy(dst, src, bytes, cudaMemcpyHostToDevice), "upload", err);
}

extern "C" int nib_cuda_download(void *dst, const void *src, size_t bytes, struct nib_error *err) {
    return nib_cuda_check(cudaMemcpy(dst, src, bytes, cudaMemcpyDeviceToHost), "download", err);
}

extern "C" int nib_cuda_zero(void *dst, size_t bytes, struct nib_error *err) {
    return nib_cuda_check(cudaMemset(dst, 0, bytes), "zero", err);
}

extern "C" int nib_cuda_sync(struct nib_error *err) {
    return nib_cuda_check(cudaDeviceSynchronize(), "kernel", err);
}

extern "C" int nib_cuda_copy_bandwidth(size_t bytes, double *gbps, struct nib_error *err) {
    void *a = nib_cuda_malloc(bytes, err);
    if (!a) return err ? err->status : NIB_E_NOMEM;
    void *b = nib_cuda_malloc(bytes, err);
    if (!b) {
        nib_cuda_free(a);
        return err ? err->status : NIB_E_NOMEM;
    }
    cudaEvent_t t0, t1;
    cudaEventCreate(&t0);
    cudaEventCreate(&t1);
    int rc = nib_cuda_check(cudaMemcpy(b, a, bytes, cudaMemcpyDeviceToDevice), "copy", err); /* warm-up */
    float best = 0;
    for (int run = 0; !rc && run < 5; run++) {
        cudaEventRecord(t0);
        cudaMemcpyAsync(b, a, bytes, cudaMemcpyDeviceToDevice);
        cudaEventRecord(t1);
        rc = nib_cuda_check(cudaEventSynchronize(t1), "copy", err);
        float ms = 0;
        cudaEventElapsedTime(&ms, t0, t1);
        if (!rc && (best == 0 || ms < best)) best = ms;
    }
    cudaEventDestroy(t0);
    cudaEventDestroy(t1);
    nib_cuda_free(a);
    nib_cuda_free(b);
    if (!rc) *gbps = best > 0 ? 2.0 * (double)bytes / (best * 1e-3) / 1e9 : 0;
    return rc;
}

extern "C" bool nib_cuda_supports_type(int type) { return nib_cuda_type_info(type).block > 0; }
