"""The six sampling functions (convert/sampling.py) on WebGPU in headless Chromium, against numpy.

The functions alone are compiled into a small library (the model entry points are stubs) for three vocabulary sizes:
5000 pads to 8192 and so runs every part of the sort (workgroup-memory block sort, global strides, block merges);
100 fits in one workgroup; 151936, Qwen2/Qwen3's real vocabulary, pads to 262144 (the argsort test only). The page
calls them through web-llm's own tvmjs runtime, like web-llm does.
"""

from __future__ import annotations

import shutil

import numpy as np
import pytest
from tvm.script import relax as R

from tests.test_webruntime_browser import TVMJS_EXPORTS_VAR, WEBGPU_LIMITS, WEBLLM_BUNDLE, serve

pytestmark = [pytest.mark.browser,
              pytest.mark.skipif(shutil.which("emcc") is None, reason="emcc missing: apt-get install -y emscripten")]

VOCABS = (5000, 100, 151936)

PAGE = """<!doctype html><meta charset="utf-8"><title>webslm sampling functions</title>
<script type="module">
import "./webgpu_limits.js";
import { webslmTvmjs as tvmjs } from "./webllm_with_tvmjs.js";
const vms = {};
async function vmFor(vocab) {
  if (vms[vocab]) return vms[vocab];
  const gpu = await tvmjs.detectGPUDevice();
  if (gpu === undefined) throw new Error("no WebGPU (navigator.gpu missing)");
  const wasm = await (await fetch(`sampling_${vocab}.wasm`)).arrayBuffer();
  const tvm = await tvmjs.instantiate(wasm, tvmjs.createPolyfillWASI(), () => {});
  tvm.initWebGPU(gpu.device);
  const dev = tvm.webgpu();
  tvm.beginScope();
  const vm = tvm.detachFromCurrentScope(tvm.createVirtualMachine(dev));
  tvm.endScope();
  vms[vocab] = { tvm, dev, vm };
  return vms[vocab];
}
const ARRAYS = { float32: Float32Array, int32: Int32Array };
// call(vocab, name, args): args are {shape, dtype, data}; returns the outputs and the arguments after the call
// (the *_inplace functions write into their first argument), all as plain arrays.
window.callSampling = async (vocab, name, args) => {
  const { tvm, dev, vm } = await vmFor(vocab);
  tvm.beginScope();
  try {
    const inputs = args.map((a) => tvm.empty(a.shape, a.dtype, dev).copyFrom(new ARRAYS[a.dtype](a.data)));
    const result = vm.getFunction(name)(...inputs);
    const outputs = typeof result.get === "function" ? [...Array(result.size()).keys()].map((i) => result.get(i))
                                                       : [result];
    const hosts = [...outputs, ...inputs].map((t) => tvm.empty(t.shape, t.dtype, tvm.cpu()).copyFrom(t));
    await dev.sync();
    const arrays = hosts.map((h) => Array.from(h.toArray()));
    return { outputs: arrays.slice(0, outputs.length), inputs: arrays.slice(outputs.length) };
  } finally {
    tvm.endScope();
  }
};
// Milliseconds per call of web-llm's per-token sampling chain (softmax at temperature 1e-6 -> argsort_probs ->
// sample_with_top_p, then the token read back) and of argsort_probs alone, on random logits; for bench/compiler.py.
window.timeSampler = async (vocab, runs) => {
  const { tvm, dev, vm } = await vmFor(vocab);
  const logitsHost = new Float32Array(vocab).map(() => Math.random() * 20 - 10);
  const chain = [], sortOnly = [];
  tvm.beginScope();
  try {
    const [softmax, argsort, topP] = ["softmax_with_temperature", "argsort_probs", "sample_with_top_p"]
      .map((n) => vm.getFunction(n));
    const logits = tvm.empty([1, 1, vocab], "float32", dev).copyFrom(logitsHost);
    const temperature = tvm.empty([1], "float32", dev).copyFrom(new Float32Array([1e-6]));
    const uniform = tvm.empty([1], "float32", dev).copyFrom(new Float32Array([0.5]));
    const rows = tvm.empty([1], "int32", dev).copyFrom(new Int32Array([0]));
    const top = tvm.empty([1], "float32", dev).copyFrom(new Float32Array([1.0]));
    const token = tvm.empty([1], "int32", tvm.cpu());
    for (let i = 0; i <= runs; ++i) {  // run 0 pays the pipeline compilation: not timed
      tvm.beginScope();
      let t = performance.now();
      const probs = softmax(logits, temperature).view([1, vocab]);
      const sorted = argsort(probs);
      token.copyFrom(topP(sorted.get(0), sorted.get(1), uniform, rows, top));
      await dev.sync();
      if (i > 0) chain.push(performance.now() - t);
      t = performance.now();
      argsort(probs);
      await dev.sync();
      if (i > 0) sortOnly.push(performance.now() - t);
      tvm.endScope();
    }
  } finally {
    tvm.endScope();
  }
  return { chain_ms: chain, argsort_ms: sortOnly };
};
window.pageReady = true;
</script>
"""


