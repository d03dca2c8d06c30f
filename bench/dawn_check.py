"""A compiled model library on a WebGPU adapter through Dawn in Node (webslm/dawn.py): does it execute, does it compute
what lavapipe computes, and how fast is one forward pass.

    python bench/dawn_check.py --bundle artifacts/bundles/smollm2-q4f16_1 --write-reference ref.npz   # here, lavapipe
    python bench/dawn_check.py --bundle DIR --adapter gpu --reference ref.npz --out gpu.json           # on a GPU

Greedy from one cesium command's prompt: the prompt's prefill, then --steps decode passes, each timed (seconds include
reading the logits back, as web-llm's sampler does). Then the forced-token path: a few answer tokens prefilled in one
pass after the prompt against the same tokens decoded one by one (they must agree: convert/models/attention_merge.py).
With --reference (written by --write-reference on another adapter, usually lavapipe): the largest logit difference
per step and whether the greedy tokens are identical. Only numpy and node are needed where it runs: the prompt's
token ids travel inside the reference file.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from webslm.dawn import ADAPTERS, DawnModel  # noqa: E402

COMMAND = "fly to the Eiffel Tower and zoom in a bit"
CHUNK = 6  # answer tokens fed in one pass after the prompt (the forced loop's shape)


def prompt_ids(bundle: Path) -> list[int]:
    from transformers import AutoTokenizer

    from webslm.domain import load_domain
    from webslm.prompting import encode_prompt

    conv = json.loads((bundle / "mlc-chat-config.json").read_text())["conv_template"]
    domain = load_domain("cesium")
    return encode_prompt(AutoTokenizer.from_pretrained(bundle), conv, domain.system_prompt,
                         [{"role": "user", "content": COMMAND}])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--bundle", type=Path, required=True, help="a bundle from `webslm convert`")
    parser.add_argument("--adapter", default="lavapipe", choices=ADAPTERS)
    parser.add_argument("--steps", type=int, default=32, help="greedy decode passes after the prefill (32)")
    parser.add_argument("--reference", type=Path, default=None, help="compare with this --write-reference file")
    parser.add_argument("--write-reference", type=Path, default=None, help="save prompt ids, logits and tokens here")
    parser.add_argument("--out", type=Path, default=None, help="write the numbers as JSON")
    args = parser.parse_args()

    reference = dict(np.load(args.reference)) if args.reference else None
    prompt = [int(t) for t in reference["prompt"]] if reference is not None else prompt_ids(args.bundle)
    began = time.perf_counter()
    with DawnModel(args.bundle, adapter=args.adapter) as model:
        print(f"loaded {args.bundle.name} on {model.info.get('adapter') or args.adapter} in "
              f"{time.perf_counter() - began:.1f} s; shader-f16: {'shader-f16' in model.info['features']}", flush=True)
        # first use compiles each kernel's pipeline: warm the prompt's prefill, a chunk after it and a decode untimed
        model.forward(prompt, "prefill")
        model.forward(prompt[-CHUNK:], "prefill")
        model.forward(prompt[-1:], "decode")
        model.reset()
        logits, prefill_s = model.forward(prompt, "prefill")
        steps, tokens, decode_s = [logits], [int(logits.argmax())], []
        for _ in range(args.steps):
            logits, seconds = model.forward([tokens[-1]], "decode")
            steps.append(logits)
            tokens.append(int(logits.argmax()))
            decode_s.append(seconds)
        chunked, one_by_one, chunk_s = model.chunk_after_prompt(prompt, tokens[:CHUNK])
        info = model.info

    result = {
        "bundle": str(args.bundle), "adapter": info.get("adapter") or args.adapter,
        "features": info["features"], "quantization": info["quantization"], "load_s": round(info["load_s"], 2),
        "prompt_tokens": len(prompt), "prefill_s": round(prefill_s, 4),
        "prefill_tok_s": round(len(prompt) / prefill_s, 1),
        "decode_s_median": round(statistics.median(decode_s), 5),
        "decode_tok_s": round(1 / statistics.median(decode_s), 1),
        "chunk_tokens": CHUNK, "chunk_s": round(chunk_s, 4),
        "chunk_vs_one_by_one_max_abs": float(np.abs(chunked - one_by_one).max()),
        "tokens": tokens,
    }
    print(f"prefill {len(prompt)} tokens: {prefill_s:.3f} s ({result['prefill_tok_s']} tok/s); decode: median "
          f"{result['decode_s_median'] * 1000:.1f} ms per pass ({result['decode_tok_s']} tok/s); {CHUNK} answer tokens "
          f"in one pass: {chunk_s * 1000:.1f} ms; chunk vs one by one: max |logit diff| "
          f"{result['chunk_vs_one_by_one_max_abs']:.2e}")
    if reference is not None:
        errors = [float(np.abs(ours - ref).max()) for ours, ref in zip(steps, reference["logits"])]
        same = tokens[:len(reference["tokens"])] == [int(t) for t in reference["tokens"]][:len(tokens)]
        result.update({"reference": str(args.reference), "max_abs_logit_diff": max(errors),
                       "greedy_tokens_identical": same})
        print(f"against {args.reference.name}: max |logit diff| {max(errors):.2e} over {len(errors)} steps; greedy "
              f"tokens identical: {same}")
    if args.write_reference:
        np.savez_compressed(args.write_reference, prompt=np.array(prompt), logits=np.stack(steps),
                            tokens=np.array(tokens))
        print(f"wrote {args.write_reference}")
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(result, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
