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
