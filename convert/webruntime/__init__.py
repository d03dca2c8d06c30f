"""The browser side of the compiler: TVM's WebGPU runtime built with emcc, and the model-library linker."""

from .link import ALLOWED_IMPORTS, REQUIRED_EXPORTS, check_wasm_interface, export_webgpu_library, link_model_library
from .runtime_build import build_runtime_objects, runtime_objects_dir
from .wasm_inspect import WasmInterface, read_wasm_interface

__all__ = [
    "ALLOWED_IMPORTS", "REQUIRED_EXPORTS", "WasmInterface", "build_runtime_objects", "check_wasm_interface",
    "export_webgpu_library", "link_model_library", "read_wasm_interface", "runtime_objects_dir",
]
