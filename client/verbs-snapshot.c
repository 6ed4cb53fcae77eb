/* SPDX-License-Identifier: MIT */
/* snapshot: the flight recorder's window saved as a session, "what just happened?" */
#include <stdio.h>
#include <unistd.h>

#include "protocol.h"
#include "verbs-internal.h"

enum { OPT_BEFORE = 0x200, OPT_AFTER, OPT_NO_WAIT };

static const char snapshot_help[] =
        "Usage: pamprofctl snapshot [--before S] [--after S] [--scenario NAME] [--no-wait]\n"
        "                           [--json] [--socket PATH]\n\n"
        "Save the flight recorder's window (recorder = on) as a session: the rows and stacks of the\n"
        "last --before seconds (default recorder_window) and of the next --after seconds (default\n"
        "recorder_after), with its plot and report. Answered once the files are final (--after\n"
        "seconds and a few more), or at once with the capture's ID with --no-wait.\n";

int verb_snapshot(Ctl *ctl, int argc, char *argv[])
{
        static const struct option opts[] = { COMMON_OPTIONS,
                                              { "before", required_argument, NULL, OPT_BEFORE },
                                              { "after", required_argument, NULL, OPT_AFTER },
                                              { "scenario", required_argument, NULL, OPT_SCENARIO },
                                              { "no-wait", no_argument, NULL, OPT_NO_WAIT },
                                              { 0 } };
        cJSON *req = protocol_request_new("snapshot");
        double v;
        int c, r = -1;

        optind = 1;
        while (r < 0 && (c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
                if (common_option(ctl, c, "snapshot", &r))
                        continue;
                switch (c) {
                case 'h':
                        fputs(snapshot_help, stdout);
                        r = 0;
                        break;
                case OPT_BEFORE:
                case OPT_AFTER: {
                        const FieldSpec *f =
                                protocol_field(CMD_SNAPSHOT, c == OPT_BEFORE ? "before" : "after");
                        r = parse_positive("snapshot", c == OPT_BEFORE ? "--before" : "--after", optarg,
                                           f->min, f->max, &v);
                        if (r == 0) {
                                cJSON_AddNumberToObject(req, c == OPT_BEFORE ? "before" : "after", v);
                                r = -1;
                        }
                        break;
                }
                case OPT_SCENARIO:
                        if (!scenario_is_valid(optarg))
                                r = usage_error("snapshot",
                                                "the scenario \"%s\" is not a label: use 1 to 64 characters "
                                                "from A-Z a-z 0-9 . _ -.",
                                                optarg);
                        else
                                cJSON_AddStringToObject(req, "scenario", optarg);
                        break;
                case OPT_NO_WAIT:
                        cJSON_AddBoolToObject(req, "wait", false);
                        break;
                }
        }
        if (r < 0 && optind < argc)
                r = usage_error("snapshot", "unexpected argument \"%s\".", argv[optind]);
        if (r >= 0) {
                cJSON_Delete(req);
                return r;
        }
        if (!ctl->json && isatty(STDERR_FILENO))
                fprintf(stderr,
                        "Capturing the recorder's window; the files are final once its --after time has "
                        "passed...\n");
        return call_and_print(ctl, req, -1, print_stopped);
}
