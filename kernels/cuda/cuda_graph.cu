/*
 * cuda_graph.cu — a launch sequence captured once and replayed (see
 * cuda_backend.h). nib's .cu files are built with nvcc's per-thread default
 * stream, so the kernels a thread launches go to cudaStreamPerThread, which
 * (unlike the legacy default stream) can be captured.
 */
#include "cuda_common.cuh"

struct nib_cuda_graph {
    cudaGraph_t     graph;
    cudaGraphExec_t exec;
};

extern "C" int nib_cuda_graph_begin(struct nib_error *err) {
    return nib_cuda_check(cudaStreamBeginCapture(cudaStreamPerThread, cudaStreamCaptureModeThreadLocal), "graph capture", err);
}

extern "C" int nib_cuda_graph_end(bool keep, struct nib_cuda_graph **out, struct nib_error *err) {
    *out = NULL;
    cudaGraph_t graph = NULL;
    int rc = nib_cuda_check(cudaStreamEndCapture(cudaStreamPerThread, &graph), "graph capture", err);
    if (rc || !keep) {
        if (graph) cudaGraphDestroy(graph);
        cudaGetLastError();
        return rc;
    }
    struct nib_cuda_graph *g = static_cast<struct nib_cuda_graph *>(calloc(1, sizeof(*g)));
    if (!g) {
        cudaGraphDestroy(graph);
        return nib_cuda_fail(err, NIB_E_NOMEM, "out of memory");
    }
    g->graph = graph;
    rc = nib_cuda_check(cudaGraphInstantiate(&g->exec, graph, 0), "graph instantiate", err);
    if (rc) {
        nib_cuda_graph_free(g);
        return rc;
    }
    *out = g;
    return NIB_OK;
}

extern "C" int nib_cuda_graph_launch(struct nib_cuda_graph *g, struct nib_error *err) {
    return nib_cuda_check(cudaGraphLaunch(g->exec, cudaStreamPerThread), "graph launch", err);
}

extern "C" void nib_cuda_graph_free(struct nib_cuda_graph *g) {
    if (!g) return;
    if (g->exec) cudaGraphExecDestroy(g->exec);
    if (g->graph) cudaGraphDestroy(g->graph);
    free(g);
}
