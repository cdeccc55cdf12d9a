/* SPDX-License-Identifier: MIT */
/* The planner service's bookings ahead (predict: true, or a schedule:):
 * a predicted or scheduled phase's paths are asked for so that their
 * set-up ends when the phase is due (plan_predict.h, plan_sched.h,
 * plan_book.h); a booked path is taken by the link once the core selects
 * it, and cancelled when the prediction misses.  Every prediction and its
 * outcome is a decision.  Split from plan_svc.c, whose loop calls
 * plan_svc_book_tick() each tick. */
#include "plan_svc_int.h"

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "vtime.h"

LOG_MODULE("planner");

/* A held link a booked phase will use is kept this long past the phase's
 * start, for its traffic to be seen and selected. */
#define S_KEEP_AFTER_START_US UINT64_C(5000000)

/* The set-up time a booking plans for: the networks' learnt mean, else
 * the configured prior, else none. */
static uint64_t
s_book_setup_us(const plan_svc_t *self)
{
    uint64_t su = 0, td = 0;
    if (self->costs && plan_costs_default(self->costs, &su, &td)) {
        return su;
    }
    return (uint64_t) self->cfg->path_setup_ms * 1000;
}

/* What booking 'bk' serves, for decisions: "prediction 3" or "scheduled
 * phase 0". */
static const char *
s_book_what(const struct plan_booking *bk, char *buf, size_t size)
{
    if (bk->pred_id >= PLAN_SCHED_ID_BASE) {
        snprintf(buf, size, "scheduled phase %" PRIu64,
                 bk->pred_id - PLAN_SCHED_ID_BASE);
    } else {
        snprintf(buf, size, "prediction %" PRIu64, bk->pred_id);
    }
    return buf;
}

/* What the broker says of booking 'bk' (an event, a reply or the list). */
void
plan_svc_book_heard(plan_svc_t *self, struct plan_booking *bk,
                    const Vr__Reservation *r)
{
    char what[48];
    if (!bk->answered && !plan_booking_asked(bk, r->resv_id)) {
        return;
    }
    bk->resv_state = r->state;
    if (r->state == RS(ACTIVE)) {
        snprintf(bk->path_host_a, sizeof bk->path_host_a, "%s",
                 r->host_a && strlen(r->host_a) < sizeof bk->path_host_a
                 ? r->host_a : "");
        snprintf(bk->addr_a, sizeof bk->addr_a, "%s",
                 r->addr_a && strlen(r->addr_a) < sizeof bk->addr_a
                 ? r->addr_a : "");
        snprintf(bk->addr_b, sizeof bk->addr_b, "%s",
                 r->addr_b && strlen(r->addr_b) < sizeof bk->addr_b
                 ? r->addr_b : "");
    } else if (r->state == RS(FAILED) || r->state == RS(RELEASING)
               || r->state == RS(RELEASED)) {
        bk->state = PLAN_BOOK_CANCELLED;
        self->n_book_cancelled++;
        plan_svc_decide(self, DK(PREDICT), bk->a, bk->b, 0, bk->resv_id, "", 0,
                        "booking %s of %s ended at the broker (%s%s%s) before "
                        "the phase took it", bk->resv_id,
                        s_book_what(bk, what, sizeof what),
                        plan_svc_resv_state_name(r->state),
                        r->error && *r->error ? ": " : "",
                        r->error ? r->error : "");
    }
}

/* The live booking reservation 'r' belongs to, or NULL. */
struct plan_booking *
plan_svc_book_for(plan_svc_t *self, const Vr__Reservation *r)
{
    struct plan_booking *bk = plan_books_by_resv(&self->books, r->resv_id);
    if (!bk && r->request_id) {
        bk = plan_books_by_request(&self->books, r->request_id);
        if (bk && bk->answered) {
            bk = NULL;
        }
    }
    return bk;
}

/* Gives booking 'bk' back: released at the broker if it was asked for
 * (a failure, or a request never answered, is left to the reconcile,
 * which releases what nobody holds). */
void
plan_svc_book_cancel(plan_svc_t *self, struct plan_booking *bk,
                     const char *why)
{
    char what[48];
    if (bk->state == PLAN_BOOK_ASKED && bk->resv_id[0]) {
        plan_svc_resv_release(self, bk->resv_id, why, bk->a, bk->b);
    }
    bk->state = PLAN_BOOK_CANCELLED;
    self->n_book_cancelled++;
    plan_svc_decide(self, DK(PREDICT), bk->a, bk->b, 0, bk->resv_id, "", 0,
                    "booking %s of %s cancelled: %s",
                    bk->resv_id[0] ? bk->resv_id : bk->request_id,
                    s_book_what(bk, what, sizeof what), why);
}

/* The core selected the link of booking 'bk': a held link takes its
 * reservation, wanted at once since it is held.  Returns true if taken. */
