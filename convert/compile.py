"""Compile a decoder to a WebGPU model library: relax IRModule -> fused, dlight-scheduled kernels -> VM executable.

The IRModule holds everything web-llm calls: the model entry points (convert/models/decoder.py), the sampling
functions (convert/sampling.py) and `_metadata`, a JSON string describing parameters and sizes.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import tvm
from tvm import relax
from tvm.s_tir import dlight as dl
from tvm.target import Target

from convert.models.attention_merge import replace_attention_merge
from convert.models.config import DecoderConfig
from convert.models.decoder import CausalLM
from webslm.q4 import Quantization
from convert.sampling import sampling_module

# Functions web-llm looks up by name; everything else in the module is internal.
ENTRY_FUNCTIONS = [
    "_metadata", "embed", "prefill", "decode", "create_tir_paged_kv_cache", "apply_bitmask_inplace",
    "apply_penalty_inplace", "apply_logit_bias_inplace", "softmax_with_temperature", "argsort_probs",
    "sample_with_top_p",
]


def webgpu_target() -> Target:
    # Targets are JSON-like dicts in TVM 0.27 (the old "webgpu -host=..." string form raises).
    return Target({"kind": "webgpu"},
                  host={"kind": "llvm", "mtriple": "wasm32-unknown-unknown-wasm", "mcpu": "mvp"})


@dataclass(frozen=True)
class ParamSpec:
    name: str
    shape: tuple[int, ...]
    dtype: str


def build_ir_module(cfg: DecoderConfig, quant: Quantization, target: Target,
                    lora_rank: int = 0) -> tuple[tvm.IRModule, list[ParamSpec]]:
    model = CausalLM(cfg, quant, lora_rank)
    with target:
        mod, named_params = model.export_tvm(spec=model.get_default_spec())
    mod = replace_attention_merge(mod, cfg.num_attention_heads, cfg.head_dim, quant.model_dtype)
    params = [ParamSpec(name, tuple(int(d) for d in p.shape), p.dtype) for name, p in named_params]
    mod.update(sampling_module(cfg.vocab_size))
    metadata = model_metadata(cfg, quant, params, lora_rank)
    bb = relax.BlockBuilder(mod)
    with bb.function("_metadata", params=[]):
        bb.emit_func_output(tvm.ir.StringImm(json.dumps(metadata)))
    return bb.get(), params


def model_metadata(cfg: DecoderConfig, quant: Quantization, params: list[ParamSpec],
                   lora_rank: int = 0) -> dict:
    import numpy as np

    param_bytes = sum(int(np.prod(p.shape)) * np.dtype(p.dtype).itemsize for p in params)
    return {
        "model_type": cfg.model_type,
        "quantization": quant.name,
        "context_window_size": cfg.context_window_size,
        "sliding_window_size": -1,
        "attention_sink_size": -1,
        "prefill_chunk_size": cfg.prefill_chunk_size,
        "tensor_parallel_shards": 1,
        "pipeline_parallel_stages": 1,
        "disaggregation": False,
        "kv_state_kind": "kv_cache",
        "max_batch_size": 1,
        "params": [{"name": p.name, "shape": list(p.shape), "dtype": p.dtype, "preprocs": []} for p in params],
        "kv_cache": {
            "num_hidden_layers": cfg.num_hidden_layers,
            "num_attention_heads": cfg.num_attention_heads,
            "num_key_value_heads": cfg.num_key_value_heads,
            "head_dim": cfg.head_dim,
        },
        "memory_usage": {"params_bytes": param_bytes},
        "lora_rank": lora_rank,
    }


def lowering_pipeline(target: Target) -> tvm.transform.Pass:
    """Legalize, fuse (dequantize goes into the matmul kernels), schedule with dlight, lower for the VM."""
    return tvm.transform.Sequential([
        relax.transform.LegalizeOps(),
        relax.transform.AnnotateTIROpPattern(),
        relax.transform.FoldConstant(),
        relax.transform.FuseOps(),
        relax.transform.FuseTIR(),
        relax.transform.DeadCodeElimination(ENTRY_FUNCTIONS),
        dl.ApplyDefaultSchedule(dl.gpu.Matmul(), dl.gpu.GEMV(), dl.gpu.Reduction(), dl.gpu.GeneralReduction(),
                                dl.gpu.Fallback()),
        relax.transform.RewriteDataflowReshape(),
        relax.transform.ToNonDataflow(),
        relax.transform.RemovePurityChecking(),
        relax.transform.CallTIRRewrite(),
        relax.transform.StaticPlanBlockMemory(),
        relax.transform.LowerAllocTensor(),
        relax.transform.KillAfterLastUse(),
        relax.transform.LowerRuntimeBuiltin(),
        relax.transform.ComputePrimValue(),
        relax.transform.VMShapeLower(),
        relax.transform.AttachGlobalSymbol(),
    ])


def compile_executable(mod: tvm.IRModule, target: Target, model_dtype: str = "float32") -> relax.VMExecutable:
    pipeline = lowering_pipeline(target)

    @tvm.transform.module_pass(opt_level=0)
    def within_target(mod, _ctx):
        with target:
            return pipeline(mod)

    # TVM 0.27's TIR common-subexpression elimination breaks the float16 `batch_tree_attn` kernel of its own paged KV
    # cache ("variable cse_v13 has been used before definition!" in SplitHostDevice), so q4f16_1 never compiled.
    # Without it every kernel builds; float32 libraries keep the pass (their kernels are the ones verified).
    config = {"tirx.disable_cse_tir": True} if model_dtype == "float16" else {}
    with tvm.transform.PassContext(config=config):
        return relax.build(mod, target, relax_pipeline=within_target, system_lib=True)
