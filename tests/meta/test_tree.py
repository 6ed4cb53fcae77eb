#!/usr/bin/python3
"""The suite's own honesty: every test file runs, every case is counted, the tree is formatted.

- every tests/integration/test_*.py, tests/systemd/test_*.py and tests/unit/test-*.c is a
  registered test (a file the suite never runs is no test);
- every libFuzzer harness tests/fuzz/fuzz-*.c is a row of tests/fuzz/meson.build, the one list
  that tests/fuzz/run-fuzzers.sh also runs from;
- every registered test but the soak reports its cases in TAP, so a skipped case is counted as
  a skip and never as a pass;
- clang-format, with the committed .clang-format, would change no C file.
"""

import glob
import json
import os
import re
import shutil
import subprocess
import sys
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
import tap  # noqa: E402

TESTS = os.path.abspath(os.environ.get("PAMPROF_TESTS_DIR", os.path.join(os.path.dirname(__file__), "..")))
SRC = os.path.dirname(TESTS)
BUILD = os.environ.get("PAMPROF_BUILD_DIR", os.path.join(SRC, "build"))
# Tests that are not TAP, each with the reason.
NOT_TAP = {"soak_short": "one verdict over 150 cycles, not cases"}


def registered():
    with open(os.path.join(BUILD, "meson-info", "intro-tests.json")) as f:
        return {t["name"]: t for t in json.load(f)}


def stems(pattern, strip):
    return sorted(os.path.basename(p)[:-len(strip)] for p in glob.glob(os.path.join(TESTS, pattern)))


class TreeTest(unittest.TestCase):
    def test_every_test_file_is_registered(self):
        tests = registered()
        files = stems("integration/test_*.py", ".py") + stems("systemd/test_*.py", ".py") \
            + stems("unit/test-*.c", ".c") + stems("meta/test_*.py", ".py")
        self.assertGreater(len(files), 30)
        missing = [f for f in files if f not in tests]
        self.assertEqual(missing, [], "test files that tests/meson.build does not register, so they never run")

    def test_every_fuzz_harness_is_a_row_of_the_one_list(self):
        with open(os.path.join(TESTS, "fuzz", "meson.build")) as f:
            rows = set(re.findall(r"\[\s*'(fuzz-[a-z0-9-]+)'\s*,\s*files\('\1\.c'\)", f.read()))
        harnesses = set(stems("fuzz/fuzz-*.c", ".c"))
        self.assertGreater(len(harnesses), 5)
        self.assertEqual(sorted(harnesses - rows), [], "harnesses missing from tests/fuzz/meson.build")
        with open(os.path.join(TESTS, "fuzz", "run-fuzzers.sh")) as f:
            script = f.read()
        lists = re.findall(r"fuzz-[a-z0-9-]+\s+fuzz-[a-z0-9-]+", script)
        self.assertEqual(lists, [], "run-fuzzers.sh must take its harnesses from meson, not list them")

    def test_every_test_reports_its_cases(self):
        bad = [f"{name} ({t['protocol']})" for name, t in registered().items()
               if t["protocol"] != "tap" and name not in NOT_TAP]
        self.assertEqual(bad, [], "tests whose skips would count as passes (register them with protocol: 'tap')")

    def test_clang_format_would_change_nothing(self):
        if not shutil.which("clang-format"):
            self.skipTest("clang-format is not installed (apt-get install clang-format)")
        if os.path.isdir(os.path.join(SRC, ".git")) and shutil.which("git"):
            files = subprocess.run(["git", "-C", SRC, "ls-files", "*.c", "*.h"], capture_output=True,
                                   text=True, check=True).stdout.split()
        else:
            files = [os.path.relpath(p, SRC) for d in ("common", "daemon", "client", "tests")
                     for p in glob.glob(os.path.join(SRC, d, "**", "*.[ch]"), recursive=True)]
        self.assertGreater(len(files), 100)
        unformatted = []
        for i in range(0, len(files), 50):
            chunk = files[i:i + 50]
            r = subprocess.run(["clang-format", "--dry-run", "-Werror", *chunk], cwd=SRC, capture_output=True,
                               text=True)
            if r.returncode != 0:
                unformatted += sorted({m for m in re.findall(r"^([^:\n]+\.[ch]):\d+:\d+: error", r.stderr, re.M)})
        self.assertEqual(unformatted, [], "run: clang-format -i " + " ".join(unformatted))


if __name__ == "__main__":
    tap.main()
