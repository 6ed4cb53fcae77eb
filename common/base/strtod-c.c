/* SPDX-License-Identifier: MIT */
#include "strtod-c.h"

#include <locale.h>
#include <stdbool.h>
#include <stdlib.h>

/* Made once, by whichever thread gets there first; never freed (one per process). */
static locale_t c_locale(void)
{
        static locale_t loc;
        locale_t l = __atomic_load_n(&loc, __ATOMIC_ACQUIRE), fresh;

        if (l)
                return l;
        fresh = newlocale(LC_NUMERIC_MASK, "C", (locale_t) 0);
        if (!fresh)
                return (locale_t) 0;
        if (!__atomic_compare_exchange_n(&loc, &l, fresh, false, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE)) {
                freelocale(fresh);
                return l;
        }
        return fresh;
}

double strtod_c(const char *s, char **end)
{
        locale_t c = c_locale();

        return c ? strtod_l(s, end, c) : strtod(s, end);
}
