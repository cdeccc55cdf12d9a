/* SPDX-License-Identifier: MIT */
/* The held links' state machine and their set: see plan_link.h.  The
 * transition table is the one place that says which event may happen in
 * which state; what an event does to the record is in s_effect(). */
#include "plan_link.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "eth.h"

#define ST(X) PLAN_LINK_##X
#define EV(X) PLAN_LINK_EV_##X

/* The transition table: (state, event) -> next state.  A pair not
 * listed is illegal. */
struct s_rule {
    enum plan_link_state from;
    enum plan_link_event ev;
    enum plan_link_state to;
};

static const struct s_rule s_rules[] = {
    { ST(NEW), EV(RESERVE), ST(RESERVING) },
    { ST(NEW), EV(ADOPT), ST(RESERVING) },
    { ST(NEW), EV(DIRECT), ST(SETUP) },
    { ST(NEW), EV(RELEASE), ST(GONE) },

    { ST(RESERVING), EV(ASKED), ST(RESERVING) },
    { ST(RESERVING), EV(NO_REPLY), ST(RESERVING) },
    { ST(RESERVING), EV(REFUSED), ST(SETUP) },
    { ST(RESERVING), EV(ACTIVE), ST(SETUP) },
    { ST(RESERVING), EV(ENDED), ST(SETUP) },
    { ST(RESERVING), EV(TIMEOUT), ST(SETUP) },
    { ST(RESERVING), EV(RELEASE), ST(GONE) },
    { ST(RESERVING), EV(VANISHED), ST(GONE) },

    { ST(SETUP), EV(WIRED), ST(SWITCHING) },
    { ST(SETUP), EV(REWIRE), ST(SETUP) },
    { ST(SETUP), EV(PATH_LOST), ST(SETUP) },
    { ST(SETUP), EV(RELEASE), ST(GONE) },
    { ST(SETUP), EV(VANISHED), ST(GONE) },

    { ST(SWITCHING), EV(SWITCHED), ST(UP) },
    { ST(SWITCHING), EV(RULES_MISSING), ST(SWITCHING) },
    { ST(SWITCHING), EV(REWIRE), ST(SETUP) },
    { ST(SWITCHING), EV(PATH_LOST), ST(SETUP) },
    { ST(SWITCHING), EV(RELEASE), ST(GONE) },
    { ST(SWITCHING), EV(VANISHED), ST(GONE) },

    { ST(UP), EV(RULES_MISSING), ST(SWITCHING) },
    { ST(UP), EV(REWIRE), ST(SETUP) },
    { ST(UP), EV(PATH_LOST), ST(SETUP) },
    { ST(UP), EV(RELEASE), ST(GONE) },
    { ST(UP), EV(VANISHED), ST(GONE) },
};

int
plan_link_next(enum plan_link_state from, enum plan_link_event ev)
{
    if ((unsigned) from >= PLAN_LINK_N_STATES
        || (unsigned) ev >= PLAN_LINK_N_EVENTS) {
        return -1;
    }
    /* 28 rules: a scan costs less than keeping a second copy in step. */
    for (size_t i = 0; i < sizeof s_rules / sizeof s_rules[0]; i++) {
        if (s_rules[i].from == from && s_rules[i].ev == ev) {
            return (int) s_rules[i].to;
        }
    }
    return -1;
}

const char *
plan_link_state_name(enum plan_link_state s)
{
    static const char *const names[] = {
        "new", "reserving", "setup", "switching", "up", "gone",
    };
    return (unsigned) s < PLAN_LINK_N_STATES ? names[s] : "?";
}

const char *
plan_link_event_name(enum plan_link_event ev)
{
    static const char *const names[] = {
        "reserve", "adopt", "direct", "asked", "no-reply", "refused",
        "active", "ended", "timeout", "wired", "switched", "rules-missing",
        "rewire", "path-lost", "release", "vanished",
    };
    return (unsigned) ev < PLAN_LINK_N_EVENTS ? names[ev] : "?";
}

static bool
s_host_ok(const char *h)
{
    return h && *h && strlen(h) < PLAN_HOST_LEN;
}

/* Writes 'prefix', 'x' and, if 'y' is not NULL, "-" and 'y' into 'out'
 * (PLAN_LINK_NAME_LEN bytes); false, with 'out' empty, if it does not
 * fit. */
static bool
s_name(char *out, const char *prefix, const char *x, const char *y)
{
    size_t lp = strlen(prefix), lx = strlen(x), ly = y ? strlen(y) + 1 : 0;
    out[0] = '\0';
    if (lp + lx + ly >= PLAN_LINK_NAME_LEN) {
        return false;
    }
    memcpy(out, prefix, lp);
    memcpy(out + lp, x, lx);
    if (y) {
        out[lp + lx] = '-';
        memcpy(out + lp + lx + 1, y, ly - 1);
    }
    out[lp + lx + ly] = '\0';
    return true;
}

