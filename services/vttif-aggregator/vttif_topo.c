/* SPDX-License-Identifier: MIT */
/* The topology half of the VTTIF inference core (see vttif_tm.h for the
 * rules): from the pairs' smoothed and recent rates, which vttif_tm.c
 * keeps, it derives the candidate edge set each tick, decides when the
 * set is published (quiet times, the union rule, flap damping) and fills
 * the topology events.  It reads the pairs and writes only their
 * candidate and published marks.  No I/O. */
#include "vttif_topo.h"

#include <assert.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vttif_tm_int.h"

void
vttif_topo_init(vttif_tm_t *self)
{
    self->mode = S_NORMAL;
    self->t_change = self->t_event = -INFINITY;
    self->diff_since = -1;
    self->union_due = -1;
    self->union_hold = self->p.settle_s;
    self->t_union_exit = -INFINITY;
    for (size_t i = 0; i < S_CHANGES; i++) {
        self->changes[i].t = -INFINITY;
    }
}

static double
s_norm(const vttif_tm_t *self, const struct s_pair *p)
{
    return self->max_u > 0 ? vttif_tm_pair_cur(self, p) / self->max_u : 0;
}

/* Sets the scales of the topology rules and the largest directed rate,
 * the matrix's.  Rates move with every vttif_tm_feed(), so ticks and
 * queries both call this first.
 *
 * The scale an edge must reach add_frac of ('max_u') takes each pair at
 * its smoothed rate, but at no more than its recent rate / drop_frac.  A
 * flow that stopped thus stops setting the scale once its recent rate
 * is under drop_frac of its smoothed rate, about idle_s after it stopped;
 * otherwise the lighter traffic that follows it would stay under
 * add_frac of a pair that no longer sends until its window and EWMA
 * drained, for seconds.  The factor 1 / drop_frac is for a pattern that
 * pauses as a whole (BSP compute): what its pairs still carry (ACKs,
 * chatter) keeps the scale at ten times that, out of reach of chatter
 * elsewhere, where the recent rates alone would make the largest chatter
 * the scale and let the rest enter.
 *
 * The scale an edge leaves under drop_frac of ('max_cur') is the largest
 * current rate (see vttif_tm_pair_cur()): an edge whose traffic stopped
 * leaves when it carries under drop_frac of what the busiest pair
 * carries now, not while every pair is paused alike.  With the recent rates unused
 * (idle_s 0), both scales are the largest smoothed rate, as they were. */
void
vttif_topo_scale(vttif_tm_t *self)
{
    double max_u = 0, max_cur = 0, max_d = 0;
    for (size_t i = 0; i < self->pairs_hw; i++) {
        const struct s_pair *p = &self->pairs[i];
        if (p->in_use) {
            double s = p->rate[0] + p->rate[1];
            double u = s;
            if (self->n_recent && self->p.drop_frac > 0) {
                double cap = (p->recent[0] + p->recent[1])
                             / self->p.drop_frac;
                u = cap < s ? cap : s;
            }
            double cur = vttif_tm_pair_cur(self, p);
            double d = p->rate[0] > p->rate[1] ? p->rate[0] : p->rate[1];
            max_u = u > max_u ? u : max_u;
            max_cur = cur > max_cur ? cur : max_cur;
            max_d = d > max_d ? d : max_d;
        }
    }
    self->max_u = max_u;
    self->max_cur = max_cur;
    self->max_d = max_d;
}

/* In the union: published, a candidate, or a candidate within settle_s. */
static bool
s_in_union(const vttif_tm_t *self, const struct s_pair *p, double now)
{
    return p->in_p || p->in_c || now - p->flip_t < self->p.settle_s;
}

/* Names an edge with its smoothed rate and its norm (of its current
 * rate), and says so when its traffic stopped. */
static void
s_edge_str(const vttif_tm_t *self, const struct s_pair *p, char *buf,
           size_t size)
{
    char a[18], b[18];
    double rate = p->rate[0] + p->rate[1];
    snprintf(buf, size, "%s-%s %.1f Mbit/s %.0f%%%s",
             vttif_tm_mac_str(p->mac[0], a), vttif_tm_mac_str(p->mac[1], b),
             rate / 1e6, 100 * s_norm(self, p),
             vttif_tm_pair_stopped(self, p) ? " stopped" : "");
}

