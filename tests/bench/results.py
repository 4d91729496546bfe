"""Benchmark results: each script records its figures here; `make bench` prints them all.

Figures are appended as JSON lines to .build/bench/results.jsonl. A record is a
figure (a measured value with its unit) or a ratio of two figures measured side
by side in the same run. Nothing here ever fails on timing.
"""
import json
import os
import sys

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
RESULTS = os.path.join(REPO, ".build", "bench", "results.jsonl")


def record(bench, name, value, unit, kind="figure", command=None):
    os.makedirs(os.path.dirname(RESULTS), exist_ok=True)
    entry = {"bench": bench, "name": name, "value": value, "unit": unit, "kind": kind,
             "command": command or " ".join(["python"] + sys.argv)}
    with open(RESULTS, "a") as handle:
        handle.write(json.dumps(entry) + "\n")


def reset():
    if os.path.exists(RESULTS):
        os.unlink(RESULTS)


def summary():
    """One line per figure; ratios labelled `ratio`."""
    if not os.path.exists(RESULTS):
        print("no benchmark results recorded")
        return
    with open(RESULTS) as handle:
        entries = [json.loads(line) for line in handle if line.strip()]
    print("\nbenchmark summary (%d figures)" % len(entries))
    print("%-10s %-58s %12s  %s" % ("bench", "figure", "value", "unit"))
    for entry in entries:
        label = ("ratio: " if entry["kind"] == "ratio" else "") + entry["name"]
        print("%-10s %-58s %12.3f  %s" % (entry["bench"], label[:58], entry["value"], entry["unit"]))


if __name__ == "__main__":
    if sys.argv[1:] == ["--reset"]:
        reset()
    else:
        summary()
