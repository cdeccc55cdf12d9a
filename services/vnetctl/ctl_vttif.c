/* SPDX-License-Identifier: MIT */
/* `vnetctl topology [--dot]` and `vnetctl matrix`: what the aggregator
 * infers now (TopologyQuery, MatrixQuery on its control socket), as a
 * table, as JSON (-j), or for the topology as Graphviz source whose
 * clusters are the hosts and whose edge labels are the rates. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "eth.h"
#include "vnetctl.h"

/* The agent a VM sits behind, per the topology's locations, or "". */
static const char *
s_host(const Vr__Topology *t, uint64_t mac)
{
    for (size_t i = 0; i < t->n_vms; i++) {
        if (t->vms[i]->mac == mac && !t->vms[i]->gone) {
            return t->vms[i]->agent_id ? t->vms[i]->agent_id : "";
        }
    }
    return "";
}

/* Writes 's' as a double-quoted DOT id. */
static void
s_dot_id(const char *s)
{
    putchar('"');
    for (; *s; s++) {
        if (*s == '"' || *s == '\\') {
            putchar('\\');
        }
        putchar(*s == '\n' ? ' ' : *s);
    }
    putchar('"');
}

static bool
s_listed(uint64_t *seen, size_t *n_seen, uint64_t mac)
{
    for (size_t i = 0; i < *n_seen; i++) {
        if (seen[i] == mac) {
            return true;
        }
    }
    seen[(*n_seen)++] = mac;
    return false;
}

static void
s_print_dot(const Vr__Topology *t)
{
    char a[ETH_MAC_STRLEN], b[ETH_MAC_STRLEN], rate[32];
    const char *arrow = t->directed ? "->" : "--";
    printf("%s vreserve_topology {\n", t->directed ? "digraph" : "graph");
    printf("    label=\"VRESERVE topology v%llu, %zu edge%s\";\n"
           "    labelloc=t;\n    fontname=\"Helvetica\";\n"
           "    node [shape=box, style=rounded, fontname=\"Courier\"];\n"
           "    edge [fontname=\"Helvetica\", fontsize=10];\n",
           (unsigned long long) t->version, t->n_edges,
           t->n_edges == 1 ? "" : "s");
    /* Every VM on an edge once, inside one cluster per host. */
    size_t n_seen = 0;
    uint64_t *seen = calloc(2 * t->n_edges + 1, sizeof *seen);
    for (size_t i = 0; seen && i < 2 * t->n_edges; i++) {
        const Vr__TopologyEdge *e = t->edges[i / 2];
        s_listed(seen, &n_seen, i % 2 ? e->dst_mac : e->src_mac);
    }
    for (size_t i = 0; i < n_seen; i++) {
        const char *host = s_host(t, seen[i]);
        bool first = true;
        for (size_t k = 0; k < i && first; k++) {
            first = strcmp(host, s_host(t, seen[k])) != 0;
        }
        if (!first) {
            continue;           /* its host's cluster is written */
        }
        printf("    ");
        if (*host) {
            char cluster[300];
            snprintf(cluster, sizeof cluster, "cluster_%s", host);
            printf("subgraph ");
            s_dot_id(cluster);
            printf(" {\n        label=");
            s_dot_id(host);
            printf(";\n       ");
        }
        for (size_t k = i; k < n_seen; k++) {
            if (!strcmp(host, s_host(t, seen[k]))) {
                printf(" ");
                s_dot_id(eth_mac_format(seen[k], a));
                printf(";");
            }
        }
        printf("%s\n", *host ? "\n    }" : "");
    }
    free(seen);
    for (size_t i = 0; i < t->n_edges; i++) {
        const Vr__TopologyEdge *e = t->edges[i];
        printf("    ");
        s_dot_id(eth_mac_format(e->src_mac, a));
        printf(" %s ", arrow);
        s_dot_id(eth_mac_format(e->dst_mac, b));
        printf(" [label=\"%s\", penwidth=%.2f];\n",
               ctl_rate(e->rate_bps, rate, sizeof rate),
               1.0 + 4.0 * (e->norm < 0 ? 0 : e->norm > 1 ? 1 : e->norm));
    }
    printf("}\n");
}

