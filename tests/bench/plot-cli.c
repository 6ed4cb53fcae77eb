/* SPDX-License-Identifier: MIT */
/*
 * `pamprofctl plot` on its own, for the benchmark and for trying the
 * command before (or without) the rest of the client:
 *     plot-cli FILE.csv [-o OUT.png] [--size WxH] [--title TEXT] [--force]
 */
#include "cmd-plot.h"

int main(int argc, char *argv[])
{
        argv[0] = (char *) "plot";
        return cmd_plot(argc, argv);
}
