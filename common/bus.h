/* SPDX-License-Identifier: MIT */
/* The bus plumbing every service shares: ZeroMQ sockets (czmq) made from
 * endpoint strings, CURVE security from the config, and typed send and
 * receive of protobuf messages inside the envelope (proto/envelope.proto).
 * A receive rejects wrong versions, unknown types, truncated or garbage
 * bytes with a rate-limited log line and a counter; it never crashes.
 * bus_client_t adds request/reply with a timeout and retries (the "lazy
 * pirate" pattern) so a caller never hangs on a dead service. */
#ifndef VR_BUS_H
#define VR_BUS_H

#include <czmq.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "arena.h"
#include "authz.h"
#include "msgtype.h"

/* Largest message a socket accepts; a peer sending more is disconnected
 * by libzmq before we see a byte of it. */
enum { BUS_MAX_MSG_SIZE = 16 * 1024 * 1024 };

/* CURVE settings, as read from each service's "curve" config section.
 * With 'cert' unset (the local default) every socket is plain.  CURVE fails
 * closed: a socket this bus binds is a CURVE server only with 'allowed'
 * set (each client's identity is its certificate's file name there, see
 * authz.h), or with 'allow_any', which admits any key as an anonymous
 * client and is logged as a warning at every start. */
struct bus_curve_cfg {
    char *cert;     /* own certificate (czmq zcert file; the secret key is
                     * read from '<cert>_secret') */
    char *allowed;  /* directory of client public certificates that a
                     * server accepts, named '<role>.key' or
                     * '<role>-<name>.key' */
    char *servers;  /* directory of server public certificates, named as
                     * in 'allowed' (e.g. "broker.key", "agent-h1.key") */
    bool allow_any; /* admit any CURVE key (anonymous: no role) */
};

/* Counters a bus keeps; all are monotonic. */
struct bus_counters {
    uint64_t tx;                /* messages sent */
    uint64_t tx_failed;         /* sends that failed (no peer, full) */
    uint64_t rx;                /* messages received and accepted */
    uint64_t rx_bad_frames;     /* wrong number of frames, wrong topic */
    uint64_t rx_garbage;        /* envelope did not decode */
    uint64_t rx_bad_version;    /* envelope schema version not ours */
    uint64_t rx_unknown_type;   /* type not in the registry */
    uint64_t rx_bad_body;       /* body did not decode as its type */
    uint64_t rx_too_big;        /* body over bus_set_max_decoded() */
    uint64_t req_timeouts;      /* requests that got no reply in time */
    uint64_t req_retries;       /* requests re-sent on a new socket */
    uint64_t req_errors;        /* requests answered with an Error */
    uint64_t rx_forbidden;      /* refused by the authorization table or
                                 * by a service's own check (bus_deny()) */
};

/* Who a request on a ROUTER socket came from (its routing id), so that
 * the reply, perhaps sent later, goes back to it.  'len' 0: none. */
enum { BUS_ROUTE_MAX = 255 };
struct bus_route {
    uint8_t id[BUS_ROUTE_MAX];
    uint8_t len;
};

/* A received message.  'body' is owned by the struct: free it with
 * bus_msg_clear().  A decoded body lives in 'arena' and must not be
 * given to protobuf-c's free; one put there by hand (arena NULL) is
 * freed with protobuf-c's default allocator. */
typedef struct bus_msg {
    int type;                   /* Vr__MsgType */
    char topic[32];             /* pub/sub topic, "" on other sockets */
    char sender[64];            /* envelope's sender id (the peer's claim) */
    struct authz_ident from;    /* who sent it, as CURVE proved it, on a
                                 * socket this bus bound; the local
                                 * identity with CURVE off */
    uint64_t seq;               /* envelope's sequence number */
    uint64_t time_us;           /* envelope's timestamp */
    ProtobufCMessage *body;     /* decoded body, NULL after a failure */
    arena_block_t *arena;       /* private: the memory 'body' lives in */
    int error;                  /* Vr__ErrorCode on failure, else 0 */
    char error_text[200];       /* why it failed */
    struct bus_route route;     /* ROUTER sockets: who sent it */
} bus_msg_t;

typedef struct bus bus_t;

/* Creates a bus for one process.  'sender' (copied) names it in every
 * envelope.  When 'curve' names a cert, loads it, and with
 * 'curve->allowed' (or 'allow_any') set starts czmq's zauth and reads the
 * allowed identities; returns NULL with the reason logged if a key or the
 * allowed directory cannot be read, or if 'allowed' is "*" (use
 * 'allow_any').  The caller owns the result. */
bus_t *bus_new(const char *sender, const struct bus_curve_cfg *curve);

/* Destroys '*self_p' if not NULL, then sets it to NULL.  Sockets made with
 * bus_bind()/bus_connect() are the caller's and must be destroyed first. */
void bus_destroy(bus_t **self_p);

