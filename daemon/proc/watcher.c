/* SPDX-License-Identifier: MIT */
#include "watcher.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <regex.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "cleanup.h"
#include "log.h"
#include <systemd/sd-bus.h>
#include "pidwatch.h"
#include "proc-cmdline.h"
#include "proc-read.h"
#include "proc-stat.h"

struct Watcher {
        sd_event *event;
        int proc_fd;
        regex_t re;
        char *regex;
        usec_t scan_interval;
        WatcherCallbacks cb;

        pid_t pid;
        PidWatch *exit_watch;
        char *cmdline;
        usec_t since;
        unsigned restarts;
        bool seen_once;
        sd_event_source *scan_timer;

        /* target_unit: PAM is the unit's MainPID, followed by D-Bus signals, not by a regex. */
        char *unit;
        char *unit_path;
        sd_bus *bus;
        sd_bus_slot *match_slot;
};

int target_read_cmdline(int proc_fd, pid_t pid, char **ret)
{
        char path[32], buf[4096];
        size_t len;
        int r;

        snprintf(path, sizeof(path), "%d/cmdline", (int) pid);
        r = proc_read_file(proc_fd, path, buf, sizeof(buf), &len);
        if (r < 0)
                return r;
        return proc_cmdline_parse(buf, len, ret);
}

typedef struct Candidate {
        pid_t pid, ppid;
        uint64_t starttime;
        bool interpreter; /* python or uvicorn itself, not a shell or grep that names it */
} Candidate;

static bool comm_is_interpreter(const char *comm)
{
        return strncmp(comm, "python", 6) == 0 || strncmp(comm, "uvicorn", 7) == 0;
}

/*
 * Which match is PAM: an interpreter before anything else that merely names
 * it (a shell, an editor, grep); then one whose parent is not itself a match
 * (so a fork of PAM is not taken for PAM); then the oldest.
 */
static bool candidate_better(const Candidate *a, const Candidate *b, const Candidate *all, size_t n)
{
        bool a_child = false, b_child = false;

        if (a->interpreter != b->interpreter)
                return a->interpreter;
        for (size_t i = 0; i < n; i++) {
                a_child |= all[i].pid == a->ppid;
                b_child |= all[i].pid == b->ppid;
        }
        if (a_child != b_child)
                return !a_child;
        return a->starttime < b->starttime;
}

static int probe(int proc_fd, pid_t pid, Candidate *ret)
{
        ProcStat st;
        int r = proc_stat_read(proc_fd, pid, &st);

        if (r < 0)
                return r;
        *ret = (Candidate){
                .pid = pid,
                .ppid = st.ppid,
                .starttime = st.starttime,
                .interpreter = comm_is_interpreter(st.comm),
        };
        return 0;
}

