/* SPDX-License-Identifier: MIT */
/*
 * The period of a candidate's bursts (report-periodic.c says what a burst is): the one that
 * explains most gaps as whole multiples of it, within the sampler's clock error and clearly
 * more often than chance; or work too fast for its period to show.
 */
#include "report-periodic.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "report-analysis.h"
#include "sort-util.h"

static int cmp_float(const void *a, const void *b)
{
        float x = *(const float *) a, y = *(const float *) b;

        return x < y ? -1 : x > y;
}

/* How far a gap of q periods may be from q * p: py-spy's clock is the sample count, off by about
 * sqrt(g * interval) over g seconds, and a timer drifts a little. */
static double tolerance(const RpContext *c, double q, double p)
{
        return fmax(fmax(2.5 * c->interval, 2 * sqrt(q * p * c->interval)), 0.05 * q * p);
}

/* The share of exponential gaps of mean mu, of those up to MULTIPLE_MAX + 0.5 periods, within the windows. */
static double chance(const RpContext *c, double p, double mu)
{
        double judged = 1 - exp(-(MULTIPLE_MAX + 0.5) * p / mu), in = 0;

        for (int q = 1; q <= MULTIPLE_MAX; q++) {
                double tol = tolerance(c, q, p), a = fmax(0, q * p - tol),
                       b = fmin(q * p + tol, (MULTIPLE_MAX + 0.5) * p);
                if (b > a)
                        in += exp(-a / mu) - exp(-b / mu);
        }
        return judged > 0 ? fmin(1, in / judged) : 1;
}

/* The share of the gaps (of those judged) that period p explains, or NAN when p cannot be the period:
 * too short to measure, too few gaps judged or of one period, no better than chance. */
static double explained_by(const RpContext *c, const float *gap, size_t n, double p, double mean)
{
        size_t hit = 0, ones = 0, judged = 0;

        if (p < 3 * c->interval)
                return NAN;
        for (size_t i = 0; i < n; i++) {
                double q = round(gap[i] / p);
                if (gap[i] > (MULTIPLE_MAX + 0.5) * p)
                        continue;
                judged++;
                if (q >= 1 && fabs(gap[i] - q * p) <= tolerance(c, q, p)) {
                        hit++;
                        ones += q == 1;
                }
        }
        if (judged < 5 || judged < 0.3 * n || ones < 0.25 * judged)
                return NAN;
        /* Memoryless bursts (exponential gaps of the same mean) would land in those windows this
         * often: a period must explain clearly more than that. */
        if ((double) hit / judged - chance(c, p, mean) < CHANCE_MARGIN)
                return NAN;
        return (double) hit / judged;
}

/* Refined over the gaps of one or two periods it explains: the sum of the gaps over the sum of
 * their multiples, a few times. */
static double refine_period(const RpContext *c, const float *gap, size_t n, double period)
{
        for (int pass = 0; pass < 4 && period > 0; pass++) {
                double sum_gap = 0, sum_q = 0;
                for (size_t i = 0; i < n; i++) {
                        double q = round(gap[i] / period);
                        if (q >= 1 && q <= 2 && fabs(gap[i] - q * period) <= tolerance(c, q, period)) {
                                sum_gap += gap[i];
                                sum_q += q;
                        }
                }
                if (sum_q > 0)
                        period = sum_gap / sum_q;
        }
        return period;
}

/* The period that explains most gaps as multiples of it (see the top of the file). Only gaps of up to
 * MULTIPLE_MAX periods are judged: over longer ones the clock's error hides the period. */
static void find_period(const RpContext *c, Cand *k)
{
        size_t n = k->n_starts > 1 ? k->n_starts - 1 : 0;
        float *gap;
        double tries[3], mean = 0;

        if (n < 5)
                return;
        gap = malloc(n * sizeof(float));
        if (!gap)
                return;
        for (size_t i = 0; i < n; i++) {
                gap[i] = k->starts[i + 1] - k->starts[i];
                mean += gap[i];
        }
        mean /= (double) n;
        qsort_safe(gap, n, sizeof(float), cmp_float);
        tries[0] = gap[n / 10];
        tries[1] = gap[n / 4];
        tries[2] = gap[n / 2];
        for (size_t t = 0; t < 3; t++) {
                double p = tries[t], share = explained_by(c, gap, n, p, mean);
                if (isnan(share))
                        continue;
                if (share > k->explained || (share == k->explained && p > k->period)) {
                        k->explained = share;
                        k->period = p;
                }
        }
        k->period = refine_period(c, gap, n, k->period);
        free(gap);
        k->regular = k->explained >= REGULAR_EXPLAINED;
}

void period_judge(const RpContext *c, uint32_t ti, Cand *k)
{
        const RpThread *rt = &c->threads[ti];
        double p_hit = (double) k->samples / (double) rt->n_seen;
        double p_next = k->samples ? (double) (k->samples - k->episodes) / (double) k->samples : 0;
        double per_s = k->episodes / rt->seconds, mean_n = (double) k->ep_samples / (double) k->episodes;

        find_period(c, k);
        k->fast = per_s >= FAST_BURSTS && mean_n <= FAST_MEAN_BURST && p_next <= 1.5 * p_hit + 0.05 &&
                k->last - k->first >= 0.7 * rt->seconds && k->work_s >= 0.01 * rt->seconds;
        if (k->regular)
                k->fast = false; /* a period it could measure says more than "faster than samples" */
}

/* Callees of a periodic function repeat with it: keep the outermost (the one with most time). */
void period_dedupe(Cand *cand, size_t nc)
{
        for (size_t i = 0; i < nc; i++)
                for (size_t j = 0; j < nc; j++) {
                        Cand *a = &cand[i], *b = &cand[j];
                        if (i == j || a->dropped || b->dropped || b->work_s > a->work_s ||
                            (b->work_s == a->work_s && j < i))
                                continue;
                        if ((a->fast && b->fast) ||
                            (a->regular && b->regular && fabs(a->period - b->period) <= 0.15 * a->period))
                                b->dropped = true;
                }
}
