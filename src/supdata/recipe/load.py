"""Load a recipe file: safe YAML, then validation with errors that point at the field."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from supdata.builders import builders
from supdata.recipe.model import Recipe, recipe_model
from supdata.sources.config import SOURCE_KINDS


class RecipeError(ValueError):
    """A recipe that cannot run; the message names the file, the field and the problem."""


def load_recipe(path: str | Path, overrides: dict[str, Any] | None = None) -> Recipe:
    path = Path(path)
    if not path.is_file():
        raise RecipeError(f"{path}: recipe file not found")
    text = path.read_text(encoding="utf-8")
    try:
        data = yaml.safe_load(text)
        root = yaml.compose(text)
    except yaml.YAMLError as exc:
        raise RecipeError(f"{path}: not valid YAML: {exc}") from exc
    if not isinstance(data, dict):
        raise RecipeError(f"{path}: expected a mapping at the top level, got {type(data).__name__}")
    data = _resolve_includes(path, data, [path.resolve()])
    for key, value in (overrides or {}).items():
        _set(data, key.split("."), value)
    try:
        recipe = recipe_model().model_validate(data)
    except ValidationError as exc:
        raise RecipeError(_format(path, exc, root)) from None
    problems = recipe.reference_errors()
    if problems:
        lines = [f"{path}: invalid recipe ({len(problems)} problem(s))"]
        for loc, message in problems:
            line = _line_of(root, loc)
            lines.append(
                f"  {path}:{line}: {_field_path(loc)}: {message}"
                if line
                else f"  {path}: {_field_path(loc)}: {message}"
            )
        raise RecipeError("\n".join(lines))
    return recipe


def _resolve_includes(path: Path, data: dict[str, Any], chain: list[Path]) -> dict[str, Any]:
    """Merge ``include:`` files (relative to the including file) under this one."""
    includes = data.pop("include", None)
    if includes is None:
        return data
    if isinstance(includes, str):
        includes = [includes]
    if not isinstance(includes, list) or not all(isinstance(i, str) for i in includes):
        raise RecipeError(f"{path}: include: expected a file name or a list of file names")
    merged: dict[str, Any] = {}
    for name in includes:
        target = (path.parent / name).resolve()
        if target in chain:
            cycle = " -> ".join(str(p) for p in [*chain, target])
            raise RecipeError(f"{path}: include: cycle: {cycle}")
        if not target.is_file():
            raise RecipeError(f"{path}: include: {name!r} not found (looked at {target})")
        try:
            part = yaml.safe_load(target.read_text(encoding="utf-8")) or {}
        except yaml.YAMLError as exc:
            raise RecipeError(f"{target}: not valid YAML: {exc}") from None
        if not isinstance(part, dict):
            raise RecipeError(f"{target}: an included file must hold a mapping")
        merged = _deep_merge(merged, _resolve_includes(target, part, [*chain, target]))
    return _deep_merge(merged, data)


def _deep_merge(base: dict[str, Any], top: dict[str, Any]) -> dict[str, Any]:
    """``top`` wins; mappings merge key by key, everything else is replaced."""
    out = dict(base)
    for key, value in top.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _deep_merge(out[key], value)
        else:
            out[key] = value
    return out


def _set(data: dict[str, Any], keys: list[str], value: Any) -> None:
    for key in keys[:-1]:
        data = data.setdefault(key, {})
    data[keys[-1]] = value


def _format(path: Path, exc: ValidationError, root: yaml.Node | None) -> str:
    lines = [f"{path}: invalid recipe ({exc.error_count()} problem(s))"]
    for err in exc.errors(include_url=False):
        user_loc = _user_loc(err["loc"])
        if err["type"] in ("union_tag_invalid", "union_tag_not_found"):
            user_loc = (*user_loc, "kind")
        loc = _field_path(user_loc)
        line = _line_of(root, user_loc)
        where = f"{path}:{line}" if line else str(path)
        got = err.get("input")
        shown = "" if err["type"] == "missing" or isinstance(got, dict) else f" (got {got!r})"
        lines.append(f"  {where}: {loc or '<top>'}: {err['msg']}{shown}")
    return "\n".join(lines)


def _user_loc(loc: tuple[Any, ...]) -> tuple[Any, ...]:
    """The location as the user wrote it: pydantic adds tagged-union member tags."""

    def is_tag(i: int, part: Any) -> bool:
        if i >= 1 and loc[i - 1] == "source":
            return part in SOURCE_KINDS
        if i >= 2 and loc[i - 2] == "builders" and isinstance(loc[i - 1], int):
            return part in builders()
        return False

    return tuple(part for i, part in enumerate(loc) if not is_tag(i, part))


def _field_path(loc: tuple[Any, ...]) -> str:
    parts = [f"[{part}]" if isinstance(part, int) else str(part) for part in loc]
    return ".".join(parts).replace(".[", "[")


def _line_of(node: yaml.Node | None, loc: tuple[Any, ...]) -> int | None:
    """1-based line of the deepest node of ``loc`` found in the YAML tree."""
    line = None
    for part in loc:
        if isinstance(node, yaml.MappingNode):
            match = next((v for k, v in node.value if k.value == part), None)
            if match is None:
                key_hit = next((k for k, _ in node.value if k.value == part), None)
                return key_hit.start_mark.line + 1 if key_hit else line
            node = match
        elif isinstance(node, yaml.SequenceNode) and isinstance(part, int):
            if part >= len(node.value):
                return line
            node = node.value[part]
        else:
            continue
        line = node.start_mark.line + 1
    return line
