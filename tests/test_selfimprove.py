"""Critique-in-the-loop over rounds (``selfimprove:``) and the published anti-shortcut
barrier: a scripted two-round build on real GSM8K problems with two actors, the barrier
on the published MathCritique refinements, and the recipe checks."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from supdata.builders.critique.filters import digit_runs, shortcut, shortcut_barrier
from supdata.builders.critique.loop import YIELDS
from supdata.ops.sampling import problem_seed
from supdata.recipe import RecipeError, load_recipe
from supdata.sources.normalize import gsm8k

from conftest import read_jsonl, write_jsonl

_TURN = "\n<|end_of_text|>\nHuman: "
PREFIX = "Let's break it down step by step:\n\n"


# -- the barrier ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("reference", "response", "refinement", "passes"),
    [
        # floor = min(7, 5) - 2 = 3: three numbers pass, two do not
        ("48/2 = 24; 48+24 = 72 #### 72", "1 2 3 4 5", "1 2 3", True),
        ("48/2 = 24; 48+24 = 72 #### 72", "1 2 3 4 5", "1 2", False),
        # the reference can be the smaller count: min(3, 9) - 2 = 1
        ("so 12 #### 12 and 1", "1 2 3 4 5 6 7 8 9", "The answer is 12.", True),
        ("so 12 #### 12 and 1", "1 2 3 4 5 6 7 8 9", "The answer is twelve.", False),
        # runs of digits: 12.5 and 1,000 count two each, x^2 one
        ("12.5 1,000", "12.5 1,000 x^2", "12.5", True),
        # two or fewer numbers on either side: nothing is rejected
        ("#### 7", "7", "seven", True),
    ],
)
def test_published_barrier_table(reference, response, refinement, passes):
    why = shortcut_barrier(reference, response, refinement)
    assert (why is None) is passes
    floor = min(digit_runs(reference), digit_runs(response)) - 2
    assert (digit_runs(refinement) >= floor) is passes


def _published_rows(shared_data: Path, source: str) -> list[tuple[str, str, str]]:
    """The 100 published refinement rows of ``source`` (gsm8k, math) as (reference
    solution as the published code reads it, original response, refinement): the raw
    GSM8K train answer (calc marks and ``####`` line kept) or the MATH train solution."""
    name = f"Meta-Llama-3-8B-{source}-sftdata_0_new.json"
    rows = json.loads((shared_data / "mathcritique" / name).read_text())
    if source == "gsm8k":
        train = read_jsonl(shared_data / "gsm8k" / "train.jsonl")
        refs = {r["question"]: r["answer"] for r in train}
    else:
        train = read_jsonl(shared_data / "math_full" / "hendrycks_train.jsonl")
        refs = {r["problem"]: r["solution"] for r in train}
    out = []
    for row in rows:
        question, _, response = row["instruction"].partition(_TURN)[0].partition("\n\nAssistant:")
        question = question.rpartition(" Please also give your final number")[0]
        out.append((refs[question], response, row["output"]))
    return out


@pytest.mark.shared_data
@pytest.mark.parametrize(
    ("source", "rejected", "answer_passes"),
    [
        # (row, numbers in reference, in response, in refinement): 13 < min(19, 76) - 2
        ("gsm8k", [(16, 19, 76, 13), (52, 26, 29, 23), (57, 38, 44, 33)], []),
        (
            "math",
            [(12, 75, 128, 54), (13, 40, 35, 27), (15, 43, 66, 38), (73, 70, 42, 32)],
            [26, 88, 93],  # floors min(3, 5) - 2, min(2, 11) - 2, min(5, 3) - 2: at most 1
        ),
    ],
)
def test_barrier_on_the_published_refinements(shared_data, source, rejected, answer_passes):
    """The published refinements are GPT-4-feedback data (round 0), never filtered by
    the barrier: on them it rejects 3 of 100 GSM8K and 4 of 100 MATH rows, each with
    fewer numbers than the shorter of reference and response, less two. An answer line
    alone ("The answer is 5.") is rejected except where the floor is 1 or less."""
    rows = _published_rows(shared_data, source)
    assert len(rows) == 100
    got = [
        (i, digit_runs(ref), digit_runs(resp), digit_runs(new))
        for i, (ref, resp, new) in enumerate(rows)
        if shortcut_barrier(ref, resp, new) is not None
    ]
    assert got == rejected
    assert all(new < min(ref, resp) - 2 for _, ref, resp, new in got)
    passes = [
        i
        for i, (ref, resp, _) in enumerate(rows)
        if shortcut_barrier(ref, resp, "The answer is 5.") is None
    ]
    assert passes == answer_passes


@pytest.mark.shared_data
def test_supdata_reference_and_the_other_check_on_published_gsm8k(shared_data):
    """supdata's GSM8K reference drops the calc marks, so it counts fewer numbers than
    the published code and rejects 1 row (16) instead of 3; ``supdata@1`` (half the
    response's numbers and two steps; steps as lines here) rejects rows 16, 29 and 37."""
    rows = _published_rows(shared_data, "gsm8k")
    ours = [
        gsm8k({"question": "q", "answer": ref}, 0, "t").reference_solution for ref, _, _ in rows
    ]
    got = [
        i
        for i, (ref, (_, resp, new)) in enumerate(zip(ours, rows, strict=True))
        if shortcut_barrier(ref, resp, new) is not None
    ]
    assert got == [16]
    other = [i for i, (_, resp, new) in enumerate(rows) if shortcut(new.split("\n"), resp, 0.5)]
    assert other == [16, 29, 37]


# -- a scripted two-round build ---------------------------------------------------------


def _correct(tag: str, answer: int) -> str:
    return f"We begin {tag} with 2 and 3.\nThen 5 more.\nThe answer is $\\boxed{{{answer}}}$."


def _wrong(tag: str, answer: int) -> str:
    wrong = answer + 1
    return (
        f"We begin {tag} with 2 and 3.\nThen 5 more wrongly.\nThe answer is $\\boxed{{{wrong}}}$."
    )


def _honest(tag: str, answer: int) -> str:
    return f"Redo it {tag}: 2 and 3.\nWith 5 more.\nThe answer is $\\boxed{{{answer}}}$."


def _shortcut(tag: str, answer: int) -> str:
    return f"So the answer {tag}.\nThe answer is $\\boxed{{{answer}}}$."


# (round, problem index) -> the two samples; wrong tag -> the two refinements
SAMPLES = {
    (0, 0): [("C", "zero"), ("W", "zero")],
    (0, 1): [("C", "zero"), ("W", "zero")],
    (0, 2): [("C", "zero"), ("W", "zero")],
    (1, 0): [("C", "alpha"), ("W", "alpha")],
    (1, 1): [("W", "beta"), ("W", "gamma")],
    (1, 2): [("C", "delta"), ("C", "delta")],  # the same answer twice: a dedup drop
    (2, 0): [("C", "alpha"), ("W", "eps")],  # round 1 kept this answer: a dedup drop
    (2, 1): [("C", "zeta"), ("W", "eta")],
    (2, 2): [("W", "theta"), ("W", "iota")],
}
REFINES = {
    "zero": [("H", "zero"), ("H", "zero")],
    "alpha": [("S", "alpha"), ("H", "alpha")],  # the shortcut first: the honest one is kept
    "beta": [("S", "beta"), ("S", "beta")],  # correct but both shortcuts: barrier
    "gamma": [("W", "gamma"), ("W", "gamma")],
    "eps": [("H", "alpha"), ("W", "eps")],  # round 1's refinement again: a dedup drop
    "eta": [("H", "eta"), ("H", "eta2")],
    "theta": [("W", "theta"), ("W", "theta")],
    "iota": [("W", "iota"), ("H", "iota")],
}
MAKE = {"C": _correct, "W": _wrong, "H": _honest, "S": _shortcut}
TAGS = sorted({t for v in SAMPLES.values() for _, t in v}, key=len, reverse=True)


@pytest.mark.shared_data
def test_two_rounds_two_actors_on_gsm8k(shared_data, tmp_path, fake_engines):
    """Three GSM8K train problems, two rounds, actor a1 then a2, a reference-free critic.
    Each actor gets exactly its round's samples and refinements; the critic's round
    prompts carry no reference; the yields, the barrier and the dedup drops are exact."""
    from supdata.build import build
    from supdata.export.folder import read_config

    rows = read_jsonl(shared_data / "gsm8k" / "train.jsonl")[:3]
    source = write_jsonl(tmp_path / "source.jsonl", rows)
    answers = [int(r["answer"].split("####")[-1].strip()) for r in rows]
    problem_ids = [f"source-{i}" for i in range(3)]
    seeds = {}  # request seed -> (kind, round)
    for r in (0, 1, 2):
        base = 0 if r == 0 else 1009 * r
        for pid in problem_ids:
            seeds[problem_seed(base, pid, 2)] = ("sample", r)
            for k in range(2):
                seeds[problem_seed(base + 23, f"{pid}/sample-{k}", 2)] = ("refine", r)

    def which(text: str) -> int:
        return next(i for i, row in enumerate(rows) if row["question"] in text)

    def respond(model, request, k):
        text = "\n".join(m["content"] for m in request.messages)
        if request.messages[0]["content"].startswith("Instruction:"):
            assert model == "crit"
            lines = text.split("\n\nSolution:\n", 1)[1].split("\n\nHint:")[0].split("\n")
            blocks = [
                f"Step sentence: {line}\nCorrectness of the step: "
                f"[{'Wrong' if i == 1 else 'Correct'}]\nExplanation: checked."
                for i, line in enumerate(lines[:-1])
            ]
            return "\n\n".join(
                [*blocks, "Correctness of the final answer: [Wrong]\nExplanation: x."]
            )
        i = which(text)
        kind, r = seeds[request.sampling.seed]
        if kind == "sample":
            how, tag = SAMPLES[r, i][k]
        else:
            wrong = next(t for t in TAGS if f"We begin {t} with" in text)
            how, tag = REFINES[wrong][k]
        return MAKE[how](tag, answers[i])

    backends = fake_engines({
        f"fake-{m}": lambda request, k, m=m: respond(m, request, k) for m in ("a1", "a2", "crit")
    })  # fmt: skip

    recipe = tmp_path / "recipe.yaml"
    recipe.write_text(
        f"name: loop\nsource: {{kind: file, path: {source}, normalizer: gsm8k}}\n"
        "engines:\n  a1: {kind: vllm, model: fake-a1}\n  a2: {kind: vllm, model: fake-a2}\n"
        "  crit: {kind: vllm, model: fake-crit}\n"
        "builders:\n  - kind: critique\n    engine: a1\n    critic: crit\n"
        "    prompts: mathcritique\n    methods: [rg1]\n    n: 2\n    refine_n: 2\n"
        "    selfimprove: {rounds: 2, actors: [a1, a2]}\n"
    )
    build(load_recipe(recipe), tmp_path / "out", cache_path=tmp_path / "c.sqlite")
    out = tmp_path / "out"

    def round_requests(model, r):
        return [
            q for q in backends[f"fake-{model}"].requests
            if seeds.get(q.sampling.seed, ("", 0))[1] == r
        ]  # fmt: skip

    # which requests each actor got: a1 round 1 only, a2 round 2 only
    assert round_requests("a2", 1) == [] and round_requests("a1", 2) == []
    a2 = backends["fake-a2"].requests
    assert len(a2) == 3 + 4  # 3 problems sampled, 4 wrong answers refined
    assert sorted(q.id for q in a2 if not q.id.endswith("/refine")) == problem_ids
    assert len(round_requests("a1", 1)) == 3 + 3
    # the critic: 3 + 4 round critiques without the reference; rg1's carry it
    critic = backends["fake-crit"].requests
    round_critiques = [q for q in critic if "zero" not in q.messages[0]["content"]]
    assert len(round_critiques) == 3 + 4
    first_lines = [r["answer"].split("\n")[0].split("<<")[0] for r in rows]
    for q in round_critiques:
        assert "Reference solution" not in q.messages[0]["content"]
        assert not any(line in q.messages[0]["content"] for line in first_lines)
    assert all(
        "Reference solution" in q.messages[0]["content"] for q in critic if q not in round_critiques
    )

    stats = json.loads((out / "stats.json").read_text())
    y1 = stats["measured"]["selfimprove_r1"]["yields"]
    y2 = stats["measured"]["selfimprove_r2"]["yields"]
    assert y1 == {
        "sampled": 6, "correct": 3, "wrong": 3, "critiqued": 3, "refined_correct": 2,
        "barrier_rejected": 1, "dedup_dropped": 1, "kept": 3,
    }  # fmt: skip
    assert y2 == {
        "sampled": 6, "correct": 2, "wrong": 4, "critiqued": 4, "refined_correct": 3,
        "barrier_rejected": 0, "dedup_dropped": 2, "kept": 3,
    }  # fmt: skip
    m1, m2 = stats["measured"]["selfimprove_r1"], stats["measured"]["selfimprove_r2"]
    assert (m1["actor"], m1["actor_model"], m2["actor"], m2["actor_model"]) == (
        "a1", "fake-a1", "a2", "fake-a2",
    )  # fmt: skip
    assert m1["critic"] == m2["critic"] == "crit" and m1["critic_sees_reference"] is False

    r1 = read_config(out, "selfimprove_r1").to_list()
    r2 = read_config(out, "selfimprove_r2").to_list()
    texts1 = sorted(r["completion"][0]["content"] for r in r1)
    assert texts1 == sorted([
        _correct("alpha", answers[0]), _correct("delta", answers[2]), _honest("alpha", answers[0]),
    ])  # fmt: skip
    assert sorted(r["completion"][0]["content"] for r in r2) == sorted([
        _correct("zeta", answers[1]), _honest("eta", answers[1]), _honest("iota", answers[2]),
    ])  # fmt: skip
    assert sorted(r["source"] for r in r2) == ["refined", "refined", "sampled"]
    assert {r["prompt_set"] for r in r1 + r2} == {"mathcritique"}
    triples = read_config(out, "selfimprove_triples").to_list()
    assert [(t["round"], t["refinement"]) for t in sorted(triples, key=lambda t: t["id"])] == [
        (1, _honest("alpha", answers[0])),
        (2, _honest("eta", answers[1])),
        (2, _honest("iota", answers[2])),
    ]
    assert all("Correctness of the step: Wrong" in t["critique"] for t in triples)
    assert {t["critic_saw_reference"] for t in triples} == {False}
    assert [t["actor"] for t in sorted(triples, key=lambda t: t["id"])] == [
        "fake-a1", "fake-a2", "fake-a2",
    ]  # fmt: skip
    assert not (out / "data" / "selfimprove_sft").exists()
    from supdata.export import export_dir

    export_dir(out, "selfimprove_r2", "mathcritique", tmp_path / "r2.json", style="alpaca")
    exported = json.loads((tmp_path / "r2.json").read_text())
    assert sorted(e["output"].removeprefix(PREFIX) for e in exported) == sorted(
        r["completion"][0]["content"] for r in r2
    )
    card = (out / "README.md").read_text()
    assert re.search(
        r"\| 1 \| a1 \(`fake-a1`\) \| crit \(`fake-crit`\) \| 6 \| 3 \| 3 \| 2 \| 1 \| 1 \| 3 \|",
        card,
    )
    assert re.search(
        r"\| 2 \| a2 \(`fake-a2`\) \| crit \(`fake-crit`\) \| 6 \| 2 \| 4 \| 3 \| 0 \| 2 \| 3 \|",
        card,
    )
    assert "does not see the reference" in card and "All rounds use one actor" not in card


# -- recipe checks -----------------------------------------------------------------------

_RECIPE = (
    "name: bad\nsource: {{kind: file, path: {source}, normalizer: gsm8k}}\n"
    "engines:\n  a1: {{kind: vllm}}\n  a2: {{kind: vllm}}\n"
    "builders:\n  - kind: critique\n    engine: a1\n    critic: a1\n"
    "    selfimprove:\n{section}"
)


@pytest.mark.parametrize(
    ("section", "line", "where", "message"),
    [
        (
            "      rounds: 0\n",
            11,
            r"builders\[0\]\.selfimprove\.rounds",
            "greater than or equal to 1",
        ),
        (
            "      rounds: 2\n      actors: [a1]\n",
            12,
            r"builders\[0\]\.selfimprove\.actors",
            "1 actors for 2 rounds",
        ),
        (
            "      rounds: 2\n      actors: [a1, nope]\n",
            12,
            r"builders\[0\]\.selfimprove\.actors\[1\]",
            "no engine named 'nope'",
        ),
        (
            "      critic: judge\n",
            11,
            r"builders\[0\]\.selfimprove\.critic",
            "no engine named 'judge'",
        ),
        ("      roundz: 2\n", 11, r"builders\[0\]\.selfimprove\.roundz", "not permitted|Extra"),
    ],
)
def test_selfimprove_errors_name_file_line_and_field(tmp_path, section, line, where, message):
    path = tmp_path / "recipe.yaml"
    source = write_jsonl(tmp_path / "s.jsonl", [{"question": "q", "answer": "#### 1"}])
    path.write_text(_RECIPE.format(section=section, source=source))
    with pytest.raises(RecipeError) as err:
        load_recipe(path)
    text = str(err.value)
    assert "(1 problem(s))" in text, text
    assert re.search(rf"recipe\.yaml:{line}\b.*{where}", text), text
    assert re.search(message, text), text


def test_selfimprove_configs_and_defaults(tmp_path):
    path = tmp_path / "recipe.yaml"
    source = write_jsonl(tmp_path / "s.jsonl", [{"question": "q", "answer": "#### 1"}])
    path.write_text(_RECIPE.format(section="      rounds: 3\n", source=source))
    builder = load_recipe(path).builders[0]
    assert builder.configs()[-4:] == (
        "selfimprove_r1",
        "selfimprove_r2",
        "selfimprove_r3",
        "selfimprove_triples",
    )
    assert "selfimprove_sft" not in builder.configs()
    loop = builder.selfimprove
    assert [loop.actor(r, builder.engine) for r in (1, 2, 3)] == ["a1"] * 3
    assert loop.critic is None and loop.critic_sees_reference is False
    assert builder.shortcut == "published"
    drawn = loop.sampling(2, builder)
    assert (drawn.engine, drawn.seed, drawn.n, drawn.temperature) == (
        "a1",
        builder.seed + 2018,
        builder.n,
        builder.temperature,
    )


def test_card_says_when_one_actor_makes_every_round(tmp_path):
    """With one actor the card says every round used it and that the paper retrains;
    a round with no figures still gets its yields (from the stage counts)."""
    from supdata.builders.critique import SPEC
    from supdata.publish.card import render_section

    source = write_jsonl(tmp_path / "s.jsonl", [{"question": "q", "answer": "#### 1"}])
    path = tmp_path / "recipe.yaml"
    path.write_text(_RECIPE.format(section="      rounds: 2\n", source=source))
    builder = load_recipe(path).builders[0]
    counts = {f"yield: {k}": 0 for k in YIELDS} | {"yield: sampled": 4}
    stats = {"stages": {f"selfimprove_round_r{r}": {"counts": counts} for r in (1, 2)}}
    card = render_section(SPEC.card, stats=stats, measured={}, params=builder)
    assert "All rounds use one actor (a1)" in card and "retrains the actor" in card
    assert card.count("| 4 | 0 | 0 | 0 | 0 | 0 | 0 |") == 2
    assert "| 2 | a1 | a1 | 4 |" in card
