"""Avro binary bodies written and read by code generated for each event schema.

``fastavro``'s C writer and reader walk the schema for every message: a ReplyEvent took 40 us to
write and 30 us to read on the benchmark machine, and every request passes five or six events
through the codec in the workers, the ingress and the sink. Here each schema becomes a Python
function written out field by field (as ``dataclasses`` writes ``__init__``), from the dataclass
straight to bytes and back, with no dict in between. The bytes are Avro's binary encoding
(Avro specification, "Binary Encoding"): zig-zag varints for ints and longs, little-endian IEEE
floats, length-prefixed bytes and strings, blocked arrays and maps, a union as its branch index
then the value. ``tests/contract/test_binary_codec.py`` holds them byte for byte to fastavro.

Only what Turnout's schemas use is generated: records, the primitives, arrays, maps and unions of
``null`` and one other type. A schema with anything else raises ``NotImplementedError`` at build
time and its events go through fastavro. Reading resolves no schema versions: a message written
with an older schema (``schemas/avro/history``) is read by fastavro, which resolves it.
"""

from __future__ import annotations

import dataclasses
import struct
import types
import typing
from collections.abc import Callable
from typing import Any, cast

__all__ = ["reader_for", "writer_for"]

Writer = Callable[[Any], bytes]
Reader = Callable[[bytes, int], Any]

_PRIMITIVE = frozenset({"null", "boolean", "int", "long", "float", "double", "bytes", "string"})
_SMALL = [bytes([n]) for n in range(128)]  # the one-byte varints


def _long(n: int) -> bytes:
    """``n`` as an Avro long: zig-zag, then a little-endian base-128 varint."""
    z = (n << 1) ^ (n >> 63)
    if 0 <= z < 128:
        return _SMALL[z]
    if not -(2**63) <= n < 2**63:
        raise OverflowError(f"{n} does not fit an Avro long")
    out = bytearray()
    while z > 0x7F:
        out.append((z & 0x7F) | 0x80)
        z >>= 7
    out.append(z)
    return bytes(out)


def _varint_rest(b: bytes, p: int, c: int) -> tuple[int, int]:
    """The rest of a varint whose first byte ``c`` (at ``p - 1``) had its continuation bit set."""
    n = c & 0x7F
    shift = 7
    while True:
        c = b[p]
        p += 1
        n |= (c & 0x7F) << shift
        if c < 0x80:
            return n, p
        shift += 7
        if shift > 63:
            raise ValueError("varint longer than 10 bytes")


_ENV: dict[str, Any] = {
    "_long": _long,
    "_varint_rest": _varint_rest,
    "_pack_d": struct.Struct("<d").pack,
    "_pack_f": struct.Struct("<f").pack,
    "_unpack_d": struct.Struct("<d").unpack_from,
    "_unpack_f": struct.Struct("<f").unpack_from,
    "_pack": struct.pack,
    "_unpack": struct.unpack_from,
}


class _Source:
    """Lines of a generated function, with fresh local names."""

    def __init__(self) -> None:
        self.lines: list[str] = []
        self.env: dict[str, Any] = dict(_ENV)
        self._n = 0

    def name(self, prefix: str) -> str:
        self._n += 1
        return f"{prefix}{self._n}"

    def add(self, indent: int, line: str) -> None:
        self.lines.append("    " * indent + line)

    def bind(self, value: Any) -> str:
        name = self.name("_c")
        self.env[name] = value
        return name

    def compile(self, header: str, name: str) -> Any:
        exec("\n".join([header, *self.lines]), self.env)  # the source is built from our own schemas
        return self.env[name]


def _named(schema: Any) -> dict[str, Any]:
    return dict(schema.get("__named_schemas", {})) if isinstance(schema, dict) else {}


def _resolve(schema: Any, names: dict[str, Any]) -> Any:
    if isinstance(schema, str) and schema not in _PRIMITIVE:
        return names[schema]
    if isinstance(schema, dict) and schema.get("type") in _PRIMITIVE and len(schema) == 1:
        return schema["type"]
    return schema


def _kind(schema: Any) -> str:
    if isinstance(schema, str):
        return schema
    if isinstance(schema, list):
        return "union"
    kind = schema["type"]
    if kind in _PRIMITIVE and "logicalType" in schema:
        raise NotImplementedError(f"logical type {schema['logicalType']}")
    return cast(str, kind)


def _nullable(schema: list[Any]) -> Any:
    if len(schema) != 2 or schema[0] != "null" or schema[1] == "null":
        raise NotImplementedError(f"union {schema}")
    return schema[1]


# -- writing --------------------------------------------------------------------------------------


