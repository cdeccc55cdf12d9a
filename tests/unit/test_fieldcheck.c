/* SPDX-License-Identifier: MIT */
/* common/fieldcheck: ids (length, characters, no leading '-'), missing
 * fields where required and where not, figures (finite, in [0, max]), and
 * the message: it names the field and quotes the value escaped, one line,
 * no raw control character. */
#undef NDEBUG
#include <assert.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "fieldcheck.h"

static char s_err[256];

/* 'ok' is false and the message is the one expected. */
static void
s_refused(bool ok, const char *want)
{
    assert(!ok);
    if (!strstr(s_err, want)) {
        fprintf(stderr, "unexpected message: %s\n", s_err);
        assert(0);
    }
    assert(!strchr(s_err, '\n') && !strchr(s_err, '\033'));
}

int
main(void)
{
    assert(fieldcheck_is_id("a", 1) && !fieldcheck_is_id("ab", 1));
    assert(!fieldcheck_is_id(NULL, 10) && !fieldcheck_is_id("", 10));
    assert(fieldcheck_is_id("node-2.example:7@x_y", 63));
    assert(!fieldcheck_is_id("-rf", 63) && fieldcheck_is_id("r-f", 63));
    assert(!fieldcheck_is_id("a b", 63) && !fieldcheck_is_id("a/b", 63));
    assert(!fieldcheck_is_id("a\x7f", 63));
    assert(!fieldcheck_is_id("\xc3\xa9", 63));

    char big[5000];
    memset(big, 'a', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    assert(!fieldcheck_is_id(big, 4998) && fieldcheck_is_id(big, 4999));

    assert(fieldcheck_id("owner", NULL, 63, false, s_err, sizeof s_err));
    assert(fieldcheck_id("owner", "", 63, false, s_err, sizeof s_err));
    assert(fieldcheck_id("owner", "planner", 63, true, s_err,
                         sizeof s_err));
    s_refused(fieldcheck_id("resv_id", NULL, 31, true, s_err, sizeof s_err),
              "field 'resv_id': '' is missing");
    s_refused(fieldcheck_id("resv_id", "", 31, true, s_err, sizeof s_err),
              "field 'resv_id': '' is missing");
    s_refused(fieldcheck_id("host_a", "h\x1b[2J", 63, true, s_err,
                            sizeof s_err),
              "field 'host_a': 'h\\x1b[2J' is not an id (1 to 63 of "
              "[A-Za-z0-9._:@-], not starting with '-')");
    s_refused(fieldcheck_id("after", big, 31, false, s_err, sizeof s_err),
              "field 'after': 'aaaa");
    assert(strlen(s_err) < 200);

    assert(fieldcheck_figure("bw", 0, 10, s_err, sizeof s_err));
    assert(fieldcheck_figure("bw", 10, 10, s_err, sizeof s_err));
    s_refused(fieldcheck_figure("bw", 10.5, 10, s_err, sizeof s_err),
              "field 'bw': '10.5' is not a finite number in [0, 10]");
    s_refused(fieldcheck_figure("bw", -1, 10, s_err, sizeof s_err),
              "field 'bw': '-1'");
    s_refused(fieldcheck_figure("lat", NAN, 10, s_err, sizeof s_err),
              "field 'lat': 'nan'");
    s_refused(fieldcheck_figure("lat", INFINITY, 10, s_err, sizeof s_err),
              "field 'lat': 'inf'");
    s_refused(fieldcheck_figure("lat", -INFINITY, 10, s_err, sizeof s_err),
              "field 'lat': '-inf'");

    s_refused(fieldcheck_bad("reason", "tab\there", "is bad", s_err,
                             sizeof s_err),
              "field 'reason': 'tab\\x09here' is bad");
    s_refused(fieldcheck_bad("reason", NULL, "is bad", s_err, sizeof s_err),
              "field 'reason': '' is bad");
    printf("test_fieldcheck: ok\n");
    return 0;
}
