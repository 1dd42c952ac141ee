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
from jinja2 import StrictUndefined, UndefinedError
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
    data = yaml.safe_load(versions[number].read_text(encoding="utf-8"))
    messages = tuple({"role": m["role"], "content": m["content"]} for m in data["messages"])
    extras = {
        k: v for k, v in data.items() if k not in ("id", "version", "description", "messages")
    }
    return Prompt(pid, number, data.get("description", ""), messages, extras)


def check_prompt(ref: str) -> str:
    """A recipe field validator: ``ref`` names a template that exists (else PromptError)."""
    load_prompt(ref)
    return ref
