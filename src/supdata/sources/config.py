"""The ``source:`` section of a recipe: where problems come from and how they are shaped.

Each kind is a pydantic model that knows how to read its raw rows; a discriminated
union on ``kind`` picks the model, so an unknown kind or a wrong field fails at
validation time, before any work.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from supdata.sources.normalize import NEEDS_ANSWER, NORMALIZERS
from supdata.sources.rows import READERS, SourceError, SourceRow, item_rows

NormalizerName = Literal[
    "generic",
    "gsm8k",
    "math",
    "numina",
    "processbench",
    "math_shepherd",
    "prm800k",
    "reasoning_gym",
]


class Filters(BaseModel):
    """Which problems to keep. Length is counted in tokens of ``tokenizer`` (a local
    tokenizer folder or Hub id); without one, in word/punctuation pieces."""

    model_config = ConfigDict(extra="forbid")

    levels: list[int] | None = Field(None, description="keep only these difficulty levels")
    min_level: int | None = Field(None, description="keep levels >= this")
    max_level: int | None = Field(None, description="keep levels <= this")
    min_solution_tokens: int | None = Field(
        None, ge=0, description="reference solution length floor"
    )
    max_solution_tokens: int | None = Field(None, ge=0, description="reference solution length cap")
    tokenizer: str | None = Field(None, description="tokenizer for solution lengths")
    no_figures: bool = Field(
        False, description="drop problems with a figure ([asy], 'the diagram', ...): the paper"
    )
    single_part: bool = Field(
        False, description="drop multi-part questions ((a)/(b), two questions): the paper"
    )
    english_only: bool = Field(False, description="drop non-English problems: the paper")

    @model_validator(mode="after")
    def _bounds(self) -> Filters:
        for low, high in (
            ("min_level", "max_level"),
            ("min_solution_tokens", "max_solution_tokens"),
        ):
            a, b = getattr(self, low), getattr(self, high)
            if a is not None and b is not None and a > b:
                raise ValueError(f"{low} ({a}) > {high} ({b}): no problem could pass")
        return self


class _Source(BaseModel):
    model_config = ConfigDict(extra="forbid")

    normalizer: NormalizerName = Field(
        "generic", description=f"row shape: one of {', '.join(NORMALIZERS)}"
    )
    fields: dict[str, str] = Field(
        default_factory=dict,
        description="rename source columns before normalizing: {expected_name: column}",
    )
    require_answer: bool | None = Field(
        None, description="skip rows without a reference answer (default: yes, except processbench)"
    )
    filters: Filters = Field(default_factory=Filters)
    shuffle_seed: int | None = Field(None, description="shuffle with this seed before the limit")
    limit: int | None = Field(None, ge=1, description="keep at most this many problems")
    strict: bool = Field(
        False,
        description="abort at the first row that cannot be read or normalized, naming its "
        "file:line (default: count it with its reason and skip it)",
    )

    @property
    def needs_answer(self) -> bool:
        if self.require_answer is not None:
            return self.require_answer
        return NEEDS_ANSWER[self.normalizer]

    @property
    def label(self) -> str:
        """Short name recorded as each problem's ``source``."""
        raise NotImplementedError

    def rows(self) -> Iterator[SourceRow]:
        """Every raw row, named by where it came from; unreadable ones as bad rows."""
        raise NotImplementedError

    def raw_rows(self) -> Iterator[dict[str, Any]]:
        """The rows as dicts; the first bad row raises ``SourceError`` naming it."""
        for row in self.rows():
            if row.data is None:
                raise SourceError(row.message)
            yield row.data


class HfSource(_Source):
    """Any dataset ``datasets.load_dataset`` reads: a Hub id, a local folder, or files."""

    kind: Literal["hf"]
    path: str = Field(description="Hub id, local folder, or builder name (json, parquet, csv)")
    name: str | None = Field(None, description="dataset config name")
    split: str = Field("train", description="split to read")
    revision: str | None = Field(None, description="git revision on the Hub")
    data_files: str | list[str] | dict[str, str | list[str]] | None = Field(
        None, description="files for a builder like json or parquet"
    )

    @property
    def label(self) -> str:
        return self.name or Path(self.path).name or self.path

    def rows(self) -> Iterator[SourceRow]:
        import datasets

        try:
            ds = datasets.load_dataset(
                self.path,
                self.name,
                split=self.split,
                revision=self.revision,
                data_files=self.data_files,
            )
        except Exception as exc:  # offline, unknown repo, bad files: one clear message
            raise SourceError(
                f"hf source {self.path!r}"
                + (f" (name {self.name!r})" if self.name else "")
                + f": could not load split {self.split!r}: {type(exc).__name__}: {exc}"
            ) from None
        yield from item_rows(ds, self.path)


class FileSource(_Source):
    """A local jsonl, json (array or one object per line), csv or parquet file."""

    kind: Literal["file"]
    path: str = Field(description="path to the file, relative to the working directory")
    format: Literal["jsonl", "json", "csv", "parquet"] | None = Field(
        None, description="file format (default: from the extension)"
    )

    @model_validator(mode="after")
    def _known_format(self) -> FileSource:
        if self.format is None:
            suffix = Path(self.path).suffix.lower().lstrip(".")
            if suffix not in READERS:
                raise ValueError(
                    f"cannot tell the format of {self.path!r} from its extension; "
                    "set format: jsonl, json, csv or parquet"
                )
            self.format = suffix  # type: ignore[assignment]
        return self

    @property
    def label(self) -> str:
        return Path(self.path).stem

    def rows(self) -> Iterator[SourceRow]:
        path = Path(self.path)
        if not path.is_file():
            raise SourceError(f"source file {self.path!r} does not exist")
        yield from READERS[self.format](path, self.path)


class ReasoningGymSource(_Source):
    """Procedurally generated problems from ``reasoning_gym`` (offline, seeded)."""

    kind: Literal["reasoning_gym"]
    name: str = Field(description="reasoning_gym dataset name, e.g. gsm_symbolic")
    size: int = Field(100, ge=1, description="how many problems to generate")
    seed: int = Field(42, description="generation seed")
    config: dict[str, Any] = Field(default_factory=dict, description="dataset-specific options")
    normalizer: NormalizerName = "reasoning_gym"

    @property
    def label(self) -> str:
        return self.name

    def rows(self) -> Iterator[SourceRow]:
        import reasoning_gym

        try:
            dataset = reasoning_gym.create_dataset(
                self.name, size=self.size, seed=self.seed, **self.config
            )
        except Exception as exc:
            raise SourceError(
                f"reasoning_gym dataset {self.name!r} (config {self.config}): "
                f"{type(exc).__name__}: {exc}"
            ) from None
        yield from item_rows(dataset, self.name)


Source = Annotated[HfSource | FileSource | ReasoningGymSource, Field(discriminator="kind")]
SOURCE_KINDS: dict[str, type[_Source]] = {
    "hf": HfSource,
    "file": FileSource,
    "reasoning_gym": ReasoningGymSource,
}
