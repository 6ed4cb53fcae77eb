/* SPDX-License-Identifier: MIT */
#include "trigger.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#define HOUR (3600 * USEC_PER_SEC)

static const char *const kind_table[_TRIGGER_MAX] = {
        [TRIGGER_NONE] = "none",       [TRIGGER_CPU] = "cpu",   [TRIGGER_RSS] = "rss",
        [TRIGGER_THREADS] = "threads", [TRIGGER_EXIT] = "exit", [TRIGGER_MANUAL] = "manual",
};

const char *trigger_kind_to_string(TriggerKind k)
{
        return k >= 0 && k < _TRIGGER_MAX ? kind_table[k] : "unknown";
}

void trigger_init(TriggerState *s)
{
        memset(s, 0, sizeof(*s));
}

static TriggerPoint *min_at(TriggerMin *m, size_t i)
{
        return &m->v[(m->head + i) % TRIGGER_HISTORY_MAX];
}

/* Adds (t, v), drops what left the window; the lowest of the window is then the first. */
static double min_push(TriggerMin *m, usec_t window, usec_t t, double v)
{
        while (m->n > 0 && min_at(m, m->n - 1)->v >= v)
                m->n--;
        if (m->n == TRIGGER_HISTORY_MAX) { /* more rows than the window can hold: the oldest goes */
                m->head = (m->head + 1) % TRIGGER_HISTORY_MAX;
                m->n--;
        }
        *min_at(m, m->n++) = (TriggerPoint){ t, v };
        while (m->n > 1 && min_at(m, 0)->t + window < t) {
                m->head = (m->head + 1) % TRIGGER_HISTORY_MAX;
                m->n--;
        }
        return min_at(m, 0)->v;
}

static void min_reset(TriggerMin *m)
{
        m->head = m->n = 0;
}

unsigned trigger_captures_last_hour(const TriggerState *s, usec_t t)
{
        unsigned n = 0;

        for (size_t i = 0; i < s->n_hour; i++)
                n += s->hour[i] + HOUR > t;
        return n;
}

/* The cooldown and the hourly limit: may an automatic capture happen at t? */
static bool limits_allow(TriggerState *s, const TriggerConfig *c, usec_t t)
{
        if (s->last_capture && t < s->last_capture + c->cooldown)
                return false;
        return c->max_per_hour == 0 || trigger_captures_last_hour(s, t) < c->max_per_hour;
}

static void count_capture(TriggerState *s, usec_t t)
{
        size_t j = 0;

        s->last_capture = t;
        for (size_t i = 0; i < s->n_hour; i++) /* forget what is over an hour old */
                if (s->hour[i] + HOUR > t)
                        s->hour[j++] = s->hour[i];
        s->n_hour = j;
        if (s->n_hour == TRIGGER_HOUR_MAX) {
                memmove(s->hour, s->hour + 1, (TRIGGER_HOUR_MAX - 1) * sizeof(usec_t));
                s->n_hour--;
        }
        s->hour[s->n_hour++] = t;
}

static bool fire(TriggerState *s, const TriggerConfig *c, TriggerFiring *f, bool manual)
{
        if (!manual && !limits_allow(s, c, f->t)) {
                s->held_back++;
                return false;
        }
        count_capture(s, f->t);
        return true;
}

static bool check_cpu(TriggerState *s, const TriggerConfig *c, const TriggerRow *row, TriggerFiring *ret)
{
        double v = row->cpu_core_percent;

        if (c->cpu_percent <= 0 || isnan(v))
                return false;
        if (s->cpu_disarmed) {
                if (v < c->cpu_rearm_percent)
                        s->cpu_disarmed = false;
                s->cpu_run = 0;
                return false;
        }
        s->cpu_run = v >= c->cpu_percent ? s->cpu_run + 1 : 0;
        if (s->cpu_run < (c->cpu_samples ? c->cpu_samples : 1))
                return false;
        *ret = (TriggerFiring){ .kind = TRIGGER_CPU,
                                .t = row->t,
                                .value = v,
                                .baseline = c->cpu_percent,
                                .threshold = c->cpu_percent,
                                .samples = s->cpu_run };
        snprintf(ret->words, sizeof(ret->words), "CPU at %.0f%% of a core for %u samples (threshold %.0f%%)",
                 v, s->cpu_run, c->cpu_percent);
        if (!fire(s, c, ret, false))
                return false; /* held back: the run goes on counting, and fires once the hold is over */
        s->cpu_disarmed = true;
        s->cpu_run = 0;
        return true;
}

