/* SPDX-License-Identifier: MIT */
/* The registry table.  Adding a message type means a line in
 * proto/envelope.proto and a row here; test_msgtype checks that every
 * value of Vr__MsgType has a row. */
#include "msgtype.h"

#include <stdio.h>

struct msgtype_row {
    const char *name;                        /* "STATUS_REQUEST" */
    const ProtobufCMessageDescriptor *desc;  /* body's message */
    const char *topic;                       /* NULL unless published */
};

#define S_ROW(TYPE, MSG, TOPIC) \
    [VR__MSG_TYPE__MSG_##TYPE] = { #TYPE, &vr__##MSG##__descriptor, TOPIC }

static const struct msgtype_row s_rows[] = {
    S_ROW(ERROR, error, NULL),
    S_ROW(STATUS_REQUEST, status_request, NULL),
    S_ROW(STATUS_REPLY, status_reply, NULL),
    S_ROW(ACK, ack, NULL),
    S_ROW(LOCAL_MATRIX, local_matrix, TOPIC_LOCAL_MATRIX),
    S_ROW(VM_LOCATIONS, vm_locations, TOPIC_VM_LOCATIONS),
    S_ROW(AGENT_ANNOUNCE, agent_announce, TOPIC_AGENT_ANNOUNCE),
    S_ROW(LINK_CREATE, link_create, NULL),
    S_ROW(LINK_REMOVE, link_remove, NULL),
    S_ROW(LINK_LIST_REQUEST, link_list_request, NULL),
    S_ROW(LINK_LIST, link_list, NULL),
    S_ROW(LINK_INFO, link_info, NULL),
    S_ROW(LINK_PROBE, link_probe, NULL),
    S_ROW(LINK_PROBE_REPLY, link_probe_reply, NULL),
    S_ROW(RULE_ADD, rule_add, NULL),
    S_ROW(RULE_REMOVE, rule_remove, NULL),
    S_ROW(RULE_LIST_REQUEST, rule_list_request, NULL),
    S_ROW(RULE_LIST, rule_list, NULL),
    S_ROW(GLOBAL_MATRIX, global_matrix, TOPIC_GLOBAL_MATRIX),
    S_ROW(TOPOLOGY_EVENT, topology_event, TOPIC_TOPOLOGY),
    S_ROW(TOPOLOGY_QUERY, topology_query, NULL),
    S_ROW(TOPOLOGY, topology, NULL),
    S_ROW(MATRIX_QUERY, matrix_query, NULL),
    S_ROW(VM_TOTALS_QUERY, vm_totals_query, NULL),
    S_ROW(VM_TOTALS, vm_totals, NULL),
    S_ROW(AGENT_LIST_QUERY, agent_list_query, NULL),
    S_ROW(AGENT_LIST, agent_list, NULL),
    S_ROW(PATH_CREATE, path_create, NULL),
    S_ROW(PATH_TEARDOWN, path_teardown, NULL),
    S_ROW(PATH_LIST_REQUEST, path_list_request, NULL),
    S_ROW(PATH_LIST, path_list, NULL),
    S_ROW(PATH_STATUS_REQUEST, path_status_request, NULL),
    S_ROW(PATH_REPLY, path_reply, NULL),
    S_ROW(PATH_EVENT, path_event, TOPIC_PATH),
    S_ROW(RESV_REQUEST, resv_request, NULL),
    S_ROW(RESV_RELEASE, resv_release, NULL),
    S_ROW(RESV_LIST_REQUEST, resv_list_request, NULL),
    S_ROW(RESV_LIST, resv_list, NULL),
    S_ROW(RESV_SHOW_REQUEST, resv_show_request, NULL),
    S_ROW(RESV_SHOW_REPLY, resv_show_reply, NULL),
    S_ROW(RESV_REPLY, resv_reply, NULL),
    S_ROW(RESV_EVENT, resv_event, TOPIC_RESV),
    S_ROW(RESERVABLE_QUERY, reservable_query, NULL),
    S_ROW(RESERVABLE_REPLY, reservable_reply, NULL),
    S_ROW(DECISION_EVENT, decision_event, TOPIC_DECISION),
    S_ROW(PLAN_QUERY, plan_query, NULL),
    S_ROW(PLAN, plan, NULL),
};

enum { S_N_ROWS = sizeof s_rows / sizeof s_rows[0] };

static const struct msgtype_row *
s_row(int type)
{
    if (type <= 0 || type >= S_N_ROWS || !s_rows[type].desc) {
        return NULL;
    }
    return &s_rows[type];
}

const ProtobufCMessageDescriptor *
msgtype_descriptor(int type)
{
    const struct msgtype_row *row = s_row(type);
    return row ? row->desc : NULL;
}

const char *
msgtype_name(int type)
{
    /* Only for log lines; thread-local, so threads never share it. */
    static _Thread_local char buf[24];
    const struct msgtype_row *row = s_row(type);
    if (row) {
        return row->name;
    }
    snprintf(buf, sizeof buf, "UNKNOWN(%d)", type);
    return buf;
}

const char *
msgtype_topic(int type)
{
    const struct msgtype_row *row = s_row(type);
    return row ? row->topic : NULL;
}

bool
msgtype_matches(int type, const ProtobufCMessageDescriptor *desc)
{
    const struct msgtype_row *row = s_row(type);
    return row && row->desc == desc;
}
