"""Weights in the format web-llm loads: `tensor-cache.json` plus raw shards `params_shard_N.bin`.

tensor-cache.json: {"metadata": {...}, "records": [{"dataPath", "format": "raw-shard", "nbytes", "md5sum",
"records": [{"name", "shape", "dtype", "format": "raw", "nbytes", "byteOffset"}]}]}. Tensors are stored
little-endian in their own dtype, back to back inside a shard; shards are about 32 MB.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Iterable

import numpy as np

from webslm.atomic import atomic_path, write_json

SHARD_BYTES = 32 * 1024 * 1024
TENSOR_CACHE_FILE = "tensor-cache.json"


def write_tensor_cache(out_dir: Path, tensors: Iterable[tuple[str, np.ndarray]], *,
                       shard_bytes: int = SHARD_BYTES, prefix: str = "params_shard",
                       metadata: dict | None = None, progress=None) -> dict:
    """Write `tensors` (name, array) into shards in `out_dir` and return the tensor-cache index it wrote."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    shards: list[dict] = []
    pending: list[tuple[str, np.ndarray]] = []
    pending_bytes = 0

    def flush():
        nonlocal pending, pending_bytes
        if not pending:
            return
        name = f"{prefix}_{len(shards)}.bin"
        records, offset, md5 = [], 0, hashlib.md5()
        with atomic_path(out_dir / name) as tmp, open(tmp, "wb") as f:
            for tensor_name, array in pending:
                data = np.ascontiguousarray(array).tobytes()
                f.write(data)
                md5.update(data)
                records.append({"name": tensor_name, "shape": list(array.shape), "dtype": str(array.dtype),
                                "format": "raw", "nbytes": len(data), "byteOffset": offset})
                offset += len(data)
        shards.append({"dataPath": name, "format": "raw-shard", "nbytes": offset,
                       "md5sum": md5.hexdigest(), "records": records})
        pending, pending_bytes = [], 0

    for tensor_name, array in tensors:
        array = np.asarray(array)
        if array.dtype.byteorder == ">":
            array = array.astype(array.dtype.newbyteorder("<"))
        if pending and pending_bytes + array.nbytes > shard_bytes:
            flush()
        pending.append((tensor_name, array))
        pending_bytes += array.nbytes
        if progress is not None:
            progress(tensor_name, array)
    flush()
    index = {"metadata": {"ParamSize": sum(len(s["records"]) for s in shards),
                          "ParamBytes": sum(s["nbytes"] for s in shards), **(metadata or {})},
             "records": shards}
    write_json(out_dir / TENSOR_CACHE_FILE, index)
    return index


def read_tensor_cache(bundle_dir: Path, verify: bool = True) -> dict[str, np.ndarray]:
    """Read every tensor of a tensor cache back (md5 sums checked unless verify=False)."""
    bundle_dir = Path(bundle_dir)
    index = json.loads((bundle_dir / TENSOR_CACHE_FILE).read_text())
    out: dict[str, np.ndarray] = {}
    for shard in index["records"]:
        data = (bundle_dir / shard["dataPath"]).read_bytes()
        if len(data) != shard["nbytes"]:
            raise ValueError(f"{bundle_dir / shard['dataPath']}: {len(data)} bytes, index says {shard['nbytes']}")
        if verify and hashlib.md5(data).hexdigest() != shard["md5sum"]:
            raise ValueError(f"{bundle_dir / shard['dataPath']}: md5 mismatch (corrupt or partial download)")
        for record in shard["records"]:
            if record["format"] != "raw":
                raise ValueError(f"{record['name']}: unsupported record format {record['format']!r}")
            raw = data[record["byteOffset"]: record["byteOffset"] + record["nbytes"]]
            out[record["name"]] = np.frombuffer(raw, dtype=record["dtype"]).reshape(record["shape"])
    return out
