/* SPDX-License-Identifier: MIT */
/* vr-call: sends one request of any type, as any key, for the tests that
 * check who may send what (tests/integration/test_authz.sh).
 *   vr-call [--cert CERT --servers DIR] [--pub [--times N]]
 *           ENDPOINT SERVER TYPE [FIELD=VALUE...]
 * TYPE is a message type name as msgtype_name() spells it (PATH_CREATE);
 * FIELD=VALUE sets a string, number, bool or enum field, at the top or
 * one message down ("link.name=x").  SERVER
 * names the server's key in DIR (SERVER.key).  A request prints
 * "REPLY TYPE" and the reply's string and enum fields (and those of its
 * nested messages, one level down; repeated fields with their count) and
 * exits 0, or prints "ERROR CODE NAME: text" and exits 1; no reply in 3 s
 * exits 3.  --pub connects a PUB socket and publishes
 * the message N times (default 10), 100 ms apart. */
#include <czmq.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bus.h"

static int
s_type(const char *name)
{
    for (int t = 0; t < 1000; t++) {
        if (msgtype_descriptor(t) && !strcmp(msgtype_name(t), name)) {
            return t;
        }
    }
    return -1;
}

/* Sub-messages made for "a.b" fields, freed at exit. */
static void *s_subs[16];
static size_t s_n_subs;

/* Sets field NAME ("a", or "a.b" inside single message field a) of 'msg'
 * from 'value'; false if it cannot. */
static bool
s_set(ProtobufCMessage *msg, char *name, const char *value)
{
    char *dot = strchr(name, '.');
    if (dot) {
        *dot = '\0';
    }
    const ProtobufCFieldDescriptor *f =
        protobuf_c_message_descriptor_get_field_by_name(msg->descriptor,
                                                        name);
    if (!f || f->label == PROTOBUF_C_LABEL_REPEATED) {
        return false;
    }
    void *p = (char *) msg + f->offset;
    if (dot) {
        ProtobufCMessage **sub = p;
        if (f->type != PROTOBUF_C_TYPE_MESSAGE) {
            return false;
        }
        if (!*sub) {
            const ProtobufCMessageDescriptor *d = f->descriptor;
            if (s_n_subs == sizeof s_subs / sizeof s_subs[0]) {
                return false;
            }
            *sub = calloc(1, d->sizeof_message);
            s_subs[s_n_subs++] = *sub;
            protobuf_c_message_init(d, *sub);
        }
        return s_set(*sub, dot + 1, value);
    }
    switch (f->type) {
    case PROTOBUF_C_TYPE_STRING:
        *(const char **) p = value;
        return true;
    case PROTOBUF_C_TYPE_DOUBLE:
        *(double *) p = strtod(value, NULL);
        return true;
    case PROTOBUF_C_TYPE_FLOAT:
        *(float *) p = strtof(value, NULL);
        return true;
    case PROTOBUF_C_TYPE_BOOL:
        *(protobuf_c_boolean *) p = !strcmp(value, "true");
        return true;
    case PROTOBUF_C_TYPE_UINT32:
    case PROTOBUF_C_TYPE_FIXED32:
        *(uint32_t *) p = (uint32_t) strtoul(value, NULL, 0);
        return true;
    case PROTOBUF_C_TYPE_INT32:
    case PROTOBUF_C_TYPE_SINT32:
    case PROTOBUF_C_TYPE_SFIXED32:
    case PROTOBUF_C_TYPE_ENUM:
        *(int32_t *) p = (int32_t) strtol(value, NULL, 0);
        return true;
    case PROTOBUF_C_TYPE_UINT64:
    case PROTOBUF_C_TYPE_FIXED64:
        *(uint64_t *) p = strtoull(value, NULL, 0);
        return true;
    case PROTOBUF_C_TYPE_INT64:
    case PROTOBUF_C_TYPE_SINT64:
    case PROTOBUF_C_TYPE_SFIXED64:
        *(int64_t *) p = strtoll(value, NULL, 0);
        return true;
    default:
        return false;
    }
}

