#!/usr/bin/env python3
"""Reads `cargo llvm-cov report --json --summary-only` on stdin, prints the
coverage of each crate and of the workspace, and checks the thresholds in
.ci/coverage.toml (a simple `key = number` file). Exit 1 when one is missed.

Thresholds (percent):
  workspace_lines, workspace_functions: the whole workspace
  crate_lines.<package>: one crate's lines
  file_lines: every file, unless
  file_lines.<path>: names its own (a file still under file_lines)
"""
import json
import re
import sys
from pathlib import Path


def load_thresholds(path):
    out = {}
    for raw in Path(path).read_text().splitlines():
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        key, _, value = line.partition("=")
        out[key.strip().strip('"')] = float(value.strip())
    return out


def crate_of(filename, root):
    rel = filename[len(root):].lstrip("/") if filename.startswith(root) else filename
    m = re.match(r"crates/([^/]+)/", rel)
    if m:
        return "orbflow-" + m.group(1), rel
    if rel.startswith("migrations/"):
        return "orbflow-migration", rel
    return "(other)", rel


def pct(covered, count):
    return 100.0 * covered / count if count else 100.0


def main():
    thresholds = load_thresholds(sys.argv[1])
    root = sys.argv[2].rstrip("/")
    report = json.load(sys.stdin)
    data = report["data"][0]
    crates = {}
    failures = []
    for f in data["files"]:
        crate, rel = crate_of(f["filename"], root)
        s = f["summary"]
        c = crates.setdefault(crate, {"lines": [0, 0], "functions": [0, 0], "regions": [0, 0]})
        for k in ("lines", "functions", "regions"):
            c[k][0] += s[k]["covered"]
            c[k][1] += s[k]["count"]
        fl = pct(s["lines"]["covered"], s["lines"]["count"])
        want = thresholds.get(f"file_lines.{rel}", thresholds.get("file_lines", 0))
        if fl < want:
            failures.append(f"{rel}: {fl:.1f}% lines < {want}%")
    print(f"{'crate':<22} {'lines':>8} {'functions':>10} {'regions':>8}")
    for name in sorted(crates):
        c = crates[name]
        l, fn, r = (pct(*c[k]) for k in ("lines", "functions", "regions"))
        print(f"{name:<22} {l:>7.1f}% {fn:>9.1f}% {r:>7.1f}%")
        want = thresholds.get(f"crate_lines.{name}")
        if want is not None and l < want:
            failures.append(f"{name}: {l:.1f}% lines < {want}%")
    t = data["totals"]
    wl = t["lines"]["percent"]
    wf = t["functions"]["percent"]
    print(f"{'workspace':<22} {wl:>7.1f}% {wf:>9.1f}% {t['regions']['percent']:>7.1f}%")
    if wl < thresholds.get("workspace_lines", 0):
        failures.append(f"workspace: {wl:.1f}% lines < {thresholds['workspace_lines']}%")
    if wf < thresholds.get("workspace_functions", 0):
        failures.append(f"workspace: {wf:.1f}% functions < {thresholds['workspace_functions']}%")
    if failures:
        print("\ncoverage below its threshold:", *failures, sep="\n  ")
        return 1
    print("\ncoverage thresholds met")
    return 0


if __name__ == "__main__":
    sys.exit(main())
