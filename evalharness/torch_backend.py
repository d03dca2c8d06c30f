"""The torch backend: a transformers model (+ optional LoRA adapter) generating from web-llm's prompt token ids.

Batched for speed on CPU: prompts of similar length are grouped and left-padded, the attention mask hides the
padding, so every example's real tokens are exactly `encode_prompt`'s ids.
"""

from __future__ import annotations

import os

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import contextlib
import time
from dataclasses import dataclass

from evalharness.predict import Generation, Run, answer_constraint
from webslm.checkpoint import load_with_adapter
from webslm.errors import WebslmError
from webslm.prompting import conv_template_for
from webslm.runs import adapter_base_model, adapter_base_weights, pick_device
from webslm.rulebook import request_of


@dataclass
class Sampling:
    max_new_tokens: int = 160
    temperature: float = 0.0  # 0 = greedy
    top_p: float = 1.0
    seed: int = 0


def load_model(model: str, adapter=None, device: str = "auto", base_weights: str = "float"):
    """(model, tokenizer, conv template) ready for generation; the adapter stays unmerged so `disable_adapter()`
    gives the base model without loading it twice. base_weights: 'float' or a q4 round trip (convert/weights.py)."""
    lm, tokenizer = load_with_adapter(model, adapter, base_weights=base_weights)
    lm.to(pick_device(device)).eval()
    return lm, tokenizer, conv_template_for(tokenizer)


def prompt_ids(tokenizer, conv: dict, messages: list[dict]) -> list[int]:
    from webslm.prompting import encode_prompt

    system = messages[0]["content"] if messages and messages[0]["role"] == "system" else None
    rest = messages[1:] if system is not None else messages
    return encode_prompt(tokenizer, conv, system, rest)


def stop_token_ids(tokenizer, conv: dict) -> list[int]:
    return list(conv.get("stop_token_ids") or [tokenizer.eos_token_id])


def generate_ids(model, tokenizer, conv: dict, prompts: list[list[int]], sampling: Sampling,
                 batch_size: int = 8, constraint=None, requests: list[str] | None = None
                 ) -> list[tuple[list[int], float]]:
    """Generated token ids (stop token excluded) and per-example seconds for each prompt, batched by length;
    `constraint` (a SchemaConstraint) limits the tokens to those its JSON schema allows for each prompt's request
    (the user's words)."""
    import torch

    stop_ids = stop_token_ids(tokenizer, conv)
    requests = requests or [""] * len(prompts)
    pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else stop_ids[0]
    device = next(model.parameters()).device
    order = sorted(range(len(prompts)), key=lambda i: len(prompts[i]))
    results: list = [None] * len(prompts)
    for start in range(0, len(order), batch_size):
        group = order[start:start + batch_size]
        width = max(len(prompts[i]) for i in group)
        input_ids = torch.full((len(group), width), pad_id, dtype=torch.long)
        attention = torch.zeros((len(group), width), dtype=torch.long)
        for row, i in enumerate(group):
            ids = prompts[i]
            input_ids[row, width - len(ids):] = torch.tensor(ids)
            attention[row, width - len(ids):] = 1
        kwargs = dict(max_new_tokens=sampling.max_new_tokens, eos_token_id=stop_ids, pad_token_id=pad_id)
        if sampling.temperature > 0:
            torch.manual_seed(sampling.seed)
            kwargs.update(do_sample=True, temperature=sampling.temperature, top_p=sampling.top_p)
        else:
            kwargs.update(do_sample=False, temperature=None, top_p=None, top_k=None)
        if constraint is not None:
            kwargs["logits_processor"] = [constraint.processor([requests[i] for i in group])]
        began = time.perf_counter()
        with torch.no_grad():
            out = model.generate(input_ids=input_ids.to(device), attention_mask=attention.to(device), **kwargs)
        seconds = (time.perf_counter() - began) / len(group)
        for row, i in enumerate(group):
            new = out[row, width:].tolist()
            for k, token in enumerate(new):
                if token in stop_ids:
                    new = new[:k]
                    break
            results[i] = (new, seconds)
    return results


def torch_backend(model, tokenizer, conv: dict, sampling: Sampling | None = None, batch_size: int = 8,
                  schema: dict | None = None, narrow=None):
    """A `Backend` over a loaded model; `schema` constrains every answer (the domain's emission schema), with
    `narrow` (the domain's `rules.narrow`) narrowed to each request's evidence (the last user message)."""
    sampling = sampling or Sampling()
    constraint = None
    if schema is not None:
        from evalharness.constrained import SchemaConstraint

        constraint = SchemaConstraint(tokenizer, model.config.vocab_size, schema, stop_token_ids(tokenizer, conv),
                                      narrow)

    def generate(messages_list: list[list[dict]]) -> list[Generation]:
        prompts = [prompt_ids(tokenizer, conv, m) for m in messages_list]
        requests = [request_of(messages) for messages in messages_list]
        outputs = generate_ids(model, tokenizer, conv, prompts, sampling, batch_size, constraint, requests)
        return [Generation(tokenizer.decode(ids, skip_special_tokens=True), seconds, len(p), len(ids))
                for p, (ids, seconds) in zip(prompts, outputs)]

    return generate


@contextlib.contextmanager
def open_runs(args, domain):
    """`eval --backend torch`: the model (with --adapter), and with --compare also its base given the prompt that
    spells out the tools, in one report."""
    if getattr(args, "threads", 0):
        import torch

        torch.set_num_threads(args.threads)
    if args.compare and not args.adapter:
        raise WebslmError("--compare needs --adapter (it compares the base model with the base + adapter)")
    schema, narrow = answer_constraint(args, domain)
    model_arg = args.model or (adapter_base_model(args.adapter) if args.adapter else "default")
    base_weights = args.base_weights or adapter_base_weights(args.adapter)
    model, tokenizer, conv = load_model(model_arg, args.adapter, args.device, base_weights)
    sampling = Sampling(args.max_new_tokens, args.temperature, args.top_p, args.seed)
    tuned = torch_backend(model, tokenizer, conv, sampling, args.batch_size, schema, narrow)
    decoding = "greedy" if args.temperature == 0 else f"temperature {args.temperature}, top-p {args.top_p}"
    decoding += (", unconstrained" if schema is None else ", constrained to the emission schema"
                 + (", narrowed to each request's evidence" if args.copy_constraint else ""))
    info = {"model": model_arg, "base_weights": base_weights, "adapter": str(args.adapter) if args.adapter else None,
            "decoding": decoding}
    if not args.compare:
        yield [Run("fine-tuned" if args.adapter else "model", tuned, info)]
        return

    def base(messages_list):
        # the base model never learned the task: give it the prompt that spells out the tools
        prompted = [[{**m, "content": domain.base_prompt} if m["role"] == "system" else m for m in messages]
                    for messages in messages_list]
        with model.disable_adapter():
            return tuned(prompted)

    yield [Run("base+prompt", base, {**info, "adapter": None}), Run("fine-tuned", tuned, info)]
