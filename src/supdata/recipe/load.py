"""Load a recipe file: safe YAML, then validation with errors that point at the field."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ValidationError

from supdata.builders import builders
from supdata.recipe.model import Recipe, recipe_model
from supdata.sources.config import SOURCE_KINDS
from supdata.sources.inputs import source_problems


class RecipeError(ValueError):
    """A recipe that cannot run; the message names the file, the field and the problem."""


# -- YAML: safe, YAML 1.2 scalars, duplicate keys refused, every value located --------

_BOOL = re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$")
_INT = re.compile(r"^(?:[-+]?[0-9][0-9_]*|0o[0-7]+|0x[0-9a-fA-F]+)$")
_FLOAT = re.compile(
    r"^(?:[-+]?(?:\.[0-9]+|[0-9][0-9_]*(?:\.[0-9_]*)?)(?:[eE][-+]?[0-9]+)?"
    r"|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$"
)
_YAML11 = {"tag:yaml.org,2002:bool", "tag:yaml.org,2002:int", "tag:yaml.org,2002:float"}
_YAML11.add("tag:yaml.org,2002:timestamp")
_MERGE = "tag:yaml.org,2002:merge"


class _Located(dict):
    """A mapping that remembers the (file, line) where each key's value starts."""

    lines: dict[Any, tuple[str, int]]


class _LocatedList(list):
    """A sequence that remembers the (file, line) of each item."""

    lines: list[tuple[str, int]]


class _Loader(yaml.SafeLoader):
    """``yaml.SafeLoader`` with YAML 1.2 core scalars and duplicate keys refused.

    YAML 1.1 reads ``yes``/``no``/``on``/``off`` as booleans, ``010`` as 8, ``1:30`` as 90
    and ``2024-01-01`` as a date, so ``n: yes`` silently became 1. Here only
    ``true``/``false`` are booleans, integers are decimal (``0o``/``0x`` for the others),
    ``1e-5`` is a float, and everything else stays a string, which the recipe's fields
    then accept or reject by name. A key written twice in one mapping is an error (it
    used to replace the first silently: a second ``builders: []`` wiped every builder).
    """

    file = "<recipe>"

    def construct_mapping(self, node: yaml.Node, deep: bool = False) -> dict[Any, Any]:
        if isinstance(node, yaml.MappingNode):
            seen: dict[Any, yaml.Node] = {}
            for key_node, _ in node.value:
                if key_node.tag == _MERGE:
                    continue
                key = self.construct_object(key_node, deep=True)
                try:
                    first = seen.setdefault(key, key_node)
                except TypeError:
                    continue  # unhashable: the base constructor says so
                if first is not key_node:
                    raise yaml.constructor.ConstructorError(
                        None,
                        None,
                        f"duplicate key {key!r} (first at line {first.start_mark.line + 1}): "
                        "a key may appear once in a mapping",
                        key_node.start_mark,
                    )
        return super().construct_mapping(node, deep=deep)

    def construct_located_map(self, node: yaml.MappingNode) -> Iterator[_Located]:
        data = _Located()
        data.lines = {}
        yield data
        data.update(self.construct_mapping(node))
        for key_node, value_node in node.value:  # flattened: merged first, own keys win
            key = self.construct_object(key_node)
            data.lines[key] = (self.file, value_node.start_mark.line + 1)

    def construct_located_seq(self, node: yaml.SequenceNode) -> Iterator[_LocatedList]:
        data = _LocatedList()
        data.lines = [(self.file, item.start_mark.line + 1) for item in node.value]
        yield data
        data.extend(self.construct_sequence(node))

    def construct_yaml12_int(self, node: yaml.ScalarNode) -> int:
        text = self.construct_scalar(node).replace("_", "")
        if text.startswith(("0o", "0x")):
            return int(text, 0)
        return int(text, 10)


_Loader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag not in _YAML11]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
_Loader.add_implicit_resolver("tag:yaml.org,2002:bool", _BOOL, list("tTfF"))
_Loader.add_implicit_resolver("tag:yaml.org,2002:int", _INT, list("-+0123456789"))
_Loader.add_implicit_resolver("tag:yaml.org,2002:float", _FLOAT, list("-+0123456789."))
_Loader.add_constructor("tag:yaml.org,2002:int", _Loader.construct_yaml12_int)
_Loader.add_constructor("tag:yaml.org,2002:map", _Loader.construct_located_map)
_Loader.add_constructor("tag:yaml.org,2002:seq", _Loader.construct_located_seq)


