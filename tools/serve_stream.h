/*
 * serve_stream.h — a streamed completion as Server-Sent Events: a
 * libmicrohttpd callback response whose reader waits (on the connection's
 * own thread) for the engine's next text and frames it as `data: {...}\n\n`
 * chunks, then the finish chunk, the usage chunk when asked, and
 * `data: [DONE]\n\n`. A comment line goes out after a second of silence so a
 * client that left is noticed while its request waits; when the connection
 * ends for any reason before the task is done, the task is cancelled and the
 * engine frees its sequence.
 */
#ifndef NIB_SERVE_STREAM_H
#define NIB_SERVE_STREAM_H

#include "serve_http.h"
#include "serve_json.h"
#include "serve_task.h"

/* Queues the stream response for t (submitted; the stream takes over the
 * caller's reference). */
enum MHD_Result serve_stream_start(struct serve_conn *c, struct serve_task *t, const struct serve_resp_meta *m);

#endif
