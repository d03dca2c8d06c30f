"""Build TVM's WebGPU web runtime (C++ under the apache-tvm wheel's `tvm/web/emcc/`) into wasm object files.

The objects are built once per (tvm, tvm-ffi, emcc, opt level, our support headers) and cached under
`$WEBSLM_HOME/webruntime/<key>/` (default `~/.cache/webslm`). They are wasm *object* files, not LLVM bitcode:
Debian's emcc 3.1.6 links with LLVM 14, which cannot read the LLVM-22 bitcode TVM emits, but object files link fine.

The wheel ships the runtime sources but lacks a few small headers they include; `support_headers/` holds our own
minimal versions. Sources are copied (not symlinked) into one tree because they include each other by relative
paths such as "../../src/support/bytes_io.h", which break through symlinks.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from webslm.errors import WebslmError
from webslm.home import webslm_home

SUPPORT_HEADERS = Path(__file__).parent / "support_headers"
# Translation units of the runtime; wasm_runtime.cc is a unity build that #includes most of TVM's runtime.
RUNTIME_SOURCES = ("wasm_runtime.cc", "webgpu_runtime.cc", "tvmjs_support.cc")
OPT_LEVELS = ("O0", "O1", "O2", "O3", "Os", "Oz")
EMSCRIPTEN_INSTALL_HINT = "apt-get install -y emscripten"


@dataclass(frozen=True)
class RuntimeSources:
    tvm_root: Path  # .../site-packages/tvm (has include/, src/, web/emcc/)
    ffi_root: Path  # .../site-packages/tvm_ffi (has include/, src/, 3rdparty/dlpack/)
    tvm_version: str
    ffi_version: str


def find_emcc() -> str:
    emcc = shutil.which("emcc")
    if emcc is None:
        raise WebslmError(f"emcc (Emscripten) not found on PATH; it builds the WebGPU runtime: `{EMSCRIPTEN_INSTALL_HINT}`")
    return emcc


def emcc_version(emcc: str | None = None) -> str:
    """The version number emcc reports, e.g. '3.1.6'."""
    out = subprocess.run([emcc or find_emcc(), "--version"], capture_output=True, text=True, check=True).stdout
    match = re.search(r"(\d+\.\d+\.\d+)", out)
    if not match:
        raise WebslmError(f"cannot read the emcc version from `emcc --version`: {out.splitlines()[:1]}")
    return match.group(1)


def runtime_sources() -> RuntimeSources:
    import tvm
    import tvm_ffi

    tvm_root = Path(tvm.__file__).parent
    ffi_root = Path(tvm_ffi.__file__).parent
    for needed in (tvm_root / "web" / "emcc" / "wasm_runtime.cc", tvm_root / "src" / "runtime", ffi_root / "src" / "ffi"):
        if not needed.exists():
            raise WebslmError(f"{needed} is missing: the apache-tvm / apache-tvm-ffi wheels changed layout "
                              "(expected the web runtime sources inside the wheels)")
    return RuntimeSources(tvm_root, ffi_root, tvm.__version__, tvm_ffi.__version__)


def _check_opt(opt: str) -> str:
    opt = opt.lstrip("-")
    if opt not in OPT_LEVELS:
        raise WebslmError(f"unknown optimisation level {opt!r}; use one of {', '.join(OPT_LEVELS)}")
    return opt


def compile_flags(opt: str) -> list[str]:
    """Flags for compiling runtime sources inside a tree made by `stage_source_tree` (paths relative to its root)."""
    return [
        f"-{_check_opt(opt)}",
        "-std=c++17",
        "-Wno-ignored-attributes",
        "-I.",
        "-Iinclude",
        "-I3rdparty/tvm-ffi/include",
        "-I3rdparty/tvm-ffi/3rdparty/dlpack/include",
        "-I3rdparty/compiler-rt",
    ]


def _support_headers_digest() -> str:
    digest = hashlib.sha256()
    for path in sorted(SUPPORT_HEADERS.rglob("*.h")):
        digest.update(str(path.relative_to(SUPPORT_HEADERS)).encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()[:10]


def runtime_cache_key(opt: str = "O1", emcc: str | None = None) -> str:
    sources = runtime_sources()
    return (f"tvm{sources.tvm_version}-ffi{sources.ffi_version}-emcc{emcc_version(emcc)}-{_check_opt(opt)}"
            f"-h{_support_headers_digest()}")


def runtime_objects_dir(opt: str = "O1") -> Path:
    return webslm_home() / "webruntime" / runtime_cache_key(opt)


def stage_source_tree(dest: Path, sources: RuntimeSources | None = None) -> Path:
    """Copy the runtime sources into `dest` laid out like TVM's source tree, with our support headers added."""
    sources = sources or runtime_sources()
    shutil.copytree(sources.tvm_root / "include", dest / "include")
    shutil.copytree(sources.tvm_root / "src", dest / "src")
    shutil.copytree(sources.tvm_root / "web" / "emcc", dest / "web" / "emcc",
                    ignore=shutil.ignore_patterns("__pycache__"))
    ffi = dest / "3rdparty" / "tvm-ffi"
    shutil.copytree(sources.ffi_root / "include", ffi / "include")
    shutil.copytree(sources.ffi_root / "src", ffi / "src")
    shutil.copytree(sources.ffi_root / "3rdparty" / "dlpack", ffi / "3rdparty" / "dlpack")
    # Our headers fill gaps only; never overwrite a file the wheel does ship.
    for header in sorted(SUPPORT_HEADERS.rglob("*.h")):
        target = dest / header.relative_to(SUPPORT_HEADERS)
        if not target.exists():
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(header, target)
    return dest