def _read_yaml(path: Path) -> Any:
    """The file's YAML, located; a RecipeError naming file:line for bytes that are not
    UTF-8, a syntax error, an unsafe tag or a duplicate key."""
    data = path.read_bytes()
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        column = exc.start - (data.rfind(b"\n", 0, exc.start) + 1) + 1
        raise RecipeError(
            f"{path}:{line}:{column}: not UTF-8 text (byte 0x{data[exc.start]:02x}); "
            "save the recipe as UTF-8"
        ) from None
    loader = _Loader(text)
    loader.file = str(path)
    try:
        return loader.get_single_data()
    except yaml.MarkedYAMLError as exc:
        raise RecipeError(_yaml_message(path, exc)) from None
    except yaml.YAMLError as exc:
        raise RecipeError(f"{path}: not valid YAML: {exc}") from None
    finally:
        loader.dispose()


def _yaml_message(path: Path, exc: yaml.MarkedYAMLError) -> str:
    mark = exc.problem_mark or exc.context_mark
    where = f"{path}:{mark.line + 1}:{mark.column + 1}" if mark else str(path)
    text = exc.problem or exc.context or "syntax error"
    if exc.context and exc.problem:
        cm = exc.context_mark
        text += f" ({exc.context}" + (f", line {cm.line + 1})" if cm else ")")
    snippet = mark.get_snippet(indent=4, max_length=80) if mark else None
    return f"{where}: not valid YAML: {text}" + (f"\n{snippet}" if snippet else "")


