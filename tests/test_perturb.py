"""Rule-based step errors: exact control, checked on real references."""

from __future__ import annotations

import re
from collections import Counter

import pytest

from supdata.core.records import StepAnnotation, Trace
from supdata.ops.perturb import (
    ERROR_TYPES,
    LEAKY_WORDS,
    CannotPerturb,
    given_quantities,
    perturb,
)
from supdata.ops.perturb.arithmetic import computations, evaluate, to_number
from supdata.ops.steps import segment
from supdata.verify import VerifyConfig, verify_many

from conftest import read_jsonl

GSM = [
    "Janet sells 16 - 3 - 4 = 9 duck eggs a day.\n",
    "She makes 9 * 2 = $18 every day at the farmer's market.\n",
    "#### 18",
]


def test_finds_only_right_computations():
    found = computations(
        "So 3 + 4 = 7 and 2 x 5 = 10, but 6 / 4 = 2 is off; $1,200 - $200 = $1,000."
    )
    assert [(c.expr, c.result) for c in found] == [
        ("3 + 4", "7"),
        ("2 x 5", "10"),
        ("$1,200 - $200", "$1,000"),
    ]
    assert computations("x^2 + 3 = 7") == []  # 3 = 7 is not arithmetic
    assert evaluate("2 \\cdot 3 + 1") == 7


@pytest.mark.parametrize("error_type", ERROR_TYPES[:3])
def test_carried_error_has_one_origin_and_reaches_the_answer(error_type):
    p = perturb(GSM, error_type=error_type, target_swer=0.67, position="first", seed=3)
    assert p.steps[: p.first_error] == GSM[: p.first_error]
    assert p.labels in ([False, False, False], [True, False, False])
    assert p.final_changed and p.steps[-1] != GSM[-1]
    new_value = p.steps[-1].split("####")[1].strip().replace("$", "").lstrip("-")
    assert re.search(rf"= -?\$?{re.escape(new_value)}\b", "".join(p.steps[:-1]))


# The example: 5 children are given; 10/2 = 5 is computed. A changed 10/2 must
# not rewrite 5 * 5 (the given 5 children times a given 5 each).
DINO_Q = "A dinosaur has 10 eggs. It gives half away. It must feed 5 children 5 leaves each."
DINO = [
    "It keeps 10/2 = 5 eggs.\n",
    "The children eat 5*5 = 25 leaves.\n",
    "It has 5 + 25 = 30 things to care for.\n",
    "#### 30",
]


def test_carry_never_rewrites_a_given_quantity():
    givens = given_quantities(DINO_Q)
    assert givens == {10, 5}
    for seed in range(20):
        try:
            p = perturb(
                DINO,
                error_type="wrong_result",
                target_swer=0.5,
                position=1,
                seed=seed,
                givens=givens,
            )
        except CannotPerturb:
            continue
        assert p.steps[1] == DINO[1]  # 5*5 = 25 only uses given quantities
    # Without givens the value-matching carry rewrites the given 5s too (the old bug).
    bad = perturb(DINO, error_type="wrong_result", target_swer=1.0, position=1, seed=0)
    assert bad.steps[1] != DINO[1]


def test_answer_lines_and_one_paragraph_solutions_carry():
    # GSM8K's published example format ends with "A: 42".
    steps = ["He buys 3 * 4 = 12 apples.\n", "Then 12 + 2 = 14 in all.\n", "A: 14"]
    p = perturb(steps, error_type="wrong_result", target_swer=1.0, position="first", seed=2)
    assert p.final_changed and p.steps[-1] != "A: 14" and p.labels == [False] * 3
    # One paragraph ending in \boxed{}: the carry stays inside the origin step.
    one = ["We get $2 \\cdot 3 = 6$, so $6 + 1 = 7$ and the answer is $\\boxed{7}$."]
    p = perturb(one, error_type="wrong_result", target_swer=1.0, position="first", seed=0)
    assert p.final_changed and "\\boxed{7}" not in p.steps[0]
    value = re.search(r"\\boxed\{(-?\d+)\}", p.steps[0]).group(1)
    assert re.search(rf"= {value}\$", p.steps[0])  # 6 + 1 recomputed to the new answer


def test_drop_term_needs_three_terms():
    p = perturb(GSM, error_type="drop_term", target_swer=1.0, position="first", seed=0)
    assert p.first_error == 0 and p.labels == [False, False, False]
    assert "16 - 3 =" in p.steps[0] or "16 - 4 =" in p.steps[0]