def build_sampling_library(vocab_size: int, out_wasm) -> None:
    from convert.compile import ENTRY_FUNCTIONS, compile_executable, webgpu_target
    from convert.sampling import sampling_module
    from convert.webruntime import export_webgpu_library

    def stub():  # the pipeline keeps exactly the entry points web-llm calls; each needs its own function object
        @R.function
        def entry(x: R.Tensor((1,), "float32")):
            return x
        return entry

    mod = sampling_module(vocab_size)
    have = {gv.name_hint for gv in mod.get_global_vars()}
    for name in ENTRY_FUNCTIONS:
        if name not in have:
            mod[name] = stub().with_attr("global_symbol", name)
    export_webgpu_library(compile_executable(mod, webgpu_target()), out_wasm)


def write_sampling_site(site, vocabs=VOCABS):
    """index.html + web-llm's bundle with tvmjs exported + one sampling library per vocabulary size."""
    bundle = WEBLLM_BUNDLE.read_text(encoding="utf-8")
    (site / "webllm_with_tvmjs.js").write_text(bundle + f"\nexport {{ {TVMJS_EXPORTS_VAR} as webslmTvmjs }};\n",
                                              encoding="utf-8")
    (site / "index.html").write_text(PAGE, encoding="utf-8")
    (site / "webgpu_limits.js").write_bytes(WEBGPU_LIMITS.read_bytes())
    for vocab in vocabs:
        build_sampling_library(vocab, site / f"sampling_{vocab}.wasm")
    return site


@pytest.fixture(scope="module")
def sampling_page(chromium, tmp_path_factory):
    site = write_sampling_site(tmp_path_factory.mktemp("sampling_site"))
    context = chromium.new_context()
    with serve(site) as url:
        page = context.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        page.goto(url + "/index.html")
        page.wait_for_function("window.pageReady === true", timeout=60_000)

        def call(vocab: int, name: str, *arrays: np.ndarray):
            args = [{"shape": list(a.shape), "dtype": str(a.dtype), "data": a.ravel().tolist()} for a in arrays]
            out = page.evaluate("([v, n, a]) => window.callSampling(v, n, a)", [vocab, name, args])
            assert not errors, errors
            outs = [np.array(o) for o in out["outputs"]]
            ins = [np.array(i, dtype=a.dtype).reshape(a.shape) for i, a in zip(out["inputs"], arrays)]
            return outs, ins

        yield call
    context.close()


