/* SPDX-License-Identifier: MIT */
/* Checks on decoded protobuf-c messages that any service's request
 * handlers share.  protobuf-c keeps the fields it does not know as
 * "unknown fields"; a request whose message has no fields should carry
 * none (common/bus.c decodes, the services' handlers call these). */
#ifndef VR_PBCHECK_H
#define VR_PBCHECK_H

#include <protobuf-c/protobuf-c.h>
#include <stdbool.h>
#include <stddef.h>

/* True if 'm' carries no field unknown to this build.  A query such as
 * TopologyQuery or PlanQuery has no fields: one that carries some was
 * meant for another version of the service (a filter, a page) and is
 * refused, not answered as if they were absent.  Otherwise false, with a
 * sentence naming the first such field ("field 3: unknown to
 * vr.PlanQuery") in 'err' ('err_size' bytes, may be 0). */
bool pbcheck_no_unknown(const ProtobufCMessage *m, char *err,
                        size_t err_size);

/* True if no field of 'm', at any depth, has field number 0.  No
 * encoder writes one, but protobuf-c reads it as an unknown field when
 * its tag is a varint of more than one byte (80 00 ...), and then writes
 * it back as one byte (00 ...), which it refuses to read: a message that
 * decodes but does not survive encode and decode (tests/fuzz/fuzz_bus). */
bool pbcheck_tags_valid(const ProtobufCMessage *m);

#endif /* VR_PBCHECK_H */
