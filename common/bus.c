/* SPDX-License-Identifier: MIT */
/* Socket setup, CURVE, envelope encoding and checked decoding, and the
 * lazy-pirate request client.  Wire format: a request or reply is one
 * frame, the packed Vr__Envelope; a published message is two frames, the
 * topic (msgtype_topic()) and then the envelope. */
#include "bus.h"

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "pbcheck.h"
#include "vtime.h"

LOG_MODULE("bus");

/* Queue depths: a publisher drops beyond this rather than grow without
 * bound when a subscriber stalls. */
enum { S_HWM = 10000 };

struct bus {
    char *sender;                   /* id written in every envelope */
    uint64_t seq;                   /* last sequence number used */
    zcert_t *cert;                  /* own CURVE cert, NULL when off */
    char *servers_dir;              /* server public certs, by role */
    zactor_t *auth;                 /* zauth, when we check clients */
    authz_keys_t *keys;             /* identities of curve.allowed */
    const struct authz_rule *rules; /* authorization table, or NULL */
    size_t n_rules;                 /* rows in 'rules' */
    struct bus_counters counters;   /* see bus.h */
    size_t max_decoded;             /* heap a body may take; 0: any */
    struct bus_route route;         /* replies on ROUTER sockets go here */
    const struct bus_fake *fake;    /* tests: sends and calls go here */
};

struct bus_client {
    bus_t *bus;                     /* not owned */
    char *endpoint;                 /* server endpoint */
    char *role;                     /* server role, for its CURVE key */
    int timeout_ms;                 /* per try */
    int tries;                      /* tries per request, at least 1 */
    zsock_t *sock;                  /* REQ socket, NULL until needed */
    int pause_ms;                   /* after a timeout: fail fast this long */
    uint64_t retry_us;              /* no try before this (monotonic) */
};

static bool s_zsys_ready;

/* czmq installs SIGINT/SIGTERM handlers at its first use unless told not
 * to; services take signals through a signalfd instead (common/svc.c) and
 * the CLI keeps the default, so turn czmq's off before anything starts. */
static void
s_zsys_init(void)
{
    if (!s_zsys_ready) {
        setenv("ZSYS_SIGHANDLER", "false", 1);
        zsys_init();
        zsys_set_logstream(stderr);
        s_zsys_ready = true;
    }
}

static bool
s_secret_is_set(zcert_t *cert)
{
    const char *s = zcert_secret_txt(cert);
    return s && strspn(s, "0") != strlen(s);
}

bus_t *
bus_new(const char *sender, const struct bus_curve_cfg *curve)
{
    s_zsys_init();
    bus_t *self = calloc(1, sizeof *self);
    if (!self) {
        return NULL;
    }
    self->sender = strdup(sender ? sender : "?");
    if (!self->sender) {
        goto error;
    }
    if (!curve || !curve->cert || !*curve->cert) {
        return self;
    }

    self->cert = zcert_load(curve->cert);
    if (!self->cert) {
        VLOG_ERR("curve: cannot load certificate '%s'", curve->cert);
        goto error;
    }
    if (!s_secret_is_set(self->cert)) {
        VLOG_ERR("curve: certificate '%s' has no secret key (expected in "
                "'%s_secret')", curve->cert, curve->cert);
        goto error;
    }
    if (curve->servers && *curve->servers) {
        self->servers_dir = strdup(curve->servers);
    }
    bool allowed = curve->allowed && *curve->allowed;
    if (allowed && !strcmp(curve->allowed, "*")) {
        VLOG_ERR("curve.allowed: '*' does not admit any key; set "
                 "curve.allow_any: true for that");
        goto error;
    }
    if (allowed && !curve->allow_any) {
        self->keys = authz_keys_new(curve->allowed);
        if (!self->keys) {
            goto error;
        }
        if (!authz_keys_count(self->keys)) {
            VLOG_WARN("curve.allowed: no certificate in '%s': every client "
                      "will be refused", curve->allowed);
        }
    }
    if (allowed || curve->allow_any) {
        self->auth = zactor_new(zauth, NULL);
        if (!self->auth) {
            VLOG_ERR("curve: cannot start zauth");
            goto error;
        }
        /* VERBOSE makes zauth log each client it allows or denies, with
         * its key; log_init() sends czmq's lines to stderr. */
        zstr_sendx(self->auth, "VERBOSE", NULL);
        zsock_wait(self->auth);
        zstr_sendx(self->auth, "CURVE",
                   curve->allow_any ? CURVE_ALLOW_ANY : curve->allowed, NULL);
        zsock_wait(self->auth);
    }
    if (curve->allow_any) {
        /* zauth then passes no key on, so every client is anonymous and
         * may send only what a table opens to AUTHZ_ANY. */
        VLOG_WARN("curve.allow_any is on: any CURVE key is admitted, as an "
                  "anonymous client%s", allowed ? " (curve.allowed is not "
                  "used)" : "");
    }
    VLOG_INFO("curve on: key %s, clients %s (%zu identities)",
             zcert_public_txt(self->cert),
             curve->allow_any ? "any" : allowed ? curve->allowed
                                                : "none (client only)",
             self->keys ? authz_keys_count(self->keys) : (size_t) 0);
    return self;

error:
    bus_destroy(&self);
    return NULL;
}