def _write(src: _Source, schema: Any, names: dict[str, Any], expr: str, indent: int, seen: tuple[str, ...]) -> None:
    """Lines that append the value of ``expr`` to ``buf``."""
    schema = _resolve(schema, names)
    kind = _kind(schema)
    if kind == "null":
        return
    if kind == "boolean":
        src.add(indent, f"buf += b'\\x01' if {expr} else b'\\x00'")
    elif kind in ("int", "long"):
        src.add(indent, f"buf += _long({expr})")
    elif kind == "double":
        src.add(indent, f"buf += _pack_d({expr})")
    elif kind == "float":
        src.add(indent, f"buf += _pack_f({expr})")
    elif kind in ("string", "bytes"):
        v = src.name("s")
        src.add(indent, f"{v} = {expr}.encode()" if kind == "string" else f"{v} = {expr}")
        src.add(indent, f"buf += _long(len({v}))")
        src.add(indent, f"buf += {v}")
    elif kind == "union":
        branch = _nullable(schema)
        v = src.name("u")
        src.add(indent, f"{v} = {expr}")
        src.add(indent, f"if {v} is None:")
        src.add(indent + 1, "buf += b'\\x00'")
        src.add(indent, "else:")
        src.add(indent + 1, "buf += b'\\x02'")
        _write(src, branch, names, v, indent + 1, seen)
    elif kind == "array":
        items = _resolve(schema["items"], names)
        v = src.name("a")
        src.add(indent, f"{v} = {expr}")
        src.add(indent, f"if len({v}):")
        src.add(indent + 1, f"buf += _long(len({v}))")
        if items in ("float", "double"):
            code = "f" if items == "float" else "d"
            src.add(indent + 1, f"buf += _pack('<%d{code}' % len({v}), *{v})")
        else:
            x = src.name("x")
            src.add(indent + 1, f"for {x} in {v}:")
            _write_body(src, items, names, x, indent + 2, seen)
        src.add(indent, "buf += b'\\x00'")
    elif kind == "map":
        v, k, x = src.name("m"), src.name("k"), src.name("x")
        src.add(indent, f"{v} = {expr}")
        src.add(indent, f"if {v}:")
        src.add(indent + 1, f"buf += _long(len({v}))")
        src.add(indent + 1, f"for {k}, {x} in {v}.items():")
        _write(src, "string", names, k, indent + 2, seen)
        _write_body(src, schema["values"], names, x, indent + 2, seen)
        src.add(indent, "buf += b'\\x00'")
    elif kind == "record":
        name = schema["name"]
        if name in seen:
            raise NotImplementedError(f"recursive record {name}")
        v = src.name("r")
        src.add(indent, f"{v} = {expr}")
        for f in schema["fields"]:
            _write(src, f["type"], names, f"{v}.{f['name']}", indent, (*seen, name))
    else:
        raise NotImplementedError(f"Avro type {kind}")


def _write_body(
    src: _Source, schema: Any, names: dict[str, Any], expr: str, indent: int, seen: tuple[str, ...]
) -> None:
    """As ``_write``, but a loop body must not be empty (a ``null`` item writes nothing)."""
    before = len(src.lines)
    _write(src, schema, names, expr, indent, seen)
    if len(src.lines) == before:
        src.add(indent, "pass")


def writer_for(schema: Any) -> Writer:
    """A function from an event (the dataclass that mirrors the parsed ``schema``) to its Avro body."""
    src = _Source()
    _write(src, schema, _named(schema), "o", 1, ())
    src.add(1, "return bytes(buf)")
    src.lines.insert(0, "    buf = bytearray()")
    return cast(Writer, src.compile("def write(o):", "write"))


# -- reading --------------------------------------------------------------------------------------


def _unwrap(tp: Any) -> Any:
    """``X`` of ``X | None``."""
    if typing.get_origin(tp) in (typing.Union, types.UnionType):
        inner = [a for a in typing.get_args(tp) if a is not type(None)]
        if len(inner) == 1:
            return inner[0]
    return tp


def _read_long(src: _Source, target: str, indent: int) -> None:
    c = src.name("c")
    src.add(indent, f"{c} = b[p]")
    src.add(indent, "p += 1")
    src.add(indent, f"if {c} & 0x80:")
    src.add(indent + 1, f"{c}, p = _varint_rest(b, p, {c})")
    src.add(indent, f"{target} = ({c} >> 1) ^ -({c} & 1)")


