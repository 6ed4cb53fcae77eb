#!/usr/bin/python3
"""speedscope-app: open profiles in the real speedscope app and say what it shows.

    speedscope-app.py [--json] [--sandwich] FILE...

Not a re-implementation: this loads speedscope's own release (the npm package
speedscope@1.25.0, fetched once from the npm registry and checked against its
published sha512) into headless Chromium, over HTTP on 127.0.0.1, with the file
as the app's profileURL, and reads back the page the app built: its title and
the list of profiles (threads) with their durations. A file the app cannot
import leaves no profile list. Each file is also validated against the
file-format-schema.json of that same release (python3-jsonschema).

Exit 0 and one line per file (profiles, their names and durations as the app
shows them), or exit 1 and the first problem. Exit 77 (skip) when Chromium,
python3-jsonschema or the release cannot be had; the reason is printed.
--json prints one summary object per file. --sandwich opens the app in its
sandwich view (the URL's view=sandwich, as a user would pick it) and also reads
back the profile the app opened on (the file's activeProfileIndex, shown in the
toolbar as "NAME (i/n)") and the functions of that profile the app lists, with
their total and self time, in the app's order (total, largest first), as many
as the page renders (the list is virtualized: the first few dozen).

Environment: PAMPROF_SPEEDSCOPE_DIR, a directory holding the release (its
index.html); otherwise it is kept under $XDG_CACHE_HOME (or ~/.cache)
/pamprofd-tests/speedscope-1.25.0 once fetched. CHROMIUM names the browser.
"""

import base64
import functools
import hashlib
import html
import http.server
import io
import json
import os
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
import threading
import urllib.parse
import urllib.request

VERSION = "1.25.0"
TARBALL = f"https://registry.npmjs.org/speedscope/-/speedscope-{VERSION}.tgz"
INTEGRITY = "sha512-cpf9HWTZf1ijLXBJrk87Ve/54tnYx6rlf0gUThvn3ook6h63hLXVOQiMf44PT+XoV503cPfvfiT5gP5vojp6Ag=="
SKIP = 77


class Unavailable(Exception):
    pass


class AppError(Exception):
    pass


def release_dir():
    given = os.environ.get("PAMPROF_SPEEDSCOPE_DIR")
    if given:
        if not os.path.isfile(os.path.join(given, "index.html")):
            raise Unavailable(f"PAMPROF_SPEEDSCOPE_DIR={given} has no index.html")
        return given
    cache = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    target = os.path.join(cache, "pamprofd-tests", f"speedscope-{VERSION}")
    if os.path.isfile(os.path.join(target, "index.html")):
        return target
    try:
        with urllib.request.urlopen(TARBALL, timeout=60) as r:
            data = r.read()
    except OSError as e:
        raise Unavailable(f"cannot fetch {TARBALL}: {e}")
    algo, _, want = INTEGRITY.partition("-")
    if base64.b64encode(hashlib.new(algo, data).digest()).decode() != want:
        raise AppError(f"{TARBALL} does not match its published {algo}; not using it")
    tmp = tempfile.mkdtemp(prefix=".speedscope-", dir=os.path.dirname(target) if os.path.isdir(
        os.path.dirname(target)) else None)
    with tarfile.open(fileobj=io.BytesIO(data)) as tar:
        for m in tar.getmembers():
            if m.isfile() and m.name.startswith("package/dist/release/") and ".." not in m.name:
                out = os.path.join(tmp, os.path.basename(m.name))
                with tar.extractfile(m) as src, open(out, "wb") as dst:
                    shutil.copyfileobj(src, dst)
    os.makedirs(os.path.dirname(target), exist_ok=True)
    try:
        os.rename(tmp, target)
    except OSError:  # another run got there first
        shutil.rmtree(tmp, ignore_errors=True)
    return target


def chromium():
    for name in (os.environ.get("CHROMIUM"), "chromium", "chromium-browser", "google-chrome"):
        if name and shutil.which(name):
            return shutil.which(name)
    raise Unavailable("no Chromium (apt-get install chromium)")


def validate_schema(path, release):
    try:
        import jsonschema
    except ImportError:
        raise Unavailable("no python3-jsonschema (apt-get install python3-jsonschema)")
    with open(os.path.join(release, "file-format-schema.json")) as f:
        schema = json.load(f)
    try:
        with open(path, "rb") as f:
            doc = json.load(f)
    except ValueError as e:
        raise AppError(f"{path}: not JSON: {e}")
    errors = sorted(jsonschema.Draft7Validator(schema).iter_errors(doc), key=lambda e: list(e.absolute_path))
    if errors:
        e = errors[0]
        where = "/".join(str(p) for p in e.absolute_path) or "(top level)"
        raise AppError(f"{path}: not valid against speedscope's schema at {where}: {e.message} "
                       f"({len(errors)} problem(s))")


class Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


def serve(root):
    handler = functools.partial(Quiet, directory=root)
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