void
bus_destroy(bus_t **self_p)
{
    if (!self_p || !*self_p) {
        return;
    }
    bus_t *self = *self_p;
    zactor_destroy(&self->auth);
    authz_keys_destroy(&self->keys);
    zcert_destroy(&self->cert);
    free(self->servers_dir);
    free(self->sender);
    free(self);
    *self_p = NULL;
}

bool
bus_curve_on(const bus_t *self)
{
    return self->cert != NULL;
}

const char *
bus_sender(const bus_t *self)
{
    return self->sender;
}

void
bus_set_authz(bus_t *self, const struct authz_rule *rules, size_t n_rules)
{
    self->rules = rules;
    self->n_rules = rules ? n_rules : 0;
}

static zsock_t *
s_socket_new(int type, const struct bus_rx_limits *lim)
{
    zsock_t *sock = zsock_new(type);
    if (!sock) {
        return NULL;
    }
    size_t max = lim && lim->max_msg_size && lim->max_msg_size
                 < BUS_MAX_MSG_SIZE ? lim->max_msg_size : BUS_MAX_MSG_SIZE;
    zsock_set_maxmsgsize(sock, (int) max);
    zsock_set_sndhwm(sock, S_HWM);
    zsock_set_rcvhwm(sock, lim && lim->rcvhwm > 0 ? lim->rcvhwm : S_HWM);
    /* A service exits promptly even with undelivered messages queued. */
    zsock_set_linger(sock, 100);
    return sock;
}

zsock_t *
bus_bind(bus_t *self, int type, const char *endpoint)
{
    return bus_bind_limited(self, type, endpoint, NULL);
}

zsock_t *
bus_bind_limited(bus_t *self, int type, const char *endpoint,
                 const struct bus_rx_limits *lim)
{
    zsock_t *sock = s_socket_new(type, lim);
    if (!sock) {
        VLOG_ERR("cannot create %s socket: %s", zsys_sockname(type),
                zmq_strerror(zmq_errno()));
        return NULL;
    }
    if (self->cert) {
        if (!self->auth) {
            /* Fail closed: a CURVE server with no ZAP handler would take
             * every key. */
            VLOG_ERR("curve: cannot bind '%s': curve.allowed is not set "
                     "(or curve.allow_any: true to admit any key)",
                     endpoint ? endpoint : "(none)");
            zsock_destroy(&sock);
            return NULL;
        }
        zcert_apply(self->cert, sock);
        zsock_set_curve_server(sock, 1);
        zsock_set_zap_domain(sock, "vreserve");
    }
    if (!endpoint || zsock_attach(sock, endpoint, true) != 0) {
        VLOG_ERR("cannot bind %s socket to '%s': %s", zsys_sockname(type),
                endpoint ? endpoint : "(none)", zmq_strerror(zmq_errno()));
        zsock_destroy(&sock);
        return NULL;
    }
    return sock;
}

