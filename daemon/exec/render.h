/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * <id>_cpu.csv (+ _session.json, _threads.csv) -> <id>_cpu.png in dir_fd,
 * drawn with Cairo: written to a fresh temp name (O_EXCL, O_NOFOLLOW, owned
 * by uid) and renamed into place without replacing anything. Used at stop
 * and when an interrupted session is recovered.
 */

#include <sys/types.h>

#include "plot.h"

int render_session_plot(int dir_fd, const char *id, uid_t uid, gid_t gid, double duration,
                        PlotStats *ret_stats, char **ret_error);
