/* SPDX-License-Identifier: MIT */
/* The Prometheus endpoint every service can serve: a small HTTP server
 * (libmicrohttpd, without a thread of its own) that answers GET /metrics
 * with a StatusReply rendered in the text exposition format.  common/svc.c
 * owns one, polls its file descriptor in the service's zloop and fills the
 * reply with the same code that answers StatusRequest, so a scrape and
 * `vnetctl status` show the same figures. */
#ifndef VR_METRICS_H
#define VR_METRICS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "msgtype.h"

/* Path that serves the metrics; any other path is answered 404. */
#define METRICS_PATH "/metrics"

/* Content-Type of the text exposition format, version 0.0.4. */
#define METRICS_CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"

typedef struct metrics metrics_t;

/* Fills 'reply' (initialised, empty) for one scrape; the counters and info
 * added with bus_status_add_counter() / bus_status_add_info() are freed by
 * the caller with bus_status_reply_free(); the string fields are borrowed
 * until the function is called again. */
typedef void metrics_status_fn(Vr__StatusReply *reply, void *arg);

/* Checks a listen address "HOST:PORT" ("127.0.0.1:9120", "[::1]:9120",
 * "0.0.0.0:0"; HOST may be a name that resolves locally).  Returns true if
 * it is usable, else false with the reason in 'err' ('err_size' bytes). */
bool metrics_listen_check(const char *listen, char *err, size_t err_size);

/* Starts serving on 'listen' (see metrics_listen_check(); port 0 takes a
 * free one), calling 'fn' with 'arg' for each scrape.  Nothing happens
 * until the caller polls metrics_fd() and calls metrics_run().  Returns
 * NULL with the reason logged if the address is bad or cannot be bound.
 * The caller owns the result. */
metrics_t *metrics_new(const char *listen, metrics_status_fn *fn, void *arg);

/* Stops serving, closes every connection and frees '*self_p'; sets it to
 * NULL.  Accepts NULL. */
void metrics_destroy(metrics_t **self_p);

/* The file descriptor (an epoll set) that becomes readable when the
 * server has work: call metrics_run() then. */
int metrics_fd(const metrics_t *self);

/* Accepts, reads and answers whatever is ready, without blocking.  Any
 * scrape calls the status function from here, on the caller's thread. */
void metrics_run(metrics_t *self);

/* Serves 'fd', a connected stream socket (a socketpair's end, say), as
 * if it had been accepted from a peer on loopback: tests and the fuzz
 * harness feed requests this way without a TCP connection.  'fd' is
 * taken, closed by the server when done or at once if refused.  Returns
 * 0, or -1 if refused (connection limit, out of memory). */
int metrics_adopt(metrics_t *self, int fd);

/* Milliseconds within which metrics_run() must be called again even if
 * the fd stays quiet (pending data, connection timeouts), or -1 for no
 * such limit. */
long metrics_timeout_ms(metrics_t *self);

/* The bound address as "HOST:PORT", with the actual port (borrowed). */
const char *metrics_address(const metrics_t *self);

/* The bound port. */
uint16_t metrics_port(const metrics_t *self);

/* Appends the endpoint's own counters (metrics_requests, metrics_errors)
 * to 'reply'. */
void metrics_to_status(const metrics_t *self, Vr__StatusReply *reply);

/* Renders 'reply' in the text exposition format: vreserve_info (labels:
 * service, id, version, state and every info entry) = 1,
 * vreserve_uptime_seconds, vreserve_start_time_seconds, and one family
 * vreserve_<name> per counter, typed counter or gauge by its gauge flag,
 * every sample labelled service and id.  Names and label names are made
 * legal, label values escaped; a family name met twice keeps its first
 * value.  Returns a malloc'd NUL-terminated text (length in '*len_p' if
 * not NULL) that the caller frees, or NULL when out of memory. */
char *metrics_render(const Vr__StatusReply *reply, size_t *len_p);

#endif /* VR_METRICS_H */
