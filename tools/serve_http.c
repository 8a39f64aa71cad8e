/*
 * serve_http.c — libmicrohttpd glue for nib serve: daemon start, routing,
 * body accumulation with the size cap, API key check, replies (see
 * serve_http.h).
 */
#include "serve_http.h"

#include "cli.h"
#include "serve_json.h"

#include <netdb.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

struct route {
    const char         *path, *method;
    enum serve_endpoint ep;
    bool                open; /* no API key needed */
    enum MHD_Result (*handle)(struct serve_conn *c);
};

static const struct route routes[] = {
    { "/v1/chat/completions", "POST", SERVE_EP_CHAT, false, serve_handle_completion },
    { "/v1/completions", "POST", SERVE_EP_COMPLETIONS, false, serve_handle_completion },
    { "/v1/models", "GET", SERVE_EP_MODELS, false, serve_handle_models },
    { "/health", "GET", SERVE_EP_HEALTH, true, serve_handle_health },
    { "/tokenize", "POST", SERVE_EP_TOKENIZE, false, serve_handle_tokenize },
    { "/detokenize", "POST", SERVE_EP_DETOKENIZE, false, serve_handle_detokenize },
    { "/metrics", "GET", SERVE_EP_METRICS, false, serve_handle_metrics },
    { "/v1/embeddings", "POST", SERVE_EP_EMBEDDINGS, false, serve_handle_embeddings },
};
#define N_ROUTES (sizeof(routes) / sizeof(routes[0]))

static const struct route *find_route(const char *url) {
    for (size_t i = 0; i < N_ROUTES; i++)
        if (!strcmp(url, routes[i].path)) return &routes[i];
    return NULL;
}

enum MHD_Result serve_reply_response(struct serve_conn *c, int status, struct MHD_Response *r) {
    if (!r) return MHD_NO;
    MHD_add_response_header(r, "Server", "nib");
    const enum MHD_Result q = MHD_queue_response(c->conn, (unsigned)status, r);
    MHD_destroy_response(r);
    c->answered = true;
    serve_metrics_count(&c->app->metrics, c->ep, status);
    return q;
}

enum MHD_Result serve_reply(struct serve_conn *c, int status, const char *content_type, char *body) {
    if (!body) {
        static const char oom[] = "{\"error\":{\"message\":\"out of memory\",\"type\":\"server_error\",\"param\":null,\"code\":null}}";
        status = 500;
        content_type = "application/json";
        body = malloc(sizeof oom);
        if (!body) return MHD_NO;
        memcpy(body, oom, sizeof oom);
    }
    struct MHD_Response *r = MHD_create_response_from_buffer(strlen(body), body, MHD_RESPMEM_MUST_FREE);
    if (!r) {
        free(body);
        return MHD_NO;
    }
    MHD_add_response_header(r, "Content-Type", content_type);
    return serve_reply_response(c, status, r);
}

enum MHD_Result serve_reply_error(struct serve_conn *c, const struct serve_error *e) {
    return serve_reply(c, e->status, "application/json", serve_json_error(e));
}

/* Constant-time in the key's bytes: the work does not depend on where they differ. */
static bool key_ok(const char *want, const char *got) {
    if (!got) return false;
    const size_t lw = strlen(want), lg = strlen(got);
    unsigned diff = (unsigned)(lw != lg);
    for (size_t i = 0; i < lg; i++) diff |= (unsigned char)got[i] ^ (unsigned char)want[lw ? i % lw : 0];
    return diff == 0 && lw > 0;
}

static bool authorized(struct serve_conn *c) {
    const char *h = MHD_lookup_connection_value(c->conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_AUTHORIZATION);
    if (!h || strncmp(h, "Bearer ", 7)) return false;
    return key_ok(c->app->api_key, h + 7);
}