ACTIVE = re.compile(r'<span>([^<]*?) <span class="[^"]*">\((\d+)/(\d+)\)</span></span>')
CELL = r'<td[^>]*>([^<]*)(?:(?!</td>).)*</td>'
FUNCTION = re.compile(r'<tr[^>]*>' + CELL + CELL + r'<td[^>]*><span[^>]*></span>([^<]*)</td></tr>')
ROW = re.compile(r'<tr title="[^"]*"[^>]*><td[^>]*>(\d+)</td><td[^>]*><span>(.*?)</span></td>'
                 r'<td[^>]*>([^<]*)</td></tr>')


def open_in_app(path, release, browser, view=None):
    with tempfile.TemporaryDirectory(prefix="speedscope-app-") as root:
        for name in os.listdir(release):
            if name != "index.html":
                os.symlink(os.path.join(release, name), os.path.join(root, name))
        # The app reports a file it cannot import with alert(), which would hold a headless
        # browser for ever: the page gets the message as an attribute instead.
        with open(os.path.join(release, "index.html")) as f:
            page = f.read()
        with open(os.path.join(root, "index.html"), "w") as f:
            f.write(page.replace("<head>", "<head><script>window.alert = function (m) { "
                                 "document.documentElement.setAttribute('data-alert', String(m)); };</script>", 1))
        os.symlink(os.path.abspath(path), os.path.join(root, "profile.json"))
        server = serve(root)
        try:
            base = f"http://127.0.0.1:{server.server_address[1]}/"
            url = base + "index.html#profileURL=" + urllib.parse.quote(base + "profile.json", safe="")
            if view:
                url += "&view=" + view
            profile_dir = os.path.join(root, ".chromium")
            r = subprocess.run([browser, "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                                "--no-first-run", "--disable-extensions", f"--user-data-dir={profile_dir}",
                                "--virtual-time-budget=20000", "--window-size=1400,1400", "--dump-dom", url],
                               capture_output=True, text=True, timeout=90)
        finally:
            server.shutdown()
            server.server_close()
    dom = r.stdout
    if r.returncode != 0 or "<html" not in dom:
        raise AppError(f"{path}: Chromium exited {r.returncode} without a page: {r.stderr[-500:]}")
    title = html.unescape(re.search(r"<title>(.*?)</title>", dom, re.S).group(1)) if "<title>" in dom else ""
    rows = [(int(i), html.unescape(name), html.unescape(dur)) for i, name, dur in ROW.findall(dom)]
    alert = re.search(r'<html[^>]*data-alert="([^"]*)"', dom)
    if alert:
        raise AppError(f"{path}: speedscope could not import it: {html.unescape(alert.group(1))[:300]}")
    if "Something went wrong" in dom or not title.endswith(" - speedscope") or not rows:
        text = re.sub(r"<[^>]+>", " ", re.sub(r"<(style|script)[^>]*>.*?</\1>", " ", dom, flags=re.S))
        raise AppError(f"{path}: speedscope did not import it (title {title!r}; page says: "
                       f"{' '.join(text.split())[:300]!r})")
    summary = {"file": path, "title": title[:-len(" - speedscope")],
               "profiles": [{"name": n, "duration": d} for _, n, d in sorted(rows)]}
    if view == "sandwich":
        active = ACTIVE.search(dom)
        functions = [{"total": html.unescape(t), "self": html.unescape(sf), "name": html.unescape(n)}
                     for t, sf, n in FUNCTION.findall(dom)]
        if not active or not functions:
            raise AppError(f"{path}: the sandwich view shows no {'functions' if active else 'active profile'}")
        summary["active"] = {"name": html.unescape(active.group(1)), "index": int(active.group(2)) - 1}
        summary["functions"] = functions
    return summary


def main(argv):
    as_json = "--json" in argv
    view = "sandwich" if "--sandwich" in argv else None
    files = [a for a in argv if a not in ("--json", "--sandwich")]
    if not files or any(a.startswith("-") for a in files):
        sys.stderr.write(__doc__)
        return 2
    try:
        browser = chromium()
        release = release_dir()
        for path in files:
            validate_schema(path, release)
            summary = open_in_app(path, release, browser, view)
            if as_json:
                print(json.dumps(summary))
            else:
                print(f"{path}: speedscope {VERSION} shows \"{summary['title']}\", {len(summary['profiles'])} "
                      f"profile(s): " + ", ".join(f"{p['name']} ({p['duration']})" for p in summary["profiles"]))
                if view:
                    print(f"  opened on {summary['active']['name']}; sandwich: " +
                          ", ".join(f"{f['name']} ({f['total']})" for f in summary["functions"][:10]))
    except Unavailable as e:
        print(f"speedscope-app: skipped: {e}")
        return SKIP
    except (AppError, OSError, ValueError, subprocess.TimeoutExpired) as e:
        print(f"speedscope-app: {e}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