def test_independent_errors_stay_in_their_steps():
    p = perturb(
        GSM, error_type="wrong_result", target_swer=0.67, carry=False, position="first", seed=1
    )
    assert p.labels == [False, False, True] and not p.final_changed
    assert p.steps[2] == GSM[2]


def test_bad_specs_fail_clearly():
    with pytest.raises(ValueError, match="unknown error type 'typo'"):
        perturb(GSM, error_type="typo", target_swer=0.5)
    with pytest.raises(ValueError, match=r"target SWER must be in \(0, 1\]"):
        perturb(GSM, error_type="flip_sign", target_swer=1.5)
    with pytest.raises(ValueError, match="unknown position 'centre'"):
        perturb(GSM, error_type="flip_sign", target_swer=0.5, position="centre")
    with pytest.raises(CannotPerturb, match="no checkable computation"):
        perturb(["No numbers here.\n", "None at all."], error_type="flip_sign", target_swer=0.5)


GRID = (0.25, 0.5, 0.75, 1.0)
NUMBER = re.compile(r"\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+(?:\.\d+)?")
# What precedes a number that a computation or the final answer states.
RESULT = re.compile(r"(=|####|\\boxed\{|answer is:?|\bA:|Answer:)\s*-?\$?$", re.IGNORECASE)


def _given_operands_changed(steps, p, givens) -> list[tuple[str, str]]:
    """Written without the perturbation code: after the origin step, the numbers keep
    their places (a carry only rewrites values); those that are not results of a
    computation and equal a quantity of the problem must be unchanged."""
    changed = []
    for old, new in zip(steps[p.first_error + 1 :], p.steps[p.first_error + 1 :], strict=True):
        a, b = list(NUMBER.finditer(old)), list(NUMBER.finditer(new))
        assert len(a) == len(b), (old, new)
        for x, y in zip(a, b, strict=True):
            operand = not RESULT.search(old[: x.start()])
            if operand and x.group() != y.group() and to_number(x.group()) in givens:
                changed.append((old, new))
    return changed


def _references(shared_data):
    gsm = [
        (
            re.sub(r"<<[^>]*>>", "", r["answer"]),
            r["answer"].split("####")[-1].strip(),
            r["question"],
        )
        for r in read_jsonl(shared_data / "gsm8k" / "test.jsonl")
    ]
    m500 = [
        (r["solution"], r["answer"], r["problem"])
        for r in read_jsonl(shared_data / "math500" / "test.jsonl")
    ]
    return {"gsm8k": gsm, "math500": m500}


@pytest.mark.shared_data
def test_rule_perturbation_on_all_gsm8k_and_math500_references(shared_data, capsys):
    report = []
    for name, refs in _references(shared_data).items():
        for error_type, carry in [(t, c) for t in ERROR_TYPES for c in (True, False)]:
            made, to_verify, swer_error = 0, [], Counter()
            for i, (text, answer, question) in enumerate(refs):
                steps = segment(text)
                target = GRID[i % len(GRID)]
                givens = given_quantities(question)
                try:
                    p = perturb(
                        steps,
                        error_type=error_type,
                        target_swer=target,
                        seed=i,
                        carry=carry,
                        givens=givens,
                    )
                except CannotPerturb:
                    continue
                made += 1
                if carry:  # independent check: no operand the problem gives changed
                    assert not _given_operands_changed(steps, p, givens), question
                assert p.steps[: p.first_error] == steps[: p.first_error]
                assert "".join(p.steps[p.first_error :]) != "".join(steps[p.first_error :])
                if not LEAKY_WORDS.search(text):
                    assert not LEAKY_WORDS.search("".join(p.steps))
                trace = Trace(
                    id=f"{i}",
                    problem_id=f"{i}",
                    text="".join(p.steps),
                    steps=p.steps,
                    origin="perturbed",
                    annotation=StepAnnotation(p.labels, "construction", p.error_types),
                )
                assert trace.annotation.first_error_step == p.first_error
                n = len(steps)
                swer = trace.annotation.swer
                assert swer == max(1, round(target * n)) / n
                swer_error[target] = max(swer_error[target], abs(swer - target))
                assert abs(swer - target) <= max(0.5 / n, 1 / n if target * n < 0.5 else 0) + 1e-9
                if carry:  # the outcome-changing mode
                    to_verify.append((trace.text, answer))
            judged = list(verify_many(to_verify, VerifyConfig(workers=2)))
            assert all(j.status != "correct" for j in judged), "the final answer must change"
            mode = "carried" if carry else "local"
            share = f"{made:5}/{len(refs)} ({made / len(refs):.1%})"
            report.append(f"{name:8} {error_type:14} {mode:8} perturbed {share}")
    with capsys.disabled():
        print("\n" + "\n".join(report))
    shares = {line.split()[1]: line for line in report if line.startswith("gsm8k")}
    assert "wrong_result" in shares


