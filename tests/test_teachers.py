"""steperror ``teachers:``: several engines sample the same problems; per-teacher outcome
ER and SWER (annotator labels) in stats.json and the card; ``teacher_target_er`` picks one
solution per problem at a target outcome ER and counts what the samples cannot fill."""

from __future__ import annotations

import json
import re

import pytest

from supdata.core.stats import StageStats
from supdata.export import export_dir, read_config
from supdata.ops.mixture import er_mixture
from supdata.recipe import RecipeError, load_recipe

from conftest import read_jsonl, write_jsonl


def _text(answer: int, guesses: int) -> str:
    """Three steps; the last ``guesses`` steps guess (the scripted annotator's Wrong)."""
    steps = ["Step 1: Read it.", "Step 2: Add up.", "Step 3: the answer is"]
    for i in range(3 - guesses, 3):
        steps[i] = steps[i].replace(": ", ": guess; ", 1)
    return "\n".join(steps) + f" \\boxed{{{answer}}}."


def _label(request, k):
    """The annotator: a step is Wrong exactly when it guesses."""
    student = request.messages[-1]["content"].split("Student solution:\n")[1]
    student = student.split("\nAnswer with JSON")[0]
    chunks = re.split(r"(?m)^Step \d+: ", student)[1:]
    n = request.sampling.structured.json_schema["properties"]["steps"]["minItems"]
    assert len(chunks) == n
    return json.dumps({"steps": ["Wrong" if "guess" in c else "Correct" for c in chunks]})


