/* SPDX-License-Identifier: MIT */
/*
 * allowed_group, looked up in a child (NSS modules never load into the daemon, a slow NSS never
 * holds the loop): bounded and waited for at start, from the loop on a reload.
 */
#include "manager.h"

#include <errno.h>
#include <inttypes.h>
#include <fcntl.h>
#include <grp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <systemd/sd-daemon.h>
#include <unistd.h>
#include "build-config.h"
#include "child.h"
#include "cleanup.h"
#include "commands.h"
#include "control.h"
#include "fs-util.h"
#include "log.h"
#include "metrics.h"
#include "recorder.h"
#include "recovery.h"
#include "retention.h"
#include "session.h"
#include "watcher.h"

#define GROUP_LOOKUP_TIMEOUT_MS (5 * 1000)

static int lookup_group(void *arg, void *out, char **err)
{
        const struct group *gr;

        errno = 0;
        gr = getgrnam(arg);
        if (!gr)
                /* "Not found" comes back as NULL with any of these, or none. */
                return errno == 0 || errno == ENOENT || errno == ESRCH || errno == EBADF || errno == EPERM
                        ? -ENOENT
                        : -errno;
        *(gid_t *) out = gr->gr_gid;
        return 0;
}

/* What the lookup of config.allowed_group came to (old_name: the name before a reload, or NULL). */
static void group_outcome(Manager *m, const char *old_name, int r, gid_t gid, const char *err)
{
        const char *name = m->config.allowed_group;

        if (r == 0) {
                if (!m->allowed_gid_valid || m->allowed_gid != gid || !old_name ||
                    strcmp(old_name, name) != 0)
                        log_info("Group %s (gid %u) may start and stop sessions", name, (unsigned) gid);
                m->allowed_gid = gid;
                m->allowed_gid_valid = true;
                return;
        }
        if (r != -ENOENT && old_name && strcmp(old_name, name) == 0 && m->allowed_gid_valid) {
                log_warning("Cannot look up group %s again (%s); keeping gid %u", name,
                            err ? err : strerror(-r), (unsigned) m->allowed_gid);
                return;
        }
        m->allowed_gid_valid = false;
        if (r == -ENOENT)
                log_warning(
                        "Group %s does not exist: only root may start and stop sessions (create it, then "
                        "reload pamprofd)",
                        name);
        else
                log_error("Cannot look up group %s (%s): only root may start and stop sessions", name,
                          err ? err : strerror(-r));
}

/*
 * The group is looked up in a child process: NSS may load modules
 * (nss_systemd, sss, ldap) and ask other services, and neither belongs in
 * the daemon's memory or its event loop. At start, before the loop runs,
 * the daemon waits for it (at most 5 s); on each reload it runs on the loop
 * (below), so a group created later is picked up by `systemctl reload
 * pamprofd`.
 */
void manager_resolve_group(Manager *m, const char *old_name)
{
        _cleanup_free_ char *err = NULL;
        gid_t gid = (gid_t) -1;
        int r = child_run_for(GROUP_LOOKUP_TIMEOUT_MS, lookup_group, m->config.allowed_group, &gid,
                              sizeof(gid), &err);

        group_outcome(m, old_name, r, gid, err);
}

static void on_group_looked_up(Child *c, const ChildResult *res, void *userdata)
{
        Manager *m = userdata;
        gid_t gid;

        memcpy(&gid, res->out, sizeof(gid));
        m->group_lookup = child_free(m->group_lookup);
        group_outcome(m, m->group_old_name, res->r, gid, res->error);
        free(m->group_old_name);
        m->group_old_name = NULL;
}

/* On reload: the lookup in a child from the loop; the gid in force stays until it answers. */
void manager_resolve_group_async(Manager *m, const char *old_name)
{
        int r;

        m->group_lookup = child_free(m->group_lookup); /* a reload before the last one's answer */
        free(m->group_old_name);
        m->group_old_name = old_name ? strdup(old_name) : NULL;
        r = child_start(m->event,
                        &(ChildSpec){ .work = lookup_group,
                                      .arg = m->config.allowed_group,
                                      .out_size = sizeof(gid_t),
                                      .timeout = GROUP_LOOKUP_TIMEOUT_MS * USEC_PER_MSEC },
                        on_group_looked_up, m, &m->group_lookup);
        if (r < 0)
                group_outcome(m, m->group_old_name, r, (gid_t) -1, NULL);
}
