#!/usr/bin/python3
"""speedscope-check: validate a file against speedscope's file format.

    speedscope-check.py [--json] [--min-samples N] FILE...

The rules come from speedscope's src/lib/file-format-spec.ts and from what
its importer (src/lib/file-format.ts) relies on:
  - top level: "$schema" is exactly
    https://www.speedscope.app/file-format-schema.json; "shared.frames" is
    a list; "profiles" is a list; optional "name", "exporter" (string or
    null), "activeProfileIndex" (null or an index into profiles)
  - each frame: "name" a string; optional "file" string, "line" and "col"
    numbers (null allowed: py-spy writes "col": null)
  - each profile: "type" "sampled" or "evented", "name" a string, "unit"
    one of none, nanoseconds, microseconds, milliseconds, seconds, bytes,
    "startValue" <= "endValue" (finite numbers)
  - sampled: "samples" a list of lists of frame indices in range,
    "weights" as many finite numbers >= 0 as there are samples
  - evented: "events" of {"type": "O"|"C", "frame": index in range, "at"}
    with "at" non-decreasing and inside startValue..endValue, and open and
    close balanced and properly nested

Exit 0 and print one line per file (profiles, frames, samples, thread
names), or exit 1 and print the first problem found. --json prints the
summary dicts instead. --min-samples N also fails a file with fewer
samples than N (py-spy writes an empty "profiles" list when it saw no
sample, which is valid but shows nothing).

As a module (the file name has a dash, so load it by path):
    spec = importlib.util.spec_from_file_location("speedscope_check", PATH)
    mod = importlib.util.module_from_spec(spec); spec.loader.exec_module(mod)
    summary = mod.check("profile.speedscope.json")   # raises mod.SpeedscopeError
"""

import json
import math
import sys

SCHEMA = "https://www.speedscope.app/file-format-schema.json"
UNITS = ("none", "nanoseconds", "microseconds", "milliseconds", "seconds", "bytes")
PROFILE_TYPES = ("sampled", "evented")


class SpeedscopeError(ValueError):
    """The first problem found in a file, with where it is."""


def _is_int(value):
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value):
    return ((isinstance(value, (int, float)) and not isinstance(value, bool))
            and math.isfinite(value))


def _need(cond, where, message):
    if not cond:
        raise SpeedscopeError("%s: %s" % (where, message))


def _check_frames(frames):
    _need(isinstance(frames, list), "shared.frames", "is not a list")
    for i, frame in enumerate(frames):
        where = "shared.frames[%d]" % i
        _need(isinstance(frame, dict), where, "is not an object")
        _need(isinstance(frame.get("name"), str), where, "has no string \"name\"")
        file = frame.get("file")
        _need(file is None or isinstance(file, str), where, "\"file\" is not a string")
        for key in ("line", "col"):
            value = frame.get(key)
            _need(value is None or _is_number(value), where,
                  "\"%s\" is not a number" % key)


def _check_sampled(profile, where, nframes):
    samples = profile.get("samples")
    weights = profile.get("weights")
    _need(isinstance(samples, list), where, "\"samples\" is not a list")
    _need(isinstance(weights, list), where, "\"weights\" is not a list")
    _need(len(samples) == len(weights), where,
          "samples.length (%d) differs from weights.length (%d)"
          % (len(samples), len(weights)))
    # Real files repeat the same few stacks and weights millions of times:
    # check each distinct one once, then name the first sample that has it.
    for i, stack in enumerate(samples):
        if type(stack) is not list:
            _need(False, where, "samples[%d] is not a list" % i)
    try:
        stacks = set(map(tuple, samples))
    except TypeError:
        stacks = None
    bad = None
    if stacks is None:
        bad = "holds something that is not a frame index"
    else:
        for stack in stacks:
            for index in stack:
                if not (_is_int(index) and 0 <= index < nframes):
                    bad = "has frame index %r, outside 0..%d" % (index, nframes - 1)
                    break
            if bad:
                break
    if bad:
        for i, stack in enumerate(samples):
            if not all(_is_int(x) and 0 <= x < nframes for x in stack):
                _need(False, where, "samples[%d] %s" % (i, bad))
    try:
        # keyed by type too, or True would pass as 1.0
        distinct_weights = {(w.__class__, w) for w in weights}
    except TypeError:
        distinct_weights = {(None, None)}
    if not all(_is_number(w) and w >= 0 for _t, w in distinct_weights):
        for i, weight in enumerate(weights):
            _need(_is_number(weight) and weight >= 0, where,
                  "weights[%d] is %r, not a number >= 0" % (i, weight))
    return len(samples), math.fsum(weights)


def _check_evented(profile, where, nframes):
    events = profile.get("events")
    _need(isinstance(events, list), where, "\"events\" is not a list")
    start, end = profile["startValue"], profile["endValue"]
    last_at = start
    open_frames = []
    for i, event in enumerate(events):
        ew = "%s events[%d]" % (where, i)
        _need(isinstance(event, dict), ew, "is not an object")
        _need(event.get("type") in ("O", "C"), ew, "\"type\" is not \"O\" or \"C\"")
        frame = event.get("frame")
        _need(_is_int(frame) and 0 <= frame < nframes, ew,
              "frame index %r outside 0..%d" % (frame, nframes - 1))
        at = event.get("at")
        _need(_is_number(at), ew, "\"at\" is not a number")
        _need(at >= last_at, ew, "\"at\" %r goes back in time (previous %r)" % (at, last_at))
        _need(at <= end, ew, "\"at\" %r is after endValue %r" % (at, end))
        last_at = at
        if event["type"] == "O":
            open_frames.append(frame)
        else:
            _need(open_frames and open_frames[-1] == frame, ew,
                  "closes frame %d but the open one is %r"
                  % (frame, open_frames[-1] if open_frames else None))
            open_frames.pop()
    _need(not open_frames, where, "%d frame(s) never closed" % len(open_frames))
    return len(events), end - start


