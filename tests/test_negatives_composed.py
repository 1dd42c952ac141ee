"""steperror ``negatives: {compose_from_subtasks: true}``: the weak-to-strong paper's full
negative composed from its subproblems' negatives (prompt ``full_neg_ans_0827`` of
hexuan21/Weak-to-Strong, reply parsed as its ``s3_res_match``), checked like a rewrite:
length, banned words, a final answer math-verify finds wrong."""

from __future__ import annotations

import json
import re

import pytest

from supdata.builders.steperror.negatives import (
    Rewriter,
    parse_composed,
    subtask_negatives,
)
from supdata.builders.steperror.params import Negatives
from supdata.core.records import Problem
from supdata.core.stats import StageStats
from supdata.engines import Engine
from supdata.export import read_config
from supdata.recipe import RecipeError, load_recipe
from supdata.verify import VerifyConfig

from conftest import FakeBackend, builds_by_window, read_jsonl, write_jsonl

KYLAR, ELIZA, JOSH = 5, 9, 2  # GSM8K test rows

# What the decomposer proposes for each (real) problem: Kylar's and Eliza's two pass the
# checks; Josh's second is one step (too simple), so only his first is kept.
SUBS = {
    KYLAR: [
        (
            "One glass costs $5, and a discounted glass costs 60% of that price. How much "
            "do 8 discounted glasses cost?",
            "The discount price of one glass is 60/100 * 5 = $3.\n"
            "So 8 discounted glasses cost 8 * 3 = $24.\nThe answer is \\boxed{24}.",
            "24",
        ),
        (
            "Kylar buys 16 glasses, and every second glass has the regular price of $5. How "
            "much do the regular-priced glasses cost in total?",
            "Every second glass is regular-priced, so 16 / 2 = 8 glasses are regular-priced.\n"
            "They cost 8 * 5 = $40.\nThe answer is \\boxed{40}.",
            "40",
        ),
    ],
    ELIZA: [
        (
            "Eliza earns $10 an hour, and overtime pays 1.2 times that rate. How much does "
            "she earn for 5 hours of overtime?",
            "Her hourly rate for the overtime pay is $10 x 1.2 = $12.\n"
            "So she receives $12 x 5 = $60 for overtime pay.\nThe answer is \\boxed{60}.",
            "60",
        ),
        (
            "Eliza works 45 hours in a week, and every hour beyond 40 is overtime paid at $12 "
            "per hour. How much overtime pay does she get?",
            "She works 45 - 40 = 5 hours of overtime.\n"
            "She receives $12 x 5 = $60 for overtime pay.\nThe answer is \\boxed{60}.",
            "60",
        ),
    ],
    JOSH: [
        (
            "A house bought for $80,000 rises in value by 150% of its price. What is its new "
            "value in dollars?",
            "The value rises by 80,000*1.5 = $120,000.\n"
            "So the new value of the house is 120,000+80,000 = $200,000.\n"
            "The answer is \\boxed{200000}.",
            "200000",
        ),
        ("What is 80,000 + 50,000?", "80,000 + 50,000 = 130,000", "130000"),
    ],
}

# The rewriter's subproblem negatives, by (problem, subproblem, kind). Kylar: sub-1's
# computation rewrite passes (it is taken, being the first kind); sub-2's computation
# rewrite announces the error ("however"), its wrong-method one passes. Eliza: every
# rewrite is a copy, so nothing is composed for her. Josh: sub-1's computation passes.
SUB_NEGATIVES = {
    (KYLAR, 1, "computation"): "The discount price of one glass is 60/100 * 5 = $2.\n"
    "So 8 discounted glasses cost 8 * 2 = $16.\nThe answer is \\boxed{16}.",
    (KYLAR, 1, "wrong_method"): "A discounted glass costs 5 - 60/100 = $4.40.\n"
    "So 8 discounted glasses cost 8 * 4.40 = $35.20.\nThe answer is \\boxed{35.20}.",
    (KYLAR, 2, "computation"): "Every second glass is regular-priced, so 16 / 2 = 8 glasses, "
    "however that gives 8 * 5 = $45.\nThe answer is \\boxed{45}.",
    (KYLAR, 2, "wrong_method"): "Every second glass is regular-priced, so 16 / 2 = 8 glasses "
    "are regular-priced.\nThey cost 8 + 5 = $13.\nThe answer is \\boxed{13}.",
    (JOSH, 1, "computation"): "The value rises by 80,000*1.5 = $100,000.\n"
    "So the new value of the house is 100,000+80,000 = $180,000.\n"
    "The answer is \\boxed{180000}.",
    (JOSH, 1, "wrong_method"): "The value rises by 80,000*1.5 = $120,000.\n"
    "So the new value of the house is $120,000.\nThe answer is \\boxed{120000}.",
}

