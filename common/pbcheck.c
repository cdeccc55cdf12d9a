/* SPDX-License-Identifier: MIT */
/* See pbcheck.h. */
#include "pbcheck.h"

#include "log.h"

bool
pbcheck_no_unknown(const ProtobufCMessage *m, char *err, size_t err_size)
{
    if (!m->n_unknown_fields) {
        return true;
    }
    const ProtobufCMessageUnknownField *f = &m->unknown_fields[0];
    log_format(err, err_size,
               "field %u: unknown to %s (%zu bytes; %u unknown fields in "
               "all)", f->tag, m->descriptor->name, f->len,
               m->n_unknown_fields);
    return false;
}

bool
pbcheck_tags_valid(const ProtobufCMessage *m)
{
    for (unsigned i = 0; i < m->n_unknown_fields; i++) {
        if (m->unknown_fields[i].tag == 0) {
            return false;
        }
    }
    const ProtobufCMessageDescriptor *d = m->descriptor;
    const uint8_t *base = (const uint8_t *) m;
    for (unsigned i = 0; i < d->n_fields; i++) {
        const ProtobufCFieldDescriptor *f = &d->fields[i];
        if (f->type != PROTOBUF_C_TYPE_MESSAGE) {
            continue;
        }
        if (f->label == PROTOBUF_C_LABEL_REPEATED) {
            size_t n = *(const size_t *) (base + f->quantifier_offset);
            ProtobufCMessage *const *v =
                *(ProtobufCMessage *const *const *) (base + f->offset);
            for (size_t k = 0; k < n; k++) {
                if (v[k] && !pbcheck_tags_valid(v[k])) {
                    return false;
                }
            }
            continue;
        }
        if ((f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF)
            && *(const uint32_t *) (base + f->quantifier_offset) != f->id) {
            continue;
        }
        const ProtobufCMessage *sub =
            *(ProtobufCMessage *const *) (base + f->offset);
        if (sub && !pbcheck_tags_valid(sub)) {
            return false;
        }
    }
    return true;
}