bool
plan_link_name_resv(const char *resv_id, char *out)
{
    if (!resv_id || !*resv_id) {
        return false;
    }
    return s_name(out, "vr-", resv_id, NULL);
}

bool
plan_link_name_direct(const char *a, const char *b, char *out)
{
    if (strcmp(a, b) > 0) {
        const char *t = a;
        a = b;
        b = t;
    }
    return s_name(out, "vd-", a, b);
}

void
plan_links_init(struct plan_links *self, size_t max, uint64_t nonce)
{
    memset(self, 0, sizeof *self);
    self->max = max && max < PLAN_LINK_MAX ? max : PLAN_LINK_MAX;
    self->nonce = nonce;
}

static void
s_free_rules(struct plan_link *l)
{
    free(l->rules_a);
    free(l->rules_b);
    l->rules_a = l->rules_b = NULL;
    l->n_rules_a = l->n_rules_b = 0;
}

void
plan_links_uninit(struct plan_links *self)
{
    for (size_t i = 0; i < self->n; i++) {
        s_free_rules(&self->v[i]);
    }
    free(self->v);
    self->v = NULL;
    self->n = 0;
}

struct plan_link *
plan_links_find(const struct plan_links *self, const char *a, const char *b)
{
    if (!a || !b) {
        return NULL;
    }
    if (strcmp(a, b) > 0) {
        const char *t = a;
        a = b;
        b = t;
    }
    for (size_t i = 0; i < self->n; i++) {
        if (!strcmp(self->v[i].a, a) && !strcmp(self->v[i].b, b)) {
            return &self->v[i];
        }
    }
    return NULL;
}

/* The link whose field at 'offset' equals 's'; "" never matches. */
static struct plan_link *
s_find_str(const struct plan_links *self, size_t offset, const char *s)
{
    if (!s || !*s) {
        return NULL;
    }
    for (size_t i = 0; i < self->n; i++) {
        if (!strcmp((const char *) &self->v[i] + offset, s)) {
            return &self->v[i];
        }
    }
    return NULL;
}

struct plan_link *
plan_links_by_resv(const struct plan_links *self, const char *resv_id)
{
    return s_find_str(self, offsetof(struct plan_link, resv_id), resv_id);
}

struct plan_link *
plan_links_by_request(const struct plan_links *self, const char *request_id)
{
    return s_find_str(self, offsetof(struct plan_link, request_id),
                      request_id);
}

struct plan_link *
plan_links_by_name(const struct plan_links *self, const char *name)
{
    return s_find_str(self, offsetof(struct plan_link, name), name);
}

size_t
plan_links_count(const struct plan_links *self, enum plan_link_state state)
{
    size_t n = 0;
    for (size_t i = 0; i < self->n; i++) {
        n += self->v[i].state == state;
    }
    return n;
}

struct plan_link *
plan_links_add(struct plan_links *self, const char *a, const char *b,
               enum plan_link_kind kind, uint64_t now_us)
{
    if (!s_host_ok(a) || !s_host_ok(b) || !strcmp(a, b)
        || plan_links_find(self, a, b)) {
        return NULL;
    }
    if (self->n >= self->max) {
        self->n_full++;
        return NULL;
    }
    struct plan_link *v = realloc(self->v, (self->n + 1) * sizeof *v);
    if (!v) {
        return NULL;
    }
    self->v = v;
    struct plan_link *l = &v[self->n++];
    memset(l, 0, sizeof *l);
    if (strcmp(a, b) > 0) {
        const char *t = a;
        a = b;
        b = t;
    }
    snprintf(l->a, sizeof l->a, "%s", a);
    snprintf(l->b, sizeof l->b, "%s", b);
    l->kind = kind;
    l->state = PLAN_LINK_NEW;
    l->t_state_us = now_us;
    if (kind == PLAN_LINK_COMMODITY) {
        plan_link_name_direct(l->a, l->b, l->name);
    }
    /* No clock in it: a retry after a timeout must be the same request. */
    snprintf(l->request_id, sizeof l->request_id,
             "vadapt-%016" PRIx64 "-%" PRIu64, self->nonce,
             ++self->next_seq);
    return l;
}

void
plan_links_drop(struct plan_links *self, struct plan_link *l)
{
    s_free_rules(l);
    size_t i = (size_t) (l - self->v);
    memmove(l, l + 1, (self->n - i - 1) * sizeof *l);
    self->n--;
}

