/* SPDX-License-Identifier: MIT */
/*
 * A TEST DOUBLE for the wall clock: LD_PRELOAD'ed into pamprofd, it adds the
 * number of seconds written in the file $PAMPROF_CLOCKSTEP_FILE to every
 * CLOCK_REALTIME reading, so a test can "step the wall clock by an hour"
 * mid-session without touching the machine's clock. CLOCK_MONOTONIC, which
 * the daemon's timers and elapsed_seconds use, is left alone.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <fcntl.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

static long offset_seconds(void)
{
        const char *path = getenv("PAMPROF_CLOCKSTEP_FILE");
        char buf[32];
        ssize_t n;
        int fd;

        if (!path || (fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
                return 0;
        n = read(fd, buf, sizeof(buf) - 1);
        close(fd);
        if (n <= 0)
                return 0;
        buf[n] = '\0';
        return strtol(buf, NULL, 10);
}

int clock_gettime(clockid_t clk, struct timespec *ts)
{
        int r = (int) syscall(SYS_clock_gettime, clk, ts);

        if (r == 0 && (clk == CLOCK_REALTIME || clk == CLOCK_REALTIME_COARSE))
                ts->tv_sec += offset_seconds();
        return r;
}
