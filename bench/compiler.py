"""Benchmark the compiler and the in-browser engine on the embedded SmolLM2-135M-Instruct, against torch CPU.

    python bench/compiler.py [--webgpu swiftshader|lavapipe|gpu|dawn-node] [--max-tokens 16] [--skip-convert]
                             [--model default|DIR|HUB_ID] [--torch-device cpu|cuda] [--out PATH]

In one run: conversion time and bundle sizes (weights / wasm / total) for q4f32_1 and q4f16_1; then, for q4f32_1 in
headless Chromium with the stock web-llm engine, engine load time, time to first token, prefill and decode tokens/s
(web-llm's own `usage.extra`) and the per-token sampling time (`latencyBreakdown.sampleTime`), greedy, on a fixed
prompt; then torch CPU (float32 HF model, greedy, KV cache) on the same prompt token ids, and the browser/torch ratios.
q4f16_1 is only converted: Chromium's CPU adapters have no `shader-f16`, so it cannot run there (`--webgpu gpu` on a GPU
machine runs it too). `--webgpu dawn-node` runs both bundles on Dawn in Node.js on lavapipe (webslm/dawn.py, which has
`shader-f16`) and, in the same run, q4f32_1 in Chromium on lavapipe, with Dawn/Chromium ratios. Writes the numbers as
JSON to --out (default artifacts/bench/compiler.json). `--model` benchmarks another model the same way (bundles named
after it); `--torch-device cuda` puts the torch reference on the GPU the browser uses (bench/gpu_check.py).
"""

from __future__ import annotations

import os

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # torch threads spin-wait otherwise; this box is shared
os.environ.setdefault("HF_HUB_OFFLINE", "1")

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from webslm.browser import ADAPTERS, default_adapter  # noqa: E402

PROMPT = [{"role": "user", "content": "What is the capital of France? Answer in one sentence."}]
QUANTIZATIONS = ("q4f32_1", "q4f16_1")


