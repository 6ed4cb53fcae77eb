/* SPDX-License-Identifier: MIT */
#include "log.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <systemd/sd-journal.h>
#include <unistd.h>

/* Log state is the one mutable global the house style allows. */
static const char *log_ident = "pamprofd";
static int log_max_level = LOG_INFO;
static enum { LOG_TARGET_TTY, LOG_TARGET_PREFIX, LOG_TARGET_JOURNAL } log_target = LOG_TARGET_PREFIX;

static const char *const level_names[] = {
        [LOG_EMERG] = "emergency", [LOG_ALERT] = "alert",   [LOG_CRIT] = "critical", [LOG_ERR] = "error",
        [LOG_WARNING] = "warning", [LOG_NOTICE] = "notice", [LOG_INFO] = "info",     [LOG_DEBUG] = "debug",
};

/* JOURNAL_STREAM is "dev:ino" of the stream journald gave us as stderr. */
static bool stderr_is_journal(void)
{
        const char *e = getenv("JOURNAL_STREAM");
        unsigned long long dev, ino;
        struct stat st;

        if (!e || sscanf(e, "%llu:%llu", &dev, &ino) != 2)
                return false;
        if (fstat(STDERR_FILENO, &st) < 0)
                return false;
        return (unsigned long long) st.st_dev == dev && (unsigned long long) st.st_ino == ino;
}

void log_setup(const char *ident)
{
        const char *lvl = getenv("PAMPROF_LOG_LEVEL");

        if (ident)
                log_ident = ident;
        if (stderr_is_journal())
                log_target = LOG_TARGET_JOURNAL;
        else if (isatty(STDERR_FILENO))
                log_target = LOG_TARGET_TTY;
        else
                log_target = LOG_TARGET_PREFIX;
        if (lvl && strcmp(lvl, "debug") == 0)
                log_max_level = LOG_DEBUG;
}

void log_set_max_level(int level)
{
        log_max_level = level;
}

static void log_to_journal(int level, const LogFields *f, const char *msg)
{
        char pid[32];

        snprintf(pid, sizeof(pid), "PAMPROF_PID=%ld", f ? f->pid : 0L);
        sd_journal_send("MESSAGE=%s", msg, "PRIORITY=%i", level, "SYSLOG_IDENTIFIER=%s", log_ident,
                        "PAMPROF_SESSION=%s", f && f->session ? f->session : "", "PAMPROF_SCENARIO=%s",
                        f && f->scenario ? f->scenario : "", "PAMPROF_EVENT=%s",
                        f && f->event ? f->event : "", f && f->pid > 0 ? pid : NULL, NULL);
}

int log_internalv(int level, int error, const LogFields *fields, const char *fmt, va_list ap)
{
        char msg[2048];
        int saved = errno;
        size_t n;

        if (error < 0)
                error = -error;
        if ((level & LOG_PRIMASK) > log_max_level)
                goto out;

        vsnprintf(msg, sizeof(msg), fmt, ap);
        n = strlen(msg);
        if (error > 0 && n < sizeof(msg))
                snprintf(msg + n, sizeof(msg) - n, ": %s", strerror(error));
        /* Messages quote what others chose (PAM's command line, paths): one line, no escape sequences. */
        for (unsigned char *p = (unsigned char *) msg; *p; p++)
                if (*p < 0x20 || *p == 0x7f)
                        *p = '?';

        switch (log_target) {
        case LOG_TARGET_JOURNAL:
                log_to_journal(level, fields, msg);
                break;
        case LOG_TARGET_TTY:
                fprintf(stderr, "%s: %s: %s\n", log_ident, level_names[level & LOG_PRIMASK], msg);
                break;
        case LOG_TARGET_PREFIX:
                fprintf(stderr, "<%d>%s\n", level & LOG_PRIMASK, msg);
                break;
        }
out:
        errno = saved;
        return -error;
}

int log_internal(int level, int error, const LogFields *fields, const char *fmt, ...)
{
        va_list ap;
        int r;

        va_start(ap, fmt);
        r = log_internalv(level, error, fields, fmt, ap);
        va_end(ap);
        return r;
}
