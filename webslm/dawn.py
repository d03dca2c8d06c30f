"""A model bundle run on WebGPU in Node.js through Dawn, the WebGPU implementation inside Chromium (npm `webgpu`).

Why: every WebGPU route through Chromium on a machine without a GPU (SwiftShader, ANGLE/GLES on lavapipe) lacks
`shader-f16`, so q4f16_1 libraries — the format real GPUs get — could not execute here. Dawn in Node reaches Mesa's
lavapipe through Vulkan directly (the Vulkan loader `libvulkan1` plus the ICD that `python -m webslm.lavapipe`
fetches) and offers `shader-f16`. The runtime is the tvmjs that web-llm bundles, driving the library as web-llm does
(webslm/dawn_node.js says how); tokenizer, chat template and sampling stay in the caller.

    with DawnModel(bundle_dir) as model:         # one Node process, one loaded library
        logits, tokens = model.greedy(prompt_ids, steps=17)

`adapter="lavapipe"` (the default) points the Vulkan loader at our lavapipe; `adapter="gpu"` lets it find the
machine's own drivers.
"""

from __future__ import annotations

import base64
import ctypes.util
import json
import shutil
import subprocess
from pathlib import Path

import numpy as np

from webslm import REPO_ROOT
from webslm.errors import WebslmError

RUNNER = REPO_ROOT / "webslm" / "dawn_node.js"
DAWN_PACKAGE = REPO_ROOT / "node_modules" / "webgpu" / "package.json"
ADAPTERS = ("lavapipe", "gpu")


def dawn_unavailable_reason(adapter: str = "lavapipe") -> str | None:
    """Why Dawn-in-Node cannot start on this machine (what is missing and how to install it), or None."""
    from webslm.lavapipe import icd_path

    if shutil.which("node") is None:
        return "`node` is not on PATH (install Node.js 20 or newer)"
    if not DAWN_PACKAGE.is_file():
        return f"{DAWN_PACKAGE.parent.relative_to(REPO_ROOT)} missing: run `make node-deps` (npm ci)"
    if ctypes.util.find_library("vulkan") is None:
        return "the Vulkan loader libvulkan.so.1 is missing: `apt-get install libvulkan1` (make system-deps)"
    if adapter == "lavapipe" and icd_path() is None:
        return "lavapipe is not installed: `python -m webslm.lavapipe` (make webgpu-deps)"
    return None


def _environment(adapter: str) -> dict[str, str] | None:
    if adapter == "gpu":
        return None
    from webslm.lavapipe import install_lavapipe, lavapipe_environment

    return lavapipe_environment(install_lavapipe())


class DawnModel:
    """One compiled bundle loaded in one `node webslm/dawn_node.js` process. `info` says which adapter ran it, its
    features and the load time."""

    def __init__(self, bundle_dir: Path, adapter: str = "lavapipe"):
        if adapter not in ADAPTERS:
            raise ValueError(f"unknown Dawn adapter {adapter!r}: expected one of {', '.join(ADAPTERS)}")
        reason = dawn_unavailable_reason(adapter)
        if reason:
            raise WebslmError(f"Dawn (WebGPU in Node) cannot start: {reason}")
        self.bundle_dir = Path(bundle_dir)
        manifest = json.loads((self.bundle_dir / "webslm-bundle.json").read_text())
        self._proc = subprocess.Popen(["node", str(RUNNER)], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                      cwd=REPO_ROOT, env=_environment(adapter))
        try:
            self.info = self._request("load", wasm=str(self.bundle_dir / manifest["model_lib"]),
                                      bundle=str(self.bundle_dir))
        except BaseException:
            self.close()
            raise

    def _request(self, op: str, **fields):
        if self._proc is None:
            raise WebslmError("this DawnModel is closed")
        self._proc.stdin.write(json.dumps({"op": op, **fields}).encode() + b"\n")
        self._proc.stdin.flush()
        line = self._proc.stdout.readline()
        if not line:
            code = self._proc.wait()
            raise WebslmError(f"{RUNNER.name} exited with code {code} during {op!r} (its error is printed above)")
        reply = json.loads(line)
        if "error" in reply:
            raise WebslmError(f"{RUNNER.name} {op} ({self.bundle_dir.name}): {reply['error']}")
        return reply["result"]

    def reset(self) -> None:
        """Start a new sequence: empty the KV cache."""
        self._request("reset")

    def forward(self, tokens: list[int], mode: str) -> tuple[np.ndarray, float]:
        """Logits after `tokens` ("prefill": a whole prompt chunk; "decode": one token) and the seconds it took."""
        result = self._request("forward", tokens=[int(t) for t in tokens], mode=mode)
        logits = np.frombuffer(base64.b64decode(result["logits"]), dtype="<f4")
        return logits.reshape(-1), result["seconds"]

    def greedy(self, prompt_ids: list[int], steps: int) -> tuple[list[np.ndarray], list[int]]:
        """Prefill the prompt, then decode greedily: `steps` logits vectors (the prefill's first) and their argmax
        tokens. Starts from an empty KV cache."""
        self.reset()
        logits, _ = self.forward(prompt_ids, "prefill")
        per_step, tokens = [logits], [int(logits.argmax())]
        while len(tokens) < steps:
            logits, _ = self.forward([tokens[-1]], "decode")
            per_step.append(logits)
            tokens.append(int(logits.argmax()))
        return per_step, tokens

    def chunk_after_prompt(self, prompt_ids: list[int], tokens: list[int]) -> tuple[np.ndarray, np.ndarray, float]:
        """After the prompt's prefill: the logits of `tokens` prefilled in one pass, the logits of the same tokens
        decoded one at a time, and the one pass's seconds. They must agree: it is the forced-token loop's path
        (convert/models/attention_merge.py). Starts from an empty KV cache, twice."""
        self.reset()
        self.forward(prompt_ids, "prefill")
        chunked, seconds = self.forward(tokens, "prefill")
        self.reset()
        self.forward(prompt_ids, "prefill")
        for token in tokens:
            one_by_one, _ = self.forward([token], "decode")
        return chunked, one_by_one, seconds

    def write_params(self, arrays: dict[int, np.ndarray]) -> None:
        """Overwrite library parameters in place on the GPU ({index in the library's parameter list: array}), as
        the page swaps a runtime LoRA adapter. Reset afterwards: the KV cache holds the old weights' keys."""
        writes = [{"index": int(i), "bytes": base64.b64encode(np.ascontiguousarray(a).tobytes()).decode()}
                  for i, a in arrays.items()]
        self._request("write_params", writes=writes)

    def close(self) -> None:
        if self._proc is None:
            return
        self._proc.stdin.close()
        try:
            self._proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self._proc.kill()
            self._proc.wait()
        self._proc = None

    def __enter__(self) -> "DawnModel":
        return self

    def __exit__(self, *exc) -> None:
        self.close()
