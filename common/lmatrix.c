/* SPDX-License-Identifier: MIT */
/* A LocalMatrix's packed columns (see lmatrix.h). */
#include "lmatrix.h"

#include <stdlib.h>

int
lmatrix_alloc(Vr__LocalMatrix *m, size_t n)
{
    if (n > SIZE_MAX / (4 * sizeof(uint64_t))) {
        return -1;
    }
    uint64_t *col = malloc((n ? n : 1) * 4 * sizeof *col);
    if (!col) {
        return -1;
    }
    m->src_mac = col;
    m->dst_mac = col + n;
    m->bytes = col + 2 * n;
    m->frames = col + 3 * n;
    lmatrix_len_set(m, 0);
    return 0;
}

void
lmatrix_free(Vr__LocalMatrix *m)
{
    free(m->src_mac);
    m->src_mac = m->dst_mac = m->bytes = m->frames = NULL;
    lmatrix_len_set(m, 0);
}

void
lmatrix_len_set(Vr__LocalMatrix *m, size_t n)
{
    m->n_src_mac = m->n_dst_mac = m->n_bytes = m->n_frames = n;
}

size_t
lmatrix_len(const Vr__LocalMatrix *m)
{
    size_t n = m->n_src_mac;
    if (m->n_dst_mac != n || m->n_bytes != n || m->n_frames != n) {
        return SIZE_MAX;
    }
    return n;
}
