"""A small tagged JSON encoding, so a run stored as JSON reads back *equal* to the one stored.

JSON has no word for some values ``detail`` may hold: a tuple is stored as ``{"__tuple__": [...]}``, bytes as
``{"__bytes__": "<base64>"}``, NaN/inf as ``{"__float__": "nan"}``, a dict with non-text keys as
``{"__dict__": [[key, value], ...]}``. Anything else (a Path, an exception...) is stored as its ``str()``.
"""

from __future__ import annotations

import base64
import json
import math
from collections.abc import Mapping
from typing import Any

_TAGS = ("__tuple__", "__bytes__", "__float__", "__dict__")
MAX_DEPTH = 64  # deeper (or self-containing) structures are stored as their str()


_SIMPLE = frozenset({str, int, bool, type(None)})  # stored as they are (exact types: fast, and no subclasses)


def _encode(value: Any, depth: int = 0) -> Any:
    if type(value) in _SIMPLE:
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else {"__float__": repr(value)}
    if isinstance(value, (str, int)):  # subclasses: an IntEnum, a str-based enum
        return value
    if depth > MAX_DEPTH:
        return str(value)
    if isinstance(value, (list, tuple)):
        # Rows of plain values (SQLite's first_rows) are the bulk of what is stored: skip the call per value.
        inner = [v if type(v) in _SIMPLE else _encode(v, depth + 1) for v in value]
        return inner if isinstance(value, list) else {"__tuple__": inner}
    if isinstance(value, Mapping):
        if all(isinstance(k, str) for k in value) and not (len(value) == 1 and next(iter(value)) in _TAGS):
            return {k: _encode(v, depth + 1) for k, v in value.items()}
        return {"__dict__": [[_encode(k, depth + 1), _encode(v, depth + 1)] for k, v in value.items()]}
    if isinstance(value, (bytes, bytearray, memoryview)):
        return {"__bytes__": base64.b64encode(bytes(value)).decode("ascii")}
    return str(value)


def _decode(value: Any) -> Any:
    if isinstance(value, list):
        return [_decode(v) for v in value]
    if not isinstance(value, dict):
        return value
    if len(value) == 1:
        ((tag, inner),) = value.items()
        if tag == "__tuple__":
            return tuple(_decode(v) for v in inner)
        if tag == "__bytes__":
            return base64.b64decode(inner)
        if tag == "__float__":
            return float(inner)
        if tag == "__dict__":
            return {_hashable(_decode(k)): _decode(v) for k, v in inner}
    return {k: _decode(v) for k, v in value.items()}


def _hashable(key: Any) -> Any:
    try:
        hash(key)
    except TypeError:
        return str(key)
    return key


def dumps(value: Any) -> str:
    return json.dumps(_encode(value), ensure_ascii=False, separators=(",", ":"), allow_nan=False)


def loads(text: str | None) -> dict[str, Any]:
    """A JSON object column read back; an unreadable (hand-edited) one comes back as {"unreadable": text}."""
    try:
        value = _decode(json.loads(text or "{}"))
    except (ValueError, TypeError):
        return {"unreadable": text}
    return value if isinstance(value, dict) else {"value": value}


def loads_list(text: str | None) -> list[Any]:
    try:
        value = _decode(json.loads(text or "[]"))
    except (ValueError, TypeError):
        return []
    return value if isinstance(value, list) else []
