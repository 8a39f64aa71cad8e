/*
 * serve_metrics.h — nib serve's counters and their Prometheus text: requests
 * by endpoint and status (counted by the HTTP layer when a response is
 * queued), plus the engine's token counts, queue depth, active sequences and
 * KV blocks. Thread-safe (one mutex).
 */
#ifndef NIB_SERVE_METRICS_H
#define NIB_SERVE_METRICS_H

#include "serve_engine.h"

#include <pthread.h>
#include <stdint.h>

enum serve_endpoint {
    SERVE_EP_CHAT, SERVE_EP_COMPLETIONS, SERVE_EP_MODELS, SERVE_EP_HEALTH, SERVE_EP_TOKENIZE, SERVE_EP_DETOKENIZE,
    SERVE_EP_METRICS, SERVE_EP_EMBEDDINGS, SERVE_EP_OTHER, SERVE_EP_COUNT
};

#define SERVE_N_STATUS 11

struct serve_metrics {
    pthread_mutex_t mu;
    uint64_t        requests[SERVE_EP_COUNT][SERVE_N_STATUS];
};

void serve_metrics_init(struct serve_metrics *m);
void serve_metrics_free(struct serve_metrics *m);
void serve_metrics_count(struct serve_metrics *m, enum serve_endpoint ep, int status);
/* The exposition text (malloc'd), NULL out of memory. */
char *serve_metrics_render(struct serve_metrics *m, const struct serve_engine_stats *s);

#endif