KYLAR_COMPOSED = (
    "The discount price of one glass is 60/100 * 5 = $2.\n"
    "If every second glass is cheaper, that means Kylar is going to buy 16 / 2 = 8 cheaper "
    "glasses.\nSo for the cheaper glasses, Kylar is going to pay 8 * 2 = $16.\n"
    "And for the regular-priced glasses, Kylar will pay 8 + 5 = $13.\n"
    "So in total Kylar needs to pay 16 + 13 = $29 for the glasses he wants to buy.\n"
    "The answer is \\boxed{29}"
)
# Josh's composer reaches the right answer (70,000): math-verify drops it.
JOSH_COMPOSED = (
    "The house and repairs cost 80,000+50,000 = $130,000.\n"
    "The value rises by 80,000*1.5 = $100,000, so the house is worth $200,000.\n"
    "So he made a profit of 200,000-130,000 = $70,000.\nThe answer is \\boxed{70000}"
)


def _body(reference: str) -> str:
    return re.sub(r"<<[^>]*>>", "", reference).split("####")[0].strip()


def _script(rows: list[dict]):
    """One scripted model for every role, answering by request id and content."""
    index = {KYLAR: 0, ELIZA: 1, JOSH: 2}
    questions = {i: rows[index[i]]["question"] for i in index}
    answers = {
        i: rows[index[i]]["answer"].split("####")[-1].strip().replace(",", "") for i in index
    }
    pids: dict[str, int] = {}

    def which(text: str) -> int:
        return next(i for i, q in questions.items() if q in text)

    def respond(request, k):
        text = "\n".join(m["content"] for m in request.messages)
        rid = request.id
        if rid.endswith("/negative-composed"):
            i = which(text)
            reply = {KYLAR: KYLAR_COMPOSED, JOSH: JOSH_COMPOSED}[i]
            return f"### Full negative answer for original problem: {reply}.\n### End"
        if "/negative-" in rid:
            base, _, kind = rid.rpartition("/negative-")
            if "/sub-" in base:
                pid, _, j = base.rpartition("/sub-")
                key = (pids[pid], int(j), kind)
                return SUB_NEGATIVES.get(key, SUBS[pids[pid]][int(j) - 1][1])  # else a copy
            return text.split("Correct solution:\n", 1)[1]  # a copy: every rewrite dropped
        if "You turn one hard math problem" in text:
            i = which(text)
            pids[rid] = i
            subs = [{"question": q, "solution": s, "answer": a} for q, s, a in SUBS[i]]
            return json.dumps({"subproblems": subs})
        if "/sub-" in rid:  # reproduce tries and subproblem samples: right
            pid, _, j = rid.partition("/sub-")
            return f"So the answer is \\boxed{{{SUBS[pids[pid]][int(j) - 1][2]}}}."
        i = which(text)
        body = _body(rows[index[i]]["answer"])
        answer = int(answers[i]) + k  # sample 0 right, sample 1 wrong
        return f"{body}\nThe answer is \\boxed{{{answer}}}."

    return respond