static bool check_rise(TriggerState *s, const TriggerConfig *c, TriggerMin *m, TriggerKind kind,
                       double limit, usec_t t, double v, TriggerFiring *ret)
{
        double low;

        if (limit <= 0 || isnan(v))
                return false;
        low = min_push(m, c->window, t, v);
        /* RSS: up by more than the figure; threads: a jump of the figure or more */
        if (kind == TRIGGER_RSS ? v - low <= limit : v - low < limit)
                return false;
        *ret = (TriggerFiring){ .kind = kind, .t = t, .value = v, .baseline = low, .threshold = limit };
        if (kind == TRIGGER_RSS)
                snprintf(ret->words, sizeof(ret->words),
                         "RSS up %.1f MB to %.1f MB within the window (threshold %.0f MB)", v - low, v,
                         limit);
        else
                snprintf(ret->words, sizeof(ret->words),
                         "threads up from %.0f to %.0f (jump threshold %.0f)", low, v, limit);
        if (!fire(s, c, ret, false))
                return false;
        min_reset(m);
        (void) min_push(m, c->window, t, v); /* the next rise is counted from here */
        return true;
}

bool trigger_feed(TriggerState *s, const TriggerConfig *c, const TriggerRow *row, TriggerFiring *ret)
{
        bool cpu = check_cpu(s, c, row, ret);

        /* Every baseline takes the row, whatever fires first. */
        if (cpu) {
                if (c->rss_mb > 0 && !isnan(row->rss_mb))
                        (void) min_push(&s->rss, c->window, row->t, row->rss_mb);
                if (c->threads_jump > 0)
                        (void) min_push(&s->threads, c->window, row->t, row->threads);
                return true;
        }
        if (check_rise(s, c, &s->rss, TRIGGER_RSS, c->rss_mb, row->t, row->rss_mb, ret)) {
                if (c->threads_jump > 0)
                        (void) min_push(&s->threads, c->window, row->t, row->threads);
                return true;
        }
        return check_rise(s, c, &s->threads, TRIGGER_THREADS, c->threads_jump, row->t, row->threads, ret);
}

bool trigger_exit(TriggerState *s, const TriggerConfig *c, usec_t t, TriggerFiring *ret)
{
        s->cpu_run = 0;
        s->cpu_disarmed = false;
        min_reset(&s->rss);
        min_reset(&s->threads);
        if (!c->on_exit)
                return false;
        *ret = (TriggerFiring){ .kind = TRIGGER_EXIT, .t = t };
        snprintf(ret->words, sizeof(ret->words), "PAM exited");
        return fire(s, c, ret, false);
}

void trigger_manual(TriggerState *s, usec_t t, TriggerFiring *ret)
{
        *ret = (TriggerFiring){ .kind = TRIGGER_MANUAL, .t = t };
        snprintf(ret->words, sizeof(ret->words), "snapshot asked for by hand");
        (void) fire(s, NULL, ret, true);
}

void trigger_describe(const TriggerState *s, const TriggerConfig *c, usec_t t, char *buf, size_t size)
{
        if (s->last_capture && t < s->last_capture + c->cooldown)
                snprintf(buf, size, "cooldown, %.0fs left",
                         (double) (s->last_capture + c->cooldown - t) / 1e6);
        else if (c->max_per_hour && trigger_captures_last_hour(s, t) >= c->max_per_hour)
                snprintf(buf, size, "hourly limit of %u captures reached", c->max_per_hour);
        else if (c->cpu_percent > 0 && s->cpu_disarmed)
                snprintf(buf, size, "armed; CPU re-arms under %.0f%%", c->cpu_rearm_percent);
        else if (c->cpu_percent > 0 && s->cpu_run > 0)
                snprintf(buf, size, "armed; CPU over %.0f%% for %u of %u samples", c->cpu_percent,
                         s->cpu_run, c->cpu_samples);
        else
                snprintf(buf, size, "armed");
}
