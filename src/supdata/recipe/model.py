"""The recipe: one YAML file that says what to build and how."""

from __future__ import annotations

from functools import cache
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, create_model

from supdata.builders import builder_union, builders
from supdata.builders.spec import BASE_CONFIGS, BuilderParams
from supdata.engines.config import EngineConfig
from supdata.engines.runner_config import RunnerConfig
from supdata.hygiene.config import Decontaminate, Dedup
from supdata.sources.config import Source
from supdata.verify import VerifyConfig

_DEFAULT_VERIFY = VerifyConfig()


class Segmentation(BaseModel):
    model_config = ConfigDict(extra="forbid")

    strategy: Literal["auto", "markers", "numbered", "paragraphs", "lines"] = Field(
        "auto",
        description="auto: Step-k markers and blank lines, else numbered items, else lines",
    )


class Verification(BaseModel):
    """How final answers are judged (docs/verification.md); maps onto VerifyConfig."""

    model_config = ConfigDict(extra="forbid")

    workers: int = Field(_DEFAULT_VERIFY.workers, ge=0, description="verification processes")
    timeout_s: float = Field(
        _DEFAULT_VERIFY.timeout_s, gt=0, description="hard per-item limit (seconds)"
    )
    last_number_fallback: bool = Field(
        True,
        description="with no boxed / #### / 'answer is' answer, also take the last display"
        " equation, LaTeX expression or number",
    )
    float_rounding: int = Field(
        _DEFAULT_VERIFY.float_rounding,
        ge=0,
        description="decimal places floats are rounded to before comparing (math-verify's"
        " precision)",
    )
    numeric_precision: int = Field(
        _DEFAULT_VERIFY.numeric_precision, ge=1, description="significant digits of evaluation"
    )
    strict: bool = Field(
        _DEFAULT_VERIFY.strict,
        description="variables matter (f(x) != f(y)); false matches them by position",
    )
    allow_set_relation_comp: bool = Field(
        _DEFAULT_VERIFY.allow_set_relation_comp,
        description="a relation in the answer may equal a set in the reference (1<x<2 == (1,2))",
    )
    percent: Literal["lenient", "value", "sign"] = Field(
        _DEFAULT_VERIFY.percent,
        description="12.5%: lenient = 12.5 or 0.125; value = 0.125 only; sign = 12.5 only",
    )

    def to_config(self) -> VerifyConfig:
        return VerifyConfig(
            workers=self.workers,
            timeout_s=self.timeout_s,
            last_number_fallback=self.last_number_fallback,
            float_rounding=self.float_rounding,
            numeric_precision=self.numeric_precision,
            strict=self.strict,
            allow_set_relation_comp=self.allow_set_relation_comp,
            percent=self.percent,
        )


class Publish(BaseModel):
    """Where ``supdata push`` sends the folder, and the card's license."""

    model_config = ConfigDict(extra="forbid")

    repo: str | None = Field(
        None, pattern=r"^[A-Za-z0-9][\w.-]*/[\w.-]+$", description="Hub dataset repo, ORG/NAME"
    )
    private: bool = Field(False, description="create the repo private")
    license: str = Field("other", description="license id for the card, e.g. apache-2.0")


class Outputs(BaseModel):
    model_config = ConfigDict(extra="forbid")

    configs: list[str] | None = Field(
        None, description="configs to publish (default: all the builders make)"
    )
    split: str = Field("train", pattern=r"^\w+$", description="split name of every config")
    shard_rows: int = Field(100_000, ge=1, description="rows per parquet shard")


def dotted(path: str) -> tuple[str | int, ...]:
    """A builder's dotted field path (``teachers.1.engine``) as a location tuple; list
    indices become ints, so errors read ``teachers[1].engine`` and find their line."""
    return tuple(int(part) if part.isdigit() else part for part in path.split("."))


class Price(BaseModel):
    """What an engine's tokens cost, per million (any currency; the card shows the sums)."""

    model_config = ConfigDict(extra="forbid")

    input_per_mtok: float = Field(ge=0, description="price of a million prompt tokens")
    output_per_mtok: float = Field(ge=0, description="price of a million output tokens")


class BudgetSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    max_output_tokens: int = Field(
        gt=0,
        description="stop the build (cleanly, nothing published) before a request whose "
        "worst case (max_tokens per sample still to generate) would pass this many output "
        "tokens in all; cached samples count; a re-run with more goes on from the cache",
    )


class Recipe(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$", description="dataset name")
    description: str = ""
    source: Source
    engines: dict[str, EngineConfig] = Field(
        default_factory=dict, description="named engines, e.g. actor, critic, annotator"
    )
    runner: RunnerConfig = Field(
        default_factory=RunnerConfig,
        description="where vLLM engines run: local (in process) or ray (replicas on Ray)",
    )
    builders: list[BuilderParams] = Field(
        default_factory=list, description="what to build, in order"
    )
    decontaminate: Decontaminate | None = Field(
        None, description="drop problems that restate evaluation benchmarks (default: not checked)"
    )
    dedup: Dedup | None = Field(
        None, description="drop duplicate problems and solutions (default: not checked)"
    )
    segmentation: Segmentation = Field(default_factory=Segmentation)
    verification: Verification = Field(default_factory=Verification)
    outputs: Outputs = Field(default_factory=Outputs)
    publish: Publish = Field(default_factory=Publish)
    budget: BudgetSettings | None = Field(None, description="an output-token budget (none)")
    cost: dict[str, Price] = Field(
        default_factory=dict,
        description="price table by engine name: the card and --dry-run show the cost",
    )

    def reference_errors(self) -> list[tuple[tuple, str]]:
        """Cross-field checks pydantic cannot place: (field path, message) pairs."""
        errors: list[tuple[tuple, str]] = []
        known = sorted(self.engines) or "none"
        for i, builder in enumerate(self.builders):
            for field_name, engine in builder.all_engine_refs().items():
                if engine not in self.engines:
                    errors.append(
                        (
                            ("builders", i, *dotted(field_name)),
                            f"no engine named {engine!r} (engines: {known})",
                        )
                    )
        for name in self.cost:
            if name not in self.engines:
                errors.append((("cost", name), f"no engine named {name!r} (engines: {known})"))
        gpus = self.runner.gpus_per_replica
        if self.runner.kind == "ray" and gpus:
            for name, engine in self.engines.items():
                if engine.kind in ("vllm", "auto") and engine.tensor_parallel_size > gpus:
                    errors.append(
                        (
                            ("runner", "gpus_per_replica"),
                            f"engine {name!r} has tensor_parallel_size "
                            f"{engine.tensor_parallel_size}: each replica needs that many GPUs",
                        )
                    )
        made = [*BASE_CONFIGS]
        for i, builder in enumerate(self.builders):
            errors += [(("builders", i, *path), msg) for path, msg in builder.config_errors()]
            errors += [(("builders", i, *path), msg) for path, msg in builder.label_errors()]
            errors += [
                (("builders", i, *path), msg) for path, msg in builder.source_errors(self.source)
            ]
            for config, field_name, why in builder.needs_configs():
                if config not in made:
                    errors.append((("builders", i, *dotted(field_name)), why))
            for config in builder.configs():
                if config in made:
                    errors.append(
                        (
                            ("builders", i, "kind"),
                            f"config {config!r} is made twice; "
                            "give each builder configs of its own",
                        )
                    )
                made.append(config)
        for j, config in enumerate(self.outputs.configs or []):
            if config not in made:
                errors.append(
                    (
                        ("outputs", "configs", j),
                        f"{config!r} is not made by this recipe (made: {made})",
                    )
                )
        return errors


def recipe_model() -> type[Recipe]:
    """The Recipe model whose ``builders:`` accepts every registered builder kind."""
    return _recipe_model(tuple(builders()))


@cache
def _recipe_model(kinds: tuple[str, ...]) -> type[Recipe]:
    return create_model(
        "Recipe",
        __base__=Recipe,
        __module__=__name__,
        builders=(
            list[builder_union()],
            Field(default_factory=list, description="what to build, in order"),
        ),
    )
