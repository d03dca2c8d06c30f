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


def make_tiny_tokenizer(vocab: int = 500):
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    bpe = Tokenizer(models.BPE())
    bpe.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    bpe.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=vocab, special_tokens=SPECIAL_TOKENS, show_progress=False,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    bpe.train_from_iterator(_corpus(), trainer)
    tokenizer = PreTrainedTokenizerFast(tokenizer_object=bpe, bos_token="<|im_start|>", eos_token="<|im_end|>",
                                        pad_token="<|im_end|>", unk_token="<|endoftext|>")
    tokenizer.chat_template = CHATML_TEMPLATE
    return tokenizer


def make_tiny_model(out_dir: Path, arch: str = "llama", vocab: int = 500, seed: int = 0,
                    hidden: int = 64, layers: int = 2, tied: bool = True) -> Path:
    """Write a random `arch` ("llama" | "qwen2" | "qwen3") model with a trained tiny tokenizer to `out_dir`. The Qwen3
    has q/k norms and, as Qwen3 does, an explicit head_dim whose heads are wider than hidden / heads."""
    import torch
    from transformers import AutoModelForCausalLM, LlamaConfig, Qwen2Config, Qwen3Config

    if hidden % 32:
        raise ValueError("hidden size must be a multiple of 32 (q4 groups of 32 along the input dimension)")
    out_dir = Path(out_dir)
    tokenizer = make_tiny_tokenizer(vocab)
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
