"""Link a model library `.wasm` for the browser: our prebuilt WebGPU runtime objects + the objects TVM emits.

THE LINK TRAP: TVM 0.27 emits LLVM-22 bitcode by default, but Debian's emcc 3.1.6 links with LLVM 14's wasm-ld,
which rejects it ("Opaque pointers are only supported in -opaque-pointers mode"). So TVM must write wasm *object*
files (object format "o"), which `export_webgpu_library` arranges, and the runtime is prebuilt to objects too.

The result imports only what the tvmjs runtime bundled in @mlc-ai/web-llm@0.2.86 provides (see ALLOWED_IMPORTS);
linking fails with a clear message if anything else is left undefined.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Iterable

from webslm.errors import WebslmError

from .runtime_build import _check_opt, find_emcc, runtime_object_files
from .wasm_inspect import read_wasm_interface

# What tvmjs hands the model wasm at instantiation (web-llm 0.2.86's bundled runtime): the WASI calls its emscripten
# glue implements, and its `env` (two FFI callbacks, a logger, two emscripten hooks).
ALLOWED_IMPORTS = {
    "wasi_snapshot_preview1": {"clock_time_get", "environ_get", "environ_sizes_get", "fd_close", "fd_read",
                               "fd_seek", "fd_write", "proc_exit"},
    "env": {"emscripten_notify_memory_growth", "TVMFFIWasmSafeCall", "TVMFFIWasmFunctionDeleter",
            "__cxa_thread_atexit", "__console_log"},
}
# Exports tvmjs calls directly; without them instantiate() or the first FFI call fails.
REQUIRED_EXPORTS = ("memory", "_initialize", "TVMWasmAllocSpace", "TVMWasmFreeSpace", "TVMFFIWasmFunctionCreate",
                    "TVMFFIWasmGetLastError", "TVMFFIFunctionGetGlobal", "TVMFFIFunctionCall",
                    "TVMFFIObjectDecRef", "TVMFFIEnvModRegisterSystemLibSymbol")

LINK_FLAGS = ["-std=c++17", "--no-entry", "-s", "WASM_BIGINT=1", "-s", "STANDALONE_WASM=1",
              "-s", "ALLOW_MEMORY_GROWTH=1", "-s", "TOTAL_MEMORY=160MB",
              # tvmjs supplies the FFI callbacks at instantiation; they must stay imports, not link errors.
              "-s", "ERROR_ON_UNDEFINED_SYMBOLS=0"]


def check_wasm_interface(wasm: Path) -> None:
    """Raise if `wasm` imports something tvmjs does not provide or lacks an export tvmjs calls."""
    interface = read_wasm_interface(wasm)
    unexpected = [f"{module}.{name}" for module, name, _ in interface.imports
                  if name not in ALLOWED_IMPORTS.get(module, set())]
    missing = [name for name in REQUIRED_EXPORTS if name not in interface.exports]
    if unexpected or missing:
        lines = []
        if unexpected:
            lines.append("imports tvmjs does not provide (undefined symbols at link time): " + ", ".join(unexpected))
        if missing:
            lines.append("missing exports tvmjs needs: " + ", ".join(missing))
        raise WebslmError(f"{wasm}: not loadable by web-llm's tvmjs runtime:\n  " + "\n  ".join(lines) +
                          "\nA model kernel probably calls a function the WebGPU runtime does not define.")


def _model_objects(model_objects: Path | str | Iterable[Path | str]) -> list[Path]:
    if isinstance(model_objects, (str, Path)) and Path(model_objects).is_dir():
        objects = sorted(Path(model_objects).glob("*.o"))
    elif isinstance(model_objects, (str, Path)):
        objects = [Path(model_objects)]
    else:
        objects = [Path(p) for p in model_objects]
    if not objects:
        raise WebslmError(f"no model object files (*.o) in {model_objects}")
    for obj in objects:
        if not obj.exists():
            raise WebslmError(f"model object {obj} does not exist")
        if obj.read_bytes()[:4] != b"\0asm":
            raise WebslmError(f"{obj} is not a wasm object file (LLVM bitcode? emcc 3.1.6 cannot link TVM's "
                              "LLVM-22 bitcode; export with object format 'o', see export_webgpu_library)")
    return objects


def link_model_library(model_objects: Path | str | Iterable[Path | str], out_wasm: Path | str,
                       opt: str = "O1", *, log=None) -> Path:
    """Link the runtime objects and a model's wasm object files into `out_wasm` (written atomically).

    model_objects: a directory of `*.o` files, one file, or a list of files. -O1 links in about a second;
    -O3 takes ~100 s and gives a somewhat smaller file with the same kernels.
    """
    log = log or (lambda msg: print(msg, file=sys.stderr, flush=True))
    opt = _check_opt(opt)
    emcc = find_emcc()
    out_wasm = Path(out_wasm)
    objects = _model_objects(model_objects)
    runtime = runtime_object_files(opt)
    out_wasm.parent.mkdir(parents=True, exist_ok=True)
    # emcc picks its output kind from the file suffix, so link to a *.wasm inside a temp dir, then rename.
    with tempfile.TemporaryDirectory(prefix=f".{out_wasm.name}.", dir=out_wasm.parent) as tmp:
        linked = Path(tmp) / "model.wasm"
        cmd = [emcc, f"-{opt}", *LINK_FLAGS, "-o", str(linked), *map(str, runtime), *map(str, objects)]
        start = time.monotonic()
        if opt not in ("O0", "O1"):
            log(f"linking {out_wasm.name} with emcc -{opt} (wasm-opt takes about 100 s) ...")
        proc = subprocess.run(cmd, capture_output=True, text=True)
        if proc.returncode != 0:
            raise WebslmError(f"emcc link of {out_wasm.name} failed (exit {proc.returncode}):\n"
                              + "\n".join(proc.stderr.splitlines()[-30:]) + f"\ncommand: {' '.join(cmd)}")
        check_wasm_interface(linked)
        os.replace(linked, out_wasm)
    log(f"linked {out_wasm} (-{opt}) in {time.monotonic() - start:.1f} s, {out_wasm.stat().st_size / 1e6:.1f} MB")
    return out_wasm


def export_webgpu_library(executable, out_wasm: Path | str, opt: str = "O1") -> Path:
    """Export a relax executable built for WebGPU with a wasm32 host into a browser model library `.wasm`.

    `executable` comes from `tvm.relax.build(mod, target=Target({"kind": "webgpu"}, host={"kind": "llvm",
    "mtriple": "wasm32-unknown-unknown-wasm", "mcpu": "mvp"}))` (a wasm host makes it a system library).
    TVM writes the host code as a wasm object file and packs the WebGPU shaders into another object (its
    default packing of imported device modules into an LLVM module); then both are linked with the runtime.
    """
    out_wasm = Path(out_wasm)
    opt = _check_opt(opt)

    def link_objects(output: str, files: list[str], **_kwargs) -> None:
        link_model_library(files, output, opt=opt)

    link_objects.object_format = "o"  # export_library asks its fcompile which format to write
    find_emcc()  # fail with the install hint before TVM spends time writing objects
    executable.export_library(str(out_wasm), fcompile=link_objects)
    return out_wasm
