/* SPDX-License-Identifier: MIT */
/* The held link's state machine: the table allows exactly the listed
 * transitions and refuses (and counts) every other event; a timed-out
 * request keeps the link RESERVING with the same request id; fallbacks
 * rename the link and forget the reservation; the set finds links by
 * hosts, reservation, request id and name, and has a cap. */
#undef NDEBUG
#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "plan_link.h"

#define ST(X) PLAN_LINK_##X
#define EV(X) PLAN_LINK_EV_##X

static void
test_table(void)
{
    static const struct { int from, ev, to; } legal[] = {
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
    size_t n_legal = 0;
    for (int s = 0; s < PLAN_LINK_N_STATES; s++) {
        for (int e = 0; e < PLAN_LINK_N_EVENTS; e++) {
            int want = -1;
            for (size_t i = 0; i < sizeof legal / sizeof legal[0]; i++) {
                if (legal[i].from == s && legal[i].ev == e) {
                    want = legal[i].to;
                }
            }
            assert(plan_link_next(s, e) == want);
            n_legal += want >= 0;
        }
    }
    assert(n_legal == sizeof legal / sizeof legal[0]);
    /* GONE is final; out-of-range values are refused. */
    for (int e = 0; e < PLAN_LINK_N_EVENTS; e++) {
        assert(plan_link_next(ST(GONE), e) == -1);
    }
    assert(plan_link_next(PLAN_LINK_N_STATES, EV(RELEASE)) == -1);
    assert(plan_link_next(ST(UP), PLAN_LINK_N_EVENTS) == -1);
    assert(plan_link_next(-1, EV(RELEASE)) == -1);
    assert(!strcmp(plan_link_state_name(ST(RESERVING)), "reserving"));
    assert(!strcmp(plan_link_event_name(EV(NO_REPLY)), "no-reply"));
    assert(!strcmp(plan_link_state_name(42), "?"));
    assert(!strcmp(plan_link_event_name(42), "?"));
}

/* A reservation asked, timed out twice, then answered, active, wired,
 * switched; rules lost and put back; the path lost; released. */
static void
test_life(void)
{
    struct plan_links set;
    plan_links_init(&set, 0, 0xabcdef);
    struct plan_link *l = plan_links_add(&set, "h2", "h1",
                                         PLAN_LINK_RESERVED, 100);
    assert(l && !strcmp(l->a, "h1") && !strcmp(l->b, "h2"));
    assert(l->state == ST(NEW) && l->t_state_us == 100);
    assert(!strcmp(l->request_id, "vadapt-0000000000abcdef-1"));
    char rid[PLAN_LINK_ID_LEN];
    memcpy(rid, l->request_id, sizeof rid);

    assert(plan_links_apply(&set, l, EV(RESERVE), NULL, 200) == 0);
    assert(l->state == ST(RESERVING) && l->t_reserve_us == 200);
    /* No reply: still reserving, same request id, the timer not reset. */
    assert(plan_links_apply(&set, l, EV(NO_REPLY), NULL, 300) == 0);
    assert(plan_links_apply(&set, l, EV(NO_REPLY), NULL, 400) == 0);
    assert(l->state == ST(RESERVING) && l->t_state_us == 200);
    assert(!strcmp(l->request_id, rid) && !l->resv_id[0]);
    /* ACTIVE needs a reservation id. */
    assert(plan_links_apply(&set, l, EV(ACTIVE), NULL, 450) == -1);
    assert(set.n_illegal == 1 && l->state == ST(RESERVING));
    /* ASKED needs one that fits a link name. */
    char longid[80];
    memset(longid, 'x', sizeof longid - 1);
    longid[sizeof longid - 1] = '\0';
    assert(plan_links_apply(&set, l, EV(ASKED), longid, 460) == -1);
    assert(plan_links_apply(&set, l, EV(ASKED), NULL, 460) == -1);
    assert(set.n_illegal == 3);
    assert(plan_links_apply(&set, l, EV(ASKED), "r-7", 500) == 0);
    assert(!strcmp(l->resv_id, "r-7") && !strcmp(l->name, "vr-r-7"));
    assert(plan_links_by_resv(&set, "r-7") == l);
    assert(plan_links_by_request(&set, rid) == l);
    assert(plan_links_by_name(&set, "vr-r-7") == l);
    assert(!plan_links_by_resv(&set, "") && !plan_links_by_resv(&set, NULL));

    /* Events of later states are refused while reserving. */
    assert(plan_links_apply(&set, l, EV(WIRED), NULL, 550) == -1);
    assert(plan_links_apply(&set, l, EV(SWITCHED), NULL, 550) == -1);
    assert(set.n_illegal == 5 && l->state == ST(RESERVING));

    plan_link_set_path(l, "h2", "10.0.0.2", "10.0.0.1");
    assert(!strcmp(l->addr_a, "10.0.0.1") && !strcmp(l->addr_b, "10.0.0.2"));
    /* A VLAN circuit's id and prefix length, checked. */
    assert(plan_link_set_circuit(l, "h2", 1780, 0, 30));
    assert(l->vlan == 1780 && l->vlan_b == 0 && l->prefix_len == 30);
    assert(plan_link_vlan_at(l, 0) == 1780 && plan_link_vlan_at(l, 1) == 1780);
    assert(!plan_link_set_circuit(l, "h2", 4095, 0, 30) && l->vlan == 0);
    assert(!plan_link_set_circuit(l, "h2", 1780, 0, 33) && l->vlan == 0);
    /* Two VLANs: the reservation's host_a (h2) is our b; a second
     * without a first, or out of range, is refused. */
    assert(plan_link_set_circuit(l, "h2", 1781, 1785, 30));
    assert(plan_link_vlan_at(l, 0) == 1785 && plan_link_vlan_at(l, 1) == 1781);
    assert(plan_link_set_circuit(l, "h1", 1781, 1785, 30));
    assert(plan_link_vlan_at(l, 0) == 1781 && plan_link_vlan_at(l, 1) == 1785);
    assert(plan_link_set_circuit(l, "h2", 1781, 1781, 30) && !l->vlan_b);
    assert(!plan_link_set_circuit(l, "h2", 0, 1785, 30) && l->vlan == 0
           && plan_link_vlan_at(l, 1) == 0);
    assert(!plan_link_set_circuit(l, "h2", 1781, 4095, 30) && l->vlan == 0);
    assert(plan_link_set_circuit(l, "h2", 1799, 0, 30) && l->vlan == 1799);
    assert(plan_links_apply(&set, l, EV(ACTIVE), NULL, 600) == 0);
    assert(l->state == ST(SETUP) && l->t_active_us == 600);
    assert(plan_links_apply(&set, l, EV(WIRED), NULL, 700) == 0);
    assert(l->state == ST(SWITCHING));
    l->rules_a = malloc(sizeof *l->rules_a);
    l->rules_a[0] = 0x42;
    l->n_rules_a = 1;
    assert(plan_links_apply(&set, l, EV(SWITCHED), NULL, 800) == 0);
    assert(l->state == ST(UP));
    /* Up: a second SWITCHED or an ACTIVE is refused. */
    assert(plan_links_apply(&set, l, EV(SWITCHED), NULL, 810) == -1);
    assert(plan_links_apply(&set, l, EV(ACTIVE), NULL, 810) == -1);
    assert(plan_links_apply(&set, l, EV(RULES_MISSING), NULL, 900) == 0);
    assert(l->state == ST(SWITCHING) && l->n_rules_a == 1);
    assert(plan_links_apply(&set, l, EV(SWITCHED), NULL, 950) == 0);

    /* The path lost under it: a commodity link, rules forgotten. */
    assert(plan_links_apply(&set, l, EV(PATH_LOST), NULL, 1000) == 0);
    assert(l->state == ST(SETUP) && l->kind == PLAN_LINK_COMMODITY);
    assert(!l->resv_id[0] && !strcmp(l->name, "vd-h1-h2"));
    assert(!l->rules_a && l->n_rules_a == 0 && !l->addr_a[0]);
    /* A commodity link has no path to lose nor reservation to vanish. */
    assert(plan_links_apply(&set, l, EV(PATH_LOST), NULL, 1100) == -1);
    assert(plan_links_apply(&set, l, EV(VANISHED), NULL, 1100) == -1);
    assert(plan_links_apply(&set, l, EV(RELEASE), NULL, 1200) == 0);
    assert(l->state == ST(GONE));
    assert(plan_links_apply(&set, l, EV(RELEASE), NULL, 1300) == -1);
    assert(set.n_illegal == 10);
    assert(plan_links_count(&set, ST(GONE)) == 1);
    plan_links_drop(&set, l);
    assert(set.n == 0);
    plan_links_uninit(&set);
}

/* Refusal, timeout, adoption, a vanished reservation, the cap. */
static void
test_paths(void)
{
    struct plan_links set;
    plan_links_init(&set, 3, 1);
    struct plan_link *l = plan_links_add(&set, "a", "b", PLAN_LINK_RESERVED,
                                         0);
    assert(plan_links_apply(&set, l, EV(RESERVE), NULL, 1) == 0);
    assert(plan_links_apply(&set, l, EV(REFUSED), NULL, 2) == 0);
    assert(l->state == ST(SETUP) && l->kind == PLAN_LINK_COMMODITY);
    assert(!strcmp(l->name, "vd-a-b"));

    l = plan_links_add(&set, "a", "c", PLAN_LINK_RESERVED, 0);
    assert(!strcmp(l->request_id, "vadapt-0000000000000001-2"));
    assert(plan_links_apply(&set, l, EV(RESERVE), NULL, 1) == 0);
    assert(plan_links_apply(&set, l, EV(TIMEOUT), NULL, 9) == 0);
    assert(l->state == ST(SETUP) && l->kind == PLAN_LINK_COMMODITY);

    l = plan_links_add(&set, "b", "c", PLAN_LINK_RESERVED, 0);
    assert(plan_links_apply(&set, l, EV(ADOPT), "r-1", 5) == 0);
    assert(l->state == ST(RESERVING) && !strcmp(l->name, "vr-r-1"));
    assert(plan_links_apply(&set, l, EV(VANISHED), NULL, 6) == 0);
    assert(l->state == ST(GONE));

    /* The pair held already, a bad host, the cap. */
    assert(!plan_links_add(&set, "b", "a", PLAN_LINK_RESERVED, 0));
    assert(!plan_links_add(&set, "x", "x", PLAN_LINK_RESERVED, 0));
    assert(!plan_links_add(&set, "", "x", PLAN_LINK_RESERVED, 0));
    char big[PLAN_HOST_LEN + 1];
    memset(big, 'h', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    assert(!plan_links_add(&set, big, "x", PLAN_LINK_RESERVED, 0));
    assert(set.n_full == 0);
    assert(!plan_links_add(&set, "c", "d", PLAN_LINK_RESERVED, 0));
    assert(set.n_full == 1 && set.n == 3);
    assert(plan_links_find(&set, "c", "b") == &set.v[2]);
    plan_links_drop(&set, &set.v[0]);
    assert(set.n == 2 && plan_links_find(&set, "a", "c") == &set.v[0]);
    l = plan_links_add(&set, "d", "c", PLAN_LINK_COMMODITY, 0);
    assert(l && !strcmp(l->name, "vd-c-d"));
    assert(plan_links_apply(&set, l, EV(DIRECT), NULL, 1) == 0);
    assert(l->state == ST(SETUP));

    /* Names that do not fit an agent's link name are refused. */
    char name[PLAN_LINK_NAME_LEN];
    assert(plan_link_name_resv("r-12", name) && !strcmp(name, "vr-r-12"));
    assert(!plan_link_name_resv("", name) && !plan_link_name_resv(NULL, name));
    assert(!plan_link_name_direct(big, "x", name));
    assert(plan_link_name_direct("z", "y", name) && !strcmp(name, "vd-y-z"));
    plan_links_uninit(&set);
}

int
main(void)
{
    test_table();
    test_life();
    test_paths();
    printf("test_plan_link: ok\n");
    return 0;
}