/* True when CURVE is on. */
bool bus_curve_on(const bus_t *self);

/* Returns the sender id given to bus_new(). */
const char *bus_sender(const bus_t *self);

/* Sets the authorization table (see authz.h) checked on every message a
 * socket this bus bound receives; 'rules' ('n_rules' rows) must outlive
 * the bus.  Without a table nothing is checked.  With CURVE off every peer
 * is the local identity, which every table admits. */
void bus_set_authz(bus_t *self, const struct authz_rule *rules,
                   size_t n_rules);

/* Creates a socket of ZeroMQ 'type' (ZMQ_REP, ZMQ_PUB, ZMQ_SUB...) and
 * binds it to 'endpoint' (one or more, comma-separated).  With CURVE on it
 * is a CURVE server, and there must be a way to admit clients ('allowed'
 * or 'allow_any').  Returns NULL with the reason logged on failure.  The
 * caller owns the socket (zsock_destroy()).  zsock_endpoint() gives the
 * last bound endpoint, with the port a "tcp://127.0.0.1:*" got. */
zsock_t *bus_bind(bus_t *self, int type, const char *endpoint);

/* Receive limits of a socket.  libzmq copies a socket's options into
 * its listener when it binds, so they are given to the bind itself. */
struct bus_rx_limits {
    size_t max_msg_size;        /* largest message; 0: BUS_MAX_MSG_SIZE */
    int rcvhwm;                 /* messages queued per peer; 0: default */
};

/* As bus_bind(), with the receive limits 'lim' (NULL: the defaults).  A
 * peer sending a message over 'lim->max_msg_size' is disconnected by
 * libzmq before a byte of it is queued. */
zsock_t *bus_bind_limited(bus_t *self, int type, const char *endpoint,
                          const struct bus_rx_limits *lim);

/* Creates a socket of 'type' and connects it to 'endpoint' (one or more,
 * comma-separated), the server 'server_role' (e.g. "broker", or
 * "agent-h1"): with CURVE on its public key is read from
 * '<servers>/<server_role>.key', or, when that file is missing and the
 * name has a '-', from '<servers>/<role>.key' (the role's shared key).
 * 'endpoint' may begin with "NAME=" to name that key instead (e.g.
 * "agent-h2=tcp://10.0.0.2:7110", where a config lists several servers of
 * one role).  Returns NULL with the reason logged on failure.  The caller
 * owns the socket. */
zsock_t *bus_connect(bus_t *self, int type, const char *endpoint,
                     const char *server_role);

/* Subscribes SUB socket 'sock' to every message type whose topic starts
 * with 'prefix' ("" for all). */
void bus_subscribe(zsock_t *sock, const char *prefix);

/* Sends 'body', which must be the message registered for 'type', inside a
 * new envelope.  On a PUB socket the type's topic goes first.  Returns 0,
 * or -1 (counted; logged, rate-limited) if the message could not be
 * queued.  Never blocks: a full queue is a failure. */
int bus_send(bus_t *self, zsock_t *sock, int type,
             const ProtobufCMessage *body);

/* A fake bus for tests and fuzzing: a service's handler driven without
 * peers.  With one set, bus_send() still checks and encodes a message but
 * hands it to 'send' instead of the socket (which may be NULL), and
 * bus_client_call() returns what 'call' does, filling 'reply' as
 * bus_client_call() would (a body the caller frees with bus_msg_clear(),
 * or an error), at once, without a socket. */
struct bus_fake {
    int (*send)(void *arg, zsock_t *sock, int type,
                const ProtobufCMessage *body);
    int (*call)(void *arg, const char *endpoint, int type,
                const ProtobufCMessage *req, int expect, bus_msg_t *reply);
    void *arg;                  /* given to both */
};

/* Sends and calls on 'self' go to 'fake' (which must outlive the bus)
 * from now on; NULL: to the sockets again. */
void bus_set_fake(bus_t *self, const struct bus_fake *fake);

/* On a ROUTER socket (a server that may answer a request later, while it
 * takes others), bus_send() and bus_send_error() send to the requester
 * set here: the route of the request being answered ('msg->route' from
 * bus_recv()).  Other socket types ignore it. */
void bus_set_route(bus_t *self, const struct bus_route *route);

/* Sends an Error reply with 'code' and a printf-style message. */
int bus_send_error(bus_t *self, zsock_t *sock, int code, int request_type,
                   const char *fmt, ...) __attribute__((format(printf, 5, 6)));

/* Lets each message body received from now on take at most 'size' bytes
 * of heap once decoded (protobuf-c allocates per element: a body of
 * empty repeated entries takes ~30 times its size).  A body that needs
 * more is refused before it is built (ERR_BAD_REQUEST, counted as
 * rx_too_big).  0, the default: no limit but the message size. */
void bus_set_max_decoded(bus_t *self, size_t size);

