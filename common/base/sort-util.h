/* SPDX-License-Identifier: MIT */
#pragma once

#include <stdlib.h>

/*
 * qsort() with its base declared nonnull: an empty array, whose pointer may
 * well be NULL, is undefined behaviour there. Nothing to sort, no call.
 */
static inline void qsort_safe(void *base, size_t n, size_t size, int (*cmp)(const void *, const void *))
{
        if (n <= 1)
                return;
        qsort(base, n, size, cmp);
}

static inline void qsort_r_safe(void *base, size_t n, size_t size,
                                int (*cmp)(const void *, const void *, void *), void *userdata)
{
        if (n <= 1)
                return;
        qsort_r(base, n, size, cmp, userdata);
}