zsock_t *
bus_connect(bus_t *self, int type, const char *endpoint,
            const char *server_role)
{
    /* "NAME=ENDPOINT" names the server's key file; a ZeroMQ endpoint has
     * no '=' before its "://". */
    char named[AUTHZ_ROLE_SIZE + AUTHZ_NAME_SIZE];
    const char *eq = endpoint ? strchr(endpoint, '=') : NULL;
    if (eq && (size_t) (eq - endpoint) < sizeof named
        && strcspn(endpoint, ":/") > (size_t) (eq - endpoint)) {
        memcpy(named, endpoint, (size_t) (eq - endpoint));
        named[eq - endpoint] = '\0';
        server_role = named;
        endpoint = eq + 1;
    }
    zsock_t *sock = s_socket_new(type, NULL);
    if (!sock) {
        VLOG_ERR("cannot create %s socket: %s", zsys_sockname(type),
                zmq_strerror(zmq_errno()));
        return NULL;
    }
    if (self->cert) {
        if (!self->servers_dir || !server_role) {
            VLOG_ERR("curve: no server key for role '%s' (curve.servers is "
                    "not set)", server_role ? server_role : "?");
            goto error;
        }
        char *path = zsys_sprintf("%s/%s.key", self->servers_dir,
                                  server_role);
        const char *dash = strchr(server_role, '-');
        if (path && dash && !zsys_file_exists(path)) {
            /* No key of that one server: its role's shared key. */
            zstr_free(&path);
            path = zsys_sprintf("%s/%.*s.key", self->servers_dir,
                                (int) (dash - server_role), server_role);
        }
        zcert_t *server = path ? zcert_load(path) : NULL;
        if (!server) {
            VLOG_ERR("curve: cannot load server key '%s'", path ? path : "?");
            zstr_free(&path);
            goto error;
        }
        zstr_free(&path);
        zcert_apply(self->cert, sock);
        zsock_set_curve_serverkey(sock, zcert_public_txt(server));
        zcert_destroy(&server);
    }
    if (!endpoint || zsock_attach(sock, endpoint, false) != 0) {
        VLOG_ERR("cannot connect %s socket to '%s': %s", zsys_sockname(type),
                endpoint ? endpoint : "(none)", zmq_strerror(zmq_errno()));
        goto error;
    }
    return sock;

error:
    zsock_destroy(&sock);
    return NULL;
}

void
bus_subscribe(zsock_t *sock, const char *prefix)
{
    zsock_set_subscribe(sock, prefix ? prefix : "");
}

/* FNV-1a; 0 is mapped to 1 so that the field is always on the wire (proto3
 * leaves zeros out). */
static uint32_t
s_body_check(const uint8_t *data, size_t size)
{
    uint32_t h = 2166136261u;
    for (size_t i = 0; i < size; i++) {
        h = (h ^ data[i]) * 16777619u;
    }
    return h ? h : 1;
}

int
bus_encode(bus_t *self, int type, const ProtobufCMessage *body,
           uint8_t **data_p, size_t *size_p)
{
    if (!body || !msgtype_matches(type, body->descriptor)) {
        VLOG_ERR("encode: body '%s' is not the message of type %s",
                body ? body->descriptor->name : "(null)",
                msgtype_name(type));
        return -1;
    }
    size_t body_size = protobuf_c_message_get_packed_size(body);
    uint8_t *body_buf = malloc(body_size ? body_size : 1);
    if (!body_buf) {
        return -1;
    }
    protobuf_c_message_pack(body, body_buf);

    Vr__Envelope env = VR__ENVELOPE__INIT;
    env.version = VR__SCHEMA_VERSION__SCHEMA_VERSION_CURRENT;
    env.type = (Vr__MsgType) type;
    env.sender = self->sender;
    env.seq = ++self->seq;
    env.time_us = vtime_now_us();
    env.body.data = body_buf;
    env.body.len = body_size;
    env.body_check = s_body_check(body_buf, body_size);

    size_t size = vr__envelope__get_packed_size(&env);
    uint8_t *data = malloc(size ? size : 1);
    if (!data) {
        free(body_buf);
        return -1;
    }
    vr__envelope__pack(&env, data);
    free(body_buf);
    *data_p = data;
    *size_p = size;
    return 0;
}

