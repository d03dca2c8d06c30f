"""Launching the system Chromium with WebGPU for headless runs (tests, harness, benchmarks).

Playwright cannot download browsers here, so we drive Debian's /usr/bin/chromium. Its SwiftShader adapter gives
WebGPU without a GPU, but without `shader-f16` (so CI uses q4f32_1 bundles). Pages must come from http://127.0.0.1
(a secure context) for `navigator.gpu` to exist.
"""

from __future__ import annotations

import os
import shutil

CHROMIUM_CANDIDATES = ("/usr/bin/chromium", "/usr/bin/chromium-browser", "/usr/bin/google-chrome")

SWIFTSHADER_WEBGPU_ARGS = [
    "--headless=new",
    "--no-sandbox",
    "--enable-unsafe-webgpu",
    "--enable-features=Vulkan",
    "--use-angle=swiftshader",
    "--use-webgpu-adapter=swiftshader",
    "--enable-unsafe-swiftshader",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
# On a machine with a real GPU the default adapter is the GPU; these only unlock WebGPU on Linux.
REAL_GPU_WEBGPU_ARGS = [
    "--headless=new",
    "--no-sandbox",
    "--enable-unsafe-webgpu",
    "--enable-features=Vulkan",
    "--ignore-gpu-blocklist",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def chromium_path() -> str:
    explicit = os.environ.get("WEBSLM_CHROMIUM")
    for candidate in ([explicit] if explicit else []) + list(CHROMIUM_CANDIDATES):
        if candidate and os.path.exists(candidate):
            return candidate
    found = shutil.which("chromium")
    if found:
        return found
    raise FileNotFoundError("no Chromium found: `apt-get install -y chromium` (or set WEBSLM_CHROMIUM=/path/to/chrome)")


def launch_chromium(playwright, adapter: str = "swiftshader"):
    """A headless Chromium with WebGPU. adapter: 'swiftshader' (CPU, CI) or 'gpu' (the machine's real GPU)."""
    args = SWIFTSHADER_WEBGPU_ARGS if adapter == "swiftshader" else REAL_GPU_WEBGPU_ARGS
    return playwright.chromium.launch(
        executable_path=chromium_path(),
        headless=True,
        args=args,
        # Playwright's own defaults would force SwiftShader for GL; we choose the adapter ourselves.
        ignore_default_args=["--use-angle=swiftshader-webgl", "--headless"],
    )