bool
plan_svc_book_take(plan_svc_t *self, struct plan_booking *bk, double demand)
{
    if (plan_links_find(&self->links, bk->a, bk->b)) {
        plan_svc_book_cancel(self, bk, "the link is held already");
        return false;
    }
    struct plan_link *h = plan_links_add(&self->links, bk->a, bk->b,
                                         PLAN_LINK_RESERVED,
                                         plan_svc_now(self));
    if (!h) {
        plan_svc_book_cancel(self, bk, "no room for another held link");
        return false;
    }
    if (plan_svc_apply(self, h, PLAN_LINK_EV_ADOPT, bk->resv_id) != 0) {
        plan_links_drop(&self->links, h);
        plan_svc_book_cancel(self, bk,
                             "its reservation id makes no link name");
        return false;
    }
    h->demand_bps = demand;
    h->whole_hosts = true;
    Vr__Reservation r = VR__RESERVATION__INIT;
    r.resv_id = bk->resv_id;
    r.state = bk->resv_state;
    r.host_a = bk->path_host_a;
    r.addr_a = bk->addr_a;
    r.addr_b = bk->addr_b;
    bk->state = PLAN_BOOK_ADOPTED;
    self->n_book_taken++;
    self->pred_taken += bk->pred_id == self->pred_id;
    plan_svc_decide(self, DK(PREDICT), h->a, h->b, demand, h->resv_id, h->name,
                    0, "booked path %s taken for the %s phase (it is %s)",
                    h->resv_id, bk->pred_id >= PLAN_SCHED_ID_BASE ? "scheduled"
                    : "predicted", plan_svc_resv_state_name(bk->resv_state));
    plan_svc_take_resv(self, h, &r);
    return true;
}

/* Asks the broker for booking 'bk', set up from its start. */
static void
s_book_ask(plan_svc_t *self, struct plan_booking *bk, uint64_t now)
{
    char what[48];
    struct plan_link *held = plan_links_find(&self->links, bk->a, bk->b);
    if (held) {
        /* Held now (a phase sharing it): kept until the phase starts and
         * its traffic is seen, rather than released by the cost rule on
         * the way and set up again (a teardown and a set-up for a path
         * that was there). */
        bk->state = PLAN_BOOK_CANCELLED;
        uint64_t until = bk->start_us + s_book_setup_us(self)
                         + S_KEEP_AFTER_START_US;
        if (plan_core_keep(self->core, bk->a, bk->b, now, until) == 0) {
            if (bk->pred_id < PLAN_SCHED_ID_BASE) {
                held->booked_for = bk->pred_id;
            }
            /* The phase's VM pairs may not be the last phase's: all of
             * the two hosts' VMs onto it (synced at the next step). */
            held->whole_hosts = true;
            held->rules_gen = self->topo_gen - 1;
            plan_svc_decide(self, DK(PREDICT), held->a, held->b, 0,
                            held->resv_id, held->name, 0,
                            "path %s kept for %s: held already, wanted until "
                            "%.1f s after the phase's start",
                            held->resv_id[0] ? held->resv_id : held->name,
                            s_book_what(bk, what, sizeof what),
                            (double) S_KEEP_AFTER_START_US / 1e6);
        }
        return;
    }
    Vr__ResvRequest req;
    plan_svc_resv_request(self, &req, bk->a, bk->b, bk->request_id);
    /* Wall clock, as the broker books; at once if already due. */
    if (bk->start_us > now + PLAN_SVC_ASK_RETRY_US) {
        req.start_us = vtime_now_us() + (bk->start_us - now);
    }
    bk->asks++;
    bus_msg_t reply;
    if (bus_client_call(self->broker, VR__MSG_TYPE__MSG_RESV_REQUEST,
                        &req.base, VR__MSG_TYPE__MSG_RESV_REPLY, &reply)
        != 0) {
        if (reply.error == VR__ERROR_CODE__ERR_TIMEOUT
            || reply.error == VR__ERROR_CODE__ERR_UNAVAILABLE) {
            bk->book_at_us = now + PLAN_SVC_ASK_RETRY_US;  /* same id again */
            bus_msg_clear(&reply);
            return;
        }
        if (reply.error == VR__ERROR_CODE__ERR_LIMIT
            && now + PLAN_SVC_ASK_RETRY_US
               < bk->start_us + s_book_setup_us(self)) {
            /* A host's or network's open reservations: paths being
             * released or torn down free it, often in time for the
             * phase; a path up a little late still beats one reserved
             * for demand seen after the start. */
            if (!bk->limited) {
                bk->limited = true;
                plan_svc_decide(self, DK(PREDICT), bk->a, bk->b, 0, NULL, "",
                                0,
                                "booking ahead for %s waits: the broker "
                                "refused it for now (%s); asked again each "
                                "%.1f s until the phase is due",
                                s_book_what(bk, what, sizeof what),
                                reply.error_text,
                                (double) PLAN_SVC_ASK_RETRY_US / 1e6);
            }
            bk->book_at_us = now + PLAN_SVC_ASK_RETRY_US;
            bus_msg_clear(&reply);
            return;
        }
        self->n_book_refused++;
        bk->state = PLAN_BOOK_CANCELLED;
        plan_svc_decide(self, DK(PREDICT), bk->a, bk->b, 0, NULL, "", 0,
                        "booking ahead for %s refused by the broker: %s",
                        s_book_what(bk, what, sizeof what), reply.error_text);
        bus_msg_clear(&reply);
        return;
    }
    const Vr__Reservation *r = ((Vr__ResvReply *) reply.body)->resv;
    if (!r || !r->resv_id || !plan_booking_asked(bk, r->resv_id)) {
        bk->book_at_us = now + PLAN_SVC_ASK_RETRY_US;
        VLOG_WARN_RL("broker: reply to booking %s without a usable "
                     "reservation id", bk->request_id);
        bus_msg_clear(&reply);
        return;
    }
    self->n_booked++;
    plan_svc_decide(self, DK(PREDICT), bk->a, bk->b, 0, bk->resv_id, "", 0,
                    "booked ahead for %s: reservation %s, set up from %.1f s "
                    "on", s_book_what(bk, what, sizeof what), bk->resv_id,
                    bk->start_us > now
                    ? (double) (bk->start_us - now) / 1e6 : 0.0);
    plan_svc_book_heard(self, bk, r);
    bus_msg_clear(&reply);
}

