"""mlc-chat-config.json: what web-llm needs besides weights and the library (conversation template as an
object, tokenizer info, window sizes, sampling defaults)."""

from __future__ import annotations

import json
from pathlib import Path

from convert.models.config import DecoderConfig
from webslm.errors import WebslmError
from webslm.prompting import conv_template_for

TOKENIZER_FILES = ("tokenizer.json", "tokenizer_config.json", "vocab.json", "merges.txt")


def tokenizer_info(model_dir: Path) -> dict:
    spec = json.loads((Path(model_dir) / "tokenizer.json").read_text())
    decoder = (spec.get("decoder") or {}).get("type")
    decoders = [d.get("type") for d in (spec.get("decoder") or {}).get("decoders", [])]
    byte_level = decoder == "ByteLevel" or "ByteLevel" in decoders
    return {
        "token_postproc_method": "byte_level" if byte_level else "byte_fallback",
        "prepend_space_in_encode": False,
        "strip_space_in_decode": False,
    }


def chat_config(model_dir: Path, cfg: DecoderConfig, quantization: str, tokenizer) -> dict:
    model_dir = Path(model_dir)
    if not (model_dir / "tokenizer.json").is_file():
        raise WebslmError(f"{model_dir}: no tokenizer.json (web-llm needs the fast tokenizer file); "
                          "save the tokenizer with a fast tokenizer class")
    generation = {}
    if (model_dir / "generation_config.json").is_file():
        generation = json.loads((model_dir / "generation_config.json").read_text())
    return {
        "version": "0.1.0",
        "model_type": cfg.model_type,
        "quantization": quantization,
        "model_config": cfg.to_dict(),
        "vocab_size": cfg.vocab_size,
        "context_window_size": cfg.context_window_size,
        "sliding_window_size": -1,
        "prefill_chunk_size": cfg.prefill_chunk_size,
        "attention_sink_size": -1,
        "tensor_parallel_shards": 1,
        "temperature": generation.get("temperature", 0.0) or 0.0,
        "presence_penalty": 0.0,
        "frequency_penalty": 0.0,
        "repetition_penalty": 1.0,
        "top_p": generation.get("top_p", 1.0),
        "tokenizer_files": [f for f in TOKENIZER_FILES if (model_dir / f).is_file()],
        "tokenizer_info": tokenizer_info(model_dir),
        "conv_template": conv_template_for(tokenizer),
        "pad_token_id": tokenizer.pad_token_id or 0,
        "bos_token_id": tokenizer.bos_token_id if tokenizer.bos_token_id is not None else 1,
        "eos_token_id": tokenizer.eos_token_id,
    }
