/* SPDX-License-Identifier: MIT */
/* Shared field checks (fieldcheck.h): pure functions, no state; every
 * value quoted in an error goes through log_escape(). */
#include "fieldcheck.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "log.h"

bool
fieldcheck_is_id(const char *s, size_t max)
{
    if (!s || !*s || *s == '-') {
        return false;
    }
    size_t len = 0;
    for (const char *c = s; *c; c++, len++) {
        if (len >= max) {
            return false;
        }
        if (!((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z')
              || (*c >= '0' && *c <= '9') || strchr("._:@-", *c))) {
            return false;
        }
    }
    return true;
}

bool
fieldcheck_bad(const char *field, const char *value, const char *rule,
               char *err, size_t errsize)
{
    char esc[96];
    log_format(err, errsize, "field '%s': '%s' %s", field,
               log_escape(esc, sizeof esc, value ? value : "", SIZE_MAX),
               rule);
    return false;
}

bool
fieldcheck_id(const char *field, const char *value, size_t max,
              bool required, char *err, size_t errsize)
{
    if (!value || !*value) {
        return required ? fieldcheck_bad(field, "", "is missing", err,
                                         errsize)
                        : true;
    }
    if (!fieldcheck_is_id(value, max)) {
        char rule[96];
        snprintf(rule, sizeof rule, "is not an id (1 to %zu of "
                 "[A-Za-z0-9._:@-], not starting with '-')", max);
        return fieldcheck_bad(field, value, rule, err, errsize);
    }
    return true;
}

bool
fieldcheck_figure(const char *field, double v, double max, char *err,
                  size_t errsize)
{
    if (isfinite(v) && v >= 0 && v <= max) {
        return true;
    }
    log_format(err, errsize, "field '%s': '%g' is not a finite number in "
               "[0, %g]", field, v, max);
    return false;
}
