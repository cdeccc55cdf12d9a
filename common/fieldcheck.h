/* SPDX-License-Identifier: MIT */
/* Field checks that the services' request checks share (the broker's
 * resv_check, the adapter's adapter_check): ids, figures, and the sentence
 * that names a bad field and quotes its value escaped, safe to log and to
 * send back.  The request checks themselves stay in each service. */
#ifndef VR_FIELDCHECK_H
#define VR_FIELDCHECK_H

#include <stdbool.h>
#include <stddef.h>

/* True if 's' is an id: 1 to 'max' of [A-Za-z0-9._:@-], not starting with
 * '-' (so it cannot pass for an option).  False for NULL. */
bool fieldcheck_is_id(const char *s, size_t max);

/* Writes "field 'FIELD': 'VALUE' RULE" into 'err' ('errsize' bytes), the
 * value escaped and cut (log_escape()); NULL reads as "".  Returns false,
 * so that a check can end with 'return fieldcheck_bad(...)'. */
bool fieldcheck_bad(const char *field, const char *value, const char *rule,
                    char *err, size_t errsize);

/* True if 'value' of field 'field' is an id of at most 'max' bytes
 * (fieldcheck_is_id), or is missing (NULL or "") and not 'required'.
 * Otherwise false with the reason in 'err'. */
bool fieldcheck_id(const char *field, const char *value, size_t max,
                   bool required, char *err, size_t errsize);

/* True if 'v', the value of field 'field', is a finite number in
 * [0, 'max'].  Otherwise false with the reason in 'err'. */
bool fieldcheck_figure(const char *field, double v, double max, char *err,
                       size_t errsize);

#endif /* VR_FIELDCHECK_H */
