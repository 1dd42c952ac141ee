"""What goes into an engine and what comes out: requests, sampling, completions."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass(frozen=True, slots=True)
class StructuredOutput:
    """Constrain the output: exactly one of a JSON schema, a regex or a list of choices."""

    json_schema: dict[str, Any] | None = None
    regex: str | None = None
    choice: tuple[str, ...] | None = None

    def __post_init__(self) -> None:
        given = [x for x in (self.json_schema, self.regex, self.choice) if x is not None]
        if len(given) != 1:
            raise ValueError("structured output needs exactly one of json_schema, regex, choice")
        if self.choice is not None:
            object.__setattr__(self, "choice", tuple(self.choice))


@dataclass(frozen=True, slots=True)
class SamplingParams:
    """Sampling for one request. ``seed`` seeds sample 0; sample i uses ``seed + i``
    (vLLM's own rule for n > 1), so every sample has a seed of its own."""

    n: int = 1
    temperature: float = 1.0
    top_p: float = 1.0
    top_k: int = -1
    max_tokens: int = 512
    seed: int | None = None
    stop: tuple[str, ...] = ()
    structured: StructuredOutput | None = None

    def __post_init__(self) -> None:
        problems = []
        if not isinstance(self.n, int) or self.n < 1:
            problems.append(f"n must be an integer >= 1, got {self.n!r}")
        if not 0 <= self.temperature <= 10:
            problems.append(f"temperature must be in [0, 10], got {self.temperature!r}")
        if not 0 < self.top_p <= 1:
            problems.append(f"top_p must be in (0, 1], got {self.top_p!r}")
        if not isinstance(self.top_k, int) or (self.top_k != -1 and self.top_k < 1):
            problems.append(f"top_k must be -1 (off) or >= 1, got {self.top_k!r}")
        if not isinstance(self.max_tokens, int) or self.max_tokens < 1:
            problems.append(f"max_tokens must be an integer >= 1, got {self.max_tokens!r}")
        if self.seed is not None and (not isinstance(self.seed, int) or self.seed < 0):
            problems.append(f"seed must be a non-negative integer, got {self.seed!r}")
        if problems:
            raise ValueError("invalid sampling params: " + "; ".join(problems))
        object.__setattr__(self, "stop", tuple(self.stop))

    def key_fields(self) -> dict[str, Any]:
        """Everything that shapes one sample's text, except n and the seed."""
        data = asdict(self)
        data.pop("n")
        data.pop("seed")
        return data


@dataclass(frozen=True, slots=True)
class Request:
    """Chat messages to answer. With ``continue_final`` the last message must be the
    assistant's, and the engine continues it (keep steps before k, then go on)."""

    messages: tuple[dict[str, str], ...]
    sampling: SamplingParams = field(default_factory=SamplingParams)
    continue_final: bool = False
    id: str = ""

    def __post_init__(self) -> None:
        msgs = tuple(dict(m) for m in self.messages)
        if not msgs:
            raise ValueError(f"request {self.id!r}: no messages")
        for i, m in enumerate(msgs):
            if m.get("role") not in ("system", "user", "assistant") or not isinstance(
                m.get("content"), str
            ):
                raise ValueError(
                    f"request {self.id!r}: message {i} needs role system/user/assistant "
                    f"and string content, got {m!r}"
                )
        if self.continue_final and msgs[-1]["role"] != "assistant":
            raise ValueError(
                f"request {self.id!r}: continue_final needs a final assistant message to continue"
            )
        object.__setattr__(self, "messages", msgs)

    def prompt_key(self) -> str:
        return json.dumps(
            {"messages": self.messages, "continue_final": self.continue_final},
            ensure_ascii=False,
            sort_keys=True,
        )


# The finish reason of a request whose prompt leaves no room in the engine's context
# (prompt tokens >= max_model_len): never sent, its samples empty, never cached.
PROMPT_TOO_LONG = "prompt_too_long"


@dataclass(slots=True)
class Completion:
    """The n samples for one request, in sample order.

    ``cached[i]`` says whether sample i came from the request cache rather than the
    engine; ``cached_prompt_tokens`` is the engine's prefix-cache hit, where it reports one.
    """

    request_id: str
    texts: list[str]
    finish_reasons: list[str | None]
    prompt_tokens: int
    output_tokens: list[int]
    cached: list[bool]
    cached_prompt_tokens: int | None = None

    @property
    def text(self) -> str:
        return self.texts[0]

    @property
    def too_long(self) -> bool:
        """The prompt did not fit the engine's context: nothing was generated."""
        return PROMPT_TOO_LONG in self.finish_reasons

    @classmethod
    def unanswered(cls, request: Request, prompt_tokens: int, n: int | None = None) -> Completion:
        """n empty samples for a request whose prompt does not fit the context."""
        n = request.sampling.n if n is None else n
        return cls(
            request_id=request.id,
            texts=[""] * n,
            finish_reasons=[PROMPT_TOO_LONG] * n,
            prompt_tokens=prompt_tokens,
            output_tokens=[0] * n,
            cached=[False] * n,
        )
