"""The logit-processing and sampling functions web-llm calls on every generated token.

web-llm 0.2.86 refuses a model library without all six. Their calling conventions (from its LLMChatPipeline):
- apply_bitmask_inplace(logits[b,V] f32, seq_ids[n] i32, bitmask[b, ceil(V/32)] i32)   grammar mask, in place
- apply_logit_bias_inplace(logits[b,V], pos2seq_id[m] i32, token_ids[m] i32, bias[m] f32)   in place
- apply_penalty_inplace(logits[b,V], seq_ids[n], pos2seq_id[m], token_ids[m], token_cnt[m] i32,
                        penalties[n,3] f32 = (presence, frequency, repetition))   in place
- softmax_with_temperature(logits[b,1,V], temperature[b]) -> probs[b,1,V]
- argsort_probs(probs[b,V]) -> (sorted_probs[b,V] f32, sorted_ids[b,V] i32), descending
- sample_with_top_p(sorted_probs, sorted_ids, uniform[s] f32, sample_indices[s] i32, top_p[b]) -> tokens[s] i32

TVM's own GPU sort uses blockIdx.z, which the WebGPU code generator rejects, so `argsort_probs` is our bitonic
sort over the vocabulary padded to a power of two N (padding keys are -1, so it sorts last and is sliced off). Each
thread keeps 16 (key, id) pairs in registers and runs 4 bitonic steps per launch: 37 launches for N = 65536 instead
of the 137 of one step per launch (3-4x faster on SwiftShader). Workgroup-memory block sorts were tried and are 5x
slower there: SwiftShader's workgroupBarrier is expensive.
"""

from __future__ import annotations

import tvm
from tvm.script import ir as I
from tvm.script import relax as R
from tvm.script import tirx as T

THREADS = 256
# Each thread of the sort keeps 2**GROUP_BITS (key, id) pairs in registers and runs that many bitonic steps on them
# per launch: 4 divides the launches by about 4 (137 -> 37 for 65536) and keeps 32 values per thread.
GROUP_BITS = 4  # _register_step and the first launch of bitonic_argsort are written out for 16 pairs
NEG_INF = -3.4028234663852886e38


def _lo(pair: int, shift: int) -> int:
    """The lower index of pair number `pair` in a bitonic step of stride 2**shift (insert a 0 bit at `shift`)."""
    return ((pair >> shift) << (shift + 1)) | (pair & ((1 << shift) - 1))


def _descending(base, lo: int, stage: int):
    return T.bitwise_and(base + lo, 2 << stage) == 0


def _next_pow2(n: int) -> int:
    return 1 << (n - 1).bit_length()