def _plain(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


# -- loading ------------------------------------------------------------------------------


def load_recipe(
    path: str | Path, overrides: dict[str, Any] | None = None, *, check_inputs: bool = True
) -> Recipe:
    """Read, merge the includes of, and validate a recipe; every mistake found is one
    RecipeError naming the file and line it was written in (the included file for a
    value that came from one) and the field path.

    Beyond the fields: engine references, ``true``/``false`` where a number belongs, every
    prompt template compiled in the sandbox, token caps below ``max_model_len``, and
    (``check_inputs``) the source's inputs: files exist, reasoning_gym names are known.
    A command that never reads the source (one engine of the recipe) can skip that."""
    path = Path(path)
    if not path.is_file():
        raise RecipeError(f"{path}: recipe file not found")
    located = _read_yaml(path)
    if not isinstance(located, dict):
        raise RecipeError(
            f"{path}: expected a mapping at the top level, got {type(_plain(located)).__name__}"
        )
    located = _resolve_includes(path, located, [path.resolve()])
    data = _plain(located)
    for key, value in (overrides or {}).items():
        _set(data, key.split("."), value)
    _resolve_prompt_files(data.get("builders"), located.get("builders"), path)
    try:
        recipe = recipe_model().model_validate(data)
    except ValidationError as exc:
        raise RecipeError(_format(path, exc, located)) from None
    problems = [
        *recipe.reference_errors(),
        *_bool_numbers(data, recipe, ()),
        *[(("source", *loc), msg) for loc, msg in source_problems(recipe.source) if check_inputs],
        *_prompt_errors(recipe),
        *_token_limit_errors(recipe),
    ]
    if problems:
        lines = [f"{path}: invalid recipe ({len(problems)} problem(s))"]
        for loc, message in problems:
            lines.append(f"  {_where(path, located, loc)}: {_field_path(loc)}: {message}")
        raise RecipeError("\n".join(lines))
    return recipe


def _resolve_includes(path: Path, data: dict[str, Any], chain: list[Path]) -> dict[str, Any]:
    """Merge ``include:`` files (relative to the including file) under this one."""
    line = getattr(data, "lines", {}).get("include", (str(path), None))[1]
    here = f"{path}:{line}" if line else str(path)
    includes = data.pop("include", None)
    if includes is None:
        return data
    if isinstance(includes, str):
        includes = [includes]
    if not isinstance(includes, list) or not all(isinstance(i, str) for i in includes):
        raise RecipeError(f"{here}: include: expected a file name or a list of file names")
    merged: dict[str, Any] = _Located()
    merged.lines = {}
    for name in includes:
        target = (path.parent / name).resolve()
        if target in chain:
            cycle = " -> ".join(str(p) for p in [*chain, target])
            raise RecipeError(f"{here}: include: cycle: {cycle}")
        if not target.is_file():
            raise RecipeError(f"{here}: include: {name!r} not found (looked at {target})")
        part = _read_yaml(target)
        if part is None:
            continue
        if not isinstance(part, dict):
            raise RecipeError(f"{target}: an included file must hold a mapping")
        merged = _deep_merge(merged, _resolve_includes(target, part, [*chain, target]))
    return _deep_merge(merged, data)


def _deep_merge(base: dict[str, Any], top: dict[str, Any]) -> dict[str, Any]:
    """``top`` wins; mappings merge key by key, everything else is replaced. Each key
    keeps the (file, line) of the file its value came from."""
    out = _Located(base)
    out.lines = {**getattr(base, "lines", {}), **getattr(top, "lines", {})}
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


def _format(path: Path, exc: ValidationError, located: Any) -> str:
    lines = [f"{path}: invalid recipe ({exc.error_count()} problem(s))"]
    for err in exc.errors(include_url=False):
        user_loc = _user_loc(err["loc"])
        if err["type"] in ("union_tag_invalid", "union_tag_not_found"):
            user_loc = (*user_loc, "kind")
        loc = _field_path(user_loc)
        got = err.get("input")
        shown = "" if err["type"] == "missing" or isinstance(got, dict) else f" (got {got!r})"
        lines.append(f"  {_where(path, located, user_loc)}: {loc or '<top>'}: {err['msg']}{shown}")
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


def _where(path: Path, located: Any, loc: tuple[Any, ...]) -> str:
    """``file:line`` of the deepest part of ``loc`` written in some file (an included
    file for a value that came from it), else the recipe file."""
    found: tuple[str, int] | None = None
    node = located
    for part in loc:
        lines = getattr(node, "lines", None)
        if isinstance(node, dict) and lines is not None and part in node:
            found = lines.get(part, found)
            node = node[part]
        elif isinstance(node, list) and lines is not None and isinstance(part, int):
            if not 0 <= part < len(node):
                break
            found = lines[part]
            node = node[part]
        else:
            break
    return f"{found[0]}:{found[1]}" if found else str(path)


# -- checks pydantic cannot make ----------------------------------------------------------


def _bool_numbers(data: Any, model: Any, loc: tuple[Any, ...]) -> list[tuple[tuple, str]]:
    """``true``/``false`` written where a number is expected: pydantic reads them as 1
    and 0 (``n: true`` would sample once); the recipe must say the number."""
    if isinstance(data, bool):
        if type(model) in (int, float):
            return [(loc, f"expected a number, got the boolean {str(data).lower()}")]
        return []
    out: list[tuple[tuple, str]] = []
    if isinstance(data, dict) and isinstance(model, BaseModel):
        fields = type(model).model_fields
        for key, value in data.items():
            if key in fields:
                out += _bool_numbers(value, getattr(model, key), (*loc, key))
    elif isinstance(data, dict) and isinstance(model, dict):
        for key, value in data.items():
            if key in model:
                out += _bool_numbers(value, model[key], (*loc, key))
    elif isinstance(data, list) and isinstance(model, (list, tuple)) and len(data) == len(model):
        for i, (value, item) in enumerate(zip(data, model, strict=True)):
            out += _bool_numbers(value, item, (*loc, i))
    return out


def _resolve_prompt_files(data: Any, located: Any, recipe: Path) -> None:
    """A prompt field naming a template file (``*.yaml``) relative to the file it is
    written in (an included file's folder for a value from there; the working folder for
    an override) becomes an absolute path, so the build finds it from any folder."""
    from supdata.prompts import is_prompt_file

    if isinstance(data, list):
        for i, item in enumerate(data):
            here = located[i] if isinstance(located, list) and i < len(located) else None
            _resolve_prompt_files(item, here, recipe)
        return
    if not isinstance(data, dict):
        return
    lines = getattr(located, "lines", {}) if isinstance(located, dict) else {}
    for key, value in data.items():
        if key.endswith("prompt") and isinstance(value, str) and is_prompt_file(value):
            where = lines.get(key)
            written = located.get(key) if isinstance(located, dict) else None
            base = Path(where[0]).parent if where and written == value else Path.cwd()
            data[key] = str((base / value).resolve())
        else:
            here = located.get(key) if isinstance(located, dict) else None
            _resolve_prompt_files(value, here, recipe)


def _prompt_errors(recipe: Recipe) -> list[tuple[tuple, str]]:
    """Every prompt a builder names, loaded and compiled in the sandbox: a template with
    a Jinja syntax error or a sandbox violation fails here, before an engine loads. A
    user's template file must also use only the variables its field provides and the
    ones it needs (declared on the field, else those of the field's default template)."""
    from supdata.prompts import PromptError, check_variables, is_prompt_file, load_prompt

    out: list[tuple[tuple, str]] = []
    for loc, ref, info in _prompt_refs(recipe.builders, ("builders",)):
        try:
            prompt = load_prompt(ref)
            if is_prompt_file(ref):
                check_variables(prompt, *_field_variables(info))
        except PromptError as exc:
            out.append((loc, str(exc)))
    return out


def _field_variables(info: Any) -> tuple[frozenset[str], frozenset[str]]:
    """(provides, requires) of a prompt field."""
    from supdata.prompts import load_prompt

    declared = (info.json_schema_extra or {}).get("prompt_variables") if info else None
    if declared:
        return frozenset(declared["provides"]), frozenset(declared["requires"])
    default = info.default if info is not None else None
    provides = load_prompt(default).variables() if isinstance(default, str) else frozenset()
    return provides, provides & {"question"}


def _prompt_refs(value: Any, loc: tuple[Any, ...]) -> Iterator[tuple[tuple, str, Any]]:
    if isinstance(value, BaseModel):
        for name, info in type(value).model_fields.items():
            item = getattr(value, name)
            if name.endswith("prompt") and isinstance(item, str):
                yield (*loc, name), item, info
            else:
                yield from _prompt_refs(item, (*loc, name))
    elif isinstance(value, list):
        for i, item in enumerate(value):
            yield from _prompt_refs(item, (*loc, i))


# ``<name>_max_tokens`` caps what this builder engine field writes (default: ``engine``).
_TOKEN_ENGINES = {"feedback": "verifier", "critic": "critic", "rewrite": "rewriter"}


def _token_limit_errors(recipe: Recipe) -> list[tuple[tuple, str]]:
    """A token cap at or above its engine's ``max_model_len``: vLLM would cap it quietly
    (and the rows record the request), a server would refuse it."""
    out: list[tuple[tuple, str]] = []
    for i, builder in enumerate(recipe.builders):
        refs = builder.all_engine_refs()
        for path, value in _token_fields(builder, ()):
            section, name = path[:-1], path[-1]
            prefix = name.removesuffix("max_tokens").rstrip("_")
            keys = [".".join((*map(str, section), "engine"))] if section else []
            if prefix:
                keys.append(_TOKEN_ENGINES.get(prefix, prefix))
            keys.append("engine")
            engine = next((refs[k] for k in keys if k in refs), None)
            config = recipe.engines.get(engine) if engine else None
            if config is None or config.max_model_len is None:
                continue
            if value >= config.max_model_len:
                out.append(
                    (
                        ("builders", i, *path),
                        f"{value} must be below engine {engine!r}'s max_model_len "
                        f"({config.max_model_len}): the prompt needs room too",
                    )
                )
    return out


def _token_fields(model: BaseModel, loc: tuple[str, ...]) -> Iterator[tuple[tuple, int]]:
    for name in type(model).model_fields:
        value = getattr(model, name)
        if name.endswith("max_tokens") and isinstance(value, int) and not isinstance(value, bool):
            yield (*loc, name), value
        elif isinstance(value, BaseModel):
            yield from _token_fields(value, (*loc, name))
        elif isinstance(value, list):  # entries with their own engine (teachers)
            for i, item in enumerate(value):
                if isinstance(item, BaseModel) and "engine" in type(item).model_fields:
                    yield from _token_fields(item, (*loc, name, i))