@pytest.mark.shared_data
def test_composed_negatives_in_a_scripted_build(shared_data, tmp_path, monkeypatch):
    """Three real GSM8K problems, both kinds of rewrite. Kylar: composed from sub-1's
    computation negative and sub-2's wrong-method one (sub-2's computation rewrite says
    "however"), kept with its wrong answer 29. Eliza: no subproblem kept a negative.
    Josh: his one subproblem kept a negative but the composer's answer is right. The hard
    problems' own rewrites are copies, all dropped."""
    from supdata import engines
    from supdata.build import build

    gsm = read_jsonl(shared_data / "gsm8k" / "test.jsonl")
    rows = [gsm[KYLAR], gsm[ELIZA], gsm[JOSH]]
    source = write_jsonl(tmp_path / "source.jsonl", rows)
    backend = FakeBackend(_script(rows))
    monkeypatch.setitem(engines.BACKENDS, "vllm", lambda config: backend)
    recipe = tmp_path / "recipe.yaml"
    recipe.write_text(
        f"name: composed\nsource: {{kind: file, path: {source}, normalizer: gsm8k}}\n"
        "engines:\n  actor: {kind: vllm, model: o/actor}\n"
        "builders:\n  - kind: steperror\n    n: 2\n    er_grid: [0.5]\n"
        "    decompose: {reproduce_samples: 2, er_grid: [0.5]}\n"
        "    negatives: {compose_from_subtasks: true}\n"
    )
    out = tmp_path / "out"
    stats = build(load_recipe(recipe), out, cache_path=tmp_path / "c.sqlite")

    ids = {i: f"{p}" for i, p in zip((KYLAR, ELIZA, JOSH), _problem_ids(out), strict=True)}
    negatives = read_config(out, "negatives").to_list()
    assert len(negatives) == 1
    (row,) = negatives
    assert row["id"] == f"{ids[KYLAR]}/negative-composed"
    assert row["error_kind"] == "composed"
    assert row["rejected"] == KYLAR_COMPOSED
    assert row["chosen"] == f"{_body(rows[0]['answer'])}\nThe answer is \\boxed{{64}}."
    assert row["reference_answer"] == "64"
    assert row["sub_negatives"] == [
        {
            "subtask_id": f"{ids[KYLAR]}/sub-1",
            "error_kind": "computation",
            "negative": SUB_NEGATIVES[(KYLAR, 1, "computation")],
        },
        {
            "subtask_id": f"{ids[KYLAR]}/sub-2",
            "error_kind": "wrong_method",
            "negative": SUB_NEGATIVES[(KYLAR, 2, "wrong_method")],
        },
    ]
    # The composer saw the full problem, the chosen solution and each subproblem with its
    # correct and its (first passing) wrong solution, in order, in the paper's layout.
    (kylar,) = [r for r in backend.requests if r.id == row["id"]]
    prompt = kylar.messages[-1]["content"]
    assert prompt.startswith("1. Definition\nSuppose you're an expert in college math")
    assert (
        f"(a) Sub-problem 1:\nProblem: {SUBS[KYLAR][0][0]}\nPositive answer: "
        f"{SUBS[KYLAR][0][1]}\nNegative answer: {SUB_NEGATIVES[(KYLAR, 1, 'computation')]}\n"
        f"(b) Sub-problem 2:\nProblem: {SUBS[KYLAR][1][0]}"
    ) in prompt
    assert f"b. positive answer for the original problem: {row['chosen']}\n" in prompt

    stage = stats["stages"]["negatives"]
    assert stage["in"] == 6 + 3 and stage["out"] == 1
    assert stage["dropped"] == {
        "computation: empty or a copy of the correct solution": 3,
        "wrong_method: empty or a copy of the correct solution": 3,
        "composed: no subproblem with a kept negative": 1,
        "composed: final answer not wrong (correct)": 1,
    }
    counts = stage["counts"]
    assert counts["kept: composed"] == 1
    # 5 subproblems kept (Josh's second is too simple), 10 rewrites, 5 kept.
    assert counts["sub-negatives: in"] == 10 and counts["sub-negatives: out"] == 5
    assert (
        counts["sub-negatives: dropped: computation: empty or a copy of the correct solution"] == 2
    )
    assert counts["sub-negatives: dropped: computation: announces the error (a banned word)"] == 1
    assert (
        counts["sub-negatives: dropped: wrong_method: empty or a copy of the correct solution"] == 2
    )
    assert counts["sub-negatives: subproblems without a kept negative (left out)"] == 2
    assert stats["measured"]["negatives"]["kinds"] == {"composed": 1}

    card = (out / "README.md").read_text()
    assert "the paper's composed full negative" in card
    assert "| kept: composed | 1 |" in card
    assert "| dropped: composed: no subproblem with a kept negative | 1 |" in card
    assert (
        "| sub-negatives: dropped: computation: announces the error (a banned word) | 1 |" in card
    )


def _problem_ids(out) -> list[str]:
    """The build's problem ids in source order (one pair per problem here)."""
    return [r["problem_id"] for r in read_config(out, "pairs").to_list()]


def test_parse_composed_follows_the_papers_s3_res_match():
    reply = (
        "Sure.\n### Full negative answer for original problem: **The discount price of one "
        "glass is 60/100 * 5 = $2.**\nSo 8 cheaper glasses cost 8 * 2 = $16.\n"
        "The answer is \\boxed{56}.\n### End\nextra"
    )
    assert parse_composed(reply) == (
        "The discount price of one glass is 60/100 * 5 = $2.**\nSo 8 cheaper glasses cost "
        "8 * 2 = $16.\nThe answer is \\boxed{56}"
    )
    no_end = "### Full negative answer for original problem:\nHe pays 8 * 5 = $40.\n"
    assert parse_composed(no_end) == "He pays 8 * 5 = $40"
    assert parse_composed("He pays 8 * 5 = $40. The answer is \\boxed{40}.") is None


