/*
 * serve_http.h — nib serve's HTTP layer on libmicrohttpd: one thread per
 * connection (a handler may block while the engine works), routing, the
 * request body gathered up to --max-body (413 past it), the API key checked
 * in constant time (401), OpenAI error JSON for 404 / 405, and every
 * response counted in the metrics. Handlers (serve_handlers.c,
 * serve_complete.c, serve_embed.c) answer through serve_reply*.
 */
#ifndef NIB_SERVE_HTTP_H
#define NIB_SERVE_HTTP_H

#include "serve.h"
#include "serve_buf.h"
#include "serve_request.h"

#include <microhttpd.h>

/* One HTTP request in progress (MHD's per-request pointer). */
struct serve_conn {
    struct serve_app      *app;
    struct MHD_Connection *conn;
    enum serve_endpoint    ep;
    struct serve_buf       body;
    bool                   too_big, answered;
};

/* Queues a response with body (malloc'd, taken; NULL: out of memory -> 500). */
enum MHD_Result serve_reply(struct serve_conn *c, int status, const char *content_type, char *body);
enum MHD_Result serve_reply_error(struct serve_conn *c, const struct serve_error *e);
/* Queues a prepared response (headers added, response released). */
enum MHD_Result serve_reply_response(struct serve_conn *c, int status, struct MHD_Response *r);

/* Starts listening on host:port (0: a free port, written to *bound_port).
 * NULL with an error printed on failure. */
struct MHD_Daemon *serve_http_start(struct serve_app *app, const char *host, int port, int *bound_port);

/* Endpoint handlers (serve_handlers.c, serve_complete.c): c->body holds the
 * whole body, authentication is done. */
enum MHD_Result serve_handle_health(struct serve_conn *c);
enum MHD_Result serve_handle_models(struct serve_conn *c);
enum MHD_Result serve_handle_tokenize(struct serve_conn *c);
enum MHD_Result serve_handle_detokenize(struct serve_conn *c);
enum MHD_Result serve_handle_metrics(struct serve_conn *c);
enum MHD_Result serve_handle_embeddings(struct serve_conn *c);
enum MHD_Result serve_handle_completion(struct serve_conn *c);

/* serve_complete.c: waits for the engine to finish t, watching the socket;
 * false when the client left (the task is then cancelled). */
bool serve_wait_task(struct serve_conn *c, struct serve_task *t);

#endif
