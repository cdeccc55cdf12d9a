/* SPDX-License-Identifier: MIT */
/* The adapter's request checks: good requests pass; each hostile value
 * (NaN, infinities, negative, huge, addresses that are not IP literals
 * or look like options, control characters, oversized ids) is refused
 * with a message naming the field and quoting the value, escaped. */
#undef NDEBUG
#include <assert.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "adapter_check.h"
#include "refusal.h"

static char s_err[256];

/* The request with one field spoiled fails, naming 'field' and
 * containing 'quoted'. */
static void
s_refused(bool ok, const char *field, const char *quoted)
{
    assert(refusal_names(ok, s_err, field, quoted));
}

static Vr__PathCreate
s_good(void)
{
    Vr__PathCreate c = VR__PATH_CREATE__INIT;
    c.request_id = "r-17";
    c.src_ip = "10.210.0.1";
    c.dst_ip = "fd00::2";
    c.bandwidth_mbps = 1000;
    c.latency_ms = 3;
    return c;
}

int
main(void)
{
    Vr__PathCreate c = s_good();
    assert(adapter_check_create(&c, s_err, sizeof s_err));
    c.request_id = NULL;
    assert(adapter_check_create(&c, s_err, sizeof s_err));

    double bad[] = { NAN, INFINITY, -INFINITY, -5, 1e30 };
    const char *shown[] = { "nan", "inf", "-inf", "-5", "1e+30" };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        c = s_good();
        c.bandwidth_mbps = bad[i];
        s_refused(adapter_check_create(&c, s_err, sizeof s_err),
                  "bandwidth_mbps", shown[i]);
        c = s_good();
        c.latency_ms = bad[i];
        s_refused(adapter_check_create(&c, s_err, sizeof s_err),
                  "latency_ms", shown[i]);
    }
    const char *ips[] = { "", "-c", "10.0.0.256", "host.example",
                          "10.0.0.1 ", "10.0.0.1\n" };
    for (size_t i = 0; i < sizeof ips / sizeof ips[0]; i++) {
        c = s_good();
        c.src_ip = (char *) ips[i];
        s_refused(adapter_check_create(&c, s_err, sizeof s_err), "src_ip",
                  NULL);
    }
    c = s_good();
    c.dst_ip = NULL;
    s_refused(adapter_check_create(&c, s_err, sizeof s_err), "dst_ip", NULL);
    printf("%s\n", s_err);
    char big[200];
    memset(big, '7', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    c = s_good();
    c.request_id = big;
    s_refused(adapter_check_create(&c, s_err, sizeof s_err), "request_id",
              "777");
    c.request_id = "r-1\033]0;x";
    s_refused(adapter_check_create(&c, s_err, sizeof s_err), "request_id",
              "r-1\\x1b]0;x");
    printf("%s\n", s_err);

    /* A booking ahead: a start in the past beyond the skew, beyond the
     * horizon, an end not after the start or beyond the horizon. */
    const uint64_t now = UINT64_C(1800000000000000), s1 = 1000000;
    assert(adapter_check_schedule(0, 0, now, s_err, sizeof s_err));
    assert(adapter_check_schedule(now + 5 * s1, now + 10 * s1, now, s_err,
                                  sizeof s_err));
    assert(adapter_check_schedule(now - s1, 0, now, s_err, sizeof s_err));
    assert(adapter_check_schedule(0, now + s1, now, s_err, sizeof s_err));
    s_refused(adapter_check_schedule(now - 3 * s1, 0, now, s_err,
                                     sizeof s_err), "start_us", "1799");
    s_refused(adapter_check_schedule(UINT64_MAX, 0, now, s_err,
                                     sizeof s_err), "start_us", NULL);
    s_refused(adapter_check_schedule(now + 5 * s1, now + 5 * s1, now, s_err,
                                     sizeof s_err), "end_us", NULL);
    s_refused(adapter_check_schedule(now + 5 * s1, now + s1, now, s_err,
                                     sizeof s_err), "end_us", NULL);
    s_refused(adapter_check_schedule(0, now - s1, now, s_err, sizeof s_err),
              "end_us", NULL);
    s_refused(adapter_check_schedule(now + s1, UINT64_MAX, now, s_err,
                                     sizeof s_err), "end_us", NULL);
    c = s_good();
    c.start_us = 1;
    s_refused(adapter_check_create(&c, s_err, sizeof s_err), "start_us",
              "1");

    Vr__PathTeardown t = VR__PATH_TEARDOWN__INIT;
    s_refused(adapter_check_teardown(&t, s_err, sizeof s_err), "path_id",
              NULL);
    t.path_id = big;
    s_refused(adapter_check_teardown(&t, s_err, sizeof s_err), "path_id",
              NULL);
    t.path_id = "p-3";
    assert(adapter_check_teardown(&t, s_err, sizeof s_err));
    Vr__PathStatusRequest st = VR__PATH_STATUS_REQUEST__INIT;
    st.path_id = "p 3";
    s_refused(adapter_check_status(&st, s_err, sizeof s_err), "path_id",
              "p 3");
    st.path_id = "p-3";
    assert(adapter_check_status(&st, s_err, sizeof s_err));
    printf("test_adapter_check: ok\n");
    return 0;
}