/* Makes the published set the candidate set, or (with 'to_union') the
 * union, and describes it in '*ev' after 'why'. */
static void
s_publish(vttif_tm_t *self, double now, bool to_union,
          enum vttif_tm_change kind, struct vttif_tm_event *ev,
          const char *why)
{
    uint32_t n_added = 0, n_removed = 0, n_edges = 0;
    const struct s_pair *top_add = NULL, *top_rm = NULL;
    for (size_t i = 0; i < self->pairs_hw; i++) {
        struct s_pair *p = &self->pairs[i];
        if (!p->in_use) {
            continue;
        }
        bool in = to_union ? s_in_union(self, p, now) : p->in_c;
        double rate = p->rate[0] + p->rate[1];
        if (in && !p->in_p) {
            n_added++;
            if (!top_add || rate > top_add->rate[0] + top_add->rate[1]) {
                top_add = p;
            }
        } else if (!in && p->in_p) {
            n_removed++;
            if (!top_rm || rate > top_rm->rate[0] + top_rm->rate[1]) {
                top_rm = p;
            }
        }
        p->in_p = in;
        n_edges += in;
    }
    self->n_p = n_edges;
    self->version++;
    self->t_event = now;
    self->diff_since = -1;
    self->c.events++;
    self->c.events_union += kind == VTTIF_TM_UNION;
    self->c.n_edges = n_edges;

    char add[80] = "", rm[80] = "";
    if (top_add) {
        s_edge_str(self, top_add, add, sizeof add);
    }
    if (top_rm) {
        s_edge_str(self, top_rm, rm, sizeof rm);
    }
    *ev = (struct vttif_tm_event) {
        .change = kind,
        .version = self->version,
        .time = now,
        .n_added = n_added,
        .n_removed = n_removed,
        .n_edges = n_edges,
    };
    snprintf(ev->reason, sizeof ev->reason,
             "%s; %u edges (+%u -%u), largest %.1f Mbit/s%s%s%s%s", why,
             n_edges, n_added, n_removed, self->max_u / 1e6,
             top_add ? "; top added " : "", add,
             top_rm ? "; top removed " : "", rm);
}

/* Moves edges in and out of the candidate set; returns true if it
 * changed, with '*reversal' set if an edge flipped back within settle_s.
 * Also counts the published set's lag and the union's extra edges. */
static bool
s_update_candidates(vttif_tm_t *self, double now, bool *reversal,
                    size_t *n_union_extra)
{
    const struct vttif_tm_params *pp = &self->p;
    bool changed = false;
    size_t n_c = 0, n_diff = 0, n_extra = 0, n_multi = 0;
    size_t n_out = 0, n_out_live = 0, n_pending = 0, n_pending_add = 0;
    *reversal = false;
    for (size_t i = 0; i < self->pairs_hw; i++) {
        struct s_pair *p = &self->pairs[i];
        if (!p->in_use) {
            continue;
        }
        double rate = p->rate[0] + p->rate[1];
        double cur = vttif_tm_pair_cur(self, p);
        bool flip_cond;
        if (!p->in_c) {
            flip_cond = cur >= pp->min_rate_bps && self->max_u > 0
                        && cur / self->max_u >= pp->add_frac;
        } else {
            /* Against the busiest pair now, if that could hold an edge
             * itself: when all pairs pause, none leaves on this rule. */
            double norm = self->max_cur > 0 ? cur / self->max_cur : 0;
            flip_cond = rate < pp->drop_rate_bps
                        || (self->max_cur >= pp->drop_rate_bps
                            && norm < pp->drop_frac);
        }
        if (!flip_cond) {
            p->cond_t = -1;
        } else if (p->cond_t < 0) {
            p->cond_t = now;
        }
        double hold = p->in_c ? pp->hold_drop_s : pp->hold_add_s;
        if (flip_cond && now - p->cond_t >= hold) {
            p->in_c = !p->in_c;
            p->gone = !p->in_c && vttif_tm_pair_stopped(self, p);
            p->cond_t = -1;
            if (now - p->flip_t < pp->settle_s) {
                *reversal = true;
            }
            p->flip_t = now;
            changed = true;
            self->c.flips++;
        }
        n_c += p->in_c;
        n_diff += p->in_c != p->in_p;
        n_out += p->in_p && !p->in_c;
        n_out_live += p->in_p && !p->in_c && !p->gone;
        n_pending += p->cond_t >= 0;
        n_pending_add += p->cond_t >= 0 && !p->in_c;
        n_extra += !p->in_p && s_in_union(self, p, now);
        n_multi += p->multi;
        if (!p->in_c && !p->in_p && p->reports == S_NONE && p->cond_t < 0
            && now - p->flip_t >= pp->settle_s) {
            vttif_tm_pair_free(self, (uint32_t) i);
        }
    }
    self->n_c = n_c;
    self->n_diff = n_diff;
    self->n_out = n_out;
    self->n_out_live = n_out_live;
    self->n_pending = n_pending;
    self->n_pending_add = n_pending_add;
    self->c.n_candidates = n_c;
    self->c.n_pairs_multi = n_multi;
    *n_union_extra = n_extra;
    return changed;
}

