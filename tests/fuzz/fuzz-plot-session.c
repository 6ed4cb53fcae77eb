/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer harness: plot_session_parse() (common/plot-session.c), what the
 * plot takes from a _session.json lying next to the CSV it is given.
 */
#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "plot-session.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        PlotSession s = { 0 };
        char *error = NULL;
        int r;

        r = plot_session_parse((const char *) data, size, &s, &error);
        if (r < 0) {
                if (!error)
                        abort();
                free(error);
                return 0;
        }
        for (size_t i = 0; i < s.n_events; i++) {
                if (!isfinite(s.events[i].t) || s.events[i].t < 0 ||
                    (i > 0 && s.events[i].t < s.events[i - 1].t))
                        abort();
                if (strnlen(s.events[i].label, sizeof(s.events[i].label)) == sizeof(s.events[i].label))
                        abort();
        }
        free(error);
        plot_session_done(&s);
        return 0;
}
