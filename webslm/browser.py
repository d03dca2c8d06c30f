"""Launching the system Chromium with WebGPU for headless runs (tests, harness, benchmarks).

Playwright cannot download browsers here, so we drive Debian's /usr/bin/chromium. Three WebGPU adapters:
- 'swiftshader': Chromium's bundled CPU Vulkan; always there, slowest.
- 'lavapipe': Mesa's CPU Vulkan (webslm/lavapipe.py installs it), reached through ANGLE and Dawn's OpenGL ES
  compatibility backend, because Chromium refuses lavapipe as a plain Vulkan adapter; 10-40x faster than SwiftShader.
  Cesium's WebGL runs on the same ANGLE-on-lavapipe. Chromium's GPU driver-bug list disables ES3 for this driver
  ("ContextResult::kFatalFailure: ES3 is blocklisted/disabled/unsupported by driver" in the GPU process; the page
  only sees "Error constructing CesiumWidget ... initialization failed"), so WebGL2 fails and the demo page stopped
  at start-up; --disable-gpu-driver-bug-workarounds lifts it (no switch turns off one entry). Measured 2026-12-03:
  WebGL2 renderer "ANGLE (Mesa, Vulkan 1.4.305 (llvmpipe ...))", the globe renders, a 512x512 matmul dispatch costs
  the same with and without the flag (230-336 ms, run-to-run spread), 4x faster than ANGLE's GL backend on Mesa 22.3
  (1029-1161 ms) and SwiftShader (1119-1362 ms).
- 'gpu': the machine's real GPU.
Neither CPU adapter has `shader-f16` (so CI uses q4f32_1 bundles). Pages must come from http://127.0.0.1 (a secure
context) for `navigator.gpu` to exist. `WEBSLM_WEBGPU` picks the default adapter.
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
LAVAPIPE_WEBGPU_ARGS = [
    "--headless=new",
    "--no-sandbox",
    # GL must not run on SwiftShader, or Chromium hands WebGPU the SwiftShader adapter.
    "--use-gl=angle",
    "--use-angle=vulkan",
    "--enable-features=Vulkan,VulkanFromANGLE,DefaultANGLEVulkan",
    "--use-vulkan=native",
    "--ignore-gpu-blocklist",
    "--disable-vulkan-surface",
    "--enable-unsafe-webgpu",
    "--use-webgpu-adapter=opengles",
    "--force-webgpu-compat",  # pages must raise the compute limits: web/static/webgpu_limits.js
    "--disable-gpu-driver-bug-workarounds",  # WebGL2 for Cesium on ANGLE-on-lavapipe (see the top of this file)
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


ADAPTERS = ("swiftshader", "lavapipe", "gpu")


def default_adapter() -> str:
    """`WEBSLM_WEBGPU` if set, else 'lavapipe' where it is installed, else 'swiftshader'."""
    from webslm.lavapipe import icd_path

    explicit = os.environ.get("WEBSLM_WEBGPU")
    if explicit:
        if explicit not in ADAPTERS:
            raise ValueError(f"WEBSLM_WEBGPU={explicit!r}: expected one of {', '.join(ADAPTERS)}")
        return explicit
    return "lavapipe" if icd_path() is not None else "swiftshader"


def launch_chromium(playwright, adapter: str | None = None):
    """A headless Chromium with WebGPU on `adapter` (one of ADAPTERS; None: default_adapter())."""
    adapter = adapter or default_adapter()
    env = None
    if adapter == "swiftshader":
        args = SWIFTSHADER_WEBGPU_ARGS
    elif adapter == "lavapipe":
        from webslm.lavapipe import install_lavapipe, lavapipe_environment

        args, env = LAVAPIPE_WEBGPU_ARGS, lavapipe_environment(install_lavapipe())
    elif adapter == "gpu":
        args = REAL_GPU_WEBGPU_ARGS
    else:
        raise ValueError(f"unknown WebGPU adapter {adapter!r}: expected one of {', '.join(ADAPTERS)}")
    return playwright.chromium.launch(
        executable_path=chromium_path(),
        headless=True,
        args=args,
        env=env,
        # Playwright's own defaults would force SwiftShader for GL; we choose the adapter ourselves.
        ignore_default_args=["--use-angle=swiftshader-webgl", "--headless", "--enable-unsafe-swiftshader"],
    )