def _compile_one(emcc: str, tree: Path, source: str, out_obj: Path, opt: str) -> float:
    start = time.monotonic()
    cmd = [emcc, *compile_flags(opt), "-c", f"web/emcc/{source}", "-o", str(out_obj)]
    proc = subprocess.run(cmd, cwd=tree, capture_output=True, text=True)
    if proc.returncode != 0:
        errors = [line for line in proc.stderr.splitlines() if "error" in line][:20]
        raise WebslmError(
            f"emcc failed on tvm/web/emcc/{source} (exit {proc.returncode}):\n  " + "\n  ".join(errors or
            proc.stderr.splitlines()[-20:]) + f"\ncommand (in {tree}): {' '.join(cmd)}\n"
            "If a header is missing, add a minimal one under convert/webruntime/support_headers/.")
    return time.monotonic() - start


def build_runtime_objects(opt: str = "O1", *, force: bool = False, log=None) -> Path:
    """The cached directory holding the runtime's wasm object files (`*.o`), building them first if needed.

    Takes about 2 minutes once (wasm_runtime.cc dominates); later calls return the cache immediately.
    """
    log = log or (lambda msg: print(msg, file=sys.stderr, flush=True))
    opt = _check_opt(opt)
    emcc = find_emcc()
    sources = runtime_sources()
    key = runtime_cache_key(opt, emcc)
    final = webslm_home() / "webruntime" / key
    if (final / "manifest.json").exists() and not force:
        return final
    final.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=f".{key}.", suffix=".tmp", dir=final.parent))
    try:
        tree = stage_source_tree(work / "tree", sources)
        objects = work / "objects"
        objects.mkdir()
        seconds = {}
        log(f"building the WebGPU runtime with emcc -{opt} into {final} (about 2 min, once)")
        for index, source in enumerate(RUNTIME_SOURCES, 1):
            log(f"  [{index}/{len(RUNTIME_SOURCES)}] {source} ...")
            obj = objects / (Path(source).stem + ".o")
            seconds[source] = round(_compile_one(emcc, tree, source, obj, opt), 1)
            log(f"  [{index}/{len(RUNTIME_SOURCES)}] {source} done in {seconds[source]} s")
        manifest = {
            "key": key, "opt": opt, "tvm": sources.tvm_version, "tvm_ffi": sources.ffi_version,
            "emcc": emcc_version(emcc), "objects": [Path(s).stem + ".o" for s in RUNTIME_SOURCES],
            "compile_seconds": seconds, "flags": compile_flags(opt),
        }
        (objects / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")
        if (final / "manifest.json").exists() and not force:
            return final  # another process finished the same build first; keep its copy
        if final.exists():  # a forced rebuild, or a leftover without a manifest
            shutil.rmtree(final)
        try:
            os.replace(objects, final)
        except OSError:
            if not (final / "manifest.json").exists():
                raise
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return final


def runtime_object_files(opt: str = "O1") -> list[Path]:
    directory = build_runtime_objects(opt)
    manifest = json.loads((directory / "manifest.json").read_text())
    return [directory / name for name in manifest["objects"]]
