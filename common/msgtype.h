/* SPDX-License-Identifier: MIT */
/* The bus's message registry: for each Vr__MsgType, the protobuf message
 * its body holds, a short name for logs and the CLI, and, for published
 * types, the pub/sub topic.  Includes every generated proto header, so a
 * service needs only this one. */
#ifndef VR_MSGTYPE_H
#define VR_MSGTYPE_H

#include <protobuf-c/protobuf-c.h>
#include <stdbool.h>

#include "adapter.pb-c.h"
#include "agent.pb-c.h"
#include "broker.pb-c.h"
#include "common.pb-c.h"
#include "envelope.pb-c.h"
#include "planner.pb-c.h"
#include "vttif.pb-c.h"

/* Pub/sub topics: the first frame of every published message.  A
 * subscriber's filter is a prefix match, so "" takes everything. */
#define TOPIC_LOCAL_MATRIX "matrix.local"
#define TOPIC_VM_LOCATIONS "vm.location"
#define TOPIC_AGENT_ANNOUNCE "agent.announce"
#define TOPIC_GLOBAL_MATRIX "matrix.global"
#define TOPIC_TOPOLOGY "topology"
#define TOPIC_PATH "path"
#define TOPIC_RESV "resv"
#define TOPIC_DECISION "decision"

/* Returns the descriptor of the body of 'type', or NULL if 'type' is not
 * a message type this build knows. */
const ProtobufCMessageDescriptor *msgtype_descriptor(int type);

/* Returns a static name such as "STATUS_REQUEST", or "UNKNOWN(57)" in a
 * static buffer for an unknown type. */
const char *msgtype_name(int type);

/* Returns the topic 'type' is published under, or NULL if it is not a
 * published type. */
const char *msgtype_topic(int type);

/* True if 'desc' is the descriptor registered for 'type'. */
bool msgtype_matches(int type, const ProtobufCMessageDescriptor *desc);

#endif /* VR_MSGTYPE_H */