def test_subtask_negatives_take_the_first_kind_that_passes(shared_data):
    """Real GSM8K sub-solutions: per subproblem the first kind of ``kinds`` whose rewrite
    passes; a subproblem with none is left out and counted; order kept."""
    subs = [
        Problem(
            id=f"k/sub-{j}",
            question=q,
            reference_solution=s,
            reference_answer=a,
            meta={"parent_id": "k"},
        )
        for j, (q, s, a) in enumerate(SUBS[KYLAR] + SUBS[ELIZA][:1], 1)
    ]
    table = {
        ("k/sub-1", "computation"): SUB_NEGATIVES[(KYLAR, 1, "computation")],
        ("k/sub-1", "wrong_method"): SUB_NEGATIVES[(KYLAR, 1, "wrong_method")],
        ("k/sub-2", "computation"): SUB_NEGATIVES[(KYLAR, 2, "computation")],
        ("k/sub-2", "wrong_method"): SUB_NEGATIVES[(KYLAR, 2, "wrong_method")],
    }

    def respond(request, k):
        base, _, kind = request.id.rpartition("/negative-")
        return table.get((base, kind), "So \\boxed{60}.")  # sub-3: too short

    stats = StageStats("sub-negatives")
    # wrong_method first: sub-1 takes its wrong-method rewrite
    params = Negatives(kinds=["wrong_method", "computation"])
    rewrite = Rewriter(params, Engine(FakeBackend(respond)), VerifyConfig(), 0)
    by_parent = subtask_negatives(subs, rewrite, stats)
    assert [(s["subtask_id"], s["error_kind"]) for s in by_parent["k"]] == [
        ("k/sub-1", "wrong_method"),
        ("k/sub-2", "wrong_method"),
    ]
    assert by_parent["k"][0]["positive"] == SUBS[KYLAR][0][1]
    assert stats.counts["subproblems without a kept negative (left out)"] == 1
    assert stats.n_in == 6 and stats.n_out == 3


def test_compose_needs_decompose(tmp_path):
    recipe = tmp_path / "r.yaml"
    recipe.write_text(
        "name: x\nsource: {kind: file, path: x.jsonl, normalizer: gsm8k}\n"
        "engines:\n  actor: {kind: vllm, model: o/actor}\n"
        "builders:\n  - kind: steperror\n    negatives: {compose_from_subtasks: true}\n"
    )
    with pytest.raises(RecipeError, match=r"compose_from_subtasks: composes from subproblem"):
        load_recipe(recipe)


@pytest.mark.shared_data
def test_steperror_rows_do_not_depend_on_the_window(shared_data, tmp_path, monkeypatch):
    """Pairs, subtasks, sub-pairs, negatives (composed too) and the mixtures join their
    stages from disk ``runner.window`` problems at a time: a flow build at one problem
    per window gives the same rows, in the same order, and the same counters as a
    stage-by-stage build at one window for all."""
    gsm = read_jsonl(shared_data / "gsm8k" / "test.jsonl")
    rows = [gsm[KYLAR], gsm[ELIZA], gsm[JOSH]]
    source = write_jsonl(tmp_path / "source.jsonl", rows)
    script = _script(rows)

    def respond(request, k):  # subproblems: sample 1 wrong, so sub-pairs exist
        text = script(request, k)
        if "/sub-" in request.id and "/negative-" not in request.id and k == 1:
            return text.replace("{", "{1")
        return text

    recipe = (
        f"name: composed\nsource: {{kind: file, path: {source}, normalizer: gsm8k}}\n"
        "engines:\n  actor: {kind: vllm, model: o/actor}\n"
        "builders:\n  - kind: steperror\n    n: 2\n    er_grid: [0.5]\n"
        "    decompose: {reproduce_samples: 2, er_grid: [0.5]}\n"
        "    negatives: {compose_from_subtasks: true}\n"
    )
    one, every = builds_by_window(tmp_path, monkeypatch, respond, recipe)
    assert {"pairs", "subtasks", "sub_pairs", "negatives", "hard_er50", "sub_er50"} <= set(one[0])
    assert one[:3] == every[:3]  # rows, counters, requests
    assert one[3] > every[3]  # only batched differently
