"""Tiny random chat models for fast tests: a Llama or Qwen2 with hidden size 64, 2 layers, and a byte-level BPE
tokenizer of ~500 tokens trained in-process on the domain's own phrases, with a ChatML chat template.

With the real 49k vocabulary the LM head alone makes a test 10-40 s; with 500 tokens, 5 training steps and a merge
take about 2 s. `make_tiny_model(dir)` writes an ordinary Hugging Face directory any stage can load.
"""

from __future__ import annotations

from pathlib import Path

CHATML_TEMPLATE = (
    "{% for message in messages %}{% if loop.first and messages[0]['role'] != 'system' %}"
    "{{ '<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n' }}{% endif %}"
    "{{'<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n'}}{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"
)
SPECIAL_TOKENS = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]

# Written for these tests to behave like Qwen3's own template on text turns without tools (it is not Qwen's file):
# no default system message; an assistant turn after the last user message opens with a <think> block (empty here,
# as our records have no reasoning); earlier assistant turns have none; the generation prompt adds an empty
# <think> block when `enable_thinking` is false.
QWEN3_STYLE_TEMPLATE = (
    "{% if messages[0]['role'] == 'system' %}{{ '<|im_start|>system\n' + messages[0]['content'] + '<|im_end|>\n' }}"
    "{% endif %}"
    "{% set ns = namespace(last_user=-1) %}"
    "{% for message in messages %}{% if message['role'] == 'user' %}{% set ns.last_user = loop.index0 %}{% endif %}"
    "{% endfor %}"
    "{% for message in messages %}"
    "{% if message['role'] == 'user' or (message['role'] == 'system' and not loop.first) %}"
    "{{ '<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>\n' }}"
    "{% elif message['role'] == 'assistant' %}"
    "{% if loop.last and loop.index0 > ns.last_user %}"
    "{{ '<|im_start|>assistant\n<think>\n\n</think>\n\n' + message['content'] }}"
    "{% else %}{{ '<|im_start|>assistant\n' + message['content'] }}{% endif %}"
    "{{ '<|im_end|>\n' }}"
    "{% endif %}{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}"
    "{% if enable_thinking is defined and enable_thinking is false %}{{ '<think>\n\n</think>\n\n' }}{% endif %}"
    "{% endif %}"
)
QWEN3_SPECIAL_TOKENS = ["<think>", "</think>"]


def _corpus() -> list[str]:
    """Text the tokenizer learns its merges from: the system prompt, tool names and some generated records."""
    from webslm.domain import load_domain

    domain = load_domain()
    lines = [domain.system_prompt, *domain.tools]
    try:
        from train.dataset.generate import generate_records

        for record in generate_records(domain, 80, seed=0):
            lines.append(record["instruction"])
            lines.append(record["output"])
    except Exception:  # the generator's API may change; the system prompt alone still makes a usable tokenizer
        pass
    return lines


def make_tiny_tokenizer(vocab: int = 500, qwen3: bool = False):
    """A byte-level BPE tokenizer with ChatML's special tokens; `qwen3` adds <think>/</think> and a template that
    behaves like Qwen3's."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    bpe = Tokenizer(models.BPE())
    bpe.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    bpe.decoder = decoders.ByteLevel()
    special = SPECIAL_TOKENS + (QWEN3_SPECIAL_TOKENS if qwen3 else [])
    trainer = trainers.BpeTrainer(vocab_size=vocab, special_tokens=special, show_progress=False,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    bpe.train_from_iterator(_corpus(), trainer)
    tokenizer = PreTrainedTokenizerFast(tokenizer_object=bpe, bos_token="<|im_start|>", eos_token="<|im_end|>",
                                        pad_token="<|im_end|>", unk_token="<|endoftext|>")
    tokenizer.chat_template = QWEN3_STYLE_TEMPLATE if qwen3 else CHATML_TEMPLATE
    return tokenizer


def make_tiny_model(out_dir: Path, arch: str = "llama", vocab: int = 500, seed: int = 0,
                    hidden: int = 64, layers: int = 2, tied: bool = True) -> Path:
    """Write a random `arch` ("llama" | "qwen2" | "qwen3") model with a trained tiny tokenizer to `out_dir`. The Qwen3
    has q/k norms, as Qwen3 does an explicit head_dim whose heads are wider than hidden / heads, and a chat template
    that behaves like Qwen3's (thinking switched off by `enable_thinking=False`)."""
    import torch
    from transformers import AutoModelForCausalLM, LlamaConfig, Qwen2Config, Qwen3Config

    if hidden % 32:
        raise ValueError("hidden size must be a multiple of 32 (q4 groups of 32 along the input dimension)")
    out_dir = Path(out_dir)
    tokenizer = make_tiny_tokenizer(vocab, qwen3=arch == "qwen3")
    common = dict(vocab_size=len(tokenizer), hidden_size=hidden, intermediate_size=2 * hidden,
                  num_hidden_layers=layers, num_attention_heads=2, num_key_value_heads=1,
                  max_position_embeddings=1024, bos_token_id=tokenizer.bos_token_id,
                  eos_token_id=tokenizer.eos_token_id, pad_token_id=tokenizer.pad_token_id, rms_norm_eps=1e-5)
    if arch == "llama":
        config = LlamaConfig(**common, tie_word_embeddings=tied)
    elif arch == "qwen2":
        config = Qwen2Config(**common, tie_word_embeddings=tied)
    elif arch == "qwen3":
        config = Qwen3Config(**common, head_dim=hidden, tie_word_embeddings=tied)
    else:
        raise ValueError(f"arch must be 'llama', 'qwen2' or 'qwen3', got {arch!r}")
    torch.manual_seed(seed)
    model = AutoModelForCausalLM.from_config(config, dtype=torch.float32)
    model.save_pretrained(out_dir, safe_serialization=True)
    tokenizer.save_pretrained(out_dir)
    return out_dir


_CACHE: dict[tuple, Path] = {}


def cached_tiny_model(arch: str = "llama", vocab: int = 500) -> Path:
    """One tiny model per (arch, vocab) per test process, in a temporary directory removed at exit."""
    import atexit
    import shutil
    import tempfile

    key = (arch, vocab)
    if key not in _CACHE:
        root = Path(tempfile.mkdtemp(prefix=f"webslm-tiny-{arch}-"))
        atexit.register(shutil.rmtree, root, True)
        _CACHE[key] = make_tiny_model(root / "model", arch=arch, vocab=vocab)
    return _CACHE[key]


def write_tiny_dataset(path: Path, n: int = 24, seed: int = 3, fmt: str = "seed") -> Path:
    """`n` generated Cesium records in seed or chat format."""
    from train.dataset.generate import generate_records
    from webslm.records import seed_to_chat, write_records
    from webslm.domain import load_domain

    domain = load_domain()
    records = generate_records(domain, n, seed=seed)
    if fmt == "chat":
        records = [seed_to_chat(r, domain.system_prompt) for r in records]
    write_records(Path(path), records)
    return Path(path)
