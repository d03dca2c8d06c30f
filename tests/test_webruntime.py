"""The WebGPU web runtime build and the model-library linker (convert/webruntime).

The end-to-end test builds TVM's wasm runtime once (~2-3 min, cached under $WEBSLM_HOME/webruntime) and needs emcc.
"""

from __future__ import annotations

import shutil
import struct

import pytest

from convert.webruntime import (ALLOWED_IMPORTS, REQUIRED_EXPORTS, check_wasm_interface, export_webgpu_library,
                                link_model_library, read_wasm_interface)
from convert.webruntime import runtime_build
from webslm.errors import WebslmError

needs_emcc = pytest.mark.skipif(shutil.which("emcc") is None, reason="emcc missing: apt-get install -y emscripten")


def _uleb(value: int) -> bytes:
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        out.append(byte | (0x80 if value else 0))
        if not value:
            return bytes(out)


def _name(text: str) -> bytes:
    return _uleb(len(text)) + text.encode()


def _section(section_id: int, payload: bytes) -> bytes:
    return bytes([section_id]) + _uleb(len(payload)) + payload


def _tiny_wasm(imports: list[tuple[str, str]], exports: list[str]) -> bytes:
    """A valid module: type ()->(), the given function imports, one local function, and exports of it + memory."""
    types = _section(1, _uleb(1) + b"\x60\x00\x00")
    import_entries = b"".join(_name(m) + _name(n) + b"\x00" + _uleb(0) for m, n in imports)
    import_entries += _name("env") + _name("mem_import_test") + b"\x02" + b"\x00" + _uleb(1)  # a memory import
    imports_sec = _section(2, _uleb(len(imports) + 1) + import_entries)
    funcs = _section(3, _uleb(1) + _uleb(0))
    func_index = len(imports)
    export_entries = b"".join(_name(e) + b"\x00" + _uleb(func_index) for e in exports)
    exports_sec = _section(7, _uleb(len(exports)) + export_entries)
    code = _section(10, _uleb(1) + _uleb(2) + b"\x00\x0b")
    return b"\0asm" + struct.pack("<I", 1) + types + imports_sec + funcs + exports_sec + code


def test_wasm_reader_lists_imports_and_exports(tmp_path):
    path = tmp_path / "tiny.wasm"
    path.write_bytes(_tiny_wasm([("wasi_snapshot_preview1", "fd_write"), ("env", "TVMFFIWasmSafeCall")],
                                ["_initialize", "TVMWasmAllocSpace"]))
    interface = read_wasm_interface(path)
    assert interface.imports == [("wasi_snapshot_preview1", "fd_write", "func"), ("env", "TVMFFIWasmSafeCall", "func"),
                                 ("env", "mem_import_test", "memory")]
    assert interface.exports == {"_initialize": "func", "TVMWasmAllocSpace": "func"}


def test_interface_check_names_unexpected_imports_and_missing_exports(tmp_path):
    path = tmp_path / "bad.wasm"
    path.write_bytes(_tiny_wasm([("env", "some_undefined_kernel_helper")], ["_initialize"]))
    with pytest.raises(WebslmError) as err:
        check_wasm_interface(path)
    message = str(err.value)
    assert "env.some_undefined_kernel_helper" in message and "TVMFFIWasmFunctionCreate" in message


def test_reader_rejects_non_wasm(tmp_path):
    path = tmp_path / "x.wasm"
    path.write_bytes(b"BC\xc0\xde" + b"\0" * 16)
    with pytest.raises(ValueError, match="not a WebAssembly binary"):
        read_wasm_interface(path)


def test_missing_emcc_says_how_to_install(monkeypatch):
    monkeypatch.setattr(runtime_build.shutil, "which", lambda name: None)
    with pytest.raises(WebslmError, match="apt-get install -y emscripten"):
        runtime_build.find_emcc()


def test_linker_refuses_llvm_bitcode_with_a_hint(tmp_path):
    bitcode = tmp_path / "lib0.o"
    bitcode.write_bytes(b"BC\xc0\xde" + b"\0" * 64)
    with pytest.raises(WebslmError, match="not a wasm object file"):
        link_model_library([bitcode], tmp_path / "out.wasm")


def test_support_headers_are_ours_and_cover_what_the_wheel_lacks():
    expected = {"include/tvm/support/io.h", "include/tvm/support/serializer.h", "include/tvm/support/cuda/nvtx.h",
                "src/support/base64.h", "src/support/bytes_io.h", "src/support/arena.h", "src/support/ring_buffer.h",
                "src/support/utils.h", "3rdparty/compiler-rt/builtin_fp16.h"}
    found = {str(p.relative_to(runtime_build.SUPPORT_HEADERS)) for p in runtime_build.SUPPORT_HEADERS.rglob("*.h")}
    assert found == expected
    for rel in expected:
        assert "Written for webslm" in (runtime_build.SUPPORT_HEADERS / rel).read_text()


def test_cache_key_names_versions_and_opt_level(monkeypatch, tmp_path):
    if shutil.which("emcc") is None:
        pytest.skip("emcc missing")
    monkeypatch.setenv("WEBSLM_HOME", str(tmp_path))
    directory = runtime_build.runtime_objects_dir("O3")
    assert directory.parent == tmp_path / "webruntime"
    assert directory.name.startswith("tvm0.27") and "-ffi" in directory.name and "-emcc3." in directory.name
    assert "-O3-" in directory.name


@needs_emcc
def test_vector_add_links_into_a_wasm_tvmjs_can_load(tmp_path):
    from convert.webruntime.smoke import build_vector_add

    out = export_webgpu_library(build_vector_add(), tmp_path / "vector_add.wasm", opt="O1")
    interface = read_wasm_interface(out)
    for module, name, _ in interface.imports:
        assert name in ALLOWED_IMPORTS.get(module, set()), f"unexpected import {module}.{name}"
    assert {"TVMFFIWasmSafeCall", "TVMFFIWasmFunctionDeleter"} <= {name for _, name, _ in interface.imports}
    for name in REQUIRED_EXPORTS:
        assert name in interface.exports
    assert interface.exports["memory"] == "memory"
