/* SPDX-License-Identifier: MIT */
/* What several vnetctl commands share: one request with the exit code
 * its outcome deserves, protobuf messages as JSON (walked through their
 * descriptors, so a field added to a .proto shows up without a change
 * here), and the formats of rates and times in human output. */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "eth.h"
#include "vnetctl.h"

int
ctl_call(struct ctl *ctl, const char *role, const char *endpoint, int type,
         const ProtobufCMessage *req, int expect, bus_msg_t *reply)
{
    memset(reply, 0, sizeof *reply);
    bus_client_t *client = bus_client_new(ctl->bus, endpoint, role,
                                          (int) ctl->cfg.timeout_ms, 1);
    if (!client) {
        fprintf(stderr, "vnetctl: %s %s: out of memory\n", role, endpoint);
        return CTL_EXIT_FAIL;
    }
    /* The bus counts why a call failed: no reply at all (or no socket)
     * is the service's absence, an Error reply is its answer. */
    struct bus_counters before = *bus_counters(ctl->bus);
    int rc = bus_client_call(client, type, req, expect, reply);
    bus_client_destroy(&client);
    if (rc == 0) {
        return CTL_EXIT_OK;
    }
    const struct bus_counters *after = bus_counters(ctl->bus);
    bool answered = after->req_errors > before.req_errors;
    bool silent = after->req_timeouts > before.req_timeouts
                  || (!answered
                      && reply->error == VR__ERROR_CODE__ERR_UNAVAILABLE);
    if (silent) {
        fprintf(stderr, "vnetctl: %s %s: %s (is it running? see -e, "
                        "--timeout)\n", role, endpoint, reply->error_text);
        return CTL_EXIT_UNREACHABLE;
    }
    fprintf(stderr, "vnetctl: %s %s: %s\n", role, endpoint,
            reply->error_text);
    return CTL_EXIT_FAIL;
}

const char *
ctl_enum_name(const ProtobufCEnumDescriptor *desc, int value)
{
    /* A few buffers in turn, so that one printf can show two names. */
    static char bufs[4][64];
    static unsigned turn;
    const ProtobufCEnumValue *v = protobuf_c_enum_descriptor_get_value(desc,
                                                                       value);
    if (!v) {
        return "?";
    }
    /* The prefix every value shares, up to its last '_': RESV_STATE_. */
    size_t common = strlen(desc->values[0].name);
    for (unsigned i = 1; i < desc->n_values; i++) {
        size_t k = 0;
        const char *a = desc->values[0].name, *b = desc->values[i].name;
        while (k < common && a[k] == b[k]) {
            k++;
        }
        common = k;
    }
    while (common > 0 && desc->values[0].name[common - 1] != '_') {
        common--;
    }
    if (desc->n_values < 2) {
        common = 0;
    }
    char *buf = bufs[turn++ % 4];
    size_t i = 0;
    for (const char *p = v->name + common; *p && i + 1 < sizeof bufs[0];
         p++) {
        buf[i++] = (*p >= 'A' && *p <= 'Z') ? (char) (*p - 'A' + 'a') : *p;
    }
    buf[i] = '\0';
    return buf;
}

static bool
s_is_mac(const ProtobufCFieldDescriptor *f)
{
    size_t n = strlen(f->name);
    return f->type == PROTOBUF_C_TYPE_UINT64
           && (!strcmp(f->name, "mac")
               || (n > 4 && !strcmp(f->name + n - 4, "_mac")));
}

static size_t
s_elem_size(ProtobufCType type)
{
    switch (type) {
    case PROTOBUF_C_TYPE_INT32: case PROTOBUF_C_TYPE_SINT32:
    case PROTOBUF_C_TYPE_SFIXED32: case PROTOBUF_C_TYPE_UINT32:
    case PROTOBUF_C_TYPE_FIXED32:
        return 4;
    case PROTOBUF_C_TYPE_INT64: case PROTOBUF_C_TYPE_SINT64:
    case PROTOBUF_C_TYPE_SFIXED64: case PROTOBUF_C_TYPE_UINT64:
    case PROTOBUF_C_TYPE_FIXED64:
        return 8;
    case PROTOBUF_C_TYPE_FLOAT:
        return sizeof(float);
    case PROTOBUF_C_TYPE_DOUBLE:
        return sizeof(double);
    case PROTOBUF_C_TYPE_BOOL:
        return sizeof(protobuf_c_boolean);
    case PROTOBUF_C_TYPE_ENUM:
        return sizeof(int);
    case PROTOBUF_C_TYPE_STRING:
        return sizeof(char *);
    case PROTOBUF_C_TYPE_BYTES:
        return sizeof(ProtobufCBinaryData);
    case PROTOBUF_C_TYPE_MESSAGE:
        return sizeof(ProtobufCMessage *);
    }
    return 0;
}