int
bus_send(bus_t *self, zsock_t *sock, int type, const ProtobufCMessage *body)
{
    uint8_t *data;
    size_t size;
    bool pub = sock && zsock_type(sock) == ZMQ_PUB;
    const char *topic = msgtype_topic(type);
    if (pub && !topic) {
        VLOG_ERR("send: %s is not a published type", msgtype_name(type));
        self->counters.tx_failed++;
        return -1;
    }
    if (bus_encode(self, type, body, &data, &size) != 0) {
        self->counters.tx_failed++;
        return -1;
    }
    if (self->fake) {
        free(data);
        int rc = self->fake->send(self->fake->arg, sock, type, body);
        if (rc != 0) {
            self->counters.tx_failed++;
            return -1;
        }
        self->counters.tx++;
        return 0;
    }
    void *handle = zsock_resolve(sock);
    int rc = 0;
    if (zsock_type(sock) == ZMQ_ROUTER
        && (self->route.len == 0
            || zmq_send(handle, self->route.id, self->route.len,
                        ZMQ_SNDMORE | ZMQ_DONTWAIT) < 0
            || zmq_send(handle, "", 0, ZMQ_SNDMORE | ZMQ_DONTWAIT) < 0)) {
        rc = -1;        /* the rest, unsent, goes nowhere */
    }
    if (rc == 0 && pub && zmq_send(handle, topic, strlen(topic),
                        ZMQ_SNDMORE | ZMQ_DONTWAIT) < 0) {
        rc = -1;
    }
    if (rc == 0 && zmq_send(handle, data, size, ZMQ_DONTWAIT) < 0) {
        rc = -1;
    }
    free(data);
    if (rc != 0) {
        self->counters.tx_failed++;
        VLOG_WARN_RL("send %s on %s socket failed: %s", msgtype_name(type),
                    zsock_type_str(sock), zmq_strerror(zmq_errno()));
        return -1;
    }
    self->counters.tx++;
    return 0;
}

void
bus_set_fake(bus_t *self, const struct bus_fake *fake)
{
    self->fake = fake;
}

void
bus_set_route(bus_t *self, const struct bus_route *route)
{
    self->route = *route;
}

int
bus_send_error(bus_t *self, zsock_t *sock, int code, int request_type,
               const char *fmt, ...)
{
    char text[256];
    va_list args;
    va_start(args, fmt);
    vsnprintf(text, sizeof text, fmt, args);
    va_end(args);

    Vr__Error err = VR__ERROR__INIT;
    err.code = (Vr__ErrorCode) code;
    err.message = text;
    err.request_type = (Vr__MsgType) request_type;
    return bus_send(self, sock, VR__MSG_TYPE__MSG_ERROR, &err.base);
}

