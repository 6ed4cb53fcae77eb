/* SPDX-License-Identifier: MIT */
#include "profiler-restart.h"

#include <string.h>

RestartDecision restart_decide(RestartState *st, usec_t now, bool usable)
{
        RestartDecision d = { .kind = RESTART_AFTER, .delay = RESTART_SOON };
        usec_t at;

        if (usable)
                st->failed_in_row = 0;
        else
                st->failed_in_row++;
        d.failed_in_row = st->failed_in_row;
        if (st->failed_in_row >= RESTART_GIVE_UP) {
                d.kind = RESTART_NONE;
                d.delay = 0;
                return d;
        }
        if (st->failed_in_row > 0) {
                d.delay = RESTART_BACKOFF_MIN;
                for (unsigned i = 1; i < st->failed_in_row && d.delay < RESTART_BACKOFF_MAX; i++)
                        d.delay *= 2;
                if (d.delay > RESTART_BACKOFF_MAX)
                        d.delay = RESTART_BACKOFF_MAX;
        }
        /* A full minute's worth: not before the oldest of them leaves the window. */
        if (st->n_recent == RESTARTS_PER_MINUTE) {
                at = st->recent[0] + 60 * USEC_PER_SEC;
                if (at > now + d.delay) {
                        d.kind = RESTART_CAPPED;
                        d.delay = at - now;
                }
        }
        return d;
}

void restart_note(RestartState *st, usec_t now)
{
        if (st->n_recent == RESTARTS_PER_MINUTE) {
                memmove(st->recent, st->recent + 1, sizeof(st->recent[0]) * (RESTARTS_PER_MINUTE - 1));
                st->n_recent--;
        }
        st->recent[st->n_recent++] = now;
        st->total++;
}
