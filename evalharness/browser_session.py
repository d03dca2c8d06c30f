"""Drive the stock web-llm engine in headless Chromium: serve bundles, open the harness page, load, chat.

Used by the browser evaluator, the compiler's parity tests and the benchmarks; the page is web/static/harness.js.
"""

from __future__ import annotations

import base64
import contextlib
import time
from pathlib import Path

import numpy as np

from webslm.errors import WebslmError

WEBGPU_HELP = ("WebGPU is not available in this Chromium. Headless runs need the flags in webslm/browser.py "
               "(--enable-unsafe-webgpu; --webgpu swiftshader, lavapipe, or gpu with a Vulkan driver) and a page "
               "from http://127.0.0.1.")


class GivenRefused(WebslmError):
    """A test record's `given` call that the page would not execute: the record is wrong, not the model."""


class _PageSession:
    """One server over `models_dir` + one headless Chromium page on it, opened by `_open(path)`: the start-up and the
    error reporting both page drivers share. Use as a context manager.

    Playwright's sync API allows one driver per thread: pass `browser` to reuse a running one (pytest's session
    browser); otherwise the session starts and stops its own."""

    def __init__(self, models_dir: Path, webgpu: str | None = None, timeout_s: float = 1800, browser=None):
        self.models_dir = Path(models_dir)
        self.webgpu = webgpu
        self.browser = browser
        self.timeout_ms = timeout_s * 1000
        self._stack = contextlib.ExitStack()
        self.page = None
        self.console: list[str] = []

    def _open(self, path: str) -> None:
        """Start the server and the browser, open `path` on the server; on failure everything started is closed."""
        from playwright.sync_api import sync_playwright

        from web.server import running_server
        from webslm.browser import launch_chromium

        try:
            server = self._stack.enter_context(running_server(self.models_dir))
            browser = self.browser
            if browser is None:
                playwright = self._stack.enter_context(sync_playwright())
                browser = launch_chromium(playwright, self.webgpu)
                self._stack.callback(browser.close)
            context = browser.new_context()
            self._stack.callback(context.close)
            self.page = context.new_page()
            self.page.set_default_timeout(self.timeout_ms)
            self.page.on("console", lambda m: self.console.append(f"{m.type}: {m.text}"))
            self.page.on("pageerror", lambda e: self.console.append(f"pageerror: {e}"))
            self.page.goto(f"{server.url}{path}")
        except BaseException:
            self._stack.close()
            raise

    def __exit__(self, *exc) -> None:
        self._stack.close()

    what = "the page"  # how errors name the page

    def _evaluate(self, script: str, arg=None, what: str | None = None):
        try:
            return self.page.evaluate(script, arg)
        except Exception as e:  # playwright wraps page exceptions; say what the page said
            tail = "\n  ".join(self.console[-15:])
            raise WebslmError(f"{what or self.what} failed in the browser: {e}\n  browser console:\n  {tail}") from None


class BrowserSession(_PageSession):
    """The harness page (web/static/harness.js, `window.harness`): the stock web-llm engine on the main thread."""

    def __enter__(self) -> "BrowserSession":
        self._open("/static/harness.html")
        try:
            self.page.wait_for_function("window.harness && window.harness.ready === true")
            self.gpu = self.page.evaluate("harness.gpu()")
            if not self.gpu.get("available"):
                raise WebslmError(f"{WEBGPU_HELP} ({self.gpu.get('reason')})")
        except BaseException:
            self._stack.close()
            raise
        return self

    def load(self, model_id: str, capture_logits: bool = False) -> dict:
        return self._call("harness.load", model_id, {"captureLogits": capture_logits})

    def set_adapter(self, adapter_id: str | None) -> dict:
        """Swap a runtime LoRA adapter into the loaded model (None: back to the base); returns timings and bytes."""
        return self._call("harness.setAdapter", adapter_id)

    def chat(self, messages: list[dict], capture_logits: bool = False, timeout_s: float = 0, **request) -> dict:
        """A chat completion; with capture_logits the raw logits of every sampled step as float32 arrays.
        With timeout_s > 0 a generation still running then is interrupted and this raises WebslmError."""
        result = self._call("harness.chat", {"messages": messages, **request},
                            {"captureLogits": capture_logits, "timeoutS": timeout_s})
        if result.get("logits") is not None:
            result["logits"] = [np.frombuffer(base64.b64decode(b), dtype=np.float32) for b in result["logits"]]
        return result

    def _call(self, function: str, *args):
        return self._evaluate(f"([args]) => {function}(...args)", [list(args)], function)


