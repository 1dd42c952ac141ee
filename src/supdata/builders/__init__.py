"""Builders: one folder each, one registry line each.

``BUILDERS`` maps a recipe's ``kind:`` to its spec. The recipe's ``builders:`` union is
made from it (``builder_union``), so a builder registered at run time (a plugin, a test)
is a recipe kind at once.
"""

from __future__ import annotations

from typing import Annotated, Any, Union

from pydantic import Field

from supdata.builders.spec import BuilderParams, BuilderSpec

BUILDERS: dict[str, BuilderSpec] = {}


def register(spec: BuilderSpec) -> BuilderSpec:
    """Add (or replace) a builder kind."""
    BUILDERS[spec.kind] = spec
    return spec


def unregister(kind: str) -> None:
    BUILDERS.pop(kind, None)


def _builtin() -> None:
    from supdata.builders.critique import SPEC as critique
    from supdata.builders.label import SPEC as label
    from supdata.builders.perturb import SPEC as perturb
    from supdata.builders.sample import SPEC as sample
    from supdata.builders.steperror import SPEC as steperror
    from supdata.builders.stv import SPEC as stv

    for spec in (sample, steperror, perturb, critique, stv, label):
        BUILDERS.setdefault(spec.kind, spec)


def builders() -> dict[str, BuilderSpec]:
    """The registry, with the built-in builders loaded."""
    if not {"sample", "steperror", "perturb", "critique", "stv"} <= BUILDERS.keys():
        _builtin()
    return BUILDERS


def builder_union() -> Any:
    """The tagged union of every registered builder's params, for the recipe model."""
    members = tuple(spec.params for spec in builders().values())
    return Annotated[Union[members], Field(discriminator="kind")]  # noqa: UP007


def spec_of(kind: str) -> BuilderSpec:
    return builders()[kind]


__all__ = [
    "BUILDERS",
    "BuilderParams",
    "BuilderSpec",
    "builder_union",
    "builders",
    "register",
    "spec_of",
    "unregister",
]