PERTURB_RECIPE = """\
name: perturbed-gsm8k
source: {{kind: file, path: {path}, normalizer: gsm8k, limit: 80}}
builders:
  - kind: perturb
    swer_grid: [0.25, 0.5, 1.0]
    positions: [first, middle, last, random]
"""


@pytest.mark.shared_data
def test_perturb_builder_end_to_end(shared_data, tmp_path):

    import datasets

    from supdata.build import build
    from supdata.recipe import load_recipe

    recipe_path = tmp_path / "p.yaml"
    recipe_path.write_text(PERTURB_RECIPE.format(path=shared_data / "gsm8k" / "test.jsonl"))
    out = tmp_path / "perturbed-gsm8k"
    stats = build(load_recipe(recipe_path), out)
    rows = datasets.load_dataset(str(out), "perturbed", split="train")
    refs = {r["id"]: r for r in datasets.load_dataset(str(out), "references", split="train")}
    assert len(rows) > 20
    for row in rows:
        parent = refs[row["parent_id"]]
        k = row["annotation"]["first_error_step"]
        assert row["steps"][:k] == parent["steps"][:k]
        assert len(row["annotation"]["labels"]) == len(row["steps"])
        assert row["status"] == "incorrect"  # carried errors change the final answer
        target = row["sampling"]["target_swer"]
        wrong = row["annotation"]["labels"].count(False)
        assert wrong == max(1, round(target * len(row["steps"])))
    measured = stats["measured"]["perturbed"]["swer_by_target"]
    assert set(measured) <= {"0.25", "0.5", "1"} and measured["1"]["measured_mean"] == 1.0
    dropped = stats["stages"]["perturbed"]["dropped"]
    assert stats["stages"]["perturbed"]["out"] == len(rows)
    assert stats["stages"]["perturbed"]["in"] == len(rows) + sum(dropped.values()) - sum(
        n for reason, n in dropped.items() if reason.startswith("reference")
    )
    assert (out / "plots" / "perturbed_swer.png").is_file()
    assert (out / "plots" / "perturbed_first_error.png").is_file()
    figures = stats["measured"]["perturbed"]
    assert sum(figures["error_types"].values()) == len(rows)
    assert sum(figures["first_error_position"].values()) == len(rows)
    assert "first errors by position" in (out / "README.md").read_text()


@pytest.mark.parametrize("m", [1, 6, 7, 50])
def test_er_mixture_takes_exactly_round_er_m_wrong(m):
    from supdata.core.stats import StageStats
    from supdata.ops.mixture import er_mixture, take_count

    pairs = [
        {
            "id": f"p{i}",
            "problem_id": f"p{i}",
            "prompt": "q",
            "chosen": "good",
            "rejected": "bad",
            "reference_answer": "1",
        }
        for i in range(m)
    ]
    for er in [i / 10 for i in range(11)] + [0.25, 0.05]:
        rows = er_mixture(pairs, er, 0, StageStats("mix"))
        wrong = [r for r in rows if not r["correct"]]
        assert len(wrong) == take_count(er, m) == int(er * m + 0.5)
        assert all(r["completion"] == "bad" for r in wrong)
        assert rows == er_mixture(pairs, er, 0, StageStats("mix"))  # seeded
    assert take_count(0.5, 7) == 4 and take_count(0.25, 6) == 2  # halves go up


@pytest.mark.parametrize(
    ("text", "leaks"),
    [
        ("There are two mistakes here.", True),
        ("Fixing the errors gives 12.", True),
        ("That step was erroneous.", True),
        ("He miscomputed the total.", True),
        ("This is incorrect, so", True),
        ("We directly get 5.", True),
        ("Instead, multiply.", True),
        ("However, 3 + 4 = 7.", True),
        ("The terror of 3 + 4 = 7.", False),  # whole words only
        ("So 3 + 4 = 7 and the total is 12.", False),
    ],
)
def test_leaky_words_cover_the_papers_list_with_inflections(text, leaks):
    assert bool(LEAKY_WORDS.search(text)) is leaks
