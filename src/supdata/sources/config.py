"""The ``source:`` section of a recipe: where problems come from and how they are shaped.

Each kind is a pydantic model that knows how to read its raw rows; a discriminated
union on ``kind`` picks the model, so an unknown kind or a wrong field fails at
validation time, before any work.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from supdata.sources.normalize import NEEDS_ANSWER, NORMALIZERS

NormalizerName = Literal["generic", "gsm8k", "math", "numina", "processbench", "reasoning_gym"]


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

    @property
    def needs_answer(self) -> bool:
        if self.require_answer is not None:
            return self.require_answer
        return NEEDS_ANSWER[self.normalizer]

    @property
    def label(self) -> str:
        """Short name recorded as each problem's ``source``."""
        raise NotImplementedError

    def raw_rows(self) -> Iterator[dict[str, Any]]:
        raise NotImplementedError


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

    def raw_rows(self) -> Iterator[dict[str, Any]]:
        import datasets

        ds = datasets.load_dataset(
            self.path,
            self.name,
            split=self.split,
            revision=self.revision,
            data_files=self.data_files,
        )
        yield from ds


class FileSource(_Source):
    """A local jsonl, json (array or one object per line) or parquet file."""

    kind: Literal["file"]
    path: str = Field(description="path to the file, relative to the working directory")
    format: Literal["jsonl", "json", "parquet"] | None = Field(
        None, description="file format (default: from the extension)"
    )

    @model_validator(mode="after")
    def _known_format(self) -> FileSource:
        if self.format is None:
            suffix = Path(self.path).suffix.lower().lstrip(".")
            if suffix not in ("jsonl", "json", "parquet"):
                raise ValueError(
                    f"cannot tell the format of {self.path!r} from its extension; "
                    "set format: jsonl, json or parquet"
                )
            self.format = suffix  # type: ignore[assignment]
        return self

    @property
    def label(self) -> str:
        return Path(self.path).stem

    def raw_rows(self) -> Iterator[dict[str, Any]]:
        path = Path(self.path)
        if not path.is_file():
            raise FileNotFoundError(f"source file {self.path!r} does not exist")
        if self.format == "parquet":
            import pyarrow.parquet as pq

            for batch in pq.ParquetFile(path).iter_batches(batch_size=1024):
                yield from batch.to_pylist()
        elif self.format == "jsonl":
            yield from _jsonl(path)
        else:
            with path.open(encoding="utf-8") as f:
                head = f.read(1).lstrip()
            if head == "[":
                with path.open(encoding="utf-8") as f:
                    data = json.load(f)
                yield from data
            else:
                yield from _jsonl(path)


def _jsonl(path: Path) -> Iterator[dict[str, Any]]:
    with path.open(encoding="utf-8") as f:
        for lineno, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as exc:
                raise ValueError(f"{path}:{lineno}: not valid JSON ({exc.msg})") from exc
            if not isinstance(row, dict):
                raise ValueError(f"{path}:{lineno}: expected a JSON object per line")
            yield row


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

    def raw_rows(self) -> Iterator[dict[str, Any]]:
        import reasoning_gym

        yield from reasoning_gym.create_dataset(
            self.name, size=self.size, seed=self.seed, **self.config
        )


Source = Annotated[HfSource | FileSource | ReasoningGymSource, Field(discriminator="kind")]
SOURCE_KINDS: dict[str, type[_Source]] = {
    "hf": HfSource,
    "file": FileSource,
    "reasoning_gym": ReasoningGymSource,
}