static enum MHD_Result finish_request(struct serve_conn *c, const char *url, const char *method) {
    struct serve_error e = { 0 };
    const struct route *r = find_route(url);
    if (c->too_big) {
        serve_error_set(&e, 413, "invalid_request_error", NULL, "the request body is larger than %zu bytes (--max-body)",
                        c->app->max_body);
        return serve_reply_error(c, &e);
    }
    if (!r) {
        serve_error_set(&e, 404, "invalid_request_error", NULL, "unknown route: %s %.200s", method, url);
        return serve_reply_error(c, &e);
    }
    if (strcmp(method, r->method)) {
        serve_error_set(&e, 405, "invalid_request_error", NULL, "%.200s takes %s, not %s", url, r->method, method);
        char *body = serve_json_error(&e);
        struct MHD_Response *resp = body ? MHD_create_response_from_buffer(strlen(body), body, MHD_RESPMEM_MUST_FREE) : NULL;
        if (!resp) {
            free(body);
            return MHD_NO;
        }
        MHD_add_response_header(resp, "Content-Type", "application/json");
        MHD_add_response_header(resp, "Allow", r->method);
        return serve_reply_response(c, 405, resp);
    }
    if (c->app->api_key && !r->open && !authorized(c)) {
        serve_error_set(&e, 401, "invalid_request_error", NULL, "invalid or missing API key (send 'Authorization: Bearer KEY')");
        e.code = "invalid_api_key";
        return serve_reply_error(c, &e);
    }
    return r->handle(c);
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url, const char *method,
                                  const char *version, const char *upload_data, size_t *upload_data_size, void **con_cls) {
    (void)version;
    struct serve_app *app = cls;
    struct serve_conn *c = *con_cls;
    if (!c) {
        c = calloc(1, sizeof(*c));
        if (!c) return MHD_NO;
        c->app = app;
        c->conn = conn;
        const struct route *r = find_route(url);
        c->ep = r ? r->ep : SERVE_EP_OTHER;
        *con_cls = c;
        const char *cl = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
        if (cl && strtoull(cl, NULL, 10) > app->max_body) { /* refuse before reading it */
            c->too_big = true;
            return finish_request(c, url, method);
        }
        return MHD_YES;
    }
    if (*upload_data_size) {
        if (!c->too_big && !c->answered) {
            if (c->body.n + *upload_data_size > app->max_body) {
                c->too_big = true;
                serve_buf_free(&c->body);
            } else if (!serve_buf_append(&c->body, upload_data, *upload_data_size)) {
                return MHD_NO;
            }
        }
        *upload_data_size = 0;
        return MHD_YES;
    }
    if (c->answered) return MHD_YES;
    return finish_request(c, url, method);
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls, enum MHD_RequestTerminationCode toe) {
    (void)cls, (void)conn, (void)toe;
    struct serve_conn *c = *con_cls;
    if (!c) return;
    serve_buf_free(&c->body);
    free(c);
    *con_cls = NULL;
}

struct MHD_Daemon *serve_http_start(struct serve_app *app, const char *host, int port, int *bound_port) {
    struct addrinfo hints = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM, .ai_flags = AI_PASSIVE | AI_NUMERICSERV };
    struct addrinfo *ai = NULL;
    char ps[16];
    snprintf(ps, sizeof ps, "%d", port);
    const int g = getaddrinfo(host, ps, &hints, &ai);
    if (g) return cli_fail("serve: --host '%s': %s", host, gai_strerror(g)), NULL;
    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_THREAD_PER_CONNECTION | MHD_USE_POLL | MHD_USE_ITC |
                     MHD_USE_ERROR_LOG;
    if (ai->ai_family == AF_INET6) flags |= MHD_USE_IPv6;
    struct MHD_Daemon *d = MHD_start_daemon(flags, (uint16_t)port, NULL, NULL, on_request, app, MHD_OPTION_SOCK_ADDR,
                                            ai->ai_addr, MHD_OPTION_NOTIFY_COMPLETED, on_completed, app,
                                            MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)60, MHD_OPTION_CONNECTION_LIMIT,
                                            (unsigned)256, MHD_OPTION_LISTENING_ADDRESS_REUSE, (unsigned)1, MHD_OPTION_END);
    freeaddrinfo(ai);
    if (!d) return cli_fail("serve: cannot listen on %s:%d (in use, or not an address of this machine?)", host, port), NULL;
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(d, MHD_DAEMON_INFO_LISTEN_FD);
    struct sockaddr_storage sa;
    socklen_t len = sizeof sa;
    *bound_port = port;
    if (info && getsockname(info->listen_fd, (struct sockaddr *)&sa, &len) == 0)
        *bound_port = sa.ss_family == AF_INET6 ? ntohs(((struct sockaddr_in6 *)&sa)->sin6_port)
                                               : ntohs(((struct sockaddr_in *)&sa)->sin_port);
    return d;
}
