"""A race-free replacement for the attention-state merge of TVM 0.27's paged KV cache.

When a chunk of several tokens is prefilled after tokens already in the cache (a second prefill in one sequence: the
page's forced-token loop, web-llm's chunked prefill of a long prompt, a multi-turn chat), the cache computes the
chunk's attention in two parts, over the chunk itself (causal) and over the cached pages, and merges the two partial
results with `tir_attention_merge_state`: out = (o1·2^s1 + o2·2^s2) / (2^s1 + 2^s2), s = log2(2^s1 + 2^s2), s1 and s2
the parts' log-sum-exps in base 2.

TVM's kernel for that runs one thread per few elements of a head and has every thread both read the head's s1 and
write the merged s back, with no barrier between: a thread that writes before another has read gives that other
thread the merged s, so it weighs its elements wrongly. On a GPU whose subgroup holds the whole head the threads run
in lockstep and it works; on Mesa's lavapipe (8 invocations at a time) it does not: measured on SmolLM2-135M, the
logits after a 4-token chunk appended to a 37-token prompt were off by up to 14.8 from the same tokens decoded one
by one, enough to change the greedy token. Here each thread owns one (position, head) pair: it reads both states,
merges the head's elements and writes the state, so no thread reads what another writes.
"""

from __future__ import annotations

import tvm
from tvm.script import tirx as T

MERGE_FUNCTION = "tir_attention_merge_state"
THREADS = 64


def merge_attention_states(num_heads: int, head_dim: int, dtype: str):
    """merge(v[n, heads, dim], s[n, heads], v_other, s_other): v and s become the merged output and state, in place."""

    @T.prim_func(s_tir=True)
    def merge_state(var_v: T.handle, var_s: T.handle, var_v_other: T.handle, var_s_other: T.handle):
        T.func_attr({"tirx.is_scheduled": True, "tirx.noalias": True})
        n = T.int32()
        v = T.match_buffer(var_v, (n, num_heads, head_dim), dtype)
        s = T.match_buffer(var_s, (n, num_heads), "float32")
        v_other = T.match_buffer(var_v_other, (n, num_heads, head_dim), dtype)
        s_other = T.match_buffer(var_s_other, (n, num_heads), "float32")
        with T.sblock("root"):
            for bx in T.thread_binding((n * num_heads + THREADS - 1) // THREADS, thread="blockIdx.x"):
                for tx in T.thread_binding(THREADS, thread="threadIdx.x"):
                    if bx * THREADS + tx < n * num_heads:
                        row = (bx * THREADS + tx) // num_heads
                        head = (bx * THREADS + tx) % num_heads
                        top = T.max(s[row, head], s_other[row, head])
                        weight = T.exp2(s[row, head] - top)
                        weight_other = T.exp2(s_other[row, head] - top)
                        for d in T.serial(head_dim):
                            v[row, head, d] = T.Cast(dtype, (T.Cast("float32", v[row, head, d]) * weight
                                                             + T.Cast("float32", v_other[row, head, d]) * weight_other)
                                                     / (weight + weight_other))
                        s[row, head] = T.log2(weight + weight_other) + top

    return merge_state


def replace_attention_merge(mod: tvm.IRModule, num_heads: int, head_dim: int, dtype: str) -> tvm.IRModule:
    """`mod` with the paged KV cache's merge kernel replaced by `merge_attention_states` (same name and calling
    convention). Raises if the module has no such kernel: a TVM that renamed it needs this file read again."""
    found = [gv for gv in mod.get_global_vars() if gv.name_hint == MERGE_FUNCTION]
    if not found:
        raise RuntimeError(f"no {MERGE_FUNCTION} in the exported module: TVM's paged KV cache changed; check "
                           f"convert/models/attention_merge.py against it")
    mod[found[0]] = merge_attention_states(num_heads, head_dim, dtype).with_attr("global_symbol", MERGE_FUNCTION)
    return mod
