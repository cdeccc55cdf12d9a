/* SPDX-License-Identifier: MIT */
/* libFuzzer harness for the aggregator's ingest: the first byte picks
 * LocalMatrix, VmLocations or AgentAnnounce, the rest is its body.  A
 * body that decodes is checked (vttif_check); one that passes is fed to
 * the core or the announcement table, with small caps so that evictions
 * happen, and the table is read back.  Build with -DVR_FUZZ=ON and
 * clang; tests/fuzz/replay.c runs it on fixed inputs in the ordinary
 * build. */
#include <stdint.h>
#include <stdlib.h>

#include "fuzz_check.h"
#include "lmatrix.h"
#include "vttif_ann.h"
#include "vttif_check.h"
#include "vttif_tm.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static vttif_tm_t *tm;
    static vttif_ann_t *ann;
    static double now;
    static const struct vttif_check_limits lim = {
        .max_entries = 256, .max_locations = 64, .max_local_macs = 64,
    };
    if (!tm) {
        struct vttif_tm_params p;
        vttif_tm_params_default(&p);
        p.max_vms = 32;
        p.max_pairs = 32;
        p.max_reports = 48;
        tm = vttif_tm_new(&p);
        ann = vttif_ann_new(4);
    }
    if (size < 1) {
        return 0;
    }
    now += 0.1;
    static const ProtobufCMessageDescriptor *const desc[] = {
        &vr__local_matrix__descriptor,
        &vr__vm_locations__descriptor,
        &vr__agent_announce__descriptor,
    };
    int kind = data[0] % 3;
    ProtobufCMessage *m = protobuf_c_message_unpack(desc[kind], NULL,
                                                    size - 1, data + 1);
    if (!m) {
        return 0;
    }
    char err[256];
    if (kind == 0) {
        const Vr__LocalMatrix *lm = (const Vr__LocalMatrix *) m;
        if (vttif_check_matrix(lm, &lim, err, sizeof err)) {
            struct vttif_tm_entry e[256];
            size_t n = lmatrix_len(lm);
            FUZZ_CHECK(n <= lim.max_entries);   /* the check held */
            for (size_t i = 0; i < n; i++) {
                e[i] = (struct vttif_tm_entry) {
                    .src = lm->src_mac[i],
                    .dst = lm->dst_mac[i],
                    .bytes = lm->bytes[i],
                    .frames = lm->frames[i],
                };
            }
            struct vttif_tm_update u = {
                .agent_id = lm->agent_id, .boot_id = lm->boot_id,
                .period_s = (double) lm->period_us / 1e6,
                .time_s = (double) lm->time_us / 1e6, .entries = e,
                .n_entries = n,
            };
            vttif_tm_feed(tm, &u, now);
        }
    } else if (kind == 1) {
        const Vr__VmLocations *v = (const Vr__VmLocations *) m;
        if (vttif_check_locations(v, &lim, err, sizeof err)) {
            for (size_t i = 0; i < v->n_vms; i++) {
                vttif_tm_feed_location(tm, v->vms[i]->mac,
                                       v->vms[i]->agent_id, v->vms[i]->gone,
                                       now);
            }
        }
    } else {
        const Vr__AgentAnnounce *a = (const Vr__AgentAnnounce *) m;
        if (vttif_check_announce(a, &lim, err, sizeof err)) {
            vttif_ann_put(ann, a, now, NULL);
            for (size_t i = 0; i < vttif_ann_count(ann); i++) {
                Vr__AgentAnnounce out;
                vttif_ann_get(ann, i, &out);
            }
            vttif_ann_age(ann, now, 1.0);
        }
    }
    struct vttif_tm_event ev;
    vttif_tm_tick(tm, now, &ev);
    protobuf_c_message_free_unpacked(m, NULL);
    return 0;
}
