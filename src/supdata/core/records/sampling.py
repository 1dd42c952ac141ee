"""How a trace was made: one fixed struct for every origin (published as an Arrow struct).

A sampled trace fills the sampling fields; a constructed one (a perturbation, an RG2/RG3
flawed path) fills ``method`` and that method's settings. Fields an origin does not use
are null, so the Hub viewer and ``datasets`` see typed columns instead of a JSON string.
A key outside this struct is an error when a trace is written: add it here first.
"""

from __future__ import annotations

import json
from typing import Annotated, Any

from pydantic import Field

from supdata.core.rows import Row


class SamplingRow(Row):
    """The ``sampling`` column of every trace config."""

    prompt: Annotated[str | None, Field(description="prompt template (id@version) sampled with")]
    temperature: float | None
    top_p: float | None
    top_k: int | None
    n: Annotated[int | None, Field(description="samples requested per problem")]
    max_tokens: Annotated[int | None, Field(description="token cap this trace was sampled with")]
    finish_reason: Annotated[str | None, Field(description="stop, or length when cut at the cap")]
    method: Annotated[
        str | None,
        Field(description="how a constructed trace was made: rule, model, rg1, rg2, rg3"),
    ]
    rule: Annotated[str | None, Field(description="perturbation rule (method rule)")]
    error_type: Annotated[str | None, Field(description="error type put into the trace")]
    position: Annotated[str | None, Field(description="where the first error was asked for")]
    carry: Annotated[bool | None, Field(description="rule errors carried into later steps")]
    target_swer: Annotated[float | None, Field(description="step-wise error rate aimed at")]
    first_error_step: Annotated[int | None, Field(description="step the rewrite starts at")]
    known_error_step: Annotated[
        int | None, Field(description="flawed path: step known wrong by construction, -1 none")
    ]
    by: Annotated[str | None, Field(description="RG3: rule or model made the mistake")]
    rewriter: Annotated[str | None, Field(description="engine fingerprint that rewrote the step")]
    rewrite_prompt: str | None
    continue_prompt: str | None


FIELDS = tuple(SamplingRow.model_fields)
_FLOATS = {"temperature", "top_p", "target_swer"}


def sampling_to_row(trace_id: str, sampling: dict[str, Any]) -> dict[str, Any]:
    """The struct value of ``sampling``: every field present, unused ones null."""
    unknown = sorted(set(sampling) - set(FIELDS))
    if unknown:
        raise ValueError(
            f"trace {trace_id!r}: sampling keys {unknown} are not fields of the sampling "
            f"struct (supdata.core.records.sampling.SamplingRow: {', '.join(FIELDS)})"
        )
    row = {name: sampling.get(name) for name in FIELDS}
    for name in _FLOATS:
        if isinstance(row[name], int) and not isinstance(row[name], bool):
            row[name] = float(row[name])
    return row


def sampling_from_row(value: dict[str, Any] | str | None) -> dict[str, Any]:
    """The dict a trace carries: the struct's non-null fields. Folders published before
    the struct (a JSON string) still read."""
    if value is None:
        return {}
    if isinstance(value, str):
        return json.loads(value)
    return {k: v for k, v in value.items() if v is not None}