def _read(src: _Source, schema: Any, names: dict[str, Any], tp: Any, target: str, indent: int) -> None:
    """Lines that read a value of ``schema`` (Python type ``tp``) from ``b`` at ``p`` into ``target``."""
    schema = _resolve(schema, names)
    kind = _kind(schema)
    if kind == "null":
        src.add(indent, f"{target} = None")
    elif kind == "boolean":
        c = src.name("c")
        src.add(indent, f"{c} = b[p]")
        src.add(indent, "p += 1")
        src.add(indent, f"if {c} > 1:")
        src.add(indent + 1, f"raise ValueError(f'boolean byte {{{c}}}')")
        src.add(indent, f"{target} = {c} == 1")
    elif kind in ("int", "long"):
        _read_long(src, target, indent)
    elif kind in ("double", "float"):
        code, size = ("d", 8) if kind == "double" else ("f", 4)
        src.add(indent, f"{target} = _unpack_{code}(b, p)[0]")
        src.add(indent, f"p += {size}")
    elif kind in ("string", "bytes"):
        n, e = src.name("n"), src.name("e")
        _read_long(src, n, indent)
        src.add(indent, f"{e} = p + {n}")
        src.add(indent, f"if {n} < 0 or {e} > len(b):")
        src.add(indent + 1, f"raise ValueError('{kind} runs past the end')")
        src.add(indent, f"{target} = b[p:{e}].decode()" if kind == "string" else f"{target} = b[p:{e}]")
        src.add(indent, f"p = {e}")
    elif kind == "union":
        branch = _nullable(schema)
        i = src.name("i")
        _read_long(src, i, indent)
        src.add(indent, f"if {i} == 0:")
        src.add(indent + 1, f"{target} = None")
        src.add(indent, f"elif {i} == 1:")
        _read(src, branch, names, _unwrap(tp), target, indent + 1)
        src.add(indent, "else:")
        src.add(indent + 1, f"raise ValueError(f'union branch {{{i}}}')")
    elif kind in ("array", "map"):
        params = typing.get_args(tp)
        item_tp = params[-1] if params else Any
        values = _resolve(schema["items"] if kind == "array" else schema["values"], names)
        n, x = src.name("n"), src.name("x")
        src.add(indent, f"{target} = []" if kind == "array" else f"{target} = {{}}")
        src.add(indent, "while True:")
        _read_long(src, n, indent + 1)
        src.add(indent + 1, f"if {n} == 0:")
        src.add(indent + 2, "break")
        src.add(indent + 1, f"if {n} < 0:")  # a block written with its size in bytes after the count
        src.add(indent + 2, f"{n} = -{n}")
        _read_long(src, src.name("size"), indent + 2)
        if kind == "array" and values in ("float", "double"):
            code, size = ("f", 4) if values == "float" else ("d", 8)
            src.add(indent + 1, f"{target}.extend(_unpack('<%d{code}' % {n}, b, p))")
            src.add(indent + 1, f"p += {size} * {n}")
        else:
            src.add(indent + 1, f"for _ in range({n}):")
            if kind == "map":
                k = src.name("k")
                _read(src, "string", names, str, k, indent + 2)
                _read(src, values, names, item_tp, x, indent + 2)
                src.add(indent + 2, f"{target}[{k}] = {x}")
            else:
                _read(src, values, names, item_tp, x, indent + 2)
                src.add(indent + 2, f"{target}.append({x})")
    elif kind == "record":
        if not isinstance(tp, type) or not dataclasses.is_dataclass(tp):
            raise NotImplementedError(f"record {schema['name']} read as {tp}")
        hints = typing.get_type_hints(tp)
        known = {f.name for f in dataclasses.fields(tp)}
        args = []
        for f in schema["fields"]:
            if f["name"] not in known:
                raise NotImplementedError(f"{tp.__name__} has no field {f['name']}")
            v = src.name("f")
            _read(src, f["type"], names, hints[f["name"]], v, indent)
            args.append(f"{f['name']}={v}")
        src.add(indent, f"{target} = {src.bind(tp)}({', '.join(args)})")
    else:
        raise NotImplementedError(f"Avro type {kind}")


def reader_for(schema: Any, cls: type) -> Reader:
    """A function ``read(data, start)``: the ``cls`` event whose Avro body (of the parsed ``schema``)
    fills ``data`` from ``start`` to its end. Raises (IndexError, ValueError, struct.error,
    UnicodeDecodeError, TypeError) on a body that is cut short, runs on, or holds bad values."""
    src = _Source()
    src.add(1, "p = start")
    _read(src, schema, _named(schema), cls, "event", 1)
    src.add(1, "if p != len(b):")
    src.add(2, "raise ValueError(f'{len(b) - p} bytes after the event')")
    src.add(1, "return event")
    return cast(Reader, src.compile("def read(b, start):", "read"))
