/* SPDX-License-Identifier: MIT */
/* The backends built into the adapter, by name.  A new backend is one
 * file defining its table (adapter_backend.h) and one line here. */
#include "adapter_backend.h"

#include <stdio.h>
#include <string.h>

static const struct adapter_backend *const s_backends[] = {
    &adapter_backend_sim,
    &adapter_backend_netns,
    &adapter_backend_oclient,
    &adapter_backend_nsi,
};

#define S_N_BACKENDS (sizeof s_backends / sizeof s_backends[0])

const struct adapter_backend *
adapter_backend_find(const char *name)
{
    for (size_t i = 0; name && i < S_N_BACKENDS; i++) {
        if (!strcmp(s_backends[i]->name, name)) {
            return s_backends[i];
        }
    }
    return NULL;
}

void
adapter_backend_names(char *buf, size_t size)
{
    size_t used = 0;
    if (size) {
        buf[0] = '\0';
    }
    for (size_t i = 0; i < S_N_BACKENDS && used < size; i++) {
        const char *sep = i == 0 ? ""
                          : i + 1 == S_N_BACKENDS ? " or " : ", ";
        int n = snprintf(buf + used, size - used, "%s%s", sep,
                         s_backends[i]->name);
        if (n < 0) {
            break;
        }
        used += (size_t) n;
    }
}