@pytest.mark.shared_data
@pytest.mark.parametrize("window", [4096, 1])
def test_teachers_er_swer_and_target_er_selection(shared_data, tmp_path, fake_engines, window):
    """Six real GSM8K problems. Teacher ``ta`` (n=2, the builder's): problem 0, 4, 5 one
    wrong one right; 1 both wrong; 2 both right; 3 one wrong cut at max_tokens and one
    without an answer. Its wrong solutions guess in 1 of 3 steps. Teacher ``tb`` (n=4, its
    own): every sample wrong (2 of 3 steps guess) but one right on problem 0.

    ta: 7 of 12 wrong or unanswered (ER 0.5833); SWER 6 x 1/3 over 12 labelled = 0.1667.
    tb: 23 of 24 wrong (ER 0.9583); SWER 23 x 2/3 / 24 = 0.6389.
    Selection at ER 0.9: ta has M = 5 problems with a complete sample (problem 3 has
    none), round(4.5) = 5 wrong slots but only 4 problems with a wrong sample: 4 wrong
    rows, problem 2 (only right samples) left out, 1 wrong slot unfilled. tb: M = 6,
    round(5.4) = 5 wrong slots, problems 1-5 (only wrong) take them and problem 0 its
    right sample: 5/6 = 0.8333, nothing unfilled. The same figures when every stage
    (sampling, labelling, pairing, selecting) goes one problem at a time (``window: 1``)."""
    from supdata.build import build

    rows = read_jsonl(shared_data / "gsm8k" / "test.jsonl")[:6]
    source = write_jsonl(tmp_path / "source.jsonl", rows)
    answers = {r["question"]: int(r["answer"].split("####")[-1].strip()) for r in rows}
    order = list(answers)

    def problem(request) -> tuple[int, int]:
        text = " ".join(m["content"] for m in request.messages)
        q = next(q for q in order if q in text)
        return order.index(q), answers[q]

    def actor(request, k):
        _, a = problem(request)
        return _text(a + k, k)  # sample 0 right, sample 1 wrong

    def ta(request, k):
        i, a = problem(request)
        if i == 3:
            return (_text(a + 1, 1), "length") if k == 0 else "I am not sure."
        wrong = {0: k == 0, 1: True, 2: False, 4: k == 0, 5: k == 0}[i]
        return _text(a + 1, 1) if wrong else _text(a, 0)

    def tb(request, k):
        i, a = problem(request)
        return _text(a, 0) if (i, k) == (0, 3) else _text(a + 1, 2)

    fake_engines({"o/actor": actor, "o/ta": ta, "o/tb": tb, "o/ann": _label})

    recipe = tmp_path / "recipe.yaml"
    recipe.write_text(
        f"name: teachers\nsource: {{kind: file, path: {source}, normalizer: gsm8k}}\n"
        f"runner: {{window: {window}}}\n"
        "engines:\n"
        "  actor: {kind: vllm, model: o/actor}\n"
        "  annotator: {kind: vllm, model: o/ann}\n"
        "  ta: {kind: vllm, model: o/ta}\n"
        "  tb: {kind: vllm, model: o/tb}\n"
        "builders:\n"
        "  - kind: steperror\n"
        "    n: 2\n"
        "    er_grid: [0.5]\n"
        "    annotator: annotator\n"
        "    teachers:\n"
        "      - {engine: ta}\n"
        "      - {engine: tb, n: 4, temperature: 0.7}\n"
        "    teacher_target_er: 0.9\n"
    )
    out = tmp_path / "out"
    stats = build(load_recipe(recipe), out, cache_path=tmp_path / "c.sqlite")

    teachers = stats["measured"]["teacher_samples"]["teachers"]
    assert teachers == {
        "ta": {
            "model": "o/ta",
            "samples": 12,
            "judged": 12,
            "outcome_error_rate": 0.5833,
            "labelled": 12,
            "swer_mean": 0.1667,
            "finish": {"stop": 11, "length": 1},
            "no_answer": 1,
        },
        "tb": {
            "model": "o/tb",
            "samples": 24,
            "judged": 24,
            "outcome_error_rate": 0.9583,
            "labelled": 24,
            "swer_mean": 0.6389,
            "finish": {"stop": 24},
            "no_answer": 0,
        },
    }
    assert stats["measured"]["teacher_er90_ta"] == {
        "rows": 4,
        "outcome_error_rate": 1.0,
        "er_target": 0.9,
        "teacher": "ta",
        "problems": 6,
        "candidates": 5,
        "wrong_slots": 5,
        "unfilled_wrong": 1,
        "unfilled_right": 0,
    }
    assert stats["measured"]["teacher_er90_tb"] == {
        "rows": 6,
        "outcome_error_rate": 0.8333,
        "er_target": 0.9,
        "teacher": "tb",
        "problems": 6,
        "candidates": 6,
        "wrong_slots": 5,
        "unfilled_wrong": 0,
        "unfilled_right": 0,
    }
    dropped = stats["stages"]["teacher_er90_ta"]["dropped"]
    assert dropped == {
        "no complete sample": 1,
        "teacher:ta: no complete wrong sample for its slot": 1,
    }

    samples = read_config(out, "teacher_samples").to_list()
    assert [r["teacher"] for r in samples] == ["ta"] * 12 + ["tb"] * 24
    assert len({r["id"] for r in samples}) == 36 and samples[0]["id"].startswith("ta/")
    assert {r["sampling"]["temperature"] for r in samples if r["teacher"] == "tb"} == {0.7}
    assert all(r["annotation"]["source"].startswith("annotator:o/ann") for r in samples)
    ta_rows = read_config(out, "teacher_er90_ta").to_list()
    assert sorted(r["problem_id"] for r in ta_rows) == sorted(
        [r["problem_id"] for r in ta_rows if not r["correct"]]
    )
    assert {r["part"] for r in ta_rows} == {"teacher:ta"} and len(ta_rows) == 4
    tb_rows = read_config(out, "teacher_er90_tb").to_list()
    (right,) = [r for r in tb_rows if r["correct"]]
    assert right["taken"] == "chosen" and f"\\boxed{{{answers[order[0]]}}}" in right["completion"]

    sft = export_dir(out, "teacher_er90_tb", "trl-sft", tmp_path / "sft.parquet")
    assert len(sft.converted.dataset) == 6 and sft.converted.kind == "mixture"

    card = (out / "README.md").read_text()
    assert "| `ta` | o/ta | 12 | 12 | 0.5833 | 0.1667 | 12 | stop: 11, length: 1 | 1 |" in card
    assert "| `teacher_er90_ta` | `ta` | 6 | 5 | 5 | 4 | 0.9 | 1.0 | 1 | 0 |" in card
    assert "| `teacher_er90_tb` | `tb` | 6 | 6 | 5 | 6 | 0.9 | 0.8333 | 0 | 0 |" in card
    assert "SWER needs an annotator" not in card
    assert "**Sampling** (`teacher_samples_tb`): prompt `solve@1`, n=4, temperature=0.7" in card


def _candidates(kinds: str) -> list[dict]:
    """b: a right and a wrong sample; w: only wrong; r: only right."""
    return [
        {
            "id": f"p{i}",
            "problem_id": f"p{i}",
            "prompt": "q",
            "chosen": None if kind == "w" else "right",
            "rejected": None if kind == "r" else "wrong",
            "reference_answer": "1",
        }
        for i, kind in enumerate(kinds)
    ]


