"""Rephrased pairs: task, pos and neg paraphrased separately, kept only when nothing
that decides correctness moved.

The question must keep every number it had; pos must still verify against the
reference answer; neg must still give its own (wrong) final answer. A paraphrase that
adds an error-announcing word is dropped too: it would leak which solution is wrong.
"""

from __future__ import annotations

from collections.abc import Callable

from supdata.builders.steperror.params import Rephrase
from supdata.core.stats import StageStats
from supdata.engines import Engine, Request, SamplingParams
from supdata.ops.numbers import grouped
from supdata.ops.perturb import LEAKY_WORDS
from supdata.ops.sampling import problem_seed
from supdata.prompts import load_prompt
from supdata.verify import VerifyConfig, verify_many


def numbers_of(text: str) -> list[str]:
    return sorted(grouped(text))


def question_problem(original: str, rephrased: str) -> str | None:
    """Why a rephrased question is not kept, or None."""
    if not rephrased.strip():
        return "question: empty"
    if " ".join(rephrased.split()) == " ".join(original.split()):
        return "question: unchanged"
    have = numbers_of(rephrased)
    missing = [n for n in numbers_of(original) if n not in have]
    if missing:
        return "question: lost a number"
    return None


def rephrase_pairs(
    pairs: list[dict],
    params: Rephrase,
    engine: Engine,
    *,
    verify: VerifyConfig,
    seed: int,
    stats: StageStats,
    screen: Callable[[str, str], str | None] | None = None,
) -> list[dict]:
    """Rephrased pairs; ``screen`` (id, question) can reject a rephrased question
    (decontamination: a paraphrase may land on a benchmark problem)."""
    stats.n_in += len(pairs)
    if not pairs:
        return []
    q_prompt = load_prompt(params.question_prompt)
    s_prompt = load_prompt(params.solution_prompt)
    requests = []
    for pair in pairs:
        base = problem_seed(seed + 11, pair["id"], 3)
        sampling = {"temperature": params.temperature, "max_tokens": params.max_tokens}
        requests += [
            Request(
                q_prompt.render(question=pair["prompt"]),
                SamplingParams(seed=base, **sampling),
                id=f"{pair['id']}/question",
            ),
            Request(
                s_prompt.render(question=pair["prompt"], solution=pair["chosen"]),
                SamplingParams(seed=base + 1, **sampling),
                id=f"{pair['id']}/chosen",
            ),
            Request(
                s_prompt.render(question=pair["prompt"], solution=pair["rejected"]),
                SamplingParams(seed=base + 2, **sampling),
                id=f"{pair['id']}/rejected",
            ),
        ]
    texts = [c.texts[0] for c in engine.generate(requests, desc=f"rephrase ({engine.name})")]
    questions, chosen, rejected = texts[0::3], texts[1::3], texts[2::3]
    # neg keeps its own answer: extract it from the original, then judge the paraphrase
    # against it (and against the reference, where it must still be wrong).
    originals = list(verify_many([(p["rejected"], p["reference_answer"]) for p in pairs], verify))
    checks = [(c, p["reference_answer"]) for c, p in zip(chosen, pairs, strict=True)]
    checks += [(r, o.answer) for r, o in zip(rejected, originals, strict=True)]
    checks += [(r, p["reference_answer"]) for r, p in zip(rejected, pairs, strict=True)]
    judged = list(verify_many(checks, verify))
    m = len(pairs)
    pos_j, neg_own, neg_ref = judged[:m], judged[m : 2 * m], judged[2 * m :]
    rows = []
    for i, pair in enumerate(pairs):
        reason = question_problem(pair["prompt"], questions[i])
        if reason is None and screen is not None:
            found = screen(pair["id"], questions[i])
            reason = f"question: {found}" if found else None
        if reason is None:
            reason = _solution_problem(
                pair, chosen[i], rejected[i], pos_j[i], neg_own[i], neg_ref[i], originals[i]
            )
        if reason is not None:
            stats.drop(reason, pair["id"])
            continue
        rows.append(
            {
                **pair,
                "prompt": questions[i].strip(),
                "chosen": chosen[i].strip(),
                "rejected": rejected[i].strip(),
                "original_prompt": pair["prompt"],
            }
        )
    stats.n_out += len(rows)
    return rows


def _solution_problem(pair, chosen, rejected, pos, neg_own, neg_ref, original) -> str | None:  # noqa: PLR0917
    for name, text, before in (
        ("pos", chosen, pair["chosen"]),
        ("neg", rejected, pair["rejected"]),
    ):
        if not text.strip():
            return f"{name}: empty"
        if LEAKY_WORDS.search(text) and not LEAKY_WORDS.search(before):
            return f"{name}: added an error-announcing word"
    if pos.status != "correct":
        return f"pos: answer changed ({pos.status})"
    if neg_ref.status == "correct":
        return "neg: became correct"
    if original.answer is None:
        return None if neg_own.answer is None else "neg: gained an answer"
    if neg_own.status != "correct":
        return "neg: answer changed"
    return None
