"""The linked vector-add library runs on WebGPU in headless Chromium under web-llm's own tvmjs runtime.

web-llm@0.2.86 bundles tvmjs but does not export it; the bundle keeps tvmjs's exports in a module-level variable
(`libExports$2`), so we serve a copy of lib/index.js with one extra `export` line appended. That way the test runs
exactly the JS runtime web-llm uses to load our model libraries (no separate @mlc-ai/web-runtime install).
"""

from __future__ import annotations

import contextlib
import functools
import http.server
import shutil
import threading
from pathlib import Path

import numpy as np
import pytest

# Only the -O1 test is in the browser tier; the -O3 one is `slow` (select it with -m slow).
pytestmark = pytest.mark.skipif(shutil.which("emcc") is None, reason="emcc missing: apt-get install -y emscripten")

REPO = Path(__file__).resolve().parents[1]
WEBLLM_BUNDLE = REPO / "node_modules" / "@mlc-ai" / "web-llm" / "lib" / "index.js"
# What the demo's pages import first: the compute limits lavapipe's compatibility mode needs raised.
WEBGPU_LIMITS = REPO / "web" / "static" / "webgpu_limits.js"
TVMJS_EXPORTS_VAR = "libExports$2"

PAGE = """<!doctype html><meta charset="utf-8"><title>webslm vector add</title>
<script type="module">
import "./webgpu_limits.js";
import { webslmTvmjs as tvmjs } from "./webllm_with_tvmjs.js";
window.runVectorAdd = async (sizes) => {
  const gpu = await tvmjs.detectGPUDevice();
  if (gpu === undefined) return { error: "no WebGPU (navigator.gpu missing)" };
  const wasm = await (await fetch("vector_add.wasm")).arrayBuffer();
  const logs = [];
  const tvm = await tvmjs.instantiate(wasm, tvmjs.createPolyfillWASI(), (msg) => logs.push(String(msg)));
  tvm.initWebGPU(gpu.device);
  const dev = tvm.webgpu();
  const results = {};
  tvm.beginScope();
  try {
    const vm = tvm.createVirtualMachine(dev);
    const main = vm.getFunction("main");
    for (const n of sizes) {
      const a = new Float32Array(n), b = new Float32Array(n);
      for (let i = 0; i < n; ++i) { a[i] = i * 0.5; b[i] = 1 - i * 0.25; }
      const x = tvm.empty([n], "float32", dev).copyFrom(a);
      const y = tvm.empty([n], "float32", dev).copyFrom(b);
      const z = main(x, y);
      const host = tvm.empty([n], "float32", tvm.cpu()).copyFrom(z);
      await dev.sync();
      results[n] = Array.from(host.toArray());
    }
  } finally {
    tvm.endScope();
  }
  return { results, adapter: gpu.adapterInfo ? gpu.adapterInfo.vendor + " " + gpu.adapterInfo.architecture : "",
           logs };
};
window.pageReady = true;
</script>
"""


def write_site(site: Path, opt: str) -> Path:
    """index.html + web-llm's bundle with tvmjs exported + the vector add linked at `opt`."""
    from convert.webruntime import export_webgpu_library
    from convert.webruntime.smoke import build_vector_add

    bundle = WEBLLM_BUNDLE.read_text(encoding="utf-8")
    marker = f"var {TVMJS_EXPORTS_VAR} = requireLib$2();"
    assert marker in bundle and "exports.instantiate = instantiate;" in bundle, (
        f"{WEBLLM_BUNDLE}: web-llm's bundle layout changed; cannot find tvmjs's exports ({marker!r})")
    (site / "webllm_with_tvmjs.js").write_text(bundle + f"\nexport {{ {TVMJS_EXPORTS_VAR} as webslmTvmjs }};\n",
                                              encoding="utf-8")
    (site / "index.html").write_text(PAGE, encoding="utf-8")
    (site / "webgpu_limits.js").write_bytes(WEBGPU_LIMITS.read_bytes())
    export_webgpu_library(build_vector_add(), site / "vector_add.wasm", opt=opt)
    return site


@contextlib.contextmanager
def serve(site: Path):
    class QuietHandler(http.server.SimpleHTTPRequestHandler):
        extensions_map = {**http.server.SimpleHTTPRequestHandler.extensions_map, ".wasm": "application/wasm",
                          ".js": "text/javascript"}

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(QuietHandler, directory=str(site)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def run_vector_add(browser, url: str, sizes=(1000, 37)) -> None:
    context = browser.new_context()
    try:
        page = context.new_page()
        errors = []
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        page.goto(url + "/index.html")
        page.wait_for_function("window.pageReady === true", timeout=60_000)
        out = page.evaluate("(sizes) => window.runVectorAdd(sizes)", list(sizes))
        assert "error" not in out, out["error"]
        assert not errors, errors
        for n in sizes:
            i = np.arange(n, dtype=np.float32)
            expected = i * np.float32(0.5) + (np.float32(1) - i * np.float32(0.25))
            got = np.array(out["results"][str(n)], dtype=np.float32)
            np.testing.assert_array_equal(got, expected)
    finally:
        context.close()


@pytest.fixture(scope="module")
def vector_add_site(tmp_path_factory):
    with serve(write_site(tmp_path_factory.mktemp("vector_add_O1"), "O1")) as url:
        yield url


@pytest.mark.browser
def test_vector_add_runs_on_webgpu_with_webllm_tvmjs(chromium, vector_add_site):
    run_vector_add(chromium, vector_add_site)


@pytest.mark.slow
def test_vector_add_linked_at_O3_runs_too(chromium, tmp_path):
    """-O3 (about 100 s of wasm-opt at link, plus a one-time -O3 runtime build) must give the same numbers."""
    with serve(write_site(tmp_path, "O3")) as url:
        run_vector_add(chromium, url)