int target_scan(int proc_fd, const struct re_pattern_buffer *re, pid_t skip_pid, pid_t *ret_pid,
                char **ret_cmdline)
{
        _cleanup_free_ Candidate *all = NULL;
        size_t n = 0, cap = 0, best = SIZE_MAX;
        struct dirent *de;
        DIR *d;
        int fd;

        fd = openat(proc_fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (fd < 0)
                return -errno;
        d = fdopendir(fd);
        if (!d) {
                close(fd);
                return -errno;
        }
        while ((de = readdir(d))) {
                _cleanup_free_ char *cmdline = NULL;
                char *end;
                long pid = strtol(de->d_name, &end, 10);

                if (*end || pid <= 0 || pid == skip_pid)
                        continue;
                if (target_read_cmdline(proc_fd, (pid_t) pid, &cmdline) < 0 || !*cmdline)
                        continue; /* gone, or a kernel thread */
                if (regexec((const regex_t *) re, cmdline, 0, NULL, 0) != 0)
                        continue;
                if (n == cap) {
                        Candidate *a = realloc(all, (cap = cap ? cap * 2 : 8) * sizeof(*a));
                        if (!a) {
                                closedir(d);
                                return -ENOMEM;
                        }
                        all = a;
                }
                /* skip_pid's own children (its forked workers carry its command line) are not PAM. */
                if (probe(proc_fd, (pid_t) pid, &all[n]) == 0 && all[n].ppid != skip_pid)
                        n++;
        }
        closedir(d);

        for (size_t i = 0; i < n; i++)
                if (best == SIZE_MAX || candidate_better(&all[i], &all[best], all, n))
                        best = i;
        if (best == SIZE_MAX)
                return -ESRCH;
        if (ret_cmdline) {
                int r = target_read_cmdline(proc_fd, all[best].pid, ret_cmdline);
                if (r < 0)
                        return r;
        }
        *ret_pid = all[best].pid;
        return 0;
}

static int scan_timer_arm(Watcher *w, bool enable);

static void watcher_forget(Watcher *w)
{
        w->exit_watch = pidwatch_free(w->exit_watch);
        w->pid = 0;
        free(w->cmdline);
        w->cmdline = NULL;
}

static void on_target_exit(void *userdata, pid_t pid)
{
        Watcher *w = userdata;

        log_notice("PAM (pid %d) exited; looking for it every %gs", (int) pid,
                   (double) w->scan_interval / 1e6);
        watcher_forget(w);
        scan_timer_arm(w, true);
        if (w->cb.lost)
                w->cb.lost(w->cb.userdata, pid);
        /* It may be back already (a quick restart). */
        if (watcher_rescan(w) == 0)
                scan_timer_arm(w, false);
}

static int watcher_adopt(Watcher *w, pid_t pid, char *cmdline)
{
        int r = pidwatch_new(w->event, w->proc_fd, pid, w->scan_interval, on_target_exit, w, &w->exit_watch);

        if (r < 0) {
                free(cmdline);
                return r; /* gone already: -ESRCH */
        }
        w->pid = pid;
        w->cmdline = cmdline;
        w->since = now(CLOCK_MONOTONIC);
        if (w->seen_once)
                w->restarts++;
        w->seen_once = true;
        log_info("Found PAM: pid %d, \"%s\"", (int) pid, cmdline);
        if (w->cb.found)
                w->cb.found(w->cb.userdata, pid);
        return 0;
}

static int unit_query(Watcher *w);

int watcher_rescan(Watcher *w)
{
        char *cmdline = NULL;
        pid_t pid;
        int r;

        if (w->pid > 0)
                return 0;
        if (w->unit) {
                (void) unit_query(w); /* the answer comes back through the event loop */
                return -ESRCH;
        }
        r = target_scan(w->proc_fd, (const struct re_pattern_buffer *) &w->re, getpid(), &pid, &cmdline);
        if (r < 0)
                return r;
        r = watcher_adopt(w, pid, cmdline);
        if (r == 0)
                scan_timer_arm(w, false);
        return r;
}

static int on_scan_timer(sd_event_source *s, uint64_t usec, void *userdata)
{
        Watcher *w = userdata;

        (void) watcher_rescan(w);
        if (w->pid == 0)
                scan_timer_arm(w, true);
        return 0;
}

static int scan_timer_arm(Watcher *w, bool enable)
{
        int r;

        if (w->unit)
                return 0; /* systemd tells us; nothing to poll */
        if (!enable)
                return sd_event_source_set_enabled(w->scan_timer, SD_EVENT_OFF);
        /* Slow and coalescable: a second of slack costs nothing here. */
        r = sd_event_source_set_time_relative(w->scan_timer, w->scan_interval);
        if (r < 0)
                return r;
        return sd_event_source_set_enabled(w->scan_timer, SD_EVENT_ONESHOT);
}

int watcher_new(sd_event *e, int proc_fd, const char *regex, usec_t scan_interval,
                const WatcherCallbacks *cb, Watcher **ret)
{
        Watcher *w;
        int r;

        w = calloc(1, sizeof(*w));
        if (!w)
                return -ENOMEM;
        w->event = sd_event_ref(e);
        w->proc_fd = proc_fd;
        w->scan_interval = scan_interval;
        w->cb = *cb;
        w->regex = strdup(regex);
        if (!w->regex || regcomp(&w->re, regex, REG_EXTENDED | REG_NOSUB) != 0) {
                free(w->regex);
                sd_event_unref(w->event);
                free(w);
                return -EINVAL;
        }
        r = sd_event_add_time_relative(e, &w->scan_timer, CLOCK_MONOTONIC, scan_interval, USEC_PER_SEC / 2,
                                       on_scan_timer, w);
        if (r < 0) {
                watcher_free(w);
                return r;
        }
        if (watcher_rescan(w) < 0) {
                log_info("PAM is not running (no command line matches \"%s\"); looking every %gs", regex,
                         (double) scan_interval / 1e6);
                scan_timer_arm(w, true);
        }
        *ret = w;
        return 0;
}

/* MainPID arrived: 0 is "not running"; a new pid replaces the one we followed. */
static void unit_main_pid(Watcher *w, pid_t pid)
{
        char *cmdline = NULL;

        if (pid == w->pid)
                return;
        if (w->pid > 0) {
                pid_t old = w->pid;
                log_notice("%s: MainPID %d is gone", w->unit, (int) old);
                watcher_forget(w);
                if (w->cb.lost)
                        w->cb.lost(w->cb.userdata, old);
        }
        if (pid <= 0)
                return;
        if (target_read_cmdline(w->proc_fd, pid, &cmdline) < 0)
                cmdline = strdup("");
        if (cmdline)
                (void) watcher_adopt(w, pid, cmdline);
}

static int on_main_pid(sd_bus_message *m, void *userdata, sd_bus_error *error)
{
        Watcher *w = userdata;
        uint32_t pid = 0;
        int r;

        if (sd_bus_message_is_method_error(m, NULL)) {
                log_warning("Cannot read MainPID of %s: %s", w->unit, sd_bus_message_get_error(m)->message);
                return 0;
        }
        r = sd_bus_message_read(m, "v", "u", &pid);
        if (r < 0)
                return log_warning_errno(r, "Cannot parse MainPID of %s", w->unit), 0;
        unit_main_pid(w, (pid_t) pid);
        return 0;
}

static int unit_query(Watcher *w)
{
        return sd_bus_call_method_async(w->bus, NULL, "org.freedesktop.systemd1", w->unit_path,
                                        "org.freedesktop.DBus.Properties", "Get", on_main_pid, w, "ss",
                                        "org.freedesktop.systemd1.Service", "MainPID");
}

static int on_properties_changed(sd_bus_message *m, void *userdata, sd_bus_error *error)
{
        Watcher *w = userdata;

        /* Any change of the unit: ask for MainPID again (one small call, only when systemd says so). */
        (void) unit_query(w);
        return 0;
}

int watcher_new_unit(sd_event *e, int proc_fd, const char *unit, const WatcherCallbacks *cb, Watcher **ret)
{
        Watcher *w = calloc(1, sizeof(*w));
        int r;

        if (!w)
                return -ENOMEM;
        w->event = sd_event_ref(e);
        w->proc_fd = proc_fd;
        w->cb = *cb;
        w->unit = strdup(unit);
        w->regex = strdup("");
        if (!w->unit || !w->regex || regcomp(&w->re, "^$", REG_EXTENDED | REG_NOSUB) != 0) {
                free(w->unit);
                free(w->regex);
                sd_event_unref(w->event);
                free(w);
                return -ENOMEM;
        }
        r = sd_bus_open_system(&w->bus);
        if (r < 0) {
                log_error_errno(r, "target_unit = %s needs the system bus, which cannot be reached", unit);
                goto fail;
        }
        r = sd_bus_attach_event(w->bus, e, SD_EVENT_PRIORITY_NORMAL);
        if (r >= 0)
                r = sd_bus_path_encode("/org/freedesktop/systemd1/unit", unit, &w->unit_path);
        if (r >= 0)
                r = sd_bus_match_signal_async(w->bus, &w->match_slot, "org.freedesktop.systemd1",
                                              w->unit_path, "org.freedesktop.DBus.Properties",
                                              "PropertiesChanged", on_properties_changed, NULL, w);
        /* systemd sends unit signals only to subscribers; and the unit must be loaded to have an object. */
        if (r >= 0)
                r = sd_bus_call_method_async(w->bus, NULL, "org.freedesktop.systemd1",
                                             "/org/freedesktop/systemd1", "org.freedesktop.systemd1.Manager",
                                             "Subscribe", NULL, NULL, "");
        if (r >= 0)
                r = sd_bus_call_method_async(w->bus, NULL, "org.freedesktop.systemd1",
                                             "/org/freedesktop/systemd1", "org.freedesktop.systemd1.Manager",
                                             "LoadUnit", NULL, NULL, "s", unit);
        if (r >= 0)
                r = unit_query(w);
        if (r < 0) {
                log_error_errno(r, "Cannot follow %s over D-Bus", unit);
                goto fail;
        }
        log_info("Following PAM as the main process of %s", unit);
        *ret = w;
        return 0;
fail:
        watcher_free(w);
        return r;
}

Watcher *watcher_free(Watcher *w)
{
        if (!w)
                return NULL;
        sd_bus_slot_unref(w->match_slot);
        sd_bus_flush_close_unref(w->bus);
        free(w->unit);
        free(w->unit_path);
        watcher_forget(w);
        sd_event_source_disable_unref(w->scan_timer);
        regfree(&w->re);
        free(w->regex);
        sd_event_unref(w->event);
        free(w);
        return NULL;
}

pid_t watcher_pid(const Watcher *w)
{
        return w ? w->pid : 0;
}

const char *watcher_cmdline(const Watcher *w)
{
        return w ? w->cmdline : NULL;
}

usec_t watcher_since(const Watcher *w)
{
        return w ? w->since : 0;
}

unsigned watcher_restarts(const Watcher *w)
{
        return w ? w->restarts : 0;
}

const char *watcher_unit(const Watcher *w)
{
        return w ? w->unit : NULL;
}