def test_target_er_selection_counts_what_it_cannot_fill():
    # 20 problems, 0.9: exactly 18 wrong, 2 right when the samples allow it.
    stats = StageStats("t")
    rows = er_mixture(_candidates("b" * 10 + "w" * 8 + "r" * 2), 0.9, 0, stats, part="t")
    assert len(rows) == 20 and sum(not r["correct"] for r in rows) == 18
    assert {r["id"] for r in rows if r["correct"]} == {"p18", "p19"}
    assert not stats.dropped
    # Too few wrong: 18 wrong slots, 12 problems with a wrong sample; 6 right-only
    # problems are left out (not taken as right), so 12 wrong + 2 right.
    stats = StageStats("t")
    rows = er_mixture(_candidates("b" * 4 + "w" * 8 + "r" * 8), 0.9, 0, stats, part="t")
    assert (len(rows), sum(not r["correct"] for r in rows)) == (14, 12)
    assert stats.dropped == {"t: no complete wrong sample for its slot": 6}
    # Too few right: 2 right slots, 1 problem with a right sample; one of the 19
    # wrong-only problems is left out: 18 wrong + 1 right.
    stats = StageStats("t")
    rows = er_mixture(_candidates("b" + "w" * 19), 0.9, 0, stats, part="t")
    assert (len(rows), sum(not r["correct"] for r in rows)) == (19, 18)
    assert stats.dropped == {"t: no complete right sample for its slot": 1}
    assert stats.counts == {"t: rejected taken": 18, "t: chosen taken": 1}


def _load(tmp_path, builder: dict) -> str:
    import yaml

    recipe = {
        "name": "x",
        "source": {"kind": "reasoning_gym", "name": "gsm_symbolic", "size": 4},
        "engines": {"actor": {"kind": "vllm"}, "big": {"kind": "vllm"}},
        "builders": [{"kind": "steperror", **builder}],
    }
    path = tmp_path / "r.yaml"
    path.write_text(yaml.safe_dump(recipe, sort_keys=False))
    with pytest.raises(RecipeError) as err:
        load_recipe(path)
    return str(err.value)


def test_unknown_teacher_engine_fails_at_validation_with_its_line(tmp_path):
    text = _load(tmp_path, {"teachers": [{"engine": "big"}, {"engine": "x"}]})
    lines = (tmp_path / "r.yaml").read_text().splitlines()
    line = next(i for i, s in enumerate(lines, 1) if "engine: x" in s)
    assert (
        f"r.yaml:{line}: builders[0].teachers[1].engine: no engine named 'x' "
        "(engines: ['actor', 'big'])"
    ) in text


@pytest.mark.parametrize(
    ("builder", "message"),
    [
        ({"teachers": [{"engine": "big"}], "teacher_target_er": 0}, "must be in (0, 1]; got 0"),
        ({"teachers": [{"engine": "big"}], "teacher_target_er": 1.5}, "must be in (0, 1]; got 1.5"),
        ({"teacher_target_er": 0.9}, "builders[0].teacher_target_er: selects teachers' samples"),
        (
            {"teachers": [{"engine": "big"}, {"engine": "big"}]},
            "builders[0].teachers[1].engine: 'big' is already teachers[0]",
        ),
        ({"teachers": [{"engine": "big", "n": 0}]}, "builders[0].teachers[0].n:"),
    ],
)
def test_bad_teacher_options_fail_at_validation(tmp_path, builder, message):
    text = _load(tmp_path, builder)
    assert message in text and "r.yaml:" in text


def test_card_says_swer_needs_an_annotator():
    from supdata.builders.steperror import SPEC, SteperrorBuilder
    from supdata.publish.card import render_section

    builder = SteperrorBuilder(kind="steperror", teachers=[{"engine": "ta"}])
    teacher = {
        "model": "m",
        "samples": 4,
        "judged": 4,
        "outcome_error_rate": 0.75,
        "labelled": 0,
        "swer_mean": None,
        "finish": {"stop": 4},
        "no_answer": 0,
    }
    measured = {"teacher_samples": {"samples": 4, "teachers": {"ta": teacher}}}
    text = render_section(SPEC.card, stats={}, measured=measured, params=builder)
    assert "SWER needs an annotator (`annotator:` in this builder)" in text
    assert "| `ta` | m | 4 | 4 | 0.75 | n/a | 0 | stop: 4 | 0 |" in text