/* One value of field 'f' at 'p'. */
static json_object *
s_value(const ProtobufCFieldDescriptor *f, const void *p)
{
    char mac[ETH_MAC_STRLEN];
    switch (f->type) {
    case PROTOBUF_C_TYPE_INT32: case PROTOBUF_C_TYPE_SINT32:
    case PROTOBUF_C_TYPE_SFIXED32:
        return json_object_new_int(*(const int32_t *) p);
    case PROTOBUF_C_TYPE_UINT32: case PROTOBUF_C_TYPE_FIXED32:
        return json_object_new_int64(*(const uint32_t *) p);
    case PROTOBUF_C_TYPE_INT64: case PROTOBUF_C_TYPE_SINT64:
    case PROTOBUF_C_TYPE_SFIXED64:
        return json_object_new_int64(*(const int64_t *) p);
    case PROTOBUF_C_TYPE_UINT64: case PROTOBUF_C_TYPE_FIXED64:
        if (s_is_mac(f)) {
            return json_object_new_string(
                eth_mac_format(*(const uint64_t *) p, mac));
        }
        return json_object_new_uint64(*(const uint64_t *) p);
    case PROTOBUF_C_TYPE_FLOAT:
        return json_object_new_double(*(const float *) p);
    case PROTOBUF_C_TYPE_DOUBLE:
        return json_object_new_double(*(const double *) p);
    case PROTOBUF_C_TYPE_BOOL:
        return json_object_new_boolean(*(const protobuf_c_boolean *) p);
    case PROTOBUF_C_TYPE_ENUM:
        return json_object_new_string(ctl_enum_name(f->descriptor,
                                                    *(const int *) p));
    case PROTOBUF_C_TYPE_STRING: {
        const char *s = *(char *const *) p;
        return json_object_new_string(s ? s : "");
    }
    case PROTOBUF_C_TYPE_BYTES: {
        const ProtobufCBinaryData *b = p;
        return json_object_new_int64((int64_t) b->len);   /* size only */
    }
    case PROTOBUF_C_TYPE_MESSAGE: {
        const ProtobufCMessage *m = *(ProtobufCMessage *const *) p;
        return m ? ctl_json_pb(m) : NULL;
    }
    }
    return NULL;
}

json_object *
ctl_json_pb(const ProtobufCMessage *msg)
{
    const ProtobufCMessageDescriptor *desc = msg->descriptor;
    json_object *o = json_object_new_object();
    for (unsigned i = 0; i < desc->n_fields; i++) {
        const ProtobufCFieldDescriptor *f = &desc->fields[i];
        const char *member = (const char *) msg + f->offset;
        if (f->label == PROTOBUF_C_LABEL_REPEATED) {
            size_t n = *(const size_t *) ((const char *) msg
                                          + f->quantifier_offset);
            const char *v = *(char *const *) member;
            json_object *a = json_object_new_array();
            for (size_t k = 0; k < n; k++) {
                json_object_array_add(a, s_value(f, v + k
                                                 * s_elem_size(f->type)));
            }
            json_object_object_add(o, f->name, a);
        } else {
            json_object_object_add(o, f->name, s_value(f, member));
        }
    }
    return o;
}

void
ctl_json_print(json_object *o)
{
    int flags = JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE;
    puts(json_object_to_json_string_ext(o, flags));
    json_object_put(o);
}

const char *
ctl_rate(double bps, char *buf, size_t size)
{
    static const char *const units[] = { "bit/s", "kbit/s", "Mbit/s",
                                         "Gbit/s", "Tbit/s" };
    size_t u = 0;
    while (bps >= 1000.0 && u + 1 < sizeof units / sizeof units[0]) {
        bps /= 1000.0;
        u++;
    }
    snprintf(buf, size, "%.*f %s", u ? 1 : 0, bps, units[u]);
    return buf;
}

const char *
ctl_time(uint64_t time_us, char *buf, size_t size)
{
    time_t t = (time_t) (time_us / 1000000);
    struct tm tm;
    char base[32] = "?";
    if (localtime_r(&t, &tm)) {
        strftime(base, sizeof base, "%Y-%m-%dT%H:%M:%S", &tm);
    }
    snprintf(buf, size, "%s.%03u", base,
             (unsigned) (time_us % 1000000 / 1000));
    return buf;
}
