"""Reading preset files: the shipped ones (``presets/data``) and the user's (``<models>/garment_studio/presets``).

Strict on purpose: an unknown key or rule kind, a wrong value type, a rule citing a source the file does not
list, a duplicate id or a name that is not the file's stem is a BadInput naming the file and the key. A rule
that a typo turned into something else would otherwise be skipped silently, and a merchant would upload an
image that a marketplace refuses.

A user file with the name of a shipped preset replaces it (the listing says so): a merchant can correct a rule
the day a marketplace changes it, without waiting for a release.
"""

from __future__ import annotations

import datetime
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lib_garment.errors import BadInput
from lib_garment.paths import MODELS_SUBDIR, models_root
from lib_garment.presets import schema
from lib_garment.presets.schema import Canvas, Origin, Preset, Rule, Source

if sys.version_info >= (3, 11):
    import tomllib
else:  # Python 3.10 has no tomllib; deps.py installs the backport there
    import tomli as tomllib

SHIPPED_DIR = Path(__file__).resolve().parent / "data"
USER_SUBDIR = "presets"

_TOP_KEYS = {"name", "title", "marketplace", "description", "missing", "source", "canvas", "rule"}
_SOURCE_KEYS = {"id", "title", "url", "read", "page_date"}
_CANVAS_KEYS = {"width", "height", "fill", "anchor", "background", "format", "source"}
_RULE_KEYS = {"id", "kind", "value", "severity", "source", "note"}


def user_dir(models_dir: str | Path | None = None) -> Path:
    """The folder for the user's own preset files (it need not exist)."""
    return models_root(models_dir) / MODELS_SUBDIR / USER_SUBDIR


@dataclass(frozen=True)
class PresetSet:
    """Every preset found, by name, and what the user's files replaced."""

    presets: dict[str, Preset]
    notes: tuple[str, ...] = ()

    @property
    def names(self) -> list[str]:
        return sorted(self.presets)

    def get(self, name: str, field: str = "preset") -> Preset:
        """The preset called ``name``; BadInput naming ``field`` and listing the valid names otherwise."""
        if name in self.presets:
            return self.presets[name]
        valid = ", ".join(self.names) or "none: no preset files are installed"
        raise BadInput(f"{field}: no preset {name!r}; valid names: {valid}", loc=(field,))


def load_presets(
    models_dir: str | Path | None = None, *, shipped: Path = SHIPPED_DIR, user: Path | None = None
) -> PresetSet:
    """The shipped presets, then the user's (``user`` defaults to :func:`user_dir`), the user's winning."""
    found = {p.name: p for p in _read_folder(shipped, "shipped")}
    notes = []
    for preset in _read_folder(user if user is not None else user_dir(models_dir), "user"):
        if preset.name in found:
            notes.append(f"{preset.name}: the user's file {preset.path} replaces the shipped one")
        found[preset.name] = preset
    return PresetSet(dict(sorted(found.items())), tuple(notes))


def _read_folder(folder: Path, origin: Origin) -> list[Preset]:
    if not folder.is_dir():
        return []
    return [read_preset(path, origin) for path in sorted(folder.glob("*.toml"))]


def read_preset(path: Path, origin: Origin = "user") -> Preset:
    """One preset file, checked in full; BadInput naming the file and the key otherwise."""
    try:
        with path.open("rb") as fh:
            data = tomllib.load(fh)
    except tomllib.TOMLDecodeError as err:
        raise BadInput(f"preset file {path}: not valid TOML: {err}") from None
    except OSError as err:
        raise BadInput(f"preset file {path}: cannot read it: {err}") from None
    try:
        return _preset(data, path, origin)
    except _KeyProblem as err:
        raise BadInput(f"preset file {path}: {err.key}: {err.problem}") from None


class _KeyProblem(Exception):
    def __init__(self, key: str, problem: str) -> None:
        super().__init__(f"{key}: {problem}")
        self.key, self.problem = key, problem


def _known_keys(table: Any, allowed: set[str], where: str) -> dict[str, Any]:
    if not isinstance(table, dict):
        raise _KeyProblem(where, f"must be a table, got {table!r}")
    unknown = sorted(set(table) - allowed)
    if unknown:
        key = f"{where}.{unknown[0]}" if where else unknown[0]
        raise _KeyProblem(key, f"unknown key (known: {', '.join(sorted(allowed))})")
    return table


def _required(table: dict[str, Any], key: str, where: str) -> Any:
    if key not in table:
        raise _KeyProblem(f"{where}.{key}" if where else key, "missing")
    return table[key]


def _text(table: dict[str, Any], key: str, where: str, default: str | None = None) -> str:
    value = table.get(key, default) if default is not None else _required(table, key, where)
    if not isinstance(value, str):
        raise _KeyProblem(f"{where}.{key}" if where else key, f"must be a string, got {value!r}")
    return value


def _checked(check: Any, value: Any, key: str) -> Any:
    try:
        return check(value)
    except ValueError as err:
        raise _KeyProblem(key, str(err)) from None