def say(line: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {line}", flush=True)


def convert(work: Path, quantization: str, skip: bool, model: str = "default") -> dict:
    """Convert (or reuse with --skip-convert) one bundle; its sizes and conversion timings from the manifest."""
    from convert.bundle import convert_model
    from webslm.artifacts import BUNDLE_MANIFEST, read_bundle_manifest
    from webslm.base_model import model_short_name

    model_id = f"{model_short_name(model)}-{quantization}"
    out = work / model_id
    if not (skip and (out / BUNDLE_MANIFEST).is_file()):
        say(f"convert {model} {quantization} -> {out}")
        began = time.perf_counter()
        # the bench's own work folder: a rerun replaces its previous bundle (and only a bundle)
        convert_model(model, out, quantization, model_id=model_id, force=True)
        say(f"  done in {time.perf_counter() - began:.1f} s")
    else:
        say(f"reuse {out} (--skip-convert)")
    manifest = read_bundle_manifest(out)
    return {"model_id": manifest["model_id"], "dir": str(out), "sizes": manifest["sizes"],
            "timings_s": manifest["timings_s"], "reused": skip}


def browser_run(work: Path, model_id: str, adapter: str, max_tokens: int) -> dict:
    from evalharness.browser_session import BrowserSession

    say(f"browser ({adapter}): load {model_id}")
    with BrowserSession(work, webgpu=adapter) as session:
        began = time.perf_counter()
        loaded = session.load(model_id)
        load_s = time.perf_counter() - began
        say(f"  loaded in {load_s:.1f} s; chat, greedy, {max_tokens} new tokens")
        reply = session.chat(PROMPT, temperature=0, max_tokens=max_tokens,
                             extra_body={"enable_latency_breakdown": True})
    extra = reply["usage"].get("extra") or {}
    breakdown = extra.get("latencyBreakdown") or {}
    sample = breakdown.get("sampleTime") or []
    say(f"  reply {reply['text']!r}")
    return {
        "gpu": session.gpu,
        "load_s": round(load_s, 2),
        "page_load_s": round(loaded["load_s"], 2),
        "text": reply["text"],
        "prompt_tokens": reply["usage"].get("prompt_tokens"),
        "completion_tokens": reply["usage"].get("completion_tokens"),
        "time_to_first_token_s": extra.get("time_to_first_token_s"),
        "prefill_tokens_per_s": extra.get("prefill_tokens_per_s"),
        "decode_tokens_per_s": extra.get("decode_tokens_per_s"),
        "time_per_output_token_s": extra.get("time_per_output_token_s"),
        "e2e_latency_s": extra.get("e2e_latency_s"),
        # the first entry is the token sampled after prefill (it pays the sampler's pipeline compilation)
        "sample_time_first_s": sample[0] if sample else None,
        # decode steps: web-llm does not sync after the forward pass, so this includes it
        "sample_time_decode_median_s": statistics.median(sample[1:]) if len(sample) > 1 else None,
        "latency_breakdown": breakdown,
    }


def dawn_run(work: Path, model_id: str, max_tokens: int) -> dict:
    """The bundle on Dawn in Node.js (lavapipe): load, then one cold greedy run of the prompt, timed per forward pass.
    Greedy is an argmax over logits read back to the CPU (web-llm's GPU sampler is not run), stopping like web-llm."""
    from transformers import AutoTokenizer

    from webslm.dawn import DawnModel
    from webslm.prompting import encode_prompt

    bundle = work / model_id
    conv = json.loads((bundle / "mlc-chat-config.json").read_text())["conv_template"]
    tokenizer = AutoTokenizer.from_pretrained(bundle)
    ids = encode_prompt(tokenizer, conv, None, PROMPT)
    stop = set(conv.get("stop_token_ids") or [tokenizer.eos_token_id])
    say(f"Dawn in Node (lavapipe): load {model_id}")
    began = time.perf_counter()
    with DawnModel(bundle) as model:
        load_s = time.perf_counter() - began
        logits, prefill_s = model.forward(ids, "prefill")
        tokens, decode_s = [int(logits.argmax())], []
        while len(tokens) < max_tokens and tokens[-1] not in stop:
            logits, seconds = model.forward([tokens[-1]], "decode")
            tokens.append(int(logits.argmax()))
            decode_s.append(seconds)
    text = tokenizer.decode([t for t in tokens if t not in stop], skip_special_tokens=True)
    say(f"  reply {text!r}")
    return {"adapter": model.info["adapter"], "features": model.info["features"], "load_s": round(load_s, 2),
            "text": text, "prompt_tokens": len(ids), "completion_tokens": len(tokens),
            "time_to_first_token_s": round(prefill_s, 3), "prefill_tokens_per_s": round(len(ids) / prefill_s, 2),
            "decode_tokens_per_s": round(len(decode_s) / sum(decode_s), 3) if decode_s else None,
            "decode_step_median_s": round(statistics.median(decode_s), 4) if decode_s else None}


def sampler_run(adapter: str, vocab: int, runs: int) -> dict:
    """web-llm's per-token sampling chain alone (softmax -> argsort_probs -> sample_with_top_p -> read back) on
    WebGPU: a decode step's `sampleTime` also waits for the forward pass, which web-llm does not sync before it."""
    import tempfile

    from playwright.sync_api import sync_playwright

    from tests.test_sampling_browser import write_sampling_site
    from tests.test_webruntime_browser import serve
    from webslm.browser import launch_chromium

    say(f"sampler alone ({adapter}): vocabulary {vocab}, {runs} runs")
    with tempfile.TemporaryDirectory() as tmp, serve(write_sampling_site(Path(tmp), (vocab,))) as url, \
            sync_playwright() as playwright:
        browser = launch_chromium(playwright, adapter)
        try:
            page = browser.new_page()
            page.set_default_timeout(600_000)
            page.goto(url + "/index.html")
            page.wait_for_function("window.pageReady === true")
            out = page.evaluate("([v, r]) => window.timeSampler(v, r)", [vocab, runs])
        finally:
            browser.close()
    result = {"vocab": vocab, "runs": runs, "chain_ms_median": round(statistics.median(out["chain_ms"]), 2),
              "argsort_ms_median": round(statistics.median(out["argsort_ms"]), 2), **out}
    say(f"  chain {result['chain_ms_median']} ms, argsort alone {result['argsort_ms_median']} ms (medians)")
    return result


def torch_run(max_tokens: int, model_arg: str = "default", device: str = "cpu") -> dict:
    """Greedy float32 decoding with the KV cache on the same prompt ids web-llm builds (its conv template)."""
    import torch

    from evalharness.torch_backend import load_model, prompt_ids

    say(f"torch {device}: load the float32 HF model")
    model, tokenizer, conv = load_model(model_arg, device=device)
    ids = prompt_ids(tokenizer, conv, PROMPT)
    on = model.device
    sync = torch.cuda.synchronize if on.type == "cuda" else (lambda: None)
    tokens: list[int] = []
    with torch.inference_mode():
        began = time.perf_counter()
        out = model(torch.tensor([ids], device=on), use_cache=True)
        sync()
        prefill_s = time.perf_counter() - began
        tokens.append(int(out.logits[0, -1].argmax()))
        began = time.perf_counter()
        # like web-llm's ignore_eos=False: stop at the template's stop tokens
        stop = set(conv.get("stop_token_ids") or [tokenizer.eos_token_id])
        while len(tokens) < max_tokens and tokens[-1] not in stop:
            out = model(torch.tensor([[tokens[-1]]], device=on), past_key_values=out.past_key_values, use_cache=True)
            tokens.append(int(out.logits[0, -1].argmax()))
        decode_s = time.perf_counter() - began
    decoded = len(tokens) - 1
    text = tokenizer.decode([t for t in tokens if t not in stop], skip_special_tokens=True)
    say(f"  reply {text!r}")
    return {"device": str(on), "threads": torch.get_num_threads(), "prompt_tokens": len(ids),
            "completion_tokens": len(tokens),
            "text": text, "time_to_first_token_s": round(prefill_s, 3),
            "prefill_tokens_per_s": round(len(ids) / prefill_s, 2),
            "decode_tokens_per_s": round(decoded / decode_s, 2) if decoded else None}


def ratio(a, b):
    return round(a / b, 4) if a and b else None


def _num(x):
    return None if x is None else round(x, 3)


def print_table(result: dict) -> None:
    rows = []
    for q, c in result["convert"].items():
        s = c["sizes"]
        rows.append((f"convert {q}: time s", c["timings_s"].get("total"), ""))
        sizes = " / ".join(f"{s[k] / 2**20:.1f}" for k in ("weights_bytes", "wasm_bytes", "total_bytes"))
        rows.append(("  weights / wasm / total MiB", sizes, ""))
    b, t, r = result.get("browser") or {}, result.get("torch") or {}, result.get("ratios") or {}
    if b:
        rows += [("browser load s", b["load_s"], ""),
                 ("time to first token s (browser / torch)",
                  f"{_num(b['time_to_first_token_s'])} / {t.get('time_to_first_token_s')}",
                  r.get("ttft_browser_over_torch")),
                 ("prefill tok/s (browser / torch)",
                  f"{_num(b['prefill_tokens_per_s'])} / {t.get('prefill_tokens_per_s')}",
                  r.get("prefill_browser_over_torch")),
                 ("decode tok/s (browser / torch)",
                  f"{_num(b['decode_tokens_per_s'])} / {t.get('decode_tokens_per_s')}",
                  r.get("decode_browser_over_torch")),
                 ("browser sampleTime s: first token (synced) / decode median (incl. forward)",
                  f"{_num(b['sample_time_first_s'])} / {_num(b['sample_time_decode_median_s'])}", "")]
    f16 = result.get("browser_q4f16_1")
    if f16:
        rows += [("browser q4f16_1: load s / time to first token s", f"{f16['load_s']} / "
                  f"{_num(f16['time_to_first_token_s'])}", r.get("ttft_f16_over_f32")),
                 ("browser q4f16_1: prefill / decode tok/s", f"{_num(f16['prefill_tokens_per_s'])} / "
                  f"{_num(f16['decode_tokens_per_s'])}", r.get("decode_f16_over_f32"))]
    for q, d in (result.get("dawn_node") or {}).items():
        rows += [(f"Dawn-in-Node {q}: load s / time to first token s", f"{d['load_s']} / {d['time_to_first_token_s']}",
                  r.get(f"ttft_dawn_{q}_over_browser")),
                 (f"Dawn-in-Node {q}: prefill / decode tok/s",
                  f"{d['prefill_tokens_per_s']} / {d['decode_tokens_per_s']}", r.get(f"decode_dawn_{q}_over_browser"))]
    sampler = result.get("sampler")
    if sampler:
        rows.append(("sampler alone ms: softmax+argsort+top-p / argsort",
                     f"{sampler['chain_ms_median']} / {sampler['argsort_ms_median']}", ""))
    width = max(len(name) for name, _, _ in rows)
    print()
    print(f"{'metric':<{width}}  {'value':<28} ratio")
    for name, value, rat in rows:
        print(f"{name:<{width}}  {str(value):<28} {'' if rat in (None, '') else rat}")
    print()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--webgpu", choices=(*ADAPTERS, "dawn-node"), default=None,
                        help="WebGPU adapter (default: auto); dawn-node: Dawn in Node.js vs Chromium, both on lavapipe")
    parser.add_argument("--max-tokens", type=int, default=16, help="new tokens per request (greedy)")
    parser.add_argument("--sampler-runs", type=int, default=10, help="timed calls of the sampling chain alone")
    parser.add_argument("--skip-convert", action="store_true", help="reuse bundles already in --work")
    parser.add_argument("--model", default="default", help="'default', a local HF model directory or a hub id")
    parser.add_argument("--torch-device", default="cpu", choices=("cpu", "cuda"),
                        help="where the torch reference runs (cuda: the GPU the browser uses)")
    parser.add_argument("--work", type=Path, default=REPO / "artifacts/bench/bundles")
    parser.add_argument("--out", type=Path, default=REPO / "artifacts/bench/compiler.json")
    args = parser.parse_args()
    args.work.mkdir(parents=True, exist_ok=True)
    began = time.perf_counter()
    args.webgpu = args.webgpu or default_adapter()
    # Chromium's adapter: with dawn-node, lavapipe (the same driver Dawn in Node uses) for the comparison
    chromium = "lavapipe" if args.webgpu == "dawn-node" else args.webgpu
    result: dict = {"webgpu": args.webgpu, "max_tokens": args.max_tokens, "prompt": PROMPT, "convert": {}}
    result["model"] = args.model
    result["convert"] = {q: convert(args.work, q, args.skip_convert, args.model) for q in QUANTIZATIONS}
    ids = {q: c["model_id"] for q, c in result["convert"].items()}
    vocab = json.loads((args.work / ids["q4f32_1"] / "mlc-chat-config.json").read_text())["vocab_size"]
    result["sampler"] = sampler_run(chromium, vocab, args.sampler_runs)
    result["browser"] = browser_run(args.work, ids["q4f32_1"], chromium, args.max_tokens)
    if args.webgpu == "gpu":
        result["browser_q4f16_1"] = browser_run(args.work, ids["q4f16_1"], args.webgpu, args.max_tokens)
    if args.webgpu == "dawn-node":
        result["dawn_node"] = {q: dawn_run(args.work, ids[q], args.max_tokens) for q in QUANTIZATIONS}
    result["torch"] = torch_run(args.max_tokens, args.model, args.torch_device)
    b, t = result["browser"], result["torch"]
    result["ratios"] = {
        "ttft_browser_over_torch": ratio(b["time_to_first_token_s"], t["time_to_first_token_s"]),
        "prefill_browser_over_torch": ratio(b["prefill_tokens_per_s"], t["prefill_tokens_per_s"]),
        "decode_browser_over_torch": ratio(b["decode_tokens_per_s"], t["decode_tokens_per_s"]),
    }
    if result.get("browser_q4f16_1"):
        f16 = result["browser_q4f16_1"]
        result["ratios"]["ttft_f16_over_f32"] = ratio(f16["time_to_first_token_s"], b["time_to_first_token_s"])
        result["ratios"]["decode_f16_over_f32"] = ratio(f16["decode_tokens_per_s"], b["decode_tokens_per_s"])
    for q, d in (result.get("dawn_node") or {}).items():
        result["ratios"][f"ttft_dawn_{q}_over_browser"] = ratio(d["time_to_first_token_s"], b["time_to_first_token_s"])
        result["ratios"][f"decode_dawn_{q}_over_browser"] = ratio(d["decode_tokens_per_s"], b["decode_tokens_per_s"])
    result["bench_wall_s"] = round(time.perf_counter() - began, 1)
    print_table(result)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    say(f"wrote {args.out} ({result['bench_wall_s']} s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
