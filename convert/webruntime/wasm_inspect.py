"""Read the import and export sections of a `.wasm` file (WebAssembly binary format, version 1).

Layout facts used here: the file starts with b"\\0asm" and a u32 version; then sections of (id: u8, size: uleb128,
payload). Section 2 (imports) is a vector of (module: name, field: name, kind: u8, description); section 7
(exports) is a vector of (field: name, kind: u8, index: uleb128). A name is a uleb128 length plus UTF-8 bytes.
Kinds: 0 function, 1 table, 2 memory, 3 global (4 tag, from the exception-handling proposal).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

KIND_NAMES = {0: "func", 1: "table", 2: "memory", 3: "global", 4: "tag"}


@dataclass
class WasmInterface:
    imports: list[tuple[str, str, str]] = field(default_factory=list)  # (module, name, kind)
    exports: dict[str, str] = field(default_factory=dict)  # name -> kind


class _Reader:
    def __init__(self, data: bytes, where: str):
        self.data, self.pos, self.where = data, 0, where

    def byte(self) -> int:
        if self.pos >= len(self.data):
            raise ValueError(f"{self.where}: truncated wasm at byte {self.pos}")
        value = self.data[self.pos]
        self.pos += 1
        return value

    def uleb(self) -> int:
        result, shift = 0, 0
        while True:
            b = self.byte()
            result |= (b & 0x7F) << shift
            if not b & 0x80:
                return result
            shift += 7

    def name(self) -> str:
        length = self.uleb()
        raw = self.data[self.pos:self.pos + length]
        self.pos += length
        return raw.decode("utf-8")

    def limits(self) -> None:
        flags = self.uleb()
        self.uleb()
        if flags & 1:
            self.uleb()


def read_wasm_interface(path: Path) -> WasmInterface:
    data = Path(path).read_bytes()
    where = str(path)
    if data[:4] != b"\0asm":
        raise ValueError(f"{where}: not a WebAssembly binary (magic {data[:4]!r})")
    reader = _Reader(data, where)
    reader.pos = 8
    interface = WasmInterface()
    while reader.pos < len(data):
        section_id = reader.byte()
        size = reader.uleb()
        end = reader.pos + size
        if section_id == 2:
            for _ in range(reader.uleb()):
                module, name, kind = reader.name(), reader.name(), reader.byte()
                if kind == 0:
                    reader.uleb()  # type index
                elif kind == 1:
                    reader.byte()  # element type
                    reader.limits()
                elif kind == 2:
                    reader.limits()
                elif kind == 3:
                    reader.byte()  # value type
                    reader.byte()  # mutability
                elif kind == 4:
                    reader.byte()  # attribute
                    reader.uleb()  # type index
                else:
                    raise ValueError(f"{where}: unknown import kind {kind} for {module}.{name}")
                interface.imports.append((module, name, KIND_NAMES[kind]))
        elif section_id == 7:
            for _ in range(reader.uleb()):
                name, kind = reader.name(), reader.byte()
                reader.uleb()
                interface.exports[name] = KIND_NAMES.get(kind, str(kind))
        reader.pos = end
    return interface