/* Cancels every live booking of prediction 'pred_id'. */
static void
s_book_cancel_pred(plan_svc_t *self, uint64_t pred_id, const char *why)
{
    for (size_t i = 0; i < self->books.n; i++) {
        struct plan_booking *bk = &self->books.v[i];
        if (bk->pred_id == pred_id && (bk->state == PLAN_BOOK_WAIT
                                       || bk->state == PLAN_BOOK_ASKED)) {
            plan_svc_book_cancel(self, bk, why);
        }
    }
}

/* Scheduled phases due to be booked (their set-up and the lead ahead):
 * booked like a predicted phase, and taken at their start. */
static void
s_sched_tick(plan_svc_t *self, uint64_t now)
{
    uint64_t setup = s_book_setup_us(self);
    uint64_t lead = (uint64_t) self->cfg->predict_lead_ms * 1000;
    uint64_t wall = vtime_now_us();
    struct plan_prediction *pr = self->sched_pr;
    while (plan_sched_next(self->sched, wall, setup + 2 * lead, pr)) {
        /* Wall clock to the loop's. */
        uint64_t in = pr->start_us > wall ? pr->start_us - wall : 0;
        pr->start_us = now + in;
        /* The lead is also the set-up's slack: up by the start even
         * when the set-up runs a little over its mean. */
        size_t added = plan_books_add(&self->books, pr, setup + lead, lead,
                                      pr->start_us, now);
        plan_svc_decide(self, DK(PREDICT), "", "", 0, NULL, NULL, 0,
                        "scheduled phase %" PRIu64
                        ": %zu link(s) from %.1f s on for %.1f s; %zu path(s) "
                        "to book, set-up %.1f s", pr->id - PLAN_SCHED_ID_BASE,
                        pr->n_links, (double) in / 1e6,
                        (double) pr->duration_us / 1e6, added,
                        (double) setup / 1e6);
    }
}

/* Prediction 'pred_id' was decided: on a miss, the paths taken for it
 * before its phase was seen, and still not selected, stop being wanted
 * (the next tick releases them) rather than waiting out their break-even
 * time; on a hit they are the phase's like any other. */
static void
s_taken_decided(plan_svc_t *self, uint64_t pred_id, bool hit)
{
    for (size_t i = 0; i < self->links.n; i++) {
        struct plan_link *h = &self->links.v[i];
        if (h->booked_for != pred_id) {
            continue;
        }
        h->booked_for = 0;
        if (!hit && plan_core_unseed(self->core, h->a, h->b) == 1) {
            plan_svc_decide(self, DK(PREDICT), h->a, h->b, 0, h->resv_id,
                            h->name, 0, "path %s, taken for prediction %"
                            PRIu64
                            ", given up: the predicted phase did not come",
                            h->resv_id, pred_id);
        }
    }
}

/* One tick of prediction: the core's selection observed and the
 * prediction's outcome acted on.  Takes the booked links the core
 * selects: 'sel' the selection, 'm' its links. */
