#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""The seed's figure, made carefully with matplotlib, as the benchmark's
yardstick: CPU on top, memory below, elapsed time on x, with the same
extras as ours (py-spy's CPU, mean and max, the 5 % idle target, gaps where
PAM was absent). Reads the CSV with the csv module, as the seed did.

    plot_matplotlib.py FILE_cpu.csv OUT.png

Prints render_ms=... : the time after the imports (reading, drawing, saving).
"""
import sys
import time

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import csv  # noqa: E402
import math  # noqa: E402


def number(s):
    try:
        v = float(s)
    except ValueError:
        return math.nan
    return v if math.isfinite(v) and v >= 0 else math.nan


def main(src, dst):
    t0 = time.monotonic()
    t, cpu, mem, prof, pid = [], [], [], [], []
    with open(src, newline="") as f:
        for row in csv.DictReader(f):
            x = number(row.get("elapsed_seconds", ""))
            if math.isnan(x):
                continue
            t.append(x)
            cpu.append(number(row.get("cpu_percent", "")))
            mem.append(number(row.get("memory_mb", "")))
            prof.append(number(row.get("profiler_cpu_percent", "")))
            pid.append(row.get("pid", ""))
    if not t:
        sys.exit("no data rows")
    steps = sorted(b - a for a, b in zip(t, t[1:]) if b > a)
    gap = 1.75 * steps[len(steps) // 2] if steps else math.inf
    # A NaN between rows breaks the line where PAM was absent or restarted.
    gt, gcpu, gmem, gprof = [], [], [], []
    for i in range(len(t)):
        if i and (t[i] - t[i - 1] > gap or pid[i] != pid[i - 1]):
            for lst in (gcpu, gmem, gprof):
                lst.append(math.nan)
            gt.append((t[i] + t[i - 1]) / 2)
        gt.append(t[i])
        gcpu.append(cpu[i])
        gmem.append(mem[i])
        gprof.append(prof[i])

    fig, (ax1, ax2) = plt.subplots(2, 1, figsize=(16, 9), dpi=100, sharex=True,
                                   gridspec_kw={"height_ratios": [1.2, 1]})
    ax1.plot(gt, gcpu, color="#2563eb", lw=1.2, label="PAM")
    ax1.fill_between(gt, gcpu, color="#2563eb", alpha=0.13)
    if any(not math.isnan(v) for v in prof):
        ax1.plot(gt, gprof, color="#d97706", lw=1.0, label="py-spy")
    vals = [v for v in cpu if not math.isnan(v)]
    mean, top = sum(vals) / len(vals), max(vals)
    ax1.axhline(mean, color="#2563eb", ls=":", label="mean %.2f %%" % mean)
    ax1.axhline(5.0, color="#dc2626", ls="--", label="idle target 5 %")
    i = cpu.index(top)
    ax1.annotate("max %.1f %%" % top, (t[i], top), xytext=(6, 4), textcoords="offset points")
    ax1.set_ylabel("CPU (% of all cores)")
    ax1.set_ylim(bottom=0)
    ax1.grid(True, color="#e5e7eb")
    ax1.legend(loc="upper right")
    ax2.plot(gt, gmem, color="#0f766e", lw=1.2, label="PAM resident set")
    mvals = [v for v in mem if not math.isnan(v)]
    ax2.axhline(sum(mvals) / len(mvals), color="#0f766e", ls=":", label="mean")
    ax2.set_ylabel("RSS (MB)")
    ax2.set_xlabel("Elapsed time (s)")
    ax2.grid(True, color="#e5e7eb")
    ax2.legend(loc="upper right")
    fig.suptitle("PAM CPU and memory: %s" % src.rsplit("/", 1)[-1])
    fig.tight_layout()
    fig.savefig(dst)
    print("render_ms=%.1f" % ((time.monotonic() - t0) * 1000))


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    main(sys.argv[1], sys.argv[2])