static void
s_print_topology(const Vr__Topology *t)
{
    char a[ETH_MAC_STRLEN], b[ETH_MAC_STRLEN], rate[32], when[40];
    printf("topology v%llu at %s: %zu edge%s, %s\n",
           (unsigned long long) t->version,
           t->time_us ? ctl_time(t->time_us, when, sizeof when) : "-",
           t->n_edges, t->n_edges == 1 ? "" : "s",
           t->directed ? "directed" : "undirected");
    if (t->n_edges == 0) {
        return;
    }
    printf("%-17s %-17s %-10s %-10s %14s %5s\n", "SRC", "DST", "HOST_A",
           "HOST_B", "RATE", "NORM");
    for (size_t i = 0; i < t->n_edges; i++) {
        const Vr__TopologyEdge *e = t->edges[i];
        const char *ha = s_host(t, e->src_mac), *hb = s_host(t, e->dst_mac);
        printf("%-17s %-17s %-10s %-10s %14s %5.2f\n",
               eth_mac_format(e->src_mac, a), eth_mac_format(e->dst_mac, b),
               *ha ? ha : "?", *hb ? hb : "?",
               ctl_rate(e->rate_bps, rate, sizeof rate), e->norm);
    }
}

int
ctl_topology(struct ctl *ctl, int argc, char **argv)
{
    static const struct option opts[] = {
        { "dot", no_argument, NULL, 'd' },
        { NULL, 0, NULL, 0 },
    };
    bool dot = false;
    int c;
    optind = 0;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        if (c != 'd') {
            goto usage;
        }
        dot = true;
    }
    if (optind != argc || (dot && ctl->json)) {
        goto usage;
    }
    Vr__TopologyQuery req = VR__TOPOLOGY_QUERY__INIT;
    bus_msg_t reply;
    int rc = ctl_call(ctl, "aggregator", ctl->cfg.aggregator,
                      VR__MSG_TYPE__MSG_TOPOLOGY_QUERY, &req.base,
                      VR__MSG_TYPE__MSG_TOPOLOGY, &reply);
    if (rc != 0) {
        return rc;
    }
    const Vr__Topology *t = (const Vr__Topology *) reply.body;
    if (ctl->json) {
        ctl_json_print(ctl_json_pb(&t->base));
    } else if (dot) {
        s_print_dot(t);
    } else {
        s_print_topology(t);
    }
    bus_msg_clear(&reply);
    return CTL_EXIT_OK;

usage:
    fprintf(stderr, "usage: vnetctl [-j] topology [--dot] (not both)\n");
    return CTL_EXIT_USAGE;
}

static int
s_by_rate(const void *a, const void *b)
{
    const Vr__MatrixRate *x = *(Vr__MatrixRate *const *) a;
    const Vr__MatrixRate *y = *(Vr__MatrixRate *const *) b;
    return (x->rate_bps < y->rate_bps) - (x->rate_bps > y->rate_bps);
}

int
ctl_matrix(struct ctl *ctl, int argc, char **argv)
{
    if (argc != 1) {
        fprintf(stderr, "usage: vnetctl [-j] matrix\n");
        return CTL_EXIT_USAGE;
    }
    Vr__MatrixQuery req = VR__MATRIX_QUERY__INIT;
    bus_msg_t reply;
    int rc = ctl_call(ctl, "aggregator", ctl->cfg.aggregator,
                      VR__MSG_TYPE__MSG_MATRIX_QUERY, &req.base,
                      VR__MSG_TYPE__MSG_GLOBAL_MATRIX, &reply);
    if (rc != 0) {
        return rc;
    }
    Vr__GlobalMatrix *g = (Vr__GlobalMatrix *) reply.body;
    if (ctl->json) {
        ctl_json_print(ctl_json_pb(&g->base));
        bus_msg_clear(&reply);
        return CTL_EXIT_OK;
    }
    char a[ETH_MAC_STRLEN], b[ETH_MAC_STRLEN], rate[32], when[40];
    /* Sorting the reply's own array is fine: it is ours and freed below. */
    qsort(g->entries, g->n_entries, sizeof *g->entries, s_by_rate);
    printf("matrix at %s: %zu pair%s over %.1f s, largest %s\n",
           g->time_us ? ctl_time(g->time_us, when, sizeof when) : "-",
           g->n_entries, g->n_entries == 1 ? "" : "s",
           (double) g->window_us / 1e6,
           ctl_rate(g->max_rate_bps, rate, sizeof rate));
    if (g->n_entries) {
        printf("%-17s %-17s %14s %5s\n", "SRC", "DST", "RATE", "NORM");
    }
    for (size_t i = 0; i < g->n_entries; i++) {
        const Vr__MatrixRate *e = g->entries[i];
        printf("%-17s %-17s %14s %5.2f\n", eth_mac_format(e->src_mac, a),
               eth_mac_format(e->dst_mac, b),
               ctl_rate(e->rate_bps, rate, sizeof rate), e->norm);
    }
    bus_msg_clear(&reply);
    return CTL_EXIT_OK;
}
