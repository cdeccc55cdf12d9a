/* SPDX-License-Identifier: MIT */
/* Refusal messages checked for the request-check tests (refusal.h). */
#include "refusal.h"

#include <stdio.h>
#include <string.h>

bool
refusal_names(bool ok, const char *err, const char *field,
              const char *quoted)
{
    char want[64];
    snprintf(want, sizeof want, "field '%s': ", field);
    if (ok || !strstr(err, want) || (quoted && !strstr(err, quoted))
        || strchr(err, '\n') || strchr(err, '\033')) {
        fprintf(stderr, "%s: unexpected message: %s\n",
                ok ? "accepted" : "refused", err);
        return false;
    }
    return true;
}
