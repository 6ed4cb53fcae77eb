#!/usr/bin/python3
"""Counts the test cases of one `meson test` run from its testlog.json, for tests/check.sh and
tests/arm64/check-arm64.sh: one way of counting for both.

    count-cases.py TESTLOG.JSON STAGE SKIPS FAILURES

Every test of the tree reports its cases in TAP (tests/tap.py, cmocka's TAP output): a line a
case, "ok", "not ok", or "ok ... # SKIP reason" (cmocka and tests/tap.py may give the reason
on a "# skip reason: " line before it). A test that is not TAP counts as one case by meson's
verdict; a test that died, timed out or exited non-zero with no failing case to show for it
counts as one failure. Appends "STAGE: TEST / CASE: reason" to SKIPS and "STAGE: TEST / CASE"
to FAILURES, one a line; prints "PASSED FAILED SKIPPED".

Under PAMPROF_TESTS_STRICT=1 (CI) a skip is a failure unless its reason starts with
"[optional]", as in tests/check.sh: CI must have what the tests need.
"""

import json
import os
import re
import sys

CASE = re.compile(r"^(ok|not ok)\b\s*\d*\s*(?:-\s*)?([^#]*?)\s*(?:#\s*(SKIP|TODO)\S*\s*(.*))?$")


def main():
    log, stage, skips_path, failures_path = sys.argv[1:5]
    strict = os.environ.get("PAMPROF_TESTS_STRICT") == "1"
    p = f = s = 0
    with open(log) as logf, open(skips_path, "a") as skips, open(failures_path, "a") as failures:
        for line in logf:
            r = json.loads(line)
            name, out = r["name"].split(" / ")[-1], r.get("stdout") or ""
            if not re.search(r"(?m)^(ok|not ok)\b|^1\.\.\d", out):
                if r["result"] in ("OK", "EXPECTEDFAIL"):
                    p += 1
                elif r["result"] == "SKIP":
                    s += 1
                    skips.write(f"{stage}: {name}: {' '.join(out.split())[:200] or 'exit 77'}\n")
                else:
                    f += 1
                    failures.write(f"{stage}: {name} ({r['result']}, exit {r.get('returncode')})\n")
                continue
            bad = 0
            reason = ""
            for text in out.splitlines():
                if text.startswith("# skip reason: "):
                    reason = text[len("# skip reason: "):]
                    continue
                m = re.match(r"^1\.\.0\s*#\s*SKIP\S*\s*(.*)", text)
                if m:
                    s += 1
                    skips.write(f"{stage}: {name}: {m.group(1)}\n")
                    continue
                m = CASE.match(text)
                if not m:
                    continue
                verdict, what, directive, why = m.groups()
                if directive == "SKIP":
                    why = why or reason or "no reason given"
                    if strict and not why.startswith("[optional]"):
                        f += 1
                        bad += 1
                        failures.write(f"{stage}: {name} / {what}: CI must have what it needs, "
                                       f"but it skipped: {why}\n")
                    else:
                        s += 1
                        skips.write(f"{stage}: {name} / {what}: {why}\n")
                elif directive == "TODO":  # an expected failure passes; an unexpected pass does not
                    if verdict == "not ok":
                        p += 1
                    else:
                        f += 1
                        bad += 1
                        failures.write(f"{stage}: {name} / {what}: passed, but is marked to fail\n")
                elif verdict == "ok":
                    p += 1
                else:
                    f += 1
                    bad += 1
                    failures.write(f"{stage}: {name} / {what}\n")
                reason = ""
            if r["result"] not in ("OK", "SKIP", "EXPECTEDFAIL") and bad == 0:
                f += 1
                failures.write(f"{stage}: {name} ({r['result']}, exit {r.get('returncode')}, "
                               f"no failing case named)\n")
    print(p, f, s)


if __name__ == "__main__":
    main()