/* Receives one message from 'sock' (blocking; poll first to avoid it) and
 * decodes it into '*msg'.  On a socket this bus bound, sets 'msg->from' and
 * checks the authorization table: a refusal is ERR_FORBIDDEN.  Returns 0
 * when the message was accepted; -1 when it was rejected (logged,
 * rate-limited, and counted), with 'msg->error' and 'msg->error_text'
 * saying why, or when the receive itself was interrupted ('msg->error' is
 * ERR_INTERNAL).  A REP socket must still be answered after a rejection;
 * bus_send_error() does that. */
int bus_recv(bus_t *self, zsock_t *sock, bus_msg_t *msg);

/* Refuses 'msg' for a reason of the service's own (not the table's):
 * logs 'why' (printf-style; rate-limited, with the caller's identity),
 * counts it as rx_forbidden and, when 'reply' is not NULL, answers on that
 * REP socket with ERR_FORBIDDEN.  Returns what bus_send_error() does, or 0
 * without 'reply'. */
int bus_deny(bus_t *self, zsock_t *reply, const bus_msg_t *msg,
             const char *fmt, ...) __attribute__((format(printf, 4, 5)));

/* Decodes one envelope of 'size' bytes at 'data' into '*msg', checking
 * version, type and body.  Returns 0 or -1 as bus_recv() does (counted,
 * not logged).  Exposed for tests and fuzzing. */
int bus_decode(bus_t *self, const uint8_t *data, size_t size,
               bus_msg_t *msg);

/* Encodes 'body' of 'type' in a new envelope (next sequence number, now as
 * the timestamp).  Returns 0 with a malloc'd buffer in '*data_p' (the
 * caller frees it) and its size in '*size_p', or -1 (logged) if 'body' is
 * not the message registered for 'type'. */
int bus_encode(bus_t *self, int type, const ProtobufCMessage *body,
               uint8_t **data_p, size_t *size_p);

/* Takes the body out of 'msg' as a message of its own, to be freed with
 * protobuf_c_message_free_unpacked(body, NULL) (a decoded body lives in
 * the message's arena, so it is copied).  'msg' is left without a body.
 * NULL if it had none or memory is short. */
ProtobufCMessage *bus_msg_take_body(bus_msg_t *msg);

/* Frees 'msg->body' and resets '*msg'. */
void bus_msg_clear(bus_msg_t *msg);

/* Returns the bus's counters (borrowed, valid while the bus lives). */
const struct bus_counters *bus_counters(const bus_t *self);

/* Appends the bus counters to a StatusReply under "bus_" names.  The
 * appended Counters are owned by 'reply' and freed by
 * bus_status_reply_free(). */
void bus_counters_to_status(const bus_t *self, Vr__StatusReply *reply);

/* Frees the counters and info arrays of a StatusReply that was built with
 * heap-allocated repeated fields (not the reply itself). */
void bus_status_reply_free(Vr__StatusReply *reply);

/* Appends a counter (name copied) to 'reply'. */
void bus_status_add_counter(Vr__StatusReply *reply, const char *name,
                            uint64_t value, bool gauge);

/* Appends an info key/value (both copied) to 'reply'. */
void bus_status_add_info(Vr__StatusReply *reply, const char *key,
                         const char *value);

/* A request/reply client with timeouts and retries. */
typedef struct bus_client bus_client_t;

/* Creates a client for the server of 'server_role' at 'endpoint'; each
 * request waits 'timeout_ms' for a reply and is tried 'tries' times in all
 * (on a new socket each time).  Connecting is lazy, so this succeeds even
 * when the server is down.  The caller owns the result. */
bus_client_t *bus_client_new(bus_t *bus, const char *endpoint,
                             const char *server_role, int timeout_ms,
                             int tries);

/* Destroys '*self_p' if not NULL, then sets it to NULL. */
void bus_client_destroy(bus_client_t **self_p);

/* Returns the endpoint the client talks to (borrowed). */
const char *bus_client_endpoint(const bus_client_t *self);

/* After a request that got no reply, fail every request for 'pause_ms'
 * at once (ERR_UNAVAILABLE, without sending) instead of waiting out the
 * timeout again: a service calling a hung peer from its loop then stalls
 * once per pause, not once per call.  0 (the default): never pause. */
void bus_client_set_pause(bus_client_t *self, int pause_ms);

/* Sends 'req' of 'type' and waits for a reply of type 'expect'.  Returns 0
 * with the reply in '*reply' (free with bus_msg_clear()).  Returns -1 with
 * 'reply->error' and 'reply->error_text' set when the server answered with
 * an Error (its code and message), when no reply came after every try
 * (ERR_TIMEOUT), or when the reply was malformed or of another type. */
int bus_client_call(bus_client_t *self, int type, const ProtobufCMessage *req,
                    int expect, bus_msg_t *reply);

#endif /* VR_BUS_H */