static void
s_predict_tick(plan_svc_t *self, uint64_t now,
               const struct plan_link_key *sel, size_t m)
{
    struct plan_predict_events ev;
    if (plan_predict_observe(self->predict, now, sel, m, &ev) != 0) {
        return;
    }
    for (size_t i = 0; i < ev.n; i++) {
        const struct plan_predict_event *e = &ev.v[i];
        switch (e->kind) {
        case PLAN_PREDICT_PHASE:
            VLOG_DEBUG("%s", e->reason);
            break;
        case PLAN_PREDICT_PREDICTED: {
            const struct plan_prediction *pr =
                plan_predict_open(self->predict);
            uint64_t setup = s_book_setup_us(self);
            /* Up by the earliest start the window allows, and taken
             * then: the phase's traffic moves onto its paths as it
             * begins, not once the aggregator has seen it on the
             * commodity network.  A miss leaves a taken path idle, which
             * the cost rule then releases. */
            uint64_t earliest = pr && pr->start_us > pr->window_us
                                ? pr->start_us - pr->window_us : now;
            size_t added = pr ? plan_books_add(&self->books, pr,
                                               setup + pr->window_us,
                                               (uint64_t) self->cfg
                                               ->predict_lead_ms * 1000,
                                               earliest > now ? earliest
                                                              : now,
                                               now) : 0;
            self->pred_id = e->pred_id;
            self->pred_taken = 0;
            plan_svc_decide(self, DK(PREDICT), "", "", 0, NULL, NULL, 0,
                            "prediction %" PRIu64
                            ": %s; %zu path(s) to book, set-up %.1f s",
                            e->pred_id, e->reason, added,
                            (double) setup / 1e6);
            break;
        }
        case PLAN_PREDICT_HIT:
        case PLAN_PREDICT_MISS: {
            size_t taken = e->pred_id == self->pred_id ? self->pred_taken
                                                       : 0;
            plan_svc_decide(self, DK(PREDICT), "", "", 0, NULL, NULL, 0,
                            "%s: %s; %zu booked path(s) taken", e->reason,
                            e->kind == PLAN_PREDICT_HIT ? "hit" : "missed",
                            taken);
            s_book_cancel_pred(self, e->pred_id,
                               e->kind == PLAN_PREDICT_HIT
                               ? "its phase came without it"
                               : "the predicted phase did not come");
            s_taken_decided(self, e->pred_id, e->kind == PLAN_PREDICT_HIT);
            break;
        }
        }
    }
}

/* One tick of planning ahead (predict: true, or a schedule): booked links
 * the core selects taken, the predictor fed, scheduled phases booked,
 * scheduled bookings whose phase starts taken, bookings due asked for. */
void
plan_svc_book_tick(plan_svc_t *self, uint64_t now)
{
    /* Only the selected links: at most k or the hosts' ports, however
     * many links the core knows. */
    size_t n = plan_core_selected(self->core, self->infos, self->infos_max);
    if (n > self->infos_max) {
        struct plan_link_info *v = realloc(self->infos, n * sizeof *v);
        if (!v) {
            return;
        }
        self->infos = v;
        self->infos_max = n;
        n = plan_core_selected(self->core, self->infos, self->infos_max);
    }
    struct plan_link_key *sel = calloc(n + 1, sizeof *sel);
    if (!sel) {
        return;
    }
    size_t m = 0;
    for (size_t i = 0; i < n; i++) {
        const struct plan_link_info *li = &self->infos[i];
        sel[m].host_a = li->host_a;
        sel[m].host_b = li->host_b;
        m++;
        struct plan_booking *bk = plan_books_find(&self->books, li->host_a,
                                                  li->host_b);
        if (bk && bk->state == PLAN_BOOK_ASKED) {
            plan_svc_book_take(self, bk, li->demand_bps);
        }
    }
    if (self->predict) {
        s_predict_tick(self, now, sel, m);
    }
    free(sel);
    if (self->sched) {
        s_sched_tick(self, now);
    }
    for (size_t i = 0; i < self->books.n; i++) {
        struct plan_booking *bk = &self->books.v[i];
        if (bk->state == PLAN_BOOK_WAIT && now >= bk->book_at_us) {
            s_book_ask(self, bk, now);
        }
        if (bk->state == PLAN_BOOK_ASKED && bk->take_at_us
            && now >= bk->take_at_us && plan_svc_book_take(self, bk, 0)) {
            /* Known or foreseen, not seen: wanted from now as if held at
             * a restart; the cost rule ends it once the phase's traffic
             * has gone, and a miss of its prediction at once. */
            plan_core_seed(self->core, bk->a, bk->b, now);
            struct plan_link *h = plan_links_find(&self->links, bk->a,
                                                  bk->b);
            if (h && bk->pred_id < PLAN_SCHED_ID_BASE) {
                h->booked_for = bk->pred_id;
            }
        }
    }
    plan_books_sweep(&self->books);
}