def check_data(doc, where="top level"):
    """Validate a parsed speedscope document; return a summary dict."""
    _need(isinstance(doc, dict), where, "top level is not a JSON object")
    _need(doc.get("$schema") == SCHEMA, where,
          "\"$schema\" is %r, not %r" % (doc.get("$schema"), SCHEMA))
    shared = doc.get("shared")
    _need(isinstance(shared, dict), where, "\"shared\" is missing or not an object")
    frames = shared.get("frames")
    _check_frames(frames)
    profiles = doc.get("profiles")
    _need(isinstance(profiles, list), where, "\"profiles\" is missing or not a list")
    for key in ("name", "exporter"):
        value = doc.get(key)
        _need(value is None or isinstance(value, str), where,
              "\"%s\" is not a string" % key)
    active = doc.get("activeProfileIndex")
    _need(active is None or (_is_int(active) and 0 <= active < max(len(profiles), 1))
          or (isinstance(active, float) and active.is_integer()
              and 0 <= active < max(len(profiles), 1)),
          where, "\"activeProfileIndex\" %r is not an index into profiles" % (active,))

    summary = {"profiles": len(profiles), "frames": len(frames), "samples": 0,
               "events": 0, "threads": [], "units": [],
               "exporter": doc.get("exporter"), "name": doc.get("name"),
               "duration": 0.0}
    for i, profile in enumerate(profiles):
        pw = "profiles[%d]" % i
        _need(isinstance(profile, dict), pw, "is not an object")
        ptype = profile.get("type")
        _need(ptype in PROFILE_TYPES, pw, "\"type\" %r is not sampled or evented" % (ptype,))
        _need(isinstance(profile.get("name"), str), pw, "has no string \"name\"")
        pw = "profiles[%d] (%s)" % (i, profile["name"])
        _need(profile.get("unit") in UNITS, pw,
              "\"unit\" %r is not one of %s" % (profile.get("unit"), ", ".join(UNITS)))
        for key in ("startValue", "endValue"):
            _need(_is_number(profile.get(key)), pw, "\"%s\" is not a number" % key)
        _need(profile["startValue"] <= profile["endValue"], pw,
              "startValue %r > endValue %r" % (profile["startValue"], profile["endValue"]))
        if ptype == "sampled":
            n, _total = _check_sampled(profile, pw, len(frames))
            summary["samples"] += n
        else:
            n, _span = _check_evented(profile, pw, len(frames))
            summary["events"] += n
        summary["threads"].append(profile["name"])
        if profile["unit"] not in summary["units"]:
            summary["units"].append(profile["unit"])
        summary["duration"] = max(summary["duration"],
                                  profile["endValue"] - profile["startValue"])
    return summary


def check(path, min_samples=0):
    """Validate the speedscope file at path; return a summary dict.

    Raises SpeedscopeError naming the first problem (OSError if unreadable).
    """
    with open(path, "rb") as f:
        raw = f.read()
    if not raw.strip():
        raise SpeedscopeError("%s: file is empty" % path)
    try:
        doc = json.loads(raw)
    except ValueError as e:
        raise SpeedscopeError("%s: not complete JSON (%s)" % (path, e))
    try:
        summary = check_data(doc)
    except SpeedscopeError as e:
        raise SpeedscopeError("%s: %s" % (path, e))
    if summary["samples"] + summary["events"] < min_samples:
        raise SpeedscopeError("%s: %d samples, fewer than %d"
                              % (path, summary["samples"] + summary["events"], min_samples))
    summary["path"] = path
    summary["bytes"] = len(raw)
    return summary


def describe(summary):
    threads = ", ".join(summary["threads"]) or "none"
    return ("ok: %s: %d profiles, %d frames, %d samples%s, %.2f %s, exporter %s; "
            "threads: %s" % (
                summary["path"], summary["profiles"], summary["frames"],
                summary["samples"],
                (", %d events" % summary["events"]) if summary["events"] else "",
                summary["duration"], "/".join(summary["units"]) or "-",
                summary["exporter"], threads))


def main(argv):
    as_json = False
    min_samples = 0
    paths = []
    args = list(argv)
    while args:
        arg = args.pop(0)
        if arg == "--json":
            as_json = True
        elif arg == "--min-samples":
            if not args or not args[0].isdigit():
                sys.stderr.write("speedscope-check: --min-samples needs a number\n")
                return 2
            min_samples = int(args.pop(0))
        elif arg in ("-h", "--help"):
            sys.stdout.write(__doc__)
            return 0
        elif arg.startswith("-") and arg != "-":
            sys.stderr.write("speedscope-check: unknown option %s\n" % arg)
            return 2
        else:
            paths.append(arg)
    if not paths:
        sys.stderr.write("usage: speedscope-check.py [--json] [--min-samples N] FILE...\n")
        return 2
    status = 0
    for path in paths:
        try:
            summary = check(path, min_samples)
        except (SpeedscopeError, OSError) as e:
            print("FAIL: %s" % e)
            status = 1
            continue
        print(json.dumps(summary) if as_json else describe(summary))
    return status


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
