/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * pamprofctl report FILE|ID [--csv FILE.csv] [--threads FILE_threads.csv]
 *                   [--session FILE_session.json] [--vs OTHER] [--json]
 *                   [--idle-scenario] [--scenario NAME] [--help]
 *
 * The session's findings, ranked, with evidence (common/report.h). FILE is
 * any of a session's files (…_profile.speedscope.json, …_cpu.csv, …) or
 * their common prefix; the others next to it are found by name. argv[0] is
 * "report". Returns the exit code: 0 done, 1 failed, 2 usage.
 */

/*
 * `report ID`: turns a session ID into the prefix of its files
 * ("DIR/pam_<scenario>_<stamp>", malloc'd into *ret_prefix), asking the
 * daemon (socket: --socket's value or NULL for the default). Returns 0, or
 * the exit code to give up with after printing why (1 unknown ID, 3 no
 * daemon). The client core provides it; without one, an argument that is
 * not a file is refused with a sentence that says so.
 */
typedef int (*ReportResolver)(const char *id, const char *socket, char **ret_prefix, void *userdata);

int cmd_report(int argc, char *argv[]);
int cmd_report_with(int argc, char *argv[], ReportResolver resolve, void *userdata);
