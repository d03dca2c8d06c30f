"""Benchmark: fine-tune the embedded SmolLM2-135M-Instruct on generated data and evaluate on the held-out test split
(unseen places and phrasings), base-with-system-prompt vs fine-tuned, with the same metrics every backend uses.

    python bench/train_default.py [--n 3000] [--max-steps 85] [--eval-limit 100] [--work DIR]

Prints one table (valid JSON, right tool, right arguments, exact; base vs fine-tuned and their ratio), training
time, s/step and the peak RSS of each stage; writes DIR/bench.json. Trains with `webslm demo`'s recipe
(webslm.pipeline.train_recipe). Target: training <= 15 min on 2 CPU cores.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

from webslm.pipeline import DEFAULT_TRAIN_STEPS, train_recipe


def stage(name: str, argv: list[str], log) -> dict:
    """Run one `webslm` verb in a child process; its wall time and the peak of the summed RSS of the child and its
    descendants (training workers are separate processes), sampled every 0.2 s."""
    import psutil

    began = time.perf_counter()
    print(f"[{time.strftime('%H:%M:%S')}] {name}: webslm {' '.join(argv)}", flush=True)
    env = {**os.environ, "OMP_WAIT_POLICY": "PASSIVE", "HF_HUB_OFFLINE": "1"}
    child = subprocess.Popen([sys.executable, "-m", "webslm.cli", *argv], stdout=log, stderr=log, env=env)
    parent, peak = psutil.Process(child.pid), 0
    while child.poll() is None:
        try:
            tree = [parent, *parent.children(recursive=True)]
            peak = max(peak, sum(p.memory_info().rss for p in tree if p.is_running()))
        except psutil.NoSuchProcess:
            pass
        time.sleep(0.2)
    if child.returncode != 0:
        raise SystemExit(f"{name} failed (exit {child.returncode}); see the log")
    return {"seconds": round(time.perf_counter() - began, 1), "peak_rss_mb": round(peak / 2**20)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n", type=int, default=3000, help="records to generate before the split")
    parser.add_argument("--max-steps", type=int, default=DEFAULT_TRAIN_STEPS, help="training steps of 16 records")
    parser.add_argument("--eval-limit", type=int, default=100, help="test examples evaluated per run")
    parser.add_argument("--max-new-tokens", type=int, default=160, help="as `webslm eval`")
    parser.add_argument("--work", type=Path, default=Path("bench-out/train_default"))
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--threads", type=int, default=0,
                        help="torch threads per process (0: the cores shared between its processes)")
    args = parser.parse_args()
    work = args.work
    work.mkdir(parents=True, exist_ok=True)
    timings = {}
    # WORK is this benchmark's own folder: a rerun replaces its previous outputs (--force replaces only outputs of
    # the same kind; anything else in WORK is still refused)
    with open(work / "log.txt", "w") as log:
        timings["generate"] = stage("generate", ["data", "generate", "--seed", str(args.seed), "-n", str(args.n),
                                                 "--out", str(work / "all.jsonl"), "--force"], log)
        timings["split"] = stage("split", ["data", "split", str(work / "all.jsonl"), "--out", str(work / "split"), "--force"], log)
        timings["train"] = stage("train", ["train", str(work / "split/train.jsonl"), "--out", str(work / "adapter"),
                                           *train_recipe(args.max_steps), "--save-steps", "25",
                                           "--seed", str(args.seed), "--threads", str(args.threads), "--force"], log)
        timings["eval"] = stage("eval", ["eval", str(work / "split/test.jsonl"), "--adapter", str(work / "adapter"),
                                         "--compare", "--limit", str(args.eval_limit), "--max-new-tokens",
                                         str(args.max_new_tokens), "--out", str(work / "eval"), "--quiet",
                                         "--threads", str(args.threads), "--force"], log)
    run = json.loads((work / "adapter/webslm-run.json").read_text())
    runs = json.loads((work / "eval/metrics.json").read_text())["runs"]
    base, tuned = runs["base+prompt"], runs["fine-tuned"]
    split = json.loads((work / "split/split.json").read_text())
    print()
    print(f"data: {split['counts']} (test = unseen places/phrasings); trained {run['steps']} steps on "
          f"{run['data']['records']} records, final loss {run['final_loss']:.3f}, {run['seconds']:.0f} s "
          f"({run['seconds'] / max(1, run['steps']):.1f} s/step incl. load)")
    print(f"{'metric':<18}{'base+prompt':>12}{'fine-tuned':>12}")
    for key in ("valid_json", "schema_valid", "right_tool", "right_args", "exact_match"):
        print(f"{key:<18}{base[key]:>11.1%}{tuned[key]:>12.1%}")
    print(f"{'s/example':<18}{base['latency']['mean_s']:>12.2f}{tuned['latency']['mean_s']:>12.2f}")
    for name, t in timings.items():
        print(f"{name:<10} {t['seconds']:>7.1f} s   peak RSS {t['peak_rss_mb']} MB (all its processes)")
    (work / "bench.json").write_text(json.dumps({"args": {k: str(v) for k, v in vars(args).items()},
                                                 "timings": timings, "run": run, "eval": runs}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
