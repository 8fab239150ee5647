#!/usr/bin/env python3
"""How many standard-network evaluation passes a scale's runs need, without
and with the evaluation cache (taper/evaluation_cache.h), counted from the
runs' configs: every run evaluates stage 1, its baseline, each stage-2 basis,
their average and its fine-tune; the cache evaluates each distinct network
once per test set and task list. Networks are identified as
taper/shared_checkpoints.cpp shares them (the config part each stage's
training depends on). TAPER's personalized pass, one per run, is not cached
and is counted apart. Evaluations under other tasks (eval-<hash>.json) are
left out.
  python3 bench/evaluation_passes.py results/mini/runs   (a ledger or runs/<scale>)
"""
import json
import pathlib
import sys
import tomllib


def frozen(x):
    return json.dumps(x, sort_keys=True)


def networks(c):
    """(key, images of one pass) of each standard network the run evaluates."""
    base = {"seed": c["seed"], "data": {k: v for k, v in c["data"].items() if k != "workers"}, "model": c["model"]}
    tasks = {k: v for k, v in c["tasks"].items() if k != "description"}
    context = frozen([base, tasks])
    stage1 = frozen([base, c["stage1"]])
    out = [(context, "stage1", stage1)]
    if c["baseline"]["epochs"] > 0:
        out.append((context, "baseline", frozen([base, c["baseline"]])))
    t = c["taper"]
    if t["training"] == "three-stage":
        stage2 = frozen([stage1, t["bases"], t["shards"], c["stage2"]])
        out += [(context, f"basis{q}", stage2) for q in range(t["bases"])]
        out.append((context, "average", stage2))
        if c["finetune_average"]["epochs"] > 0:
            out.append((context, "finetune", frozen([stage2, c["finetune_average"]])))
    return out


def main(folder):
    runs = sorted(p for p in pathlib.Path(folder).iterdir() if (p / "config.toml").exists())
    plain = cached = taper = 0
    seen = set()
    for run in runs:
        c = tomllib.loads((run / "config.toml").read_text())
        images = json.loads((run / "eval.json").read_text())["test_images"] if (run / "eval.json").exists() else 0
        taper += images
        for key in networks(c):
            plain += images
            if key not in seen:
                seen.add(key)
                cached += images
    print(f"{len(runs)} runs in {folder}")
    print(f"standard networks' test images evaluated: {plain:,} without the cache, {cached:,} with it "
          f"({plain / max(cached, 1):.2f}x fewer)")
    print(f"TAPER's personalized passes (one model per test image, not cached): {taper:,} images")


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    main(sys.argv[1])
