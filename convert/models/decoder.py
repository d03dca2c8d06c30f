"""The Llama-family decoder (Llama / SmolLM2, Qwen2 / Qwen2.5, Qwen3) on tvm.relax.frontend.nn, with q4 weights.

Read it top to bottom: quantized linear layers, attention through TVM's paged KV cache (RoPE applied by the
cache), SwiGLU MLP, pre-norm blocks, and the four entry points web-llm calls: `embed`, `prefill`, `decode`,
`create_tir_paged_kv_cache`. Parameter names are MLC's for the family (fused q/k/v `qkv_proj` for Llama, `c_attn`
for Qwen2; `gate_up_proj`; `q_weight`/`q_scale` pairs for q4) so `convert/weights.py` can fill them from a Hugging
Face checkpoint and MLC's own libraries read our weights.
"""

from __future__ import annotations

from tvm import te, tirx
from tvm import relax as rx
from tvm.relax.frontend import nn
from tvm.relax.frontend.nn import Tensor, op
from tvm.relax.frontend.nn.llm.kv_cache import PagedKVCache, RopeMode, TIRPagedKVCache

from convert.models.config import DecoderConfig
from webslm.q4 import GROUP_SIZE, PACK, ZERO, Quantization


def _dequantized(q_weight: te.Tensor, q_scale: te.Tensor, dtype: str):
    """Element (row, col) of a q4 matrix as a TE expression builder (fused into the consumer kernel)."""

    def element(row, col):
        shift = ((col % PACK) * 4).astype("uint32")
        nibble = (q_weight[row, col // PACK] >> shift) & tirx.const(0xF, "uint32")
        return (nibble.astype(dtype) - tirx.const(ZERO, dtype)) * q_scale[row, col // GROUP_SIZE].astype(dtype)

    return element


def q4_matmul(x: Tensor, q_weight: Tensor, q_scale: Tensor, out_dtype: str) -> Tensor:
    """y[..., o] = sum_k x[..., k] * W[o, k] with W dequantized on the fly, accumulating in float32."""

    def compute(x, q_weight, q_scale):
        in_features = x.shape[-1]
        out_features = q_weight.shape[0]
        weight = te.compute((out_features, in_features), _dequantized(q_weight, q_scale, "float32"),
                            name="dequantize")
        k = te.reduce_axis((0, in_features), name="k")
        acc = te.compute(
            (*x.shape[:-1], out_features),
            lambda *i: te.sum(x[(*i[:-1], k)].astype("float32") * weight[i[-1], k], axis=k),
            name="matmul")
        if out_dtype == "float32":
            return acc
        return te.compute(acc.shape, lambda *i: acc[i].astype(out_dtype), name="cast")

    return op.tensor_expr_op(compute, "q4_matmul", [x, q_weight, q_scale])


class Linear(nn.Module):
    """A Linear layer stored q4 (q_weight, q_scale) or unquantized (weight), with an optional bias and an optional
    runtime LoRA branch: y = W x + B (A x), A [parts * rank, in], B [out, parts * rank], kept unquantized so an
    adapter can be swapped by overwriting them. A fused layer (qkv, gate_up) has one rank block per part and B is
    block-diagonal; the adapter's scale (alpha / r) is folded into B; all-zero A and B give exactly W x."""

    def __init__(self, in_features: int, out_features: int, quant: Quantization, bias: bool = False,
                 lora_rank: int = 0, lora_parts: int = 1):
        self.quant = quant
        self.dtype = quant.model_dtype
        if quant.quantized:
            self.q_weight = nn.Parameter((out_features, in_features // PACK), "uint32")
            self.q_scale = nn.Parameter((out_features, in_features // GROUP_SIZE), quant.scale_dtype)
        else:
            self.weight = nn.Parameter((out_features, in_features), self.dtype)
        self.bias = nn.Parameter((out_features,), self.dtype) if bias else None
        self.lora_A = self.lora_B = None
        if lora_rank:
            self.lora_A = nn.Parameter((lora_parts * lora_rank, in_features), self.dtype)
            self.lora_B = nn.Parameter((out_features, lora_parts * lora_rank), self.dtype)

    def forward(self, x: Tensor, out_dtype: str | None = None) -> Tensor:
        out_dtype = out_dtype or self.dtype
        if self.quant.quantized:
            y = q4_matmul(x, self.q_weight, self.q_scale, out_dtype)
        else:
            y = op.matmul(x, op.permute_dims(self.weight), out_dtype=out_dtype)
        if self.bias is not None:
            y = y + self.bias.astype(out_dtype)
        if self.lora_A is not None:
            # Accumulate in float32 as q4_matmul does: summed in float16 (q4f16_1), an adapter's logits drifted 0.1 from
            # PEFT's within 3 tokens on a tiny model, where the base stays within 0.01.
            a, b = self.lora_A, self.lora_B
            if self.dtype != "float32":
                x, a, b = x.astype("float32"), a.astype("float32"), b.astype("float32")
            low_rank = op.matmul(x, op.permute_dims(a))
            y = y + op.matmul(low_rank, op.permute_dims(b), out_dtype=out_dtype)
        return y


class Embedding(nn.Module):
    """Token embedding, q4 or not; with tied embeddings it is also the output layer."""

    def __init__(self, vocab_size: int, hidden_size: int, quant: Quantization):
        self.quant = quant
        self.dtype = quant.model_dtype
        self.hidden_size = hidden_size
        if quant.quantized:
            self.q_weight = nn.Parameter((vocab_size, hidden_size // PACK), "uint32")
            self.q_scale = nn.Parameter((vocab_size, hidden_size // GROUP_SIZE), quant.scale_dtype)
        else:
            self.weight = nn.Parameter((vocab_size, hidden_size), self.dtype)

    def forward(self, token_ids: Tensor) -> Tensor:
        if not self.quant.quantized:
            return op.take(self.weight, token_ids, axis=0)
        dtype, hidden = self.dtype, self.hidden_size

        def compute(ids, q_weight, q_scale):
            element = _dequantized(q_weight, q_scale, dtype)
            return te.compute((ids.shape[0], hidden), lambda i, h: element(ids[i], h), name="embed")

        return op.tensor_expr_op(compute, "q4_embed", [token_ids, self.q_weight, self.q_scale])

    def lm_head(self, x: Tensor) -> Tensor:
        if self.quant.quantized:
            return q4_matmul(x, self.q_weight, self.q_scale, "float32")
        return op.matmul(x, op.permute_dims(self.weight), out_dtype="float32")


class Attention(nn.Module):
    def __init__(self, cfg: DecoderConfig, quant: Quantization, lora_rank: int = 0):
        self.num_heads = cfg.num_attention_heads
        self.num_kv_heads = cfg.num_key_value_heads
        self.head_dim = cfg.head_dim
        qkv_out = (self.num_heads + 2 * self.num_kv_heads) * self.head_dim
        self.qkv_name = cfg.qkv_name
        setattr(self, self.qkv_name, Linear(cfg.hidden_size, qkv_out, quant, bias=cfg.qkv_bias, lora_rank=lora_rank,
                                            lora_parts=3))
        self.o_proj = Linear(self.num_heads * self.head_dim, cfg.hidden_size, quant, lora_rank=lora_rank)
        self.q_norm = self.k_norm = None
        if cfg.qk_norm:  # Qwen3: each head of q and k RMS-normalized before RoPE (the cache applies RoPE)
            dtype = quant.model_dtype
            self.q_norm = nn.RMSNorm(self.head_dim, -1, cfg.rms_norm_eps, bias=False, dtype=dtype)
            self.k_norm = nn.RMSNorm(self.head_dim, -1, cfg.rms_norm_eps, bias=False, dtype=dtype)

    def forward(self, x: Tensor, kv_cache: PagedKVCache, layer_id: int) -> Tensor:
        batch, seq, _ = x.shape
        qkv_proj = getattr(self, self.qkv_name)
        qkv = op.reshape(qkv_proj(x), (batch, seq, self.num_heads + 2 * self.num_kv_heads, self.head_dim))
        if self.q_norm is not None:
            q, k, v = op.split(qkv, [self.num_heads, self.num_heads + self.num_kv_heads], axis=2)
            qkv = op.concat([self.q_norm(q), self.k_norm(k), v], dim=2)
        out = kv_cache.attention_with_fused_qkv(layer_id, qkv, self.num_heads, sm_scale=self.head_dim ** -0.5)
        return self.o_proj(op.reshape(out, (batch, seq, self.num_heads * self.head_dim)))


class MLP(nn.Module):
    def __init__(self, cfg: DecoderConfig, quant: Quantization, lora_rank: int = 0):
        self.gate_up_proj = Linear(cfg.hidden_size, 2 * cfg.intermediate_size, quant, lora_rank=lora_rank,
                                   lora_parts=2)
        self.down_proj = Linear(cfg.intermediate_size, cfg.hidden_size, quant, lora_rank=lora_rank)

    def forward(self, x: Tensor) -> Tensor:
        gate, up = op.split(self.gate_up_proj(x), 2, axis=-1)
        return self.down_proj(op.silu(gate) * up)


class DecoderLayer(nn.Module):
    def __init__(self, cfg: DecoderConfig, quant: Quantization, lora_rank: int = 0):
        dtype = quant.model_dtype
        self.input_layernorm = nn.RMSNorm(cfg.hidden_size, -1, cfg.rms_norm_eps, bias=False, dtype=dtype)
        self.self_attn = Attention(cfg, quant, lora_rank)
        self.post_attention_layernorm = nn.RMSNorm(cfg.hidden_size, -1, cfg.rms_norm_eps, bias=False, dtype=dtype)
        self.mlp = MLP(cfg, quant, lora_rank)

    def forward(self, x: Tensor, kv_cache: PagedKVCache, layer_id: int) -> Tensor:
        x = x + self.self_attn(self.input_layernorm(x), kv_cache, layer_id)
        return x + self.mlp(self.post_attention_layernorm(x))


class DecoderModel(nn.Module):
    def __init__(self, cfg: DecoderConfig, quant: Quantization, lora_rank: int = 0):
        self.embed_tokens = Embedding(cfg.vocab_size, cfg.hidden_size, quant)
        self.layers = nn.ModuleList([DecoderLayer(cfg, quant, lora_rank) for _ in range(cfg.num_hidden_layers)])
        self.norm = nn.RMSNorm(cfg.hidden_size, -1, cfg.rms_norm_eps, bias=False, dtype=quant.model_dtype)

    def forward(self, x: Tensor, kv_cache: PagedKVCache) -> Tensor:
        for layer_id, layer in enumerate(self.layers):
            x = layer(x, kv_cache, layer_id)
        return self.norm(x)


class CausalLM(nn.Module):
    """Entry points with web-llm's calling convention (params passed packed, after the other arguments)."""

    def __init__(self, cfg: DecoderConfig, quant: Quantization, lora_rank: int = 0):
        self.cfg = cfg
        self.quant = quant
        self.model = DecoderModel(cfg, quant, lora_rank)
        if not cfg.tie_word_embeddings:
            self.lm_head = Linear(cfg.hidden_size, cfg.vocab_size, quant)

    def _logits(self, hidden: Tensor) -> Tensor:
        if self.cfg.tie_word_embeddings:
            return self.model.embed_tokens.lm_head(hidden)
        return self.lm_head(hidden, out_dtype="float32")

    def embed(self, input_ids: Tensor) -> Tensor:
        return self.model.embed_tokens(input_ids)

    def prefill(self, input_embed: Tensor, paged_kv_cache: PagedKVCache):
        hidden = self.model(input_embed, paged_kv_cache)

        def last_position(h):
            return te.compute((h.shape[0], 1, h.shape[2]), lambda b, _, d: h[b, h.shape[1] - 1, d], name="last")

        hidden = op.tensor_expr_op(last_position, "take_last_position", [hidden])
        return self._logits(hidden), paged_kv_cache

    def decode(self, input_embed: Tensor, paged_kv_cache: PagedKVCache):
        return self._logits(self.model(input_embed, paged_kv_cache)), paged_kv_cache

    def create_tir_paged_kv_cache(self, max_batch_size: tirx.Var, max_total_seq_len: tirx.Var,
                                  prefill_chunk_size: tirx.Var, page_size: tirx.Var,
                                  support_sliding_window: tirx.Var) -> PagedKVCache:
        cfg = self.cfg
        return TIRPagedKVCache(
            attn_kind="mha",
            max_batch_size=max_batch_size,
            max_total_seq_len=max_total_seq_len,
            prefill_chunk_size=prefill_chunk_size,
            page_size=page_size,
            support_sliding_window=support_sliding_window,
            layer_partition=rx.ShapeExpr([0, cfg.num_hidden_layers]),
            num_hidden_layers=cfg.num_hidden_layers,
            num_attention_heads=cfg.num_attention_heads,
            num_key_value_heads=cfg.num_key_value_heads,
            qk_head_dim=cfg.head_dim,
            v_head_dim=cfg.head_dim,
            mla_original_qk_head_dim=0,
            mla_original_v_head_dim=0,
            rope_mode=RopeMode.NORMAL,
            rope_scale=1,
            rope_theta=cfg.rope_theta,
            rope_scaling={},
            rope_ext_factors=rx.prim_value(0),
            rotary_dim=cfg.head_dim,
            enable_disaggregation=False,
            dtype=self.quant.model_dtype,
            target=_current_target(),
        )

    def get_default_spec(self) -> nn.spec.ModuleSpec:
        hidden, dtype = self.cfg.hidden_size, self.quant.model_dtype
        packed = {"param_mode": "packed", "effect_mode": "none"}
        spec = {
            "embed": {"input_ids": nn.spec.Tensor(["seq_len"], "int32"), "$": packed},
            "prefill": {"input_embed": nn.spec.Tensor([1, "seq_len", hidden], dtype),
                        "paged_kv_cache": nn.spec.Object(object_type=PagedKVCache), "$": packed},
            "decode": {"input_embed": nn.spec.Tensor([1, 1, hidden], dtype),
                       "paged_kv_cache": nn.spec.Object(object_type=PagedKVCache), "$": packed},
            "create_tir_paged_kv_cache": {
                "max_batch_size": int, "max_total_seq_len": int, "prefill_chunk_size": int, "page_size": int,
                "support_sliding_window": int, "$": {"param_mode": "none", "effect_mode": "none"}},
        }
        return nn.spec.ModuleSpec.from_raw(spec, self)


def _current_target():
    from tvm.target import Target

    target = Target.current(allow_none=True)
    if target is None:
        raise RuntimeError("export the model inside `with target:` (the KV cache kernels depend on the target)")
    return target
