"""Data-parallel training on the CPU: `webslm train --workers N` runs N processes (torch.distributed over gloo) that
each compute a share of every step's micro-batches with their own threads, and average gradients once per step.

Why: on a 2-core box one process keeps about one core busy (136-149 % CPU measured; small matrices and per-op waits
leave the second thread idle), and one process with 1 thread steps as fast as with 2. Two one-thread workers
measured 2x the records per second of one two-thread process on the cesium default.

The parent checks everything it can before any worker starts (data, checkpoints, settings), then runs
`torch.distributed.run` on `train.lora` (its `worker_main`); rank 0 writes the adapter and the run manifest, which the parent returns.
"""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

from webslm.errors import WebslmError

WORLD_SIZE = "WORLD_SIZE"


def in_worker() -> bool:
    return int(os.environ.get(WORLD_SIZE, "1")) > 1


def is_main_worker() -> bool:
    return int(os.environ.get("RANK", "0")) == 0


def micro_batches_per_worker(grad_accum: int, workers: int) -> int:
    """A step is --grad-accum micro-batches whatever the worker count; each worker computes an equal share."""
    if workers < 1 or grad_accum % workers:
        raise WebslmError(f"--workers {workers}: must divide --grad-accum {grad_accum} (each step's micro-batches "
                          "are shared equally between the workers)")
    return grad_accum // workers


def launch(config, resume: bool, progress: bool) -> dict:
    """Run `train_lora(config)` in `config.workers` processes; returns the manifest rank 0 wrote."""
    from webslm.runs import read_run_manifest

    threads = config.threads or max(1, (os.cpu_count() or 1) // config.workers)
    with tempfile.TemporaryDirectory(prefix="webslm-train-") as tmp:
        settings = Path(tmp) / "config.json"
        settings.write_text(json.dumps({"config": dataclasses.asdict(config), "resume": resume,
                                        "progress": progress, "threads": threads}))
        command = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nnodes", "1",
                   "--nproc-per-node", str(config.workers), "-m", "train.lora", str(settings)]
        result = subprocess.run(command, env={**os.environ, "OMP_NUM_THREADS": str(threads)})
    if result.returncode != 0:
        raise WebslmError(f"training workers failed (exit {result.returncode}); their messages are above")
    return read_run_manifest(Path(config.out))