static void
s_reject(bus_msg_t *msg, int code, uint64_t *counter, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static void
s_reject(bus_msg_t *msg, int code, uint64_t *counter, const char *fmt, ...)
{
    va_list args;
    va_start(args, fmt);
    vsnprintf(msg->error_text, sizeof msg->error_text, fmt, args);
    va_end(args);
    msg->error = code;
    (*counter)++;
}

/* Copies a peer-supplied string for logging: bounded, printable only. */
static void
s_copy_printable(char *dst, size_t size, const char *src)
{
    size_t i = 0;
    for (; src && src[i] && i + 1 < size; i++) {
        unsigned char c = (unsigned char) src[i];
        dst[i] = isprint(c) ? (char) c : '?';
    }
    dst[i] = '\0';
}

void
bus_set_max_decoded(bus_t *self, size_t size)
{
    self->max_decoded = size;
}

/* Gives back the body and the memory it lives in.  A body without an
 * arena was made by protobuf-c's own allocator (a fake bus's reply, a
 * test's request). */
static void
s_body_free(bus_msg_t *msg)
{
    if (msg->arena) {
        arena_release(&msg->arena);
    } else if (msg->body) {
        protobuf_c_message_free_unpacked(msg->body, NULL);
    }
    msg->body = NULL;
}

int
bus_decode(bus_t *self, const uint8_t *data, size_t size, bus_msg_t *msg)
{
    /* The envelope and then the body are decoded into one arena; only
     * the body's share counts against max_decoded. */
    struct arena a = { 0 };
    ProtobufCAllocator alloc = arena_allocator(&a);
    Vr__Envelope *env = vr__envelope__unpack(&alloc, size, data);
    if (!env) {
        arena_release(&a.blocks);
        s_reject(msg, VR__ERROR_CODE__ERR_BAD_REQUEST,
                 &self->counters.rx_garbage,
                 "not an envelope (%zu bytes): truncated or garbage", size);
        return -1;
    }
    s_copy_printable(msg->sender, sizeof msg->sender, env->sender);
    msg->seq = env->seq;
    msg->time_us = env->time_us;
    msg->type = env->type;

    int rc = -1;
    const ProtobufCMessageDescriptor *desc = msgtype_descriptor(env->type);
    if (env->version != VR__SCHEMA_VERSION__SCHEMA_VERSION_CURRENT) {
        s_reject(msg, VR__ERROR_CODE__ERR_BAD_VERSION,
                 &self->counters.rx_bad_version,
                 "schema version %u, this build speaks %d", env->version,
                 VR__SCHEMA_VERSION__SCHEMA_VERSION_CURRENT);
    } else if (env->body_check != s_body_check(env->body.data,
                                               env->body.len)) {
        s_reject(msg, VR__ERROR_CODE__ERR_BAD_REQUEST,
                 &self->counters.rx_garbage,
                 "envelope check failed (%zu bytes): truncated or garbage",
                 size);
    } else if (!desc) {
        s_reject(msg, VR__ERROR_CODE__ERR_UNKNOWN_TYPE,
                 &self->counters.rx_unknown_type,
                 "unknown message type %d", (int) env->type);
    } else {
        a.limit = self->max_decoded ? a.used + self->max_decoded : 0;
        msg->body = protobuf_c_message_unpack(desc, &alloc, env->body.len,
                                              env->body.data);
        if (!msg->body && a.exceeded) {
            s_reject(msg, VR__ERROR_CODE__ERR_BAD_REQUEST,
                     &self->counters.rx_too_big,
                     "body of %s (%zu bytes) needs more than %zu bytes "
                     "decoded", msgtype_name(env->type), env->body.len,
                     self->max_decoded);
        } else if (!msg->body) {
            s_reject(msg, VR__ERROR_CODE__ERR_BAD_REQUEST,
                     &self->counters.rx_bad_body,
                     "body of %s does not decode (%zu bytes): truncated "
                     "or garbage", msgtype_name(env->type), env->body.len);
        } else if (!pbcheck_tags_valid(msg->body)) {
            msg->body = NULL;
            s_reject(msg, VR__ERROR_CODE__ERR_BAD_REQUEST,
                     &self->counters.rx_bad_body,
                     "body of %s has a field numbered 0 (%zu bytes): "
                     "garbage", msgtype_name(env->type), env->body.len);
        } else {
            rc = 0;
        }
    }
    /* The envelope lives in the arena with the body: freed with it. */
    msg->arena = a.blocks;
    if (rc != 0) {
        s_body_free(msg);
    }
    return rc;
}

/* Sets '*from' to who sent 'frame' on 'sock'; returns true when 'sock' is
 * one of ours that clients connect to (a CURVE server), where the table
 * applies.  The User-Id is what zauth put there, the client's Z85 key;
 * libzmq lets ZAP's properties win over any the client itself sends. */
static bool
s_identify(bus_t *self, zsock_t *sock, zframe_t *frame,
           struct authz_ident *from)
{
    if (!self->cert) {
        authz_ident_local(from);
        return false;
    }
    memset(from, 0, sizeof *from);
    if (zsock_curve_server(sock) != 1) {
        return false;           /* we are the client: we chose the server */
    }
    const char *key = zframe_meta(frame, "User-Id");
    if (self->keys && key && strlen(key) == AUTHZ_KEY_SIZE - 1) {
        authz_keys_lookup(self->keys, key, from);
    } else {
        snprintf(from->label, sizeof from->label, "?");
        if (key) {
            log_escape(from->key, sizeof from->key, key, SIZE_MAX);
        }
    }
    return true;
}

int
bus_recv(bus_t *self, zsock_t *sock, bus_msg_t *msg)
{
    memset(msg, 0, sizeof *msg);
    zmsg_t *zmsg = zmsg_recv(sock);
    if (!zmsg) {
        msg->error = VR__ERROR_CODE__ERR_INTERNAL;
        snprintf(msg->error_text, sizeof msg->error_text,
                 "receive interrupted");
        return -1;
    }
    bool pub = zsock_type(sock) == ZMQ_SUB;
    bool router = zsock_type(sock) == ZMQ_ROUTER;
    size_t want = pub ? 2 : router ? 3 : 1;
    int rc = -1;
    if (router) {
        /* [routing id][empty delimiter][envelope], as a REQ sends; with
         * the route known even a bad request is answered. */
        zframe_t *id = zmsg_first(zmsg);
        zframe_t *gap = zmsg_next(zmsg);
        if (id && gap && zframe_size(id) > 0
            && zframe_size(id) <= BUS_ROUTE_MAX && zframe_size(gap) == 0) {
            msg->route.len = (uint8_t) zframe_size(id);
            memcpy(msg->route.id, zframe_data(id), msg->route.len);
        } else {
            want = 0;   /* rejected below, and not answerable */
        }
    }
    if (zmsg_size(zmsg) != want) {
        s_reject(msg, VR__ERROR_CODE__ERR_BAD_REQUEST,
                 &self->counters.rx_bad_frames,
                 "%zu frames, expected %zu", zmsg_size(zmsg), want);
        goto done;
    }
    if (pub) {
        zframe_t *topic = zmsg_first(zmsg);
        size_t len = zframe_size(topic);
        if (len >= sizeof msg->topic) {
            s_reject(msg, VR__ERROR_CODE__ERR_BAD_REQUEST,
                     &self->counters.rx_bad_frames,
                     "topic of %zu bytes", len);
            goto done;
        }
        memcpy(msg->topic, zframe_data(topic), len);
        msg->topic[len] = '\0';
    }
    zframe_t *frame = zmsg_last(zmsg);
    bool server = s_identify(self, sock, frame, &msg->from);
    if (bus_decode(self, zframe_data(frame), zframe_size(frame), msg) != 0) {
        goto done;
    }
    const char *topic = msgtype_topic(msg->type);
    if (pub && (!topic || strcmp(topic, msg->topic) != 0)) {
        char shown[sizeof msg->topic];
        s_copy_printable(shown, sizeof shown, msg->topic);
        s_reject(msg, VR__ERROR_CODE__ERR_BAD_REQUEST,
                 &self->counters.rx_bad_frames,
                 "%s published under topic '%s'", msgtype_name(msg->type),
                 shown);
        goto done;
    }
    if (server && self->rules
        && !authz_check(self->rules, self->n_rules, &msg->from, msg->type,
                        msg->body, msg->error_text,
                        sizeof msg->error_text)) {
        msg->error = VR__ERROR_CODE__ERR_FORBIDDEN;
        self->counters.rx_forbidden++;
        VLOG_WARN_RL("forbidden: %s on %s socket (key %s, envelope sender "
                     "'%s'): %s", msgtype_name(msg->type),
                     zsock_type_str(sock), LOG_ESC(msg->from.key),
                     msg->sender, msg->error_text);
        goto done;
    }
    self->counters.rx++;
    rc = 0;

done:
    if (rc != 0 && msg->error != VR__ERROR_CODE__ERR_INTERNAL
        && msg->error != VR__ERROR_CODE__ERR_FORBIDDEN) {
        VLOG_WARN_RL("rejected message from '%s' on %s socket: %s",
                    msg->sender[0] ? msg->sender : "?",
                    zsock_type_str(sock), msg->error_text);
    }
    if (rc != 0) {
        s_body_free(msg);
    }
    zmsg_destroy(&zmsg);
    return rc;
}

int
bus_deny(bus_t *self, zsock_t *reply, const bus_msg_t *msg,
         const char *fmt, ...)
{
    char why[200];
    va_list args;
    va_start(args, fmt);
    vsnprintf(why, sizeof why, fmt, args);
    va_end(args);
    self->counters.rx_forbidden++;
    VLOG_WARN_RL("forbidden: %s from %s (key %s): %s", msgtype_name(msg->type),
                 LOG_ESC(msg->from.label), LOG_ESC(msg->from.key), why);
    return reply ? bus_send_error(self, reply, VR__ERROR_CODE__ERR_FORBIDDEN,
                                  msg->type, "%s", why)
                 : 0;
}

ProtobufCMessage *
bus_msg_take_body(bus_msg_t *msg)
{
    ProtobufCMessage *body = msg->body;
    if (!body || !msg->arena) {
        msg->body = NULL;
        return body;
    }
    /* Out of the arena: a copy of its own, by the wire format. */
    size_t size = protobuf_c_message_get_packed_size(body);
    uint8_t *buf = malloc(size ? size : 1);
    ProtobufCMessage *copy = NULL;
    if (buf) {
        protobuf_c_message_pack(body, buf);
        copy = protobuf_c_message_unpack(body->descriptor, NULL, size, buf);
        free(buf);
    }
    s_body_free(msg);
    return copy;
}

void
bus_msg_clear(bus_msg_t *msg)
{
    s_body_free(msg);
    memset(msg, 0, sizeof *msg);
}

const struct bus_counters *
bus_counters(const bus_t *self)
{
    return &self->counters;
}

void
bus_status_add_counter(Vr__StatusReply *reply, const char *name,
                       uint64_t value, bool gauge)
{
    Vr__Counter **v = realloc(reply->counters,
                              (reply->n_counters + 1) * sizeof *v);
    Vr__Counter *c = malloc(sizeof *c);
    char *copy = strdup(name);
    if (!v || !c || !copy) {
        free(c);
        free(copy);
        if (v) {
            reply->counters = v;
        }
        return;                 /* out of memory: the figure is omitted */
    }
    vr__counter__init(c);
    c->name = copy;
    c->value = value;
    c->gauge = gauge;
    v[reply->n_counters++] = c;
    reply->counters = v;
}

void
bus_status_add_info(Vr__StatusReply *reply, const char *key,
                    const char *value)
{
    Vr__KeyValue **v = realloc(reply->info, (reply->n_info + 1) * sizeof *v);
    Vr__KeyValue *kv = malloc(sizeof *kv);
    char *k = strdup(key);
    char *val = strdup(value ? value : "");
    if (!v || !kv || !k || !val) {
        free(kv);
        free(k);
        free(val);
        if (v) {
            reply->info = v;
        }
        return;
    }
    vr__key_value__init(kv);
    kv->key = k;
    kv->value = val;
    v[reply->n_info++] = kv;
    reply->info = v;
}

void
bus_counters_to_status(const bus_t *self, Vr__StatusReply *reply)
{
    const struct bus_counters *c = &self->counters;
    bus_status_add_counter(reply, "bus_tx", c->tx, false);
    bus_status_add_counter(reply, "bus_tx_failed", c->tx_failed, false);
    bus_status_add_counter(reply, "bus_rx", c->rx, false);
    bus_status_add_counter(reply, "bus_rx_bad_frames", c->rx_bad_frames,
                           false);
    bus_status_add_counter(reply, "bus_rx_garbage", c->rx_garbage, false);
    bus_status_add_counter(reply, "bus_rx_bad_version", c->rx_bad_version,
                           false);
    bus_status_add_counter(reply, "bus_rx_unknown_type", c->rx_unknown_type,
                           false);
    bus_status_add_counter(reply, "bus_rx_bad_body", c->rx_bad_body, false);
    bus_status_add_counter(reply, "bus_rx_too_big", c->rx_too_big, false);
    bus_status_add_counter(reply, "bus_req_timeouts", c->req_timeouts,
                           false);
    bus_status_add_counter(reply, "bus_req_retries", c->req_retries, false);
    bus_status_add_counter(reply, "bus_req_errors", c->req_errors, false);
    bus_status_add_counter(reply, "bus_rx_forbidden", c->rx_forbidden,
                           false);
}

void
bus_status_reply_free(Vr__StatusReply *reply)
{
    for (size_t i = 0; i < reply->n_counters; i++) {
        free(reply->counters[i]->name);
        free(reply->counters[i]);
    }
    free(reply->counters);
    reply->counters = NULL;
    reply->n_counters = 0;
    for (size_t i = 0; i < reply->n_info; i++) {
        free(reply->info[i]->key);
        free(reply->info[i]->value);
        free(reply->info[i]);
    }
    free(reply->info);
    reply->info = NULL;
    reply->n_info = 0;
}

bus_client_t *
bus_client_new(bus_t *bus, const char *endpoint, const char *server_role,
               int timeout_ms, int tries)
{
    bus_client_t *self = calloc(1, sizeof *self);
    if (!self) {
        return NULL;
    }
    self->bus = bus;
    self->endpoint = strdup(endpoint);
    self->role = strdup(server_role ? server_role : "");
    self->timeout_ms = timeout_ms > 0 ? timeout_ms : 1000;
    self->tries = tries > 0 ? tries : 1;
    if (!self->endpoint || !self->role) {
        bus_client_destroy(&self);
    }
    return self;
}

void
bus_client_destroy(bus_client_t **self_p)
{
    if (!self_p || !*self_p) {
        return;
    }
    bus_client_t *self = *self_p;
    zsock_destroy(&self->sock);
    free(self->endpoint);
    free(self->role);
    free(self);
    *self_p = NULL;
}

const char *
bus_client_endpoint(const bus_client_t *self)
{
    return self->endpoint;
}

void
bus_client_set_pause(bus_client_t *self, int pause_ms)
{
    self->pause_ms = pause_ms > 0 ? pause_ms : 0;
    self->retry_us = 0;
}

/* Turns an accepted reply into the call's result. */
static int
s_check_reply(bus_client_t *self, int type, int expect, bus_msg_t *reply)
{
    if (reply->type == expect) {
        return 0;
    }
    if (reply->type == VR__MSG_TYPE__MSG_ERROR) {
        Vr__Error *err = (Vr__Error *) reply->body;
        int code = err->code ? (int) err->code
                             : VR__ERROR_CODE__ERR_INTERNAL;
        char text[sizeof reply->error_text];
        s_copy_printable(text, sizeof text, err->message);
        s_body_free(reply);
        reply->error = code;
        snprintf(reply->error_text, sizeof reply->error_text, "%s", text);
        self->bus->counters.req_errors++;
        return -1;
    }
    snprintf(reply->error_text, sizeof reply->error_text,
             "%s answered %s with %s", self->endpoint, msgtype_name(type),
             msgtype_name(reply->type));
    s_body_free(reply);
    reply->error = VR__ERROR_CODE__ERR_BAD_REQUEST;
    return -1;
}

int
bus_client_call(bus_client_t *self, int type, const ProtobufCMessage *req,
                int expect, bus_msg_t *reply)
{
    memset(reply, 0, sizeof *reply);
    const struct bus_fake *fake = self->bus->fake;
    if (fake) {
        return fake->call(fake->arg, self->endpoint, type, req, expect,
                          reply);
    }
    uint64_t now = vtime_mono_us();
    if (now < self->retry_us) {
        reply->error = VR__ERROR_CODE__ERR_UNAVAILABLE;
        snprintf(reply->error_text, sizeof reply->error_text,
                 "'%s' did not answer: next try in %llu ms", self->endpoint,
                 (unsigned long long) (self->retry_us - now) / 1000);
        return -1;
    }
    for (int attempt = 0; attempt < self->tries; attempt++) {
        if (!self->sock) {
            self->sock = bus_connect(self->bus, ZMQ_REQ, self->endpoint,
                                     self->role);
            if (!self->sock) {
                reply->error = VR__ERROR_CODE__ERR_UNAVAILABLE;
                snprintf(reply->error_text, sizeof reply->error_text,
                         "cannot connect to '%s'", self->endpoint);
                return -1;
            }
        }
        if (bus_send(self->bus, self->sock, type, req) != 0) {
            reply->error = VR__ERROR_CODE__ERR_INTERNAL;
            snprintf(reply->error_text, sizeof reply->error_text,
                     "cannot send %s to '%s'", msgtype_name(type),
                     self->endpoint);
            zsock_destroy(&self->sock);
            return -1;
        }
        zmq_pollitem_t item = { zsock_resolve(self->sock), 0, ZMQ_POLLIN, 0 };
        int n = zmq_poll(&item, 1, self->timeout_ms);
        if (n < 0) {
            reply->error = VR__ERROR_CODE__ERR_INTERNAL;
            snprintf(reply->error_text, sizeof reply->error_text,
                     "interrupted waiting for '%s'", self->endpoint);
            zsock_destroy(&self->sock);
            return -1;
        }
        if (n > 0) {
            if (bus_recv(self->bus, self->sock, reply) != 0) {
                /* A REQ socket that got a bad reply is still usable, but
                 * the server is confused: start afresh next time. */
                zsock_destroy(&self->sock);
                return -1;
            }
            return s_check_reply(self, type, expect, reply);
        }
        /* No reply: the REQ socket is now stuck waiting, so close it and
         * try again on a new one (the lazy pirate). */
        zsock_destroy(&self->sock);
        if (attempt + 1 < self->tries) {
            self->bus->counters.req_retries++;
        }
    }
    self->bus->counters.req_timeouts++;
    if (self->pause_ms > 0) {
        self->retry_us = vtime_mono_us() + (uint64_t) self->pause_ms * 1000;
    }
    reply->error = VR__ERROR_CODE__ERR_TIMEOUT;
    snprintf(reply->error_text, sizeof reply->error_text,
             "no reply from '%s' after %d tr%s of %d ms", self->endpoint,
             self->tries, self->tries == 1 ? "y" : "ies", self->timeout_ms);
    return -1;
}
