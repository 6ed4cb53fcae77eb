/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * pamprofctl plot FILE.csv [-o OUT.png|.svg|.pdf] [--size WxH] [--title TEXT]
 *                          [--force] [--json] [--help]
 *
 * Draws a session's CSV (ours, or the seed's five-column one) without the
 * daemon. argv[0] is "plot". Returns the process exit code: 0 done,
 * 1 failed or refused, 2 usage.
 */

int cmd_plot(int argc, char *argv[]);