def _date(value: Any, key: str) -> datetime.date:
    # A TOML date (2026-12-07) reads as datetime.date; a date-time or a string is refused: "read" is a day.
    if not isinstance(value, datetime.date) or isinstance(value, datetime.datetime):
        raise _KeyProblem(key, f"must be a TOML date such as 2026-12-07 (no quotes), got {value!r}")
    return value


def _preset(data: dict[str, Any], path: Path, origin: Origin) -> Preset:
    _known_keys(data, _TOP_KEYS, "")
    name = _text(data, "name", "")
    if not schema.NAME_PATTERN.match(name):
        raise _KeyProblem("name", f"must be lower-case letters, digits and single hyphens, got {name!r}")
    if name != path.stem:
        raise _KeyProblem("name", f"{name!r} must be the file's stem, {path.stem!r}")
    missing = data.get("missing", [])
    if not isinstance(missing, list) or not all(isinstance(item, str) for item in missing):
        raise _KeyProblem("missing", f"must be a list of strings, got {missing!r}")
    sources = _sources(data.get("source", []))
    source_ids = {source.id for source in sources}
    return Preset(
        name=name,
        title=_text(data, "title", ""),
        marketplace=_text(data, "marketplace", ""),
        description=_text(data, "description", "", default=""),
        missing=tuple(missing),
        sources=sources,
        canvas=_canvas(data.get("canvas", {}), source_ids),
        rules=_rules(data.get("rule", []), source_ids),
        path=path,
        origin=origin,
    )


def _tables(value: Any, key: str) -> list[dict[str, Any]]:
    if not isinstance(value, list) or not all(isinstance(item, dict) for item in value):
        raise _KeyProblem(key, f"must be an array of tables ([[{key}]]), got {value!r}")
    return value


def _sources(value: Any) -> tuple[Source, ...]:
    sources: list[Source] = []
    for i, table in enumerate(_tables(value, "source")):
        where = f"source[{i}]"
        _known_keys(table, _SOURCE_KEYS, where)
        source_id = _text(table, "id", where)
        where = f"source {source_id!r}"
        if any(s.id == source_id for s in sources):
            raise _KeyProblem(f"{where}.id", "duplicate id")
        page_date = table.get("page_date")
        sources.append(
            Source(
                id=source_id,
                title=_text(table, "title", where),
                url=_text(table, "url", where),
                read=_date(_required(table, "read", where), f"{where}.read"),
                page_date=_date(page_date, f"{where}.page_date") if page_date is not None else None,
            )
        )
    return tuple(sources)


def _source_ref(table: dict[str, Any], where: str, source_ids: set[str], *, required: bool) -> str | None:
    if "source" not in table and not required:
        return None
    ref = _text(table, "source", where)
    if ref not in source_ids:
        known = ", ".join(sorted(source_ids)) or "none listed"
        raise _KeyProblem(f"{where}.source", f"{ref!r} is not a [[source]] id of this file (ids: {known})")
    return ref


def _canvas(table: Any, source_ids: set[str]) -> Canvas:
    _known_keys(table, _CANVAS_KEYS, "canvas")

    def optional(key: str, check: Any) -> Any:
        return _checked(check, table[key], f"canvas.{key}") if key in table else None

    return Canvas(
        width=optional("width", schema.positive_int),
        height=optional("height", schema.positive_int),
        fill=optional("fill", lambda v: schema.number(v, 0.01, 1.0)),
        anchor=optional("anchor", schema.choice(schema.ANCHORS)) or "center",
        background=optional("background", schema.colour),
        format=optional("format", schema.choice(schema.FORMATS)),
        source=_source_ref(table, "canvas", source_ids, required=False),
    )


def _rules(value: Any, source_ids: set[str]) -> tuple[Rule, ...]:
    rules: list[Rule] = []
    for i, table in enumerate(_tables(value, "rule")):
        rule_id = _text(table, "id", f"rule[{i}]")
        where = f"rule {rule_id!r}"
        kind = _text(table, "kind", where)
        spec = schema.RULE_KINDS.get(kind)
        if spec is None:
            raise _KeyProblem(f"{where}.kind", f"unknown kind {kind!r} (known: {', '.join(schema.RULE_KINDS)})")
        extras = dict(spec.extras)
        _known_keys(table, _RULE_KEYS | set(extras), where)
        if any(rule.id == rule_id for rule in rules):
            raise _KeyProblem(f"{where}.id", "duplicate id")
        rules.append(
            Rule(
                id=rule_id,
                kind=kind,
                value=_checked(spec.value, _required(table, "value", where), f"{where}.value"),
                severity=_checked(
                    schema.choice(schema.SEVERITIES), _required(table, "severity", where), f"{where}.severity"
                ),
                source=_source_ref(table, where, source_ids, required=True) or "",
                note=_text(table, "note", where, default=""),
                tolerance=_checked(extras["tolerance"], table["tolerance"], f"{where}.tolerance")
                if "tolerance" in table
                else None,
                min_share=_checked(extras["min_share"], table["min_share"], f"{where}.min_share")
                if "min_share" in table
                else None,
            )
        )
    return tuple(rules)
