#!/usr/bin/env python3
"""The training time a scale actually took, summed from its ledger's epoch
logs (results/<scale>/runs/<run>/log.jsonl): each epoch is logged once, by
the run that trained it (a run that copies a shared checkpoint logs nothing
for it), so the sum counts every distinct training once (stage 2 epochs
are over one basis's shard each, so there are many short ones). Printed
per dataset, network and stage (stage 2's bases together), with the
epochs' images/s range, then the total in process-hours and the runs'
dates and commits. The seconds are
wall time of one process; under `reproduce --jobs 2` two such processes ran
at once, so the wall-clock hours were about half the total. Evaluation is
not in the logs and not counted.
  python3 bench/ledger_hours.py results/mini/runs
"""
import collections
import json
import pathlib
import sys
import tomllib


def main(ledger):
    runs = sorted(p for p in pathlib.Path(ledger).iterdir() if (p / "config.toml").exists())
    if not runs:
        sys.exit(f"{ledger}: no ledger runs (expected <run>/config.toml and log.jsonl)")
    seconds = collections.Counter()
    speeds = collections.defaultdict(list)  # one entry per epoch
    commits, dates = collections.Counter(), []
    for run in runs:
        c = tomllib.loads((run / "config.toml").read_text())
        net = f'{c["data"]["dataset"]} {c["model"]["arch"]}'
        log = run / "log.jsonl"
        for line in log.read_text().splitlines() if log.exists() else []:
            e = json.loads(line)
            key = (net, e["stage"].split(".")[0])  # stage 2's bases (stage2.shard03) as one
            seconds[key] += e["seconds"]
            speeds[key].append(e["images_per_second"])
        rec = json.loads((run / "recorded.json").read_text())
        commits[rec["commit"]] += 1
        dates.append(rec["date"])
    print(f"{len(runs)} ledger runs in {ledger}, recorded {min(dates)} .. {max(dates)}")
    print(f"{'network':<26}{'stage':<18}{'epochs':>7}{'hours':>8}   images/s (min..max)")
    for key in sorted(seconds):
        s = speeds[key]
        print(f"{key[0]:<26}{key[1]:<18}{len(s):>7}{seconds[key] / 3600:>8.2f}   {min(s):.0f}..{max(s):.0f}")
    total = sum(seconds.values()) / 3600
    print(f"in all: {sum(map(len, speeds.values()))} epochs, {total:.2f} process-hours of training "
          f"(about {total / 2:.2f} h of wall clock in two processes)")
    print("trained at commits: " + ", ".join(f"{c} ({n} runs)" for c, n in commits.most_common()))


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    main(sys.argv[1])
