"""Prompts as versioned template files: ``templates/<id>.v<version>.yaml``.

A template is a list of chat messages whose contents are Jinja, rendered in a sandbox
(recipes and datasets are untrusted input). Cards cite prompts as ``id@version``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import cache, lru_cache
from pathlib import Path
from typing import Any

import yaml
from jinja2 import StrictUndefined, TemplateSyntaxError, UndefinedError, meta, nodes
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

    @property
    def ref(self) -> str:
        return f"{self.id}@{self.version}"

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
                content = _ENV.from_string(m["content"]).render(**self.extras, **values)
            except UndefinedError as exc:
                raise PromptError(f"prompt {self.ref}: {exc.message}") from None
            out.append({"role": m["role"], "content": content})
        return tuple(out)


@lru_cache(maxsize=1)
def available() -> dict[str, dict[int, Path]]:
    found: dict[str, dict[int, Path]] = {}
    for path in TEMPLATES.glob("*.yaml"):
        m = _NAME.match(path.name)
        if m:
            found.setdefault(m["id"], {})[int(m["version"])] = path
    return found


@cache
def load_prompt(ref: str) -> Prompt:
    """``id@version``, or ``id`` for the newest version."""
    pid, _, version = ref.partition("@")
    versions = available().get(pid)
    if not versions:
        raise PromptError(f"unknown prompt {pid!r}; available: {sorted(available())}")
    if version and (not version.isdigit() or int(version) not in versions):
        raise PromptError(f"prompt {pid!r} has no version {version!r}; has {sorted(versions)}")
    number = int(version) if version else max(versions)
    path = versions[number]
    where = f"prompt {pid}@{number} ({path})"
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
        messages = tuple({"role": m["role"], "content": m["content"]} for m in data["messages"])
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise PromptError(f"{where}: cannot be read: {exc}") from None
    except (KeyError, TypeError) as exc:
        raise PromptError(f"{where}: expected `messages:`, a list of role/content") from exc
    extras = {
        k: v for k, v in data.items() if k not in ("id", "version", "description", "messages")
    }
    for i, m in enumerate(messages):
        check_template(m["content"], extras, f"{where}: messages[{i}] ({m['role']})")
    return Prompt(pid, number, data.get("description", ""), messages, extras)


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
