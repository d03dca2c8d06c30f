"""A tiny WebGPU program (z = x + y on float32 vectors) to check the runtime build and the linker end to end."""

from __future__ import annotations


def webgpu_target():
    """WebGPU kernels with a wasm32 host (the host is what makes relax.build produce a system library)."""
    import tvm

    return tvm.target.Target({"kind": "webgpu"},
                             host={"kind": "llvm", "mtriple": "wasm32-unknown-unknown-wasm", "mcpu": "mvp"})


def _vector_add_module():
    from tvm.script import ir as I
    from tvm.script import relax as R

    @I.ir_module
    class VectorAdd:
        @R.function
        def main(x: R.Tensor(("n",), "float32"), y: R.Tensor(("n",), "float32")):
            with R.dataflow():
                z = R.add(x, y)
                R.output(z)
            return z

    return VectorAdd


def build_vector_add():
    """A relax executable with `main(x: f32[n], y: f32[n]) -> f32[n]`, scheduled for the GPU by dlight."""
    from tvm import relax
    from tvm.s_tir import dlight

    target = webgpu_target()
    mod = relax.transform.LegalizeOps()(_vector_add_module())
    with target:
        mod = dlight.ApplyDefaultSchedule(dlight.gpu.Fallback())(mod)
    return relax.build(mod, target=target)
