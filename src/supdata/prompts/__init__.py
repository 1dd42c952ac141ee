"""Prompts as versioned template files: ``templates/<id>.v<version>.yaml``.

A template is a list of chat messages whose contents are Jinja, rendered in a sandbox
(recipes and datasets are untrusted input). Cards cite prompts as ``id@version``.

A prompt field may instead name a user's own template file (a path ending ``.yaml`` or
``.yml``, relative to the recipe that names it): the same layout, loaded, compiled and
rendered the same way, cited as ``file:<name>@<sha256 prefix>``.

A template whose last message is the assistant's is a prefill: the engine continues
that message (``Prompt.continues``). ``output:`` in a critic template names the output
format its parser expects (``mathcritique``: the published text format, text only).
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field, replace
from functools import cache, lru_cache
from pathlib import Path
from typing import Any

import yaml
from jinja2 import StrictUndefined, Template, TemplateSyntaxError, UndefinedError, meta, nodes
from jinja2 import sandbox as _sandbox
from jinja2.exceptions import SecurityError
from jinja2.sandbox import SandboxedEnvironment

TEMPLATES = Path(__file__).parent / "templates"
_NAME = re.compile(r"^(?P<id>[a-z0-9_]+)\.v(?P<version>\d+)\.yaml$")
_ENV = SandboxedEnvironment(undefined=StrictUndefined, keep_trailing_newline=False)


class PromptError(ValueError):
    pass


@dataclass(frozen=True)
class Prompt:
    id: str
    version: int
    description: str
    messages: tuple[dict[str, str], ...]
    extras: dict[str, Any] = field(default_factory=dict)  # other keys: template variables
    file: str | None = None  # a user's template file: ``<name>@<sha256 prefix>``
    output: str = ""  # the output format a critic template asks for (see the module doc)

    @property
    def ref(self) -> str:
        return f"file:{self.file}" if self.file else f"{self.id}@{self.version}"

    @property
    def continues(self) -> bool:
        """The last message is the assistant's own opening: the engine continues it."""
        return self.messages[-1]["role"] == "assistant"

    def variables(self) -> frozenset[str]:
        """The template variables the messages use and the file does not set."""
        used = set()
        for m in self.messages:
            used |= meta.find_undeclared_variables(_ENV.parse(m["content"]))
        return frozenset(used - set(self.extras))

    def render(self, **values: Any) -> tuple[dict[str, str], ...]:
        out = []
        for m in self.messages:
            try:
                content = _compiled(m["content"]).render(**self.extras, **values)
            except UndefinedError as exc:
                raise PromptError(f"prompt {self.ref}: {exc.message}") from None
            out.append({"role": m["role"], "content": content})
        return tuple(out)


@lru_cache(maxsize=512)
def _compiled(source: str) -> Template:
    """A message template compiled once: ``from_string`` compiles on every call, which
    cost a build about a quarter millisecond per rendered message (two per problem and
    stage)."""
    return _ENV.from_string(source)


@lru_cache(maxsize=1)
def available() -> dict[str, dict[int, Path]]:
    found: dict[str, dict[int, Path]] = {}
    for path in TEMPLATES.glob("*.yaml"):
        m = _NAME.match(path.name)
        if m:
            found.setdefault(m["id"], {})[int(m["version"])] = path
    return found


def is_prompt_file(ref: str) -> bool:
    """A prompt field's value that names a template file rather than ``id@version``."""
    return ref.endswith((".yaml", ".yml"))


def load_prompt(ref: str) -> Prompt:
    """``id@version``, ``id`` for the newest version, or a template file's path (read
    afresh each time: the file may change between a recipe's validation and its run)."""
    if is_prompt_file(ref):
        return _load_file(Path(ref))
    return _load_builtin(ref)


@cache
def _load_builtin(ref: str) -> Prompt:
    pid, _, version = ref.partition("@")
    versions = available().get(pid)
    if not versions:
        raise PromptError(f"unknown prompt {pid!r}; available: {sorted(available())}")
    if version and (not version.isdigit() or int(version) not in versions):
        raise PromptError(f"prompt {pid!r} has no version {version!r}; has {sorted(versions)}")
    number = int(version) if version else max(versions)
    path = versions[number]
    text = path.read_text(encoding="utf-8")
    return _parse(text, f"prompt {pid}@{number} ({path})", pid, number)


load_prompt.cache_clear = _load_builtin.cache_clear  # type: ignore[attr-defined]


def _load_file(path: Path) -> Prompt:
    if not path.is_file():
        raise PromptError(f"prompt file {path}: not found")
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise PromptError(f"prompt file {path}: cannot be read: {exc}") from None
    digest = hashlib.sha256(text.encode()).hexdigest()[:12]
    prompt = _parse(text, f"prompt file {path}", path.stem, 0, file=path)
    return replace(prompt, file=f"{path.name}@{digest}")


_KEYS = ("id", "version", "description", "messages", "output")