def expected_argsort(probs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Descending by probability, equal probabilities by ascending id."""
    order = np.lexsort((np.arange(probs.shape[-1])[None, :].repeat(len(probs), 0), -probs), axis=-1)
    return np.take_along_axis(probs, order, -1), order


@pytest.mark.parametrize("vocab", VOCABS)
def test_argsort_probs_is_a_descending_sort_with_ids(sampling_page, vocab):
    rng = np.random.default_rng(vocab)
    rows = [rng.dirichlet(np.full(vocab, 0.3)),  # continuous: no ties
            np.round(rng.random(vocab) * 8) / 8,  # many ties, zeros included
            np.arange(vocab) == vocab // 3]  # one-hot, as with web-llm's temperature 1e-6
    probs = np.stack(rows).astype(np.float32)
    (keys, ids), _ = sampling_page(vocab, "argsort_probs", probs)
    want_keys, want_ids = expected_argsort(probs)
    assert keys.shape == (3 * vocab,) and ids.shape == (3 * vocab,)
    np.testing.assert_array_equal(keys.reshape(3, vocab).astype(np.float32), want_keys)
    np.testing.assert_array_equal(ids.reshape(3, vocab), want_ids)


def test_softmax_with_temperature(sampling_page):
    vocab = 5000
    logits = np.random.default_rng(1).normal(size=(2, 1, vocab)).astype(np.float32) * 4
    temperature = np.array([1.0, 1e-6], dtype=np.float32)
    (probs,), _ = sampling_page(vocab, "softmax_with_temperature", logits, temperature)
    scaled = logits.astype(np.float64) / temperature[:, None, None]
    want = np.exp(scaled - scaled.max(-1, keepdims=True))
    want /= want.sum(-1, keepdims=True)
    np.testing.assert_allclose(probs.reshape(want.shape), want, atol=1e-6)


def test_sample_with_top_p_picks_the_inverse_cdf_token_inside_the_nucleus(sampling_page):
    vocab = 5000
    rng = np.random.default_rng(2)
    probs = np.stack([rng.dirichlet(np.full(vocab, 0.05)), np.eye(vocab)[17]]).astype(np.float32)
    sorted_probs, sorted_ids = expected_argsort(probs)
    uniform = np.array([0.0, 0.3, 0.77, 0.999, 0.5], dtype=np.float32)
    rows = np.array([0, 0, 0, 0, 1], dtype=np.int32)
    for top_p in (1.0, 0.9, 0.5, 1e-5):
        (tokens,), _ = sampling_page(vocab, "sample_with_top_p", sorted_probs, sorted_ids.astype(np.int32),
                                     uniform, rows, np.array([top_p, top_p], dtype=np.float32))
        for u, row, got in zip(uniform, rows, tokens):
            cdf = np.cumsum(sorted_probs[row].astype(np.float64))
            nonzero = int((sorted_probs[row] > 0).sum())
            count = min(int(np.searchsorted(cdf, top_p - 1e-6)) + 1, nonzero, vocab)  # shortest prefix >= top_p
            k = min(int(np.searchsorted(cdf[:count], u * cdf[count - 1], side="right")), count - 1)
            assert got == sorted_ids[row, k], (top_p, u, row)


def test_bitmask_penalty_and_bias_change_logits_in_place(sampling_page):
    vocab = 100
    rng = np.random.default_rng(3)
    logits = rng.normal(size=(2, vocab)).astype(np.float32)
    bitmask_bits = rng.random((2, 128)) < 0.5
    # token t is allowed when bit t % 32 of word t // 32 is set
    words = (bitmask_bits.reshape(2, 4, 32).astype(np.uint64) << np.arange(32, dtype=np.uint64)).sum(-1)
    bitmask = words.astype(np.uint32).view(np.int32)
    _, (masked, _, _) = sampling_page(vocab, "apply_bitmask_inplace", logits, np.array([1], dtype=np.int32), bitmask)
    # WGSL gets the float32 minimum as a decimal literal rounded to 7 digits: "about -3.4e38" is the contract
    disallowed = np.zeros_like(logits, dtype=bool)
    disallowed[1] = ~bitmask_bits[1, :vocab]
    assert (masked[disallowed] < -3.4e38).all()
    np.testing.assert_array_equal(masked[~disallowed], logits[~disallowed])

    tokens = np.array([3, 50, 7], dtype=np.int32)
    _, (biased, *_) = sampling_page(vocab, "apply_logit_bias_inplace", logits, np.array([0, 0, 1], dtype=np.int32),
                                    tokens, np.array([1.5, -2.0, 100.0], dtype=np.float32))
    want = logits.copy()
    want[0, 3] += 1.5
    want[0, 50] -= 2.0
    want[1, 7] += 100.0
    np.testing.assert_allclose(biased, want, rtol=1e-6)

    counts = np.array([1, 3, 2], dtype=np.int32)
    penalties = np.array([[0.5, 0.25, 1.3], [0.0, 0.0, 2.0]], dtype=np.float32)  # presence, frequency, repetition
    _, (penalised, *_) = sampling_page(vocab, "apply_penalty_inplace", logits, np.array([0, 1], dtype=np.int32),
                                       np.array([0, 0, 1], dtype=np.int32), tokens, counts, penalties)
    want = logits.copy()
    for (seq, tok, cnt) in ((0, 3, 1), (0, 50, 3), (1, 7, 2)):
        x = want[seq, tok]
        x = x / penalties[seq, 2] if x > 0 else x * penalties[seq, 2]
        want[seq, tok] = x - penalties[seq, 0] - penalties[seq, 1] * cnt
    np.testing.assert_allclose(penalised, want, rtol=1e-5)
