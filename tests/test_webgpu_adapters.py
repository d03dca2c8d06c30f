"""Choosing the WebGPU adapter: SwiftShader, Mesa lavapipe (fetched into the cache), or a real GPU."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from webslm import browser, lavapipe
from webslm.errors import WebslmError


def test_default_adapter_follows_the_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("WEBSLM_HOME", str(tmp_path))  # nothing installed there
    monkeypatch.delenv("WEBSLM_LAVAPIPE_ICD", raising=False)
    monkeypatch.delenv("WEBSLM_WEBGPU", raising=False)
    assert browser.default_adapter() == "swiftshader"
    monkeypatch.setenv("WEBSLM_WEBGPU", "gpu")
    assert browser.default_adapter() == "gpu"
    monkeypatch.setenv("WEBSLM_WEBGPU", "metal")
    with pytest.raises(ValueError, match="WEBSLM_WEBGPU='metal'"):
        browser.default_adapter()


def test_an_installed_lavapipe_becomes_the_default(monkeypatch, tmp_path):
    monkeypatch.setenv("WEBSLM_HOME", str(tmp_path))
    monkeypatch.delenv("WEBSLM_WEBGPU", raising=False)
    monkeypatch.delenv("WEBSLM_LAVAPIPE_ICD", raising=False)
    icd = lavapipe.lavapipe_dir() / lavapipe.ICD_NAME
    icd.parent.mkdir(parents=True)
    icd.write_text(json.dumps({"file_format_version": "1.0.0",
                               "ICD": {"library_path": "/opt/mesa/lib/libvulkan_lvp.so", "api_version": "1.4.305"}}))
    assert lavapipe.icd_path() == icd
    assert browser.default_adapter() == "lavapipe"
    env = lavapipe.lavapipe_environment(icd)
    assert env["VK_ICD_FILENAMES"] == str(icd)
    assert env["LD_LIBRARY_PATH"].split(":")[0] == "/opt/mesa/lib"


def test_lavapipe_errors_say_what_to_do(monkeypatch, tmp_path):
    monkeypatch.setenv("WEBSLM_LAVAPIPE_ICD", str(tmp_path / "missing.json"))
    with pytest.raises(WebslmError, match="missing.json: no such file"):
        lavapipe.icd_path()
    monkeypatch.delenv("WEBSLM_LAVAPIPE_ICD")
    monkeypatch.setenv("WEBSLM_HOME", str(tmp_path))
    real_which = shutil.which
    monkeypatch.setattr(shutil, "which", lambda name: None if name == "apt-get" else real_which(name))
    with pytest.raises(WebslmError, match="apt-get.*WEBSLM_LAVAPIPE_ICD"):
        lavapipe.install_lavapipe(progress=lambda _: None)
    assert not lavapipe.lavapipe_dir().exists()


def test_unknown_adapter_is_refused():
    with pytest.raises(ValueError, match="unknown WebGPU adapter 'vulkan'"):
        browser.launch_chromium(playwright=None, adapter="vulkan")


# A compute shader 256 invocations wide: Dawn's compatibility mode (lavapipe) allows only 128 unless the page raises
# the limits, which web/static/webgpu_limits.js does for every requestDevice().
WIDE_KERNEL = """async () => {
  await import("/static/webgpu_limits.js");
  const adapter = await navigator.gpu.requestAdapter();
  const device = await adapter.requestDevice();
  const code = `@group(0) @binding(0) var<storage, read_write> out: array<u32>;
    @compute @workgroup_size(256) fn main(@builtin(local_invocation_index) i: u32) { out[i] = i * 3u; }`;
  device.pushErrorScope("validation");
  const pipeline = device.createComputePipeline({ layout: "auto", compute: { module: device.createShaderModule({ code }), entryPoint: "main" } });
  const buffer = device.createBuffer({ size: 1024, usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC });
  const read = device.createBuffer({ size: 1024, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST });
  const encoder = device.createCommandEncoder();
  const pass = encoder.beginComputePass();
  pass.setPipeline(pipeline);
  pass.setBindGroup(0, device.createBindGroup({ layout: pipeline.getBindGroupLayout(0), entries: [{ binding: 0, resource: { buffer } }] }));
  pass.dispatchWorkgroups(1);
  pass.end();
  encoder.copyBufferToBuffer(buffer, 0, read, 0, 1024);
  device.queue.submit([encoder.finish()]);
  const error = await device.popErrorScope();
  if (error) return { error: error.message };
  await read.mapAsync(GPUMapMode.READ);
  const values = Array.from(new Uint32Array(read.getMappedRange()));
  const info = adapter.info || {};
  return { values, description: `${info.vendor} ${info.architecture} ${info.description}`,
           maxWorkgroupSizeX: device.limits.maxComputeWorkgroupSizeX };
}"""


@pytest.mark.browser
@pytest.mark.parametrize("adapter", ["swiftshader", "lavapipe"])
def test_cpu_adapters_run_a_wide_kernel(adapter, tmp_path, chromium):
    from types import SimpleNamespace

    from web.server import running_server

    if adapter == "lavapipe" and lavapipe.icd_path() is None:
        pytest.skip("lavapipe not installed here (`python -m webslm.lavapipe`; .ci/run installs it)")
    # One Playwright driver per thread: launch through the session browser's, with this adapter's flags.
    playwright = SimpleNamespace(chromium=chromium.browser_type)
    with running_server(tmp_path) as server:
        launched = browser.launch_chromium(playwright, adapter)
        try:
            page = launched.new_page()
            page.goto(f"{server.url}/static/harness.html")
            result = page.evaluate(WIDE_KERNEL)
        finally:
            launched.close()
    assert "error" not in result, result
    assert result["values"][:256] == [3 * i for i in range(256)]
    assert result["maxWorkgroupSizeX"] >= 256
    on_swiftshader = "swiftshader" in result["description"].lower()
    assert on_swiftshader == (adapter == "swiftshader"), result["description"]


@pytest.mark.browser
def test_the_demo_page_starts_on_lavapipe_with_webgl2_and_webgpu(tmp_path, chromium):
    """Cesium's WebGL2 globe and web-llm's WebGPU both on lavapipe: the route `eval --backend browser` uses."""
    from types import SimpleNamespace

    from web.server import running_server

    if lavapipe.icd_path() is None:
        pytest.skip("lavapipe not installed here (`python -m webslm.lavapipe`; .ci/run installs it)")
    playwright = SimpleNamespace(chromium=chromium.browser_type)
    with running_server(tmp_path) as server:
        launched = browser.launch_chromium(playwright, "lavapipe")
        try:
            page = launched.new_page()
            page.goto(f"{server.url}/?lite=1&model=none")
            page.evaluate("window.webslm.ready")
            seen = page.evaluate("""async () => {
                const adapter = await navigator.gpu.requestAdapter();
                return { webgl2: window.webslm.viewer.scene.context.webgl2,
                         status: document.getElementById('model-status').textContent,
                         swiftshader: adapter.info.architecture === 'swiftshader',
                         workgroupX: adapter.limits.maxComputeWorkgroupSizeX };
            }""")
            moved = page.evaluate("window.webslm.execute({tool: 'flyTo', arguments: {place: 'Lima', duration: 0}})")
        finally:
            launched.close()
    assert seen["webgl2"], seen
    assert "failed to start" not in seen["status"], seen
    assert not seen["swiftshader"] and seen["workgroupX"] > 256, seen  # lavapipe, not SwiftShader's 256
    assert moved["ok"], moved
