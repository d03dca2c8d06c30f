"""The WebGPU web runtime build and the model-library linker (convert/webruntime).

The end-to-end test builds TVM's wasm runtime once (~2-3 min, cached under $WEBSLM_HOME/webruntime) and needs emcc.
"""

from __future__ import annotations

import shutil
import struct
from pathlib import Path

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


SUPPORT_HEADERS_CHECK = r"""
#include <tvm/support/serializer.h>
#include "src/support/arena.h"
#include "src/support/base64.h"
#include "src/support/bytes_io.h"
#include "src/support/ring_buffer.h"
#include "src/support/utils.h"
#include "3rdparty/compiler-rt/builtin_fp16.h"

#include <cstdio>
#include <cstdlib>

using namespace tvm::support;
#define CHECK(cond) do { if (!(cond)) { std::printf("FAILED line %d: %s\n", __LINE__, #cond); std::exit(1); } } while (0)

int main() {
  // Serializer layout: u64 length prefixes, raw little-endian scalars, DLDataType as u8,u8,u16.
  std::string bytes;
  {
    BytesOutStream out(&bytes);
    out.Write(std::vector<std::string>{"ab", ""});
    out.Write(std::vector<int64_t>{7, -1});
    out.Write(DLDataType{2, 32, 1});
    out.Write(std::unordered_map<int64_t, std::string>{{3, "x"}});
  }
  CHECK(bytes.size() == 8 + (8 + 2) + 8 + 8 + 16 + 4 + 8 + 8 + 8 + 1);
  CHECK(bytes[0] == 2 && bytes[8] == 2 && bytes[16] == 'a');
  {
    BytesInStream in(bytes);
    std::vector<std::string> names; std::vector<int64_t> words; DLDataType dtype; std::unordered_map<int64_t, std::string> m;
    CHECK(in.Read(&names) && names.size() == 2 && names[0] == "ab" && names[1].empty());
    CHECK(in.Read(&words) && words[0] == 7 && words[1] == -1);
    CHECK(in.Read(&dtype) && dtype.code == 2 && dtype.bits == 32 && dtype.lanes == 1);
    CHECK(in.Read(&m) && m.at(3) == "x");
    int32_t past_end;
    CHECK(!in.Read(&past_end));
  }
  // Base64 (RFC 4648 test vectors) and a round trip through the streams.
  for (auto [plain, coded] : std::vector<std::pair<std::string, std::string>>{
           {"", ""}, {"f", "Zg=="}, {"fo", "Zm8="}, {"foo", "Zm9v"}, {"foobar", "Zm9vYmFy"}}) {
    std::string text;
    BytesOutStream sink(&text);
    Base64OutStream b64(&sink);
    b64.Write(plain.data(), plain.size());
    b64.Finish();
    CHECK(text == coded);
    BytesInStream source(text);
    Base64InStream decode(&source);
    decode.InitPosition();
    std::string back(plain.size() + 3, '?');
    CHECK(decode.Read(&back[0], back.size()) == plain.size());
    CHECK(back.substr(0, plain.size()) == plain);
  }
  // Ring buffer: FIFO order across wrap-around and growth, callback reads and writes.
  RingBuffer ring;
  std::string expected, got;
  int counter = 0;
  for (int round = 0; round < 200; ++round) {
    std::string chunk(37 + round * 13 % 900, '\0');
    for (char& c : chunk) c = static_cast<char>(counter++ % 251);
    if (round % 3 == 0) {
      size_t n = ring.WriteWithCallback([&](void* dst, size_t size) {
        size_t take = std::min(size, chunk.size()); std::memcpy(dst, chunk.data(), take); return take; }, chunk.size());
      CHECK(n == chunk.size());
    } else {
      ring.Write(chunk.data(), chunk.size());
    }
    expected += chunk;
    size_t drain = ring.bytes_available() / 2 + 1;
    if (round % 2 == 0) {
      std::string part(drain, '\0');
      ring.Read(&part[0], drain);
      got += part;
    } else {
      while (drain > 0) {
        size_t n = ring.ReadWithCallback([&](const void* src, size_t size) {
          got.append(static_cast<const char*>(src), size); return size; }, drain);
        CHECK(n > 0);
        drain -= n;
      }
    }
  }
  std::string rest(ring.bytes_available(), '\0');
  ring.Read(&rest[0], rest.size());
  got += rest;
  CHECK(got == expected && ring.bytes_available() == 0);
  ring.Reserve(1 << 16);
  // Arena: aligned, distinct allocations; recycle frees everything.
  Arena arena;
  double* d = arena.allocate_<double>(3);
  char* c = arena.allocate_<char>(100000);
  CHECK(reinterpret_cast<uintptr_t>(d) % alignof(double) == 0 && c != reinterpret_cast<char*>(d));
  arena.RecycleAll();
  CHECK(StartsWith("RPCSessionTimeoutError: x", "RPCSessionTimeoutError: ") && !StartsWith("ab", "abc"));
  // fp16: 1.0 <-> 0x3c00, max half, round to nearest even, subnormals.
  CHECK((__truncXfYf2__<float, uint32_t, 23, uint16_t, uint16_t, 10>(1.0f)) == 0x3c00);
  CHECK((__truncXfYf2__<float, uint32_t, 23, uint16_t, uint16_t, 10>(65504.0f)) == 0x7bff);
  CHECK((__truncXfYf2__<float, uint32_t, 23, uint16_t, uint16_t, 10>(65520.0f)) == 0x7c00);
  CHECK((__truncXfYf2__<float, uint32_t, 23, uint16_t, uint16_t, 10>(1.0f + 1.0f / 2048)) == 0x3c00);
  CHECK((__extendXfYf2__<uint16_t, uint16_t, 10, float, uint32_t, 23>(0x0001)) == 5.9604645e-08f);
  CHECK((__extendXfYf2__<uint16_t, uint16_t, 10, float, uint32_t, 23>(0xc000)) == -2.0f);
  std::printf("ok\n");
  return 0;
}
"""


@pytest.mark.skipif(shutil.which("g++") is None, reason="needs a host C++ compiler (g++)")
def test_support_headers_behave(tmp_path):
    """Our stand-in headers, compiled for the host: serializer layout, base64, ring buffer, arena, fp16."""
    import subprocess

    import tvm_ffi

    ffi_root = Path(tvm_ffi.__file__).parent
    source = tmp_path / "check.cc"
    source.write_text(SUPPORT_HEADERS_CHECK)
    exe = tmp_path / "check"
    compile_cmd = ["g++", "-std=c++17", "-O1", "-o", str(exe), str(source),
                   f"-I{runtime_build.SUPPORT_HEADERS / 'include'}", f"-I{runtime_build.SUPPORT_HEADERS}",
                   f"-I{ffi_root / 'include'}", f"-L{ffi_root / 'lib'}", "-ltvm_ffi",
                   f"-Wl,-rpath,{ffi_root / 'lib'}"]
    proc = subprocess.run(compile_cmd, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr[-3000:]
    run = subprocess.run([str(exe)], capture_output=True, text=True)
    assert run.returncode == 0 and run.stdout.strip() == "ok", run.stdout + run.stderr