def sampling_module(vocab_size: int) -> tvm.IRModule:
    """An IRModule with the six functions, specialised to `vocab_size` (web-llm's `vocab_size`)."""
    V = vocab_size
    W = (V + 31) // 32
    N = max(_next_pow2(V), 1 << GROUP_BITS)
    LOG_N = N.bit_length() - 1
    G = 1 << GROUP_BITS  # elements per thread
    GROUPS = N // G

    @T.macro
    def _compare_exchange(rk, ri, lo, hi, descending):
        # (key, id) pairs in registers; equal keys order by ascending id, so the order is total and a step that
        # finds its pairs already ordered changes nothing
        ka = rk[lo]
        kb = rk[hi]
        ia = ri[lo]
        ib = ri[hi]
        if T.Or(ka > kb, T.And(ka == kb, ia < ib)) != descending:
            rk[lo] = kb
            rk[hi] = ka
            ri[lo] = ib
            ri[hi] = ia

    @T.macro
    def _register_step(rk, ri, base, stage, shift):
        # one bitonic step with stride 2**shift over the 16 register-held pairs, written out so that every register
        # index is a constant (dynamically indexed arrays live in memory, not registers); the direction of a pair
        # is that of the global network: bit stage + 1 of its global index (base + lo)
        _compare_exchange(rk, ri, _lo(0, shift), _lo(0, shift) + (1 << shift),
                          _descending(base, _lo(0, shift), stage))
        _compare_exchange(rk, ri, _lo(1, shift), _lo(1, shift) + (1 << shift),
                          _descending(base, _lo(1, shift), stage))
        _compare_exchange(rk, ri, _lo(2, shift), _lo(2, shift) + (1 << shift),
                          _descending(base, _lo(2, shift), stage))
        _compare_exchange(rk, ri, _lo(3, shift), _lo(3, shift) + (1 << shift),
                          _descending(base, _lo(3, shift), stage))
        _compare_exchange(rk, ri, _lo(4, shift), _lo(4, shift) + (1 << shift),
                          _descending(base, _lo(4, shift), stage))
        _compare_exchange(rk, ri, _lo(5, shift), _lo(5, shift) + (1 << shift),
                          _descending(base, _lo(5, shift), stage))
        _compare_exchange(rk, ri, _lo(6, shift), _lo(6, shift) + (1 << shift),
                          _descending(base, _lo(6, shift), stage))
        _compare_exchange(rk, ri, _lo(7, shift), _lo(7, shift) + (1 << shift),
                          _descending(base, _lo(7, shift), stage))

    @I.ir_module
    class Sampling:
        @T.prim_func(s_tir=True)
        def bitmask_kernel(var_logits: T.handle, var_seq_ids: T.handle, var_bitmask: T.handle):
            T.func_attr({"tirx.is_scheduled": True, "tirx.noalias": True})
            b, n = T.int32(), T.int32()
            logits = T.match_buffer(var_logits, (b, V), "float32")
            seq_ids = T.match_buffer(var_seq_ids, (n,), "int32")
            bitmask = T.match_buffer(var_bitmask, (b, W), "int32")
            with T.sblock("root"):
                for bx in T.thread_binding((n * V + THREADS - 1) // THREADS, thread="blockIdx.x"):
                    for tx in T.thread_binding(THREADS, thread="threadIdx.x"):
                        if bx * THREADS + tx < n * V:
                            vs = (bx * THREADS + tx) // V
                            vt = (bx * THREADS + tx) % V
                            row = seq_ids[vs]
                            if T.bitwise_and(T.shift_right(bitmask[row, vt // 32], vt % 32), 1) == 0:
                                logits[row, vt] = T.float32(NEG_INF)

        @T.prim_func(s_tir=True)
        def logit_bias_kernel(var_logits: T.handle, var_pos2seq: T.handle, var_tokens: T.handle, var_bias: T.handle):
            T.func_attr({"tirx.is_scheduled": True, "tirx.noalias": True})
            b, m = T.int32(), T.int32()
            logits = T.match_buffer(var_logits, (b, V), "float32")
            pos2seq = T.match_buffer(var_pos2seq, (m,), "int32")
            tokens = T.match_buffer(var_tokens, (m,), "int32")
            bias = T.match_buffer(var_bias, (m,), "float32")
            with T.sblock("root"):
                for bx in T.thread_binding((m + THREADS - 1) // THREADS, thread="blockIdx.x"):
                    for tx in T.thread_binding(THREADS, thread="threadIdx.x"):
                        if bx * THREADS + tx < m:
                            vi = bx * THREADS + tx
                            logits[pos2seq[vi], tokens[vi]] = logits[pos2seq[vi], tokens[vi]] + bias[vi]

        @T.prim_func(s_tir=True)
        def penalty_kernel(var_logits: T.handle, var_seq_ids: T.handle, var_pos2seq: T.handle, var_tokens: T.handle,
                           var_counts: T.handle, var_penalties: T.handle):
            T.func_attr({"tirx.is_scheduled": True, "tirx.noalias": True})
            b, n, m = T.int32(), T.int32(), T.int32()
            logits = T.match_buffer(var_logits, (b, V), "float32")
            seq_ids = T.match_buffer(var_seq_ids, (n,), "int32")
            pos2seq = T.match_buffer(var_pos2seq, (m,), "int32")
            tokens = T.match_buffer(var_tokens, (m,), "int32")
            counts = T.match_buffer(var_counts, (m,), "int32")
            penalties = T.match_buffer(var_penalties, (n, 3), "float32")
            with T.sblock("root"):
                for bx in T.thread_binding((m + THREADS - 1) // THREADS, thread="blockIdx.x"):
                    for tx in T.thread_binding(THREADS, thread="threadIdx.x"):
                        if bx * THREADS + tx < m:
                            vi = bx * THREADS + tx
                            s = pos2seq[vi]
                            row = seq_ids[s]
                            # repetition penalty (divide positive logits, multiply negative ones), then the OpenAI
                            # presence (once per seen token) and frequency (per occurrence) penalties
                            x = logits[row, tokens[vi]]
                            x = T.if_then_else(x > T.float32(0), x / penalties[s, 2], x * penalties[s, 2])
                            logits[row, tokens[vi]] = x - penalties[s, 0] - penalties[s, 1] * T.Cast("float32", counts[vi])

        @T.prim_func(s_tir=True)
        def bitonic_argsort(var_probs: T.handle, var_keys: T.handle, var_ids: T.handle):
            T.func_attr({"tirx.is_scheduled": True, "tirx.noalias": True})
            b = T.int32()
            probs = T.match_buffer(var_probs, (b, V), "float32")
            keys = T.match_buffer(var_keys, (b, N), "float32")
            ids = T.match_buffer(var_ids, (b, N), "int32")
            with T.sblock("root"):
                # 1. stages 0 .. GROUP_BITS-1: every run of G consecutive elements sorted in one thread's registers
                for bx in T.thread_binding((b * GROUPS + THREADS - 1) // THREADS, thread="blockIdx.x"):
                    for tx in T.thread_binding(THREADS, thread="threadIdx.x"):
                        if bx * THREADS + tx < b * GROUPS:
                            rk = T.alloc_buffer((G,), "float32", scope="local")
                            ri = T.alloc_buffer((G,), "int32", scope="local")
                            vr = (bx * THREADS + tx) // GROUPS
                            base = (bx * THREADS + tx) % GROUPS * G
                            for i in T.unroll(G):
                                # padding sorts after every probability (which are >= 0)
                                rk[i] = T.if_then_else(base + i < V, probs[vr, T.min(base + i, V - 1)],
                                                       T.float32(-1))
                                ri[i] = base + i
                            # stages 0..3 of the network: strides 1; 2, 1; 4, 2, 1; 8, 4, 2, 1
                            _register_step(rk, ri, base, 0, 0)
                            _register_step(rk, ri, base, 1, 1)
                            _register_step(rk, ri, base, 1, 0)
                            _register_step(rk, ri, base, 2, 2)
                            _register_step(rk, ri, base, 2, 1)
                            _register_step(rk, ri, base, 2, 0)
                            _register_step(rk, ri, base, 3, 3)
                            _register_step(rk, ri, base, 3, 2)
                            _register_step(rk, ri, base, 3, 1)
                            _register_step(rk, ri, base, 3, 0)
                            for i in T.unroll(G):
                                keys[vr, base + i] = rk[i]
                                ids[vr, base + i] = ri[i]
                # 2. stages GROUP_BITS .. LOG_N-1, GROUP_BITS strides per launch, top down. A thread takes the G
                #    elements whose index bits low .. top vary (top = the launch's largest stride bit) and runs those
                #    steps in registers. The last launch of a stage is clamped to strides GROUP_BITS-1 .. 0 and so
                #    may repeat strides already done in this stage, which is a no-op (their pairs are ordered).
                for stage in range(GROUP_BITS, LOG_N):
                    for chunk in range((stage + GROUP_BITS) // GROUP_BITS):
                        for bx in T.thread_binding((b * GROUPS + THREADS - 1) // THREADS, thread="blockIdx.x"):
                            for tx in T.thread_binding(THREADS, thread="threadIdx.x"):
                                if bx * THREADS + tx < b * GROUPS:
                                    rk = T.alloc_buffer((G,), "float32", scope="local")
                                    ri = T.alloc_buffer((G,), "int32", scope="local")
                                    vr = (bx * THREADS + tx) // GROUPS
                                    t = (bx * THREADS + tx) % GROUPS
                                    top = T.max(stage - chunk * GROUP_BITS, GROUP_BITS - 1)
                                    low = top - (GROUP_BITS - 1)
                                    base = T.bitwise_or(T.shift_left(T.shift_right(t, low), top + 1),
                                                        T.bitwise_and(t, T.shift_left(1, low) - 1))
                                    for i in T.unroll(G):
                                        rk[i] = keys[vr, base + T.shift_left(i, low)]
                                        ri[i] = ids[vr, base + T.shift_left(i, low)]
                                    # every element of the group has bit stage + 1 (> top) of base, and so has
                                    # base + lo: bits low..top of base are 0, the + lo (< 16) carries no further
                                    _register_step(rk, ri, base, stage, 3)
                                    _register_step(rk, ri, base, stage, 2)
                                    _register_step(rk, ri, base, stage, 1)
                                    _register_step(rk, ri, base, stage, 0)
                                    for i in T.unroll(G):
                                        keys[vr, base + T.shift_left(i, low)] = rk[i]
                                        ids[vr, base + T.shift_left(i, low)] = ri[i]

        @T.prim_func(s_tir=True)
        def top_p_kernel(var_probs: T.handle, var_ids: T.handle, var_uniform: T.handle, var_rows: T.handle,
                         var_top_p: T.handle, var_out: T.handle):
            T.func_attr({"tirx.is_scheduled": True, "tirx.noalias": True})
            b, s = T.int32(), T.int32()
            probs = T.match_buffer(var_probs, (b, V), "float32")
            ids = T.match_buffer(var_ids, (b, V), "int32")
            uniform = T.match_buffer(var_uniform, (s,), "float32")
            rows = T.match_buffer(var_rows, (s,), "int32")
            top_p = T.match_buffer(var_top_p, (b,), "float32")
            out = T.match_buffer(var_out, (s,), "int32")
            with T.sblock("root"):
                for bx in T.thread_binding((s + 63) // 64, thread="blockIdx.x"):
                    for tx in T.thread_binding(64, thread="threadIdx.x"):
                        if bx * 64 + tx < s:
                            vi = bx * 64 + tx
                            total = T.alloc_buffer((1,), "float32", scope="local")
                            count = T.alloc_buffer((1,), "int32", scope="local")
                            row = rows[vi]
                            # 1. the nucleus: the shortest prefix whose mass reaches top_p (zeros end it early)
                            total[0] = probs[row, 0]
                            count[0] = 1
                            while count[0] < V and total[0] < top_p[row] and probs[row, count[0]] > T.float32(0):
                                total[0] = total[0] + probs[row, count[0]]
                                count[0] = count[0] + 1
                            # 2. inverse CDF inside the nucleus
                            threshold = uniform[vi] * total[0]
                            total[0] = probs[row, 0]
                            k = T.alloc_buffer((1,), "int32", scope="local")
                            k[0] = 0
                            while k[0] < count[0] - 1 and total[0] <= threshold:
                                k[0] = k[0] + 1
                                total[0] = total[0] + probs[row, k[0]]
                            out[vi] = ids[row, k[0]]

        @R.function
        def apply_bitmask_inplace(logits: R.Tensor(("b", V), "float32"), seq_ids: R.Tensor(("n",), "int32"),
                                  bitmask: R.Tensor(("b", W), "int32")):
            R.func_attr({"relax.force_pure": True})
            b = T.int64()
            updated = R.call_tir_inplace(Sampling.bitmask_kernel, (logits, seq_ids, bitmask), 0,
                               out_ty=R.Tensor((b, V), "float32"))
            return updated

        @R.function
        def apply_logit_bias_inplace(logits: R.Tensor(("b", V), "float32"), pos2seq_id: R.Tensor(("m",), "int32"),
                                     token_ids: R.Tensor(("m",), "int32"), logit_bias: R.Tensor(("m",), "float32")):
            R.func_attr({"relax.force_pure": True})
            b = T.int64()
            updated = R.call_tir_inplace(Sampling.logit_bias_kernel, (logits, pos2seq_id, token_ids, logit_bias), 0,
                               out_ty=R.Tensor((b, V), "float32"))
            return updated

        @R.function
        def apply_penalty_inplace(logits: R.Tensor(("b", V), "float32"), seq_ids: R.Tensor(("n",), "int32"),
                                  pos2seq_id: R.Tensor(("m",), "int32"), token_ids: R.Tensor(("m",), "int32"),
                                  token_cnt: R.Tensor(("m",), "int32"), penalties: R.Tensor(("n", 3), "float32")):
            R.func_attr({"relax.force_pure": True})
            b = T.int64()
            updated = R.call_tir_inplace(Sampling.penalty_kernel,
                               (logits, seq_ids, pos2seq_id, token_ids, token_cnt, penalties), 0,
                               out_ty=R.Tensor((b, V), "float32"))
            return updated

        @R.function
        def softmax_with_temperature(logits: R.Tensor(("b", 1, V), "float32"),
                                     temperature: R.Tensor(("b",), "float32")):
            b = T.int64()
            with R.dataflow():
                scaled = R.divide(logits, R.reshape(temperature, R.shape([b, 1, 1])))
                probs = R.nn.softmax(scaled, axis=-1)
                R.output(probs)
            return probs

        @R.function
        def argsort_probs(probs: R.Tensor(("b", V), "float32")):
            b = T.int64()
            with R.dataflow():
                padded = R.call_tir(Sampling.bitonic_argsort, (probs,),
                                    out_ty=[R.Tensor((b, N), "float32"), R.Tensor((b, N), "int32")])
                keys = R.strided_slice(padded[0], axes=[1], begin=[0], end=[V])
                ids = R.strided_slice(padded[1], axes=[1], begin=[0], end=[V])
                result = (keys, ids)
                R.output(result)
            return result

        @R.function
        def sample_with_top_p(sorted_probs: R.Tensor(("b", V), "float32"), sorted_ids: R.Tensor(("b", V), "int32"),
                              uniform_samples: R.Tensor(("s",), "float32"),
                              sample_indices: R.Tensor(("s",), "int32"), top_p: R.Tensor(("b",), "float32")):
            s = T.int64()
            with R.dataflow():
                tokens = R.call_tir(Sampling.top_p_kernel,
                                    (sorted_probs, sorted_ids, uniform_samples, sample_indices, top_p),
                                    out_ty=R.Tensor((s,), "int32"))
                R.output(tokens)
            return tokens

    return Sampling
