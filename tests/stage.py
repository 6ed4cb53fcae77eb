"""A copy of the test tools that every user can read and run.

Some tests run a program as another user (a target as `daemon`, the daemon with the unit's
user, py-spy's double under it). A checkout may sit where only its owner can enter (root's
home on Debian is 0700), so those programs are staged once per test process in a directory of
their own under the system's temporary directory, mode 0755, removed when the process ends.
"""

import atexit
import os
import shutil
import tempfile

_TESTS = os.path.abspath(os.environ.get("PAMPROF_TESTS_DIR", os.path.dirname(os.path.abspath(__file__))))
_staged = None


def _ignore(directory, names):
    return [n for n in names if n == "__pycache__" or n.endswith(".pyc")]


def staged():
    """The staging directory: tools/ and pam-standin/ as in tests/, readable by all."""
    global _staged
    if _staged:
        return _staged
    top = tempfile.mkdtemp(prefix="pamprof-stage-")
    atexit.register(shutil.rmtree, top, ignore_errors=True)
    os.chmod(top, 0o755)
    for d in ("tools", "pam-standin"):
        shutil.copytree(os.path.join(_TESTS, d), os.path.join(top, d), ignore=_ignore, symlinks=True)
    for root, dirs, files in os.walk(top):
        for n in dirs:
            os.chmod(os.path.join(root, n), 0o755)
        for n in files:
            p = os.path.join(root, n)
            os.chmod(p, 0o755 if os.access(p, os.X_OK) else 0o644)
    _staged = top
    return top


def tool(*parts):
    """The staged path of a file under tests/ (tools/... or pam-standin/...)."""
    return os.path.join(staged(), *parts)
