/* SPDX-License-Identifier: MIT */
/* The broker's request checks: good requests pass; each hostile value
 * (NaN, infinities, negative, huge, control characters, oversized or
 * malformed ids) is refused with a message that names the field and
 * quotes the value, escaped. */
#undef NDEBUG
#include <assert.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "refusal.h"
#include "resv_check.h"

static char s_err[256];

/* The request with one field spoiled fails, naming 'field' and
 * containing 'quoted'. */
static void
s_refused(bool ok, const char *field, const char *quoted)
{
    assert(refusal_names(ok, s_err, field, quoted));
}

static Vr__ResvRequest
s_good(void)
{
    Vr__ResvRequest r = VR__RESV_REQUEST__INIT;
    r.host_a = "h1";
    r.host_b = "node-2.example:7";
    r.bandwidth_mbps = 1000;
    r.latency_ms = 2.5;
    r.request_id = "vadapt-h1-h2-1733480000";
    r.owner = "planner";
    return r;
}

int
main(void)
{
    Vr__ResvRequest r = s_good();
    assert(resv_check_request(&r, s_err, sizeof s_err));
    r.request_id = "";
    r.owner = "";
    r.bandwidth_mbps = 0;       /* the broker's default */
    assert(resv_check_request(&r, s_err, sizeof s_err));

    double bad[] = { NAN, INFINITY, -INFINITY, -1, 1e300, -0.001 };
    const char *shown[] = { "nan", "inf", "-inf", "-1", "1e+300", "-0.001" };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        r = s_good();
        r.latency_ms = bad[i];
        s_refused(resv_check_request(&r, s_err, sizeof s_err), "latency_ms",
                  shown[i]);
        r = s_good();
        r.bandwidth_mbps = bad[i];
        s_refused(resv_check_request(&r, s_err, sizeof s_err),
                  "bandwidth_mbps", shown[i]);
    }
    printf("%s\n", s_err);

    char big[300];
    memset(big, 'a', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    r = s_good();
    r.host_a = "";
    s_refused(resv_check_request(&r, s_err, sizeof s_err), "host_a", NULL);
    r = s_good();
    r.host_b = "h2\n\033[31mred";
    s_refused(resv_check_request(&r, s_err, sizeof s_err), "host_b",
              "h2\\x0a\\x1b[31mred");
    printf("%s\n", s_err);
    r = s_good();
    r.host_a = big;
    s_refused(resv_check_request(&r, s_err, sizeof s_err), "host_a", "aaa");
    r = s_good();
    r.host_a = "-rf";
    s_refused(resv_check_request(&r, s_err, sizeof s_err), "host_a", "-rf");
    r = s_good();
    r.request_id = big;
    s_refused(resv_check_request(&r, s_err, sizeof s_err), "request_id",
              NULL);
    r = s_good();
    r.owner = "bob smith";
    s_refused(resv_check_request(&r, s_err, sizeof s_err), "owner",
              "bob smith");

    Vr__ResvRelease rel = VR__RESV_RELEASE__INIT;
    rel.resv_id = "r-17";
    assert(resv_check_release(&rel, s_err, sizeof s_err));
    rel.reason = "no longer needed";
    assert(resv_check_release(&rel, s_err, sizeof s_err));
    rel.reason = "line\nbreak";
    s_refused(resv_check_release(&rel, s_err, sizeof s_err), "reason",
              "line\\x0abreak");
    rel.reason = big;
    s_refused(resv_check_release(&rel, s_err, sizeof s_err), "reason", NULL);
    rel.reason = NULL;
    rel.resv_id = NULL;
    s_refused(resv_check_release(&rel, s_err, sizeof s_err), "resv_id",
              NULL);

    Vr__ResvListRequest lr = VR__RESV_LIST_REQUEST__INIT;
    assert(resv_check_list(&lr, s_err, sizeof s_err));
    lr.after = "r-5";
    lr.page_size = 4000000000u;
    assert(resv_check_list(&lr, s_err, sizeof s_err));
    lr.after = "r 5";
    s_refused(resv_check_list(&lr, s_err, sizeof s_err), "after", "r 5");

    Vr__ResvShowRequest sr = VR__RESV_SHOW_REQUEST__INIT;
    s_refused(resv_check_show(&sr, s_err, sizeof s_err), "resv_id", NULL);
    sr.resv_id = big;
    s_refused(resv_check_show(&sr, s_err, sizeof s_err), "resv_id", "aaa");
    sr.resv_id = "r-1";
    assert(resv_check_show(&sr, s_err, sizeof s_err));

    Vr__ReservableQuery q = VR__RESERVABLE_QUERY__INIT;
    q.host_a = "h1";
    s_refused(resv_check_reservable(&q, s_err, sizeof s_err), "host_b",
              NULL);
    q.host_b = "h\x7f";
    s_refused(resv_check_reservable(&q, s_err, sizeof s_err), "host_b",
              "h\\x7f");
    q.host_b = "h2";
    assert(resv_check_reservable(&q, s_err, sizeof s_err));

    printf("test_resv_check: ok\n");
    return 0;
}