bool
vttif_topo_tick(vttif_tm_t *self, double now, struct vttif_tm_event *ev)
{
    assert(self && self->tag == S_TAG && ev);
    const struct vttif_tm_params *pp = &self->p;
    vttif_topo_scale(self);

    bool reversal;
    size_t n_extra;
    if (s_update_candidates(self, now, &reversal, &n_extra)) {
        self->t_change = now;
        self->changes[self->change_head] =
            (struct s_change) { .t = now, .reversal = reversal };
        self->change_head = (self->change_head + 1) % S_CHANGES;
    }
    if (self->n_diff == 0) {
        self->diff_since = -1;
    } else if (self->diff_since < 0) {
        self->diff_since = now;
    }

    /* The union rule: the set is changing faster than we can settle. */
    unsigned n_changes = 0;
    bool any_reversal = false;
    for (size_t i = 0; i < S_CHANGES; i++) {
        if (now - self->changes[i].t < pp->settle_s) {
            n_changes++;
            any_reversal |= self->changes[i].reversal;
        }
    }
    bool churning = n_changes > pp->settle_changes && any_reversal;
    bool lagging = self->diff_since >= 0
                   && now - self->diff_since >= pp->settle_s;
    double since_change = now - self->t_change;
    if (now - self->t_event < pp->min_interval_s) {
        return false;
    }

    char why[160];
    if (self->mode == S_NORMAL) {
        bool edge_case = self->n_p == 0 || self->n_c == 0;
        /* quiet_s is there for a switch from A to B, whose candidate set
         * is A+B until A's rates drain (B is in, A not yet out).  When
         * every edge leaving the published set left because its traffic
         * stopped, that wait is over: nothing is draining any more (A's
         * edges went with their recent rates, and with them their hold
         * on the scale); so, unless an edge is still on its way in or
         * out, or edges flipped back lately (churn, which the union rule
         * is for), the switch waits only quiet_new_s, as the end of
         * traffic (CLEARED) does. */
        bool stopped = self->n_out && !self->n_out_live
                       && !self->n_pending && !any_reversal;
        double quiet = edge_case || stopped ? pp->quiet_new_s : pp->quiet_s;
        if (self->n_diff && since_change >= quiet) {
            enum vttif_tm_change kind = self->n_p == 0   ? VTTIF_TM_NEW
                                        : self->n_c == 0 ? VTTIF_TM_CLEARED
                                                         : VTTIF_TM_UPDATED;
            snprintf(why, sizeof why,
                     "%s: candidate edges unchanged for %.1f s%s",
                     vttif_tm_change_name(kind), since_change,
                     stopped && !edge_case
                         ? " after the removed edges' traffic stopped"
                         : "");
            s_publish(self, now, false, kind, ev, why);
            return true;
        }
        if ((churning || lagging) && n_extra) {
            /* Edges whose enter condition holds are candidates within
             * hold_add_s.  Edges that stopped leave as soon as their
             * recent rate says so, often in the tick the first edges of
             * the next pattern enter, the rest of which are then on
             * their way: wait for them (up to hold_add_s), or the union
             * would miss them until it next grows, settle_s later. */
            if (self->n_pending_add) {
                if (self->union_due < 0) {
                    self->union_due = now;
                }
                if (now - self->union_due < pp->hold_add_s) {
                    return false;
                }
            }
            self->union_due = -1;
            enum vttif_tm_change kind =
                self->n_p == 0 ? VTTIF_TM_NEW : VTTIF_TM_UNION;
            if (churning) {
                snprintf(why, sizeof why,
                         "%s: edge set changed %u times in %.1f s and "
                         "flipped back; holding the union",
                         vttif_tm_change_name(kind), n_changes, pp->settle_s);
            } else {
                snprintf(why, sizeof why,
                         "%s: edge set kept changing for %.1f s; holding "
                         "the union",
                         vttif_tm_change_name(kind),
                         now - self->diff_since);
            }
            s_publish(self, now, true, kind, ev, why);
            self->mode = S_UNION;
            /* Flap damping: back in the union soon after leaving it, so
             * the traffic's cycle is longer than our hold; hold longer. */
            self->union_hold = now - self->t_union_exit < pp->settle_max_s
                                   ? self->union_hold * 2
                                   : pp->settle_s;
            if (self->union_hold > pp->settle_max_s) {
                self->union_hold = pp->settle_max_s;
            }
            if (self->union_hold < pp->settle_s) {
                self->union_hold = pp->settle_s;
            }
            return true;
        }
        self->union_due = -1;
        return false;
    }

    /* S_UNION: hold (and grow) the union until the candidates settle. */
    if (since_change >= self->union_hold) {
        self->mode = S_NORMAL;
        self->t_union_exit = now;
        if (!self->n_diff) {
            return false;
        }
        enum vttif_tm_change kind =
            self->n_c == 0 ? VTTIF_TM_CLEARED : VTTIF_TM_UPDATED;
        snprintf(why, sizeof why,
                 "%s: edge set stable for %.1f s; leaving the union",
                 vttif_tm_change_name(kind), since_change);
        s_publish(self, now, false, kind, ev, why);
        return true;
    }
    if (n_extra && now - self->t_event >= pp->settle_s) {
        snprintf(why, sizeof why,
                 "union: %zu more edges appeared while traffic kept "
                 "changing (%u changes in %.1f s)",
                 n_extra, n_changes, pp->settle_s);
        s_publish(self, now, true, VTTIF_TM_UNION, ev, why);
        return true;
    }
    return false;
}

static int
s_edge_cmp(const void *x, const void *y)
{
    const struct vttif_tm_edge *a = x, *b = y;
    if (a->a != b->a) {
        return a->a < b->a ? -1 : 1;
    }
    return a->b < b->b ? -1 : a->b > b->b;
}

size_t
vttif_topo_edges(vttif_tm_t *self, struct vttif_tm_edge *out, size_t max,
                 uint64_t *version)
{
    assert(self && self->tag == S_TAG);
    vttif_topo_scale(self);
    size_t n = 0;
    for (size_t i = 0; i < self->pairs_hw; i++) {
        const struct s_pair *p = &self->pairs[i];
        if (!p->in_use || !p->in_p) {
            continue;
        }
        if (n < max) {
            out[n] = (struct vttif_tm_edge) {
                .a = p->mac[0],
                .b = p->mac[1],
                .rate_bps = p->rate[0] + p->rate[1],
                .rate_ab_bps = p->rate[0],
                .rate_ba_bps = p->rate[1],
                .norm = s_norm(self, p),
            };
        }
        n++;
    }
    if (n && n <= max) {
        qsort(out, n, sizeof *out, s_edge_cmp);
    }
    if (version) {
        *version = self->version;
    }
    return n;
}