static void
s_print(const ProtobufCMessage *msg, const char *prefix)
{
    const ProtobufCMessageDescriptor *d = msg->descriptor;
    for (unsigned i = 0; i < d->n_fields; i++) {
        const ProtobufCFieldDescriptor *f = &d->fields[i];
        if (f->label == PROTOBUF_C_LABEL_REPEATED) {
            size_t n = *(const size_t *) ((const char *) msg
                                          + f->quantifier_offset);
            printf(" %s%s#=%zu", prefix, f->name, n);
            ProtobufCMessage *const *v =
                *(ProtobufCMessage *const *const *) ((const char *) msg
                                                     + f->offset);
            for (size_t k = 0; f->type == PROTOBUF_C_TYPE_MESSAGE && !*prefix
                               && k < n; k++) {
                char sub[64];
                snprintf(sub, sizeof sub, "%s[%zu].", f->name, k);
                s_print(v[k], sub);
            }
            continue;
        }
        const void *p = (const char *) msg + f->offset;
        if (f->type == PROTOBUF_C_TYPE_STRING) {
            const char *s = *(char *const *) p;
            printf(" %s%s=%s", prefix, f->name, s ? s : "");
        } else if (f->type == PROTOBUF_C_TYPE_ENUM) {
            const ProtobufCEnumValue *e = protobuf_c_enum_descriptor_get_value(
                f->descriptor, *(const int *) p);
            printf(" %s%s=%s", prefix, f->name, e ? e->name : "?");
        } else if (f->type == PROTOBUF_C_TYPE_MESSAGE && !*prefix
                   && *(ProtobufCMessage *const *) p) {
            char sub[64];
            snprintf(sub, sizeof sub, "%s.", f->name);
            s_print(*(ProtobufCMessage *const *) p, sub);
        }
    }
}

int
main(int argc, char **argv)
{
    struct bus_curve_cfg curve = { 0 };
    bool pub = false;
    int times = 10;
    static const struct option opts[] = {
        { "cert", required_argument, NULL, 'c' },
        { "servers", required_argument, NULL, 's' },
        { "pub", no_argument, NULL, 'p' },
        { "times", required_argument, NULL, 't' },
        { NULL, 0, NULL, 0 },
    };
    int c;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (c) {
        case 'c': curve.cert = optarg; break;
        case 's': curve.servers = optarg; break;
        case 'p': pub = true; break;
        case 't': times = atoi(optarg); break;
        default: return 2;
        }
    }
    if (argc - optind < 3) {
        fprintf(stderr, "usage: vr-call [--cert CERT --servers DIR] [--pub "
                        "[--times N]] ENDPOINT SERVER TYPE [FIELD=VALUE...]"
                        "\n");
        return 2;
    }
    const char *endpoint = argv[optind];
    const char *server = argv[optind + 1];
    int type = s_type(argv[optind + 2]);
    if (type < 0) {
        fprintf(stderr, "vr-call: unknown type '%s'\n", argv[optind + 2]);
        return 2;
    }
    const ProtobufCMessageDescriptor *d = msgtype_descriptor(type);
    ProtobufCMessage *body = calloc(1, d->sizeof_message);
    protobuf_c_message_init(d, body);
    for (int i = optind + 3; i < argc; i++) {
        char *eq = strchr(argv[i], '=');
        if (!eq) {
            fprintf(stderr, "vr-call: '%s' is not FIELD=VALUE\n", argv[i]);
            return 2;
        }
        *eq = '\0';
        if (!s_set(body, argv[i], eq + 1)) {
            fprintf(stderr, "vr-call: cannot set '%s'\n", argv[i]);
            return 2;
        }
    }

    int rc = 1;
    bus_t *bus = bus_new("vr-call", &curve);
    zsock_t *sock = bus ? bus_connect(bus, pub ? ZMQ_PUB : ZMQ_REQ, endpoint,
                                      server)
                        : NULL;
    if (!sock) {
        goto done;
    }
    if (pub) {
        for (int i = 0; i < times; i++) {
            zclock_sleep(100);
            bus_send(bus, sock, type, body);
        }
        zclock_sleep(100);
        rc = 0;
        goto done;
    }
    if (bus_send(bus, sock, type, body) != 0) {
        goto done;
    }
    zmq_pollitem_t item = { zsock_resolve(sock), 0, ZMQ_POLLIN, 0 };
    if (zmq_poll(&item, 1, 3000) != 1) {
        printf("NO REPLY\n");
        rc = 3;
        goto done;
    }
    bus_msg_t reply;
    if (bus_recv(bus, sock, &reply) != 0) {
        printf("BAD REPLY %s\n", reply.error_text);
        goto done;
    }
    if (reply.type == VR__MSG_TYPE__MSG_ERROR) {
        const Vr__Error *err = (const Vr__Error *) reply.body;
        const ProtobufCEnumValue *v = protobuf_c_enum_descriptor_get_value(
            &vr__error_code__descriptor, (int) err->code);
        printf("ERROR %d %s: %s\n", (int) err->code, v ? v->name : "?",
               err->message);
    } else {
        printf("REPLY %s", msgtype_name(reply.type));
        s_print(reply.body, "");
        printf("\n");
        rc = 0;
    }
    bus_msg_clear(&reply);

done:
    zsock_destroy(&sock);
    bus_destroy(&bus);
    free(body);
    for (size_t i = 0; i < s_n_subs; i++) {
        free(s_subs[i]);
    }
    return rc;
}
