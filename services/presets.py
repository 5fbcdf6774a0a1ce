"""URL-list presets for the fetch workload, read from resources/presets/fetch.json.

A preset's URLs are templates: ``{server}`` (the embedded demo server), ``{refused}`` (a port where nothing
listens), ``{delay}`` (seconds) and ``{i}`` (copy number). A preset with ``"repeat": true`` is expanded
``count`` times, ``{i}`` running from 0, so the demo server sees distinct URLs.
"""

from __future__ import annotations

import json
import math
import string
from dataclasses import dataclass
from importlib import resources
from os import PathLike
from pathlib import Path
from typing import Any

PRESETS_PACKAGE = "resources.presets"
PRESETS_FILE = "fetch.json"
PLACEHOLDERS = frozenset({"server", "refused", "delay", "i"})
MAX_COUNT = 10_000
MAX_DELAY_S = 30.0  # the demo server's /delay limit


class PresetError(ValueError):
    """The presets file cannot be used; the message says where and why."""


@dataclass(frozen=True)
class FetchPreset:
    id: str
    name: str
    description: str
    urls: tuple[str, ...]  # templates
    repeat: bool = False  # expand the templates `count` times
    count: int = 1  # default count (the GUI may offer another)
    delay: float = 1.0  # default delay in seconds
    concurrency: int | None = None  # a suggested concurrency, if the preset has one


def fetch_presets(path: str | PathLike[str] | None = None) -> list[FetchPreset]:
    """All presets, in file order. `path` replaces the packaged file (tests use it for broken files)."""
    source = str(path) if path is not None else f"{PRESETS_PACKAGE}/{PRESETS_FILE}"
    try:
        if path is None:
            text = resources.files(PRESETS_PACKAGE).joinpath(PRESETS_FILE).read_text(encoding="utf-8")
        else:
            text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise PresetError(f"cannot read fetch presets {source}: {exc}") from exc
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise PresetError(
            f"{source}: not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}"
        ) from exc
    if not isinstance(data, dict) or not isinstance(data.get("presets"), list) or not data["presets"]:
        raise PresetError(f'{source}: expected an object with a non-empty list "presets"')
    presets = [_preset(entry, f"{source}: preset #{n + 1}") for n, entry in enumerate(data["presets"])]
    ids = [p.id for p in presets]
    if dupes := sorted({i for i in ids if ids.count(i) > 1}):
        raise PresetError(f"{source}: duplicate preset id {', '.join(repr(d) for d in dupes)}")
    return presets


def find_preset(preset_id: str, path: str | PathLike[str] | None = None) -> FetchPreset:
    for preset in fetch_presets(path):
        if preset.id == preset_id:
            return preset
    raise KeyError(f"no fetch preset {preset_id!r}")


def expand(
    preset: FetchPreset,
    server_base: str,
    refused_url: str,
    count: int | None = None,
    delay: float | None = None,
) -> list[str]:
    """The preset's URLs with every placeholder filled in. count/delay default to the preset's own.

    Raises ValueError for a count or delay out of range (the demo server's limits).
    """
    count = preset.count if count is None else count
    delay = preset.delay if delay is None else delay
    if isinstance(count, bool) or not isinstance(count, int) or not 1 <= count <= MAX_COUNT:
        raise ValueError(f"count must be a whole number from 1 to {MAX_COUNT} (got {count!r})")
    if not (isinstance(delay, int | float) and math.isfinite(delay) and 0 <= delay <= MAX_DELAY_S):
        raise ValueError(f"delay must be from 0 to {MAX_DELAY_S:g} s (got {delay!r})")
    values = {"server": server_base.rstrip("/"), "refused": refused_url.rstrip("/"), "delay": f"{delay:g}"}
    copies = range(count) if preset.repeat else range(1)
    return [template.format(**values, i=i) for i in copies for template in preset.urls]


# -- reading one entry ----------------------------------------------------------------------------------


def _preset(entry: Any, where: str) -> FetchPreset:
    if not isinstance(entry, dict):
        raise PresetError(f"{where}: expected an object, got {type(entry).__name__}")
    where = f"{where} ({entry['id']!r})" if isinstance(entry.get("id"), str) else where
    pid = _field(entry, "id", str, where)
    name = _field(entry, "name", str, where)
    description = _field(entry, "description", str, where, default="")
    urls = _field(entry, "urls", list, where)
    if not urls or not all(isinstance(u, str) and u.strip() for u in urls):
        raise PresetError(f'{where}: "urls" must be a non-empty list of non-empty strings')
    for url in urls:
        _check_template(url, where)
    repeat = _field(entry, "repeat", bool, where, default=False)
    count = _field(entry, "count", int, where, default=1)
    delay = _field(entry, "delay", (int, float), where, default=1.0)
    concurrency = _field(entry, "concurrency", int, where, default=None)
    if not pid.strip() or not name.strip():
        raise PresetError(f'{where}: "id" and "name" must not be blank')
    if not 1 <= count <= MAX_COUNT:
        raise PresetError(f'{where}: "count" must be from 1 to {MAX_COUNT} (got {count})')
    if not (math.isfinite(delay) and 0 <= delay <= MAX_DELAY_S):
        raise PresetError(f'{where}: "delay" must be from 0 to {MAX_DELAY_S:g} (got {delay})')
    if concurrency is not None and concurrency < 1:
        raise PresetError(f'{where}: "concurrency" must be at least 1 (got {concurrency})')
    return FetchPreset(pid, name, description, tuple(urls), repeat, count, float(delay), concurrency)


def _field(entry: dict[str, Any], key: str, kind: type | tuple[type, ...], where: str, **default: Any) -> Any:
    if key not in entry:
        if "default" in default:
            return default["default"]
        raise PresetError(f'{where}: missing "{key}"')
    value = entry[key]
    # bool is an int in Python: do not let `true` pass as a count, or 1 as a flag.
    wrong_bool = isinstance(value, bool) != (kind is bool)
    if not isinstance(value, kind) or wrong_bool:
        names = " or ".join(k.__name__ for k in (kind if isinstance(kind, tuple) else (kind,)))
        raise PresetError(f'{where}: "{key}" must be {names}, got {json.dumps(value)}')
    return value


def _check_template(url: str, where: str) -> None:
    try:
        parsed = [
            (name, spec, conv) for _, name, spec, conv in string.Formatter().parse(url) if name is not None
        ]
    except ValueError as exc:  # e.g. a lone "{"
        raise PresetError(f"{where}: bad URL template {url!r}: {exc}") from exc
    if any(spec or conv for _, spec, conv in parsed):
        raise PresetError(f"{where}: placeholders take no format spec or conversion, in {url!r}")
    fields = {name for name, _, _ in parsed}
    if unknown := sorted(fields - PLACEHOLDERS):
        allowed = ", ".join("{" + p + "}" for p in sorted(PLACEHOLDERS))
        raise PresetError(f"{where}: unknown placeholder {{{unknown[0]}}} in {url!r} (allowed: {allowed})")
