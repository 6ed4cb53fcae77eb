"""Runs a unittest module and reports every test case in TAP, so that meson (protocol: 'tap') and
tests/check.sh count cases, and a skipped case is a skip, never a pass.

stdout carries only TAP; everything a test prints goes to stderr with unittest's own verbose
log, where meson keeps it.

A skip says why. Under PAMPROF_TESTS_STRICT=1 (tests/check.sh sets it when CI=true) a skip is
a failure, with the sentence "CI must have ...", unless its reason starts with OPTIONAL: the
things CI is not meant to have (a real py-spy, which cannot be installed without PyPI).
"""

import os
import sys
import traceback
import unittest

OPTIONAL = "[optional] "
STRICT = os.environ.get("PAMPROF_TESTS_STRICT") == "1"


def optional(reason):
    """A skip reason for something CI is not meant to have: a skip even under PAMPROF_TESTS_STRICT."""
    return OPTIONAL + reason


def _one_line(text):
    return " ".join(str(text).split())


class TapResult(unittest.TextTestResult):
    def __init__(self, tap, stream, descriptions, verbosity):
        super().__init__(stream, descriptions, verbosity)
        self.tap = tap
        self.n = 0
        self.strict_failures = []

    def _name(self, test):
        if isinstance(test, unittest.TestCase):
            return f"{type(test).__name__}.{test._testMethodName}"
        return _one_line(str(test))  # setUpClass / setUpModule holders

    def _emit(self, line, details=None):
        self.n += 1
        self.tap.write(f"{line.replace('{n}', str(self.n))}\n")
        for d in (details or "").splitlines():
            self.tap.write(f"# {d}\n")
        self.tap.flush()

    def addSuccess(self, test):
        super().addSuccess(test)
        self._emit(f"ok {{n}} - {self._name(test)}")

    def addFailure(self, test, err):
        super().addFailure(test, err)
        self._emit(f"not ok {{n}} - {self._name(test)}", "".join(traceback.format_exception_only(*err[:2])))

    def addError(self, test, err):
        super().addError(test, err)
        self._emit(f"not ok {{n}} - {self._name(test)} (error)",
                   "".join(traceback.format_exception_only(*err[:2])))

    def addSkip(self, test, reason):
        super().addSkip(test, reason)
        if STRICT and not reason.startswith(OPTIONAL):
            sentence = f"CI must have what this test needs, but it skipped: {_one_line(reason)}"
            self.strict_failures.append((test, sentence))
            self.stream.writeln(f"FAIL (strict): {sentence}")
            self._emit(f"not ok {{n}} - {self._name(test)}", sentence)
            return
        self._emit(f"ok {{n}} - {self._name(test)} # SKIP {_one_line(reason)}")

    def addExpectedFailure(self, test, err):
        super().addExpectedFailure(test, err)
        self._emit(f"not ok {{n}} - {self._name(test)} # TODO expected failure")

    def addUnexpectedSuccess(self, test):
        super().addUnexpectedSuccess(test)
        self._emit(f"ok {{n}} - {self._name(test)} # TODO unexpected success")

    def addSubTest(self, test, subtest, err):
        super().addSubTest(test, subtest, err)
        if err is not None:
            self._emit(f"not ok {{n}} - {self._name(subtest)}",
                       "".join(traceback.format_exception_only(*err[:2])))

    def wasSuccessful(self):
        return super().wasSuccessful() and not self.strict_failures


def main(module="__main__"):
    """Runs the module's tests; exit 0 when none failed (skips included), 1 otherwise."""
    tap = os.fdopen(os.dup(sys.stdout.fileno()), "w")
    sys.stdout.flush()
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())  # what tests print must not break the TAP stream
    tap.write("TAP version 13\n")
    suite = unittest.defaultTestLoader.loadTestsFromModule(sys.modules[module])
    if len(sys.argv) > 1:  # names of tests to run alone: Class.test_name or test_name
        wanted = set(sys.argv[1:])
        suite = unittest.TestSuite(t for t in _flatten(suite)
                                   if t.id().split(".", 1)[-1] in wanted or t._testMethodName in wanted)
    runner = unittest.TextTestRunner(stream=sys.stderr, verbosity=2,
                                     resultclass=lambda s, d, v: TapResult(tap, s, d, v))
    result = runner.run(suite)
    tap.write(f"1..{result.n}\n")
    tap.close()
    sys.exit(0 if result.wasSuccessful() else 1)


def _flatten(suite):
    for t in suite:
        if isinstance(t, unittest.TestSuite):
            yield from _flatten(t)
        else:
            yield t