def _parse(text: str, where: str, pid: str, number: int, file: Path | None = None) -> Prompt:
    at = f"{file}" if file else where
    try:
        data = yaml.safe_load(text)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = f":{mark.line + 1}" if mark else ""
        raise PromptError(f"{at}{line}: not valid YAML: {exc.problem or exc.context}") from None
    except yaml.YAMLError as exc:
        raise PromptError(f"{where}: cannot be read: {exc}") from None
    try:
        messages = tuple({"role": m["role"], "content": m["content"]} for m in data["messages"])
        if not messages or any(m["role"] not in _ROLES for m in messages):
            raise TypeError
    except (KeyError, TypeError) as exc:
        raise PromptError(
            f"{where}: expected `messages:`, a list of role ({'/'.join(_ROLES)}) and content"
        ) from exc
    extras = {k: v for k, v in data.items() if k not in _KEYS}
    lines = _content_lines(text) if file else {}
    for i, m in enumerate(messages):
        here = f"{file}:{lines[i]}" if i in lines else where
        check_template(m["content"], extras, f"{here}: messages[{i}] ({m['role']})")
    output = str(data.get("output", ""))
    return Prompt(pid, number, data.get("description", ""), messages, extras, output=output)


_ROLES = ("system", "user", "assistant")


def _content_lines(text: str) -> dict[int, int]:
    """messages[i] -> the file line its content starts on (for error messages)."""
    try:
        root = yaml.compose(text)
    except yaml.YAMLError:
        return {}
    out: dict[int, int] = {}
    for key, value in getattr(root, "value", []):
        if getattr(key, "value", None) == "messages" and isinstance(value, yaml.SequenceNode):
            for i, item in enumerate(value.value):
                for k, v in getattr(item, "value", []):
                    if getattr(k, "value", None) == "content":
                        block = getattr(v, "style", None) in ("|", ">")
                        out[i] = v.start_mark.line + 1 + block
    return out


def check_variables(prompt: Prompt, provides: frozenset[str], requires: frozenset[str]) -> None:
    """A template must use the variables its field ``requires`` and no variable the
    field does not provide (a file's own top-level keys count as provided)."""
    used = prompt.variables()
    unknown = sorted(used - provides)
    missing = sorted(requires - used)
    problems = []
    if unknown:
        problems.append(f"uses unknown variable(s) {unknown}")
    if missing:
        problems.append(f"does not use {missing}")
    if problems:
        raise PromptError(
            f"prompt {prompt.ref}: {' and '.join(problems)}; this field provides "
            f"{sorted(provides)} and needs {sorted(requires)}"
        )


def check_prompt(ref: str) -> str:
    """A recipe field validator: ``ref`` names a template that exists (else PromptError)."""
    load_prompt(ref)
    return ref


# Attributes the sandbox refuses on some type (function internals, frames, mro ...).
_UNSAFE_NAMES = frozenset().union(
    _sandbox.UNSAFE_FUNCTION_ATTRIBUTES,
    _sandbox.UNSAFE_METHOD_ATTRIBUTES,
    _sandbox.UNSAFE_GENERATOR_ATTRIBUTES,
    _sandbox.UNSAFE_COROUTINE_ATTRIBUTES,
    _sandbox.UNSAFE_ASYNC_GENERATOR_ATTRIBUTES,
    {"mro"},
)


def check_template(source: str, extras: dict[str, Any], where: str) -> None:
    """Compile ``source`` in the sandbox prompts render in; raise PromptError for a Jinja
    syntax error or a sandbox violation, so a recipe fails at validation, before any
    engine loads, not at the first render.

    Violations: an attribute or item the sandbox refuses (``_``-names such as
    ``__class__``, function and frame internals), found in the template's syntax tree;
    then a trial render with every variable set to a placeholder string catches those
    the tree does not show (errors other than the sandbox's are left to the real render).
    """
    if not isinstance(source, str):
        raise PromptError(f"{where}: content is {type(source).__name__}, not text")
    try:
        tree = _ENV.parse(source)
    except TemplateSyntaxError as exc:
        raise PromptError(
            f"{where}: Jinja syntax error at template line {exc.lineno}: {exc.message}"
        ) from None
    for node in tree.find_all((nodes.Getattr, nodes.Getitem, nodes.Filter)):
        name = None
        if isinstance(node, nodes.Getattr):
            name = node.attr
        elif isinstance(node, nodes.Getitem) and isinstance(node.arg, nodes.Const):
            name = node.arg.value
        elif isinstance(node, nodes.Filter) and node.name == "attr" and node.args:
            arg = node.args[0]
            name = arg.value if isinstance(arg, nodes.Const) else None
        if isinstance(name, str) and (name.startswith("_") or name in _UNSAFE_NAMES):
            raise PromptError(
                f"{where}: template line {node.lineno}: access to {name!r} is not allowed "
                "in the sandbox"
            )
    values = {name: "x" for name in meta.find_undeclared_variables(tree)}
    values.update(extras)
    try:
        _ENV.from_string(source).render(**values)
    except SecurityError as exc:
        raise PromptError(f"{where}: not allowed in the sandbox: {exc}") from None
    except Exception:  # placeholders need not fit the template; the sandbox did not object
        pass
