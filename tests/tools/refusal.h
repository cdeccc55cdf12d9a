/* SPDX-License-Identifier: MIT */
/* For the unit tests of request checks (test_resv_check, test_adapter_check):
 * is a refusal the sentence the checks promise? */
#ifndef VR_TEST_REFUSAL_H
#define VR_TEST_REFUSAL_H

#include <stdbool.h>

/* True if the check refused ('ok' false) and its message 'err' names the
 * field ("field 'FIELD': "), contains 'quoted' (unless NULL) and holds no
 * newline or raw escape character.  Otherwise prints 'err' to stderr and
 * returns false. */
bool refusal_names(bool ok, const char *err, const char *field,
                   const char *quoted);

#endif /* VR_TEST_REFUSAL_H */