void
plan_link_set_path(struct plan_link *l, const char *resv_host_a,
                   const char *addr_a, const char *addr_b)
{
    bool swap = resv_host_a && strcmp(resv_host_a, l->a) != 0;
    const char *x = swap ? addr_b : addr_a, *y = swap ? addr_a : addr_b;
    l->addr_a[0] = l->addr_b[0] = '\0';
    if (x && strlen(x) < sizeof l->addr_a) {
        snprintf(l->addr_a, sizeof l->addr_a, "%s", x);
    }
    if (y && strlen(y) < sizeof l->addr_b) {
        snprintf(l->addr_b, sizeof l->addr_b, "%s", y);
    }
}

bool
plan_link_set_circuit(struct plan_link *l, const char *resv_host_a,
                      uint32_t vlan, uint32_t vlan_b, uint32_t prefix_len)
{
    bool ok = eth_vlan_pair_ok(vlan, vlan_b) && prefix_len <= 32;
    bool swap = resv_host_a && strcmp(resv_host_a, l->a) != 0;
    if (!ok) {
        vlan = vlan_b = prefix_len = 0;
    }
    if (vlan_b == vlan) {
        vlan_b = 0;
    }
    l->vlan = swap && vlan_b ? vlan_b : vlan;
    l->vlan_b = swap && vlan_b ? vlan : vlan_b;
    l->prefix_len = prefix_len;
    return ok;
}

uint32_t
plan_link_vlan_at(const struct plan_link *l, int i)
{
    return i == 1 && l->vlan_b ? l->vlan_b : l->vlan;
}

/* Guards beyond the table: what an event needs of the record. */
static bool
s_allowed(const struct plan_link *l, enum plan_link_event ev,
          const char *resv_id)
{
    char name[PLAN_LINK_NAME_LEN];
    switch (ev) {
    case EV(ASKED):
    case EV(ADOPT):
        /* A reservation id must fit the link name made from it. */
        return resv_id && plan_link_name_resv(resv_id, name)
               && strlen(resv_id) < sizeof l->resv_id;
    case EV(ACTIVE):
        return l->kind == PLAN_LINK_RESERVED && l->resv_id[0];
    case EV(PATH_LOST):
    case EV(VANISHED):
        return l->kind == PLAN_LINK_RESERVED;
    default:
        return true;
    }
}

/* Onto the commodity network: no reservation, the direct link's name. */
static void
s_to_commodity(struct plan_link *l)
{
    l->kind = PLAN_LINK_COMMODITY;
    l->resv_id[0] = '\0';
    l->addr_a[0] = l->addr_b[0] = '\0';
    l->vlan = l->vlan_b = l->prefix_len = 0;
    plan_link_name_direct(l->a, l->b, l->name);
}

static void
s_effect(struct plan_link *l, enum plan_link_event ev, const char *resv_id,
         uint64_t now_us)
{
    switch (ev) {
    case EV(RESERVE):
        l->kind = PLAN_LINK_RESERVED;
        l->name[0] = '\0';
        l->t_reserve_us = now_us;
        l->next_ask_us = now_us;
        break;
    case EV(ADOPT):
    case EV(ASKED):
        l->kind = PLAN_LINK_RESERVED;
        snprintf(l->resv_id, sizeof l->resv_id, "%s", resv_id);
        plan_link_name_resv(l->resv_id, l->name);
        if (ev == EV(ADOPT)) {
            l->t_reserve_us = now_us;
        }
        break;
    case EV(DIRECT):
    case EV(REFUSED):
    case EV(ENDED):
    case EV(TIMEOUT):
    case EV(PATH_LOST):
        s_to_commodity(l);
        break;
    case EV(ACTIVE):
        l->t_active_us = now_us;
        break;
    default:
        break;
    }
}

int
plan_links_apply(struct plan_links *self, struct plan_link *l,
                 enum plan_link_event ev, const char *resv_id,
                 uint64_t now_us)
{
    int to = plan_link_next(l->state, ev);
    if (to < 0 || !s_allowed(l, ev, resv_id)) {
        self->n_illegal++;
        return -1;
    }
    s_effect(l, ev, resv_id, now_us);
    if ((enum plan_link_state) to == PLAN_LINK_SETUP) {
        /* A new set-up: the link is made again and the rules sent again
         * (an agent that restarted or a path that broke took them). */
        s_free_rules(l);
        l->tries = 0;
        l->boot_a = l->boot_b = 0;
        l->t_up_us = 0;
    }
    if ((enum plan_link_state) to != l->state) {
        l->state = (enum plan_link_state) to;
        l->t_state_us = now_us;
        l->tries = 0;
    }
    self->n_transitions++;
    return 0;
}
