"""Which configs feed which formats: config names -> row kinds -> adapters per format.

A row kind is a row shape shared by several configs (``hard_er30`` and ``mix_hard50_sub10``
are both ``mixture`` rows). A format supports a config when it has an adapter for the
config's kind. Configs not named here are recognised by their columns.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from supdata.export import distill, llamafactory, prm, trl, verl
from supdata.export.common import Context, ExportError

Adapter = Callable[[dict[str, Any], Context], dict[str, Any]]


@dataclass(frozen=True)
class Kind:
    name: str
    columns: frozenset[str]  # the columns its adapters read (checked before converting)
    needs_problems: bool = False  # its question lives in the folder's problems config


# Most specific first: detection by columns takes the first kind whose columns are present.
KINDS = {
    k.name: k
    for k in (
        Kind(
            "distill",
            frozenset(
                {"id", "problem_id", "prompt", "ref_prompt", "completion", "verdict", "truth"}
            ),
        ),
        Kind("vil", frozenset({"id", "prompt", "answer", "feedback_verdict", "attempt_correct"})),
        Kind("verifier_rl", frozenset({"id", "prompt", "truth", "reference_answer"})),
        Kind("critique", frozenset({"id", "question", "steps", "labels", "critique"})),
        Kind("pair", frozenset({"id", "prompt", "chosen", "rejected"})),
        Kind("mixture", frozenset({"id", "prompt", "completion", "correct", "part"})),
        Kind("sft", frozenset({"id", "prompt", "completion"})),
        Kind("problem", frozenset({"id", "question", "reference_solution", "reference_answer"})),
        Kind("trace", frozenset({"id", "problem_id", "steps", "annotation"}), needs_problems=True),
    )
}

# Config names the builders publish (steperror, perturb, critique, stv).
CONFIGS: list[tuple[re.Pattern[str], str]] = [
    (re.compile(p), kind)
    for p, kind in (
        (r"critic_sft|refine_sft|selfimprove_sft|selfimprove_r\d+", "sft"),
        (r"(hard|sub|rephrased)_er\d+|mix_\w+|teacher_er\d+_[\w.-]+", "mixture"),
        (r"pairs|sub_pairs|rephrased|negatives", "pair"),
        (r"problems|subtasks", "problem"),
        (r"samples|sub_samples|teacher_samples|perturbed|references|labelled", "trace"),
        (r"critiques", "critique"),
        (r"distill", "distill"),
        (r"verifier_rl", "verifier_rl"),
        (r"vil", "vil"),
    )
]

# Where a trace config's questions are, in the same folder.
PROBLEMS_CONFIG = {"sub_samples": "subtasks"}


@dataclass(frozen=True)
class Format:
    name: str
    feeds: str  # the trainer, for messages and the README table
    adapters: dict[str, Adapter]
    finish: Callable[[list[dict[str, Any]]], list[dict[str, Any]]] | None = None
    options: tuple[str, ...] = field(default=())


FORMATS = {
    f.name: f
    for f in (
        Format(
            "trl-sft",
            "trl.SFTTrainer",
            {
                "sft": trl.sft_from_sft,
                "mixture": trl.sft_from_mixture,
                "problem": trl.sft_from_problem,
                "distill": trl.sft_from_distill,
            },
        ),
        Format("trl-dpo", "trl.DPOTrainer", {"pair": trl.dpo_from_pair}),
        Format(
            "trl-grpo",
            "trl.GRPOTrainer",
            {
                "problem": trl.grpo_from_problem,
                "trace": trl.grpo_from_trace,
                "vil": trl.grpo_from_vil,
                "verifier_rl": trl.grpo_from_verifier_rl,
            },
        ),
        Format(
            "stepwise",
            "a PRM (token classification)",
            {"critique": trl.stepwise_from_critique, "trace": trl.stepwise_from_trace},
            options=("label_set", "soft"),
        ),
        Format(
            "math-shepherd",
            "Math-Shepherd-format PRM training (input with ки tags, label with +/-)",
            {"trace": prm.shepherd_from_trace},
            options=("label_set",),
        ),
        Format(
            "prm800k",
            "PRM800K-format readers (step ratings 1/-1, finish_reason)",
            {"trace": prm.prm800k_from_trace},
            options=("label_set",),
        ),
        Format(
            "distill", "teacher/student distillation", {"distill": distill.distill_from_distill}
        ),
        Format(
            "verl",
            "verl (PPO/GRPO)",
            {
                "problem": verl.verl_from_problem,
                "trace": verl.verl_from_trace,
                "vil": verl.verl_from_vil,
                "verifier_rl": verl.verl_from_verifier_rl,
                "distill": verl.verl_from_distill,
            },
            finish=verl.number_rows,
            options=("data_source", "split"),
        ),
        Format(
            "llamafactory",
            "LLaMA-Factory",
            {
                "sft": llamafactory.lf_from_sft,
                "mixture": llamafactory.lf_from_mixture,
                "problem": llamafactory.lf_from_problem,
                "distill": llamafactory.lf_from_distill,
                "pair": llamafactory.lf_from_pair,
            },
            options=("style",),
        ),
    )
}


def kind_of(config: str | None, columns: Sequence[str] = ()) -> Kind:
    """The row kind of a config: by its name when the builders publish it, else by its
    columns (so renamed or future configs of a known shape still export)."""
    if config:
        for pattern, kind in CONFIGS:
            if pattern.fullmatch(config):
                return KINDS[kind]
    have = set(columns)
    for kind in KINDS.values():
        if kind.columns <= have:
            return kind
    raise ExportError(
        f"config {config or '<unnamed>'!r}: no known row shape fits its columns {sorted(have)}; "
        f"known configs: {', '.join(p.pattern for p, _ in CONFIGS)}"
    )


def formats_for(config: str | None, columns: Sequence[str] = ()) -> list[str]:
    """The formats a config can feed."""
    kind = kind_of(config, columns).name
    return [name for name, f in FORMATS.items() if kind in f.adapters]