class DemoSession(_PageSession):
    """The demo page itself (web/static/index.html: its worker, web-llm, rulebook and executor) in headless Chromium,
    driven as a user drives it: `submit(text)` types a command and returns what the page did with it. Use as a
    context manager; the browser evaluator scores the product's own path with it."""

    what = "the demo page"

    def __init__(self, models_dir: Path, model_id: str, domain: str, webgpu: str | None = None,
                 max_tokens: int = 160, timeout_s: float = 1800, browser=None, decode: str = "forced"):
        super().__init__(models_dir, webgpu, timeout_s, browser)
        self.model_id = model_id
        self.domain = domain
        self.max_tokens = max_tokens
        self.decode = decode  # "forced" or "plain" (the page's ?decode=)

    def __enter__(self) -> "DemoSession":
        from urllib.parse import urlencode

        # adapter=none: the page otherwise starts with its domain's default adapter; eval swaps in what --lora names
        query = urlencode({"lite": 1, "model": self.model_id, "max_tokens": self.max_tokens, "domain": self.domain,
                           "adapter": "none", "decode": self.decode})
        started = time.perf_counter()
        self._open(f"/?{query}")
        try:
            self._evaluate("window.webslm.ready")
            self.model = self._evaluate("window.webslm.modelReady")
            self.load_s = time.perf_counter() - started
            if not self.model:
                status = self.page.inner_text("#model-status")
                raise WebslmError(f"the demo page did not load {self.model_id}: {status}")
            self.gpu = self._evaluate("""async () => {
                const a = await navigator.gpu.requestAdapter();
                const info = a.info || {};
                return {available: true, vendor: info.vendor || '', architecture: info.architecture || '',
                        description: info.description || '', features: [...a.features]};
            }""")
        except BaseException:
            self._stack.close()
            raise
        return self

    def domain_shown(self) -> str | None:
        """The domain the page is on now (it follows the adapter swapped in)."""
        return self._evaluate("window.webslm.state().domain")

    def set_adapter(self, adapter_id: str | None) -> dict:
        """Swap a runtime LoRA adapter in through the page's selector logic (the domain follows the adapter)."""
        result = self._evaluate("(id) => window.webslm.setAdapter(id)", adapter_id)
        if not result["ok"]:
            raise WebslmError(f"the demo page could not set adapter {adapter_id!r}: {result['error']}")
        return result["result"]

    def submit(self, text: str, timeout_s: float = 0, decode: str | None = None, given: tuple[str, ...] = ()) -> dict:
        """Submit a command as the command box does; the page's log entry ({ok, call, error, stage, parsed, raw,
        usage, extra, domain}) and the globe afterwards ({camera, entities}). With timeout_s > 0 an answer still
        being generated then is interrupted (the entry then says the model failed). `decode` ("forced" | "plain")
        overrides the session's for this command. The scene is cleared first, then `given` (JSON texts of calls) is
        executed without the model; GivenRefused if the page refuses one."""
        result = self._evaluate("""async ([text, timeoutS, decode, given]) => {
            window.webslm.clear();
            for (const [i, call] of given.entries()) {
              const done = window.webslm.execute(call);
              if (!done.ok) return { givenError: `given[${i}] ${call}: ${done.stage}: ${done.error}` };
            }
            let timer = null;
            if (timeoutS > 0) timer = setTimeout(() => window.webslm.interrupt(), timeoutS * 1000);
            const started = performance.now();
            const entry = await window.webslm.submit(text, decode ? { decode } : {});
            clearTimeout(timer);
            const s = window.webslm.state();
            const { ok, call, error, stage, parsed, raw, usage, extra, domain } = entry;
            return { entry: { ok, call, error, stage: stage || (ok ? 'ok' : 'backend'), parsed: parsed ?? null,
                              raw: raw ?? '', usage: usage || null, extra: extra || {}, domain },
                     wall_s: (performance.now() - started) / 1000,
                     page: { camera: s.camera, entities: s.entities, sceneMode: s.sceneMode, domain: s.domain } };
        }""", [text, timeout_s, decode, list(given)])
        if "givenError" in result:
            raise GivenRefused(result["givenError"])
        return result
