#!/usr/bin/python3
"""The man pages and the bash completion cover every flag, key, command and exit code the programs have.

The programs' own --help and --check-config are the truth: a flag, key or
command added there and not here fails this test with its name.
"""

import os
import re
import shutil
import subprocess
import unittest

from unitlib import COMPLETION, MAN_PAGES, PAMPROFCTL, PAMPROFD, check_config, need

SCENARIOS = ["idle-no-leaffc", "idle-with-leaffc", "esc-calibration", "rc-stream", "mission-execution"]


def read(path):
    with open(path) as f:
        return f.read()


def roff_plain(text):
    """Roff source with the escapes that matter here undone: \\- is -, \\e is \\, fonts dropped."""
    text = re.sub(r"\\f[BIRP]", "", text)
    return text.replace("\\-", "-").replace("\\e", "\\").replace('"', "")


def run(*argv):
    return subprocess.run(argv, capture_output=True, text=True, timeout=30)


def long_options(help_text):
    return sorted(set(re.findall(r"(?<![\w-])(--[a-z][a-z-]*)", help_text)))


def verbs():
    out = run(PAMPROFCTL, "--help").stdout
    section = out.split("Commands:", 1)[1].split("\n\n", 1)[0]
    return [line.split()[0] for line in section.splitlines() if line.strip()]


class ManPagesTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.pages = {name: roff_plain(read(path)) for name, path in MAN_PAGES.items()}

    def test_pamprofd_8_names_every_flag(self):
        for flag in long_options(run(PAMPROFD, "--help").stdout):
            self.assertIn(flag, self.pages["pamprofd.8"], f"pamprofd(8) does not describe {flag}")

    def test_pamprofd_conf_5_describes_every_key_and_its_default(self):
        page = self.pages["pamprofd.conf.5"]
        for key, value in check_config().items():
            m = re.search(r"(?m)^\.BI " + re.escape(key) + r" .*\n((?:(?!^\.BI ).*\n)*)", page)
            self.assertIsNotNone(m, f"pamprofd.conf(5) has no entry for the key {key}")
            if value and not key.endswith("_dir") and key not in ("state_dir",):
                self.assertIn(value, m.group(1), f"pamprofd.conf(5) does not give {key}'s default {value}")

    def test_pamprofctl_1_describes_every_command_and_option(self):
        page = self.pages["pamprofctl.1"]
        for verb in verbs():
            self.assertRegex(page, r"(?m)^\.B " + re.escape(verb) + r"\b", f"pamprofctl(1) has no {verb}")
            for opt in long_options(run(PAMPROFCTL, verb, "--help").stdout):
                self.assertIn(opt, page, f"pamprofctl(1) does not describe {verb} {opt}")
        for scenario in SCENARIOS:
            self.assertIn(scenario, page)

    def test_exit_codes(self):
        for code in "0123":
            self.assertRegex(self.pages["pamprofctl.1"], r"(?m)^\.B " + code + "\n")
        for code in "012":
            self.assertRegex(self.pages["pamprofd.8"], r"(?m)^\.B " + code + "\n")

    def test_required_sections(self):
        for name, page in self.pages.items():
            for section in ("NAME", "SYNOPSIS", "DESCRIPTION", "FILES", "SEE ALSO"):
                self.assertRegex(page, r"(?m)^\.SH " + section + "$", f"{name} has no {section}")

    def test_pages_render_without_warnings(self):
        need("man")
        for name, path in MAN_PAGES.items():
            r = subprocess.run(["man", "--warnings", "-l", path], capture_output=True, text=True, timeout=60,
                               env=dict(os.environ, MANWIDTH="80", MAN_KEEP_FORMATTING="0"))
            self.assertEqual(r.returncode, 0, r.stderr)
            self.assertEqual(r.stderr.strip(), "", f"{name}: {r.stderr}")


class CompletionTest(unittest.TestCase):
    def complete(self, *words):
        need("bash")
        script = (f"source {COMPLETION}\n"
                  f"COMP_WORDS=(pamprofctl {' '.join(repr(w) for w in words)}); COMP_CWORD={len(words)}\n"
                  "_pamprofctl; printf '%s\\n' \"${COMPREPLY[@]}\"\n")
        r = subprocess.run(["bash", "--norc", "--noprofile", "-c", script], capture_output=True, text=True,
                           timeout=30, env=dict(os.environ, PATH=os.path.dirname(PAMPROFCTL) + ":" + os.environ["PATH"]))
        self.assertEqual(r.returncode, 0, r.stderr)
        return r.stdout.split()

    def test_commands(self):
        self.assertEqual(sorted(self.complete("")), sorted(verbs()))

    def test_options_of_every_command(self):
        for verb in verbs():
            offered = self.complete(verb, "--")
            for opt in long_options(run(PAMPROFCTL, verb, "--help").stdout):
                if opt != "--version":
                    self.assertIn(opt, offered, f"completion of {verb} does not offer {opt}")

    def test_scenarios(self):
        self.assertEqual(self.complete("record", "--scenario", ""), SCENARIOS)
        self.assertEqual(self.complete("start", "-s", "rc"), ["rc-stream"])


if __name__ == "__main__":
    from unitlib import tap
    tap.main()
