"""The steperror builder's parts: mixtures, rephrase and decomposition checks, model
rewrites, reference-relative lengths. End to end they run in test_cli's `make` test."""

from __future__ import annotations

import json
import re

import pytest

from supdata.builders.sample import SampleBuilder
from supdata.builders.steperror.decompose import (
    Rejected,
    check_subproblem,
    decomposition_schema,
    parse_decomposition,
)
from supdata.builders.steperror.pairs import named_mixture
from supdata.builders.steperror.params import Decompose, parse_part
from supdata.builders.steperror.rephrase import _solution_problem, question_problem
from supdata.core.records import Problem
from supdata.core.stats import StageStats
from supdata.ops.mixture import er_mixture, take_count
from supdata.ops.perturb import CannotPerturb
from supdata.ops.perturb.rewrite import assemble, clean_rewrite, rewrite_position
from supdata.ops.perturb.target import swer_meets
from supdata.publish.schemas import RowSchemaError, validate_rows
from supdata.verify import VerifyConfig, verify_many


def _pairs(prefix: str, m: int) -> list[dict]:
    return [
        {
            "id": f"{prefix}{i}",
            "problem_id": f"{prefix}{i}",
            "prompt": f"question {i}",
            "chosen": f"right \\boxed{{{i}}}",
            "rejected": f"wrong \\boxed{{{i + 1}}}",
            "reference_answer": str(i),
        }
        for i in range(m)
    ]


def test_named_mixture_hits_each_parts_rate_exactly():
    pools = {"hard": _pairs("h", 7), "sub": _pairs("h3/sub-", 10)}
    parts = [parse_part("hard@0.5"), parse_part("sub@0.1")]
    stats = StageStats("mix_x")
    rows = list(named_mixture(pools, parts, 0, stats))
    assert len(rows) == 17 and len({r["id"] for r in rows}) == 17
    for (pool, er), m in zip(parts, (7, 10), strict=True):
        mine = [r for r in rows if r["part"] == f"{pool}@{er:g}"]
        assert len(mine) == m
        assert sum(not r["correct"] for r in mine) == take_count(er, m)
        assert all(r["id"].startswith(f"{pool}/") for r in mine)
        # the wrong ones are the rejected solutions: re-verify them
        judged = verify_many(
            [(r["completion"], r["reference_answer"]) for r in mine], VerifyConfig(workers=0)
        )
        assert [j.status == "correct" for j in judged] == [r["correct"] for r in mine]
    assert validate_rows("mix_x", rows) == 17
    assert stats.counts["sub@0.1: rejected taken"] == 1
    # the same seed gives the same mixture; the hard part equals hard_er50's choice
    assert rows == list(named_mixture(pools, parts, 0, StageStats("again")))
    hard50 = er_mixture(pools["hard"], 0.5, 0, StageStats("h"))
    assert [r["taken"] for r in rows[:7]] == [r["taken"] for r in hard50]


def test_mixture_rows_must_name_their_part():
    row = er_mixture(_pairs("p", 1), 0.0, 0, StageStats("x"))[0]
    assert validate_rows("sub_er10", [row]) == 1
    del row["part"]
    with pytest.raises(
        RowSchemaError, match=r"'part' is a required property \[schemas/sub_er\.json"
    ):
        validate_rows("sub_er10", [row])


def test_rephrased_question_must_keep_its_numbers():
    q = "Tom has 12 apples and buys 3.5 kg of pears for $1,200. How many apples?"
    assert question_problem(q, q) == "question: unchanged"
    assert question_problem(q, "  ") == "question: empty"
    assert question_problem(q, "Tom owns 12 apples, buys 3.5 kg of pears.") == (
        "question: lost a number"
    )
    good = "For $1200 Tom bought 3.5 kg of pears; he has 12 apples. Count the apples."
    assert question_problem(q, good) is None


def test_rephrased_solutions_keep_their_answers():
    pair = {"chosen": "So 3 + 4 = 7. \\boxed{7}", "rejected": "So 3 + 4 = 8. \\boxed{8}"}
    ref = "7"

    def check(chosen: str, rejected: str) -> str | None:
        original = next(verify_many([(pair["rejected"], ref)], VerifyConfig(workers=0)))
        pos, neg_own, neg_ref = verify_many(
            [(chosen, ref), (rejected, original.answer), (rejected, ref)],
            VerifyConfig(workers=0),
        )
        return _solution_problem(pair, chosen, rejected, pos, neg_own, neg_ref, original)

    assert check("Adding gives 7. \\boxed{7}", "Adding gives 8. \\boxed{8}") is None
    assert check("Adding gives 6. \\boxed{6}", "Adding gives 8. \\boxed{8}") == (
        "pos: answer changed (incorrect)"
    )
    assert check("Adding gives 7. \\boxed{7}", "Adding gives 9. \\boxed{9}") == (
        "neg: answer changed"
    )
    assert check("Adding gives 7. \\boxed{7}", "It is 7. \\boxed{7}") == "neg: became correct"
    assert check("It is 7. \\boxed{7}", "Actually it is 8. \\boxed{8}") == (
        "neg: added an error-announcing word"
    )


PARENT = Problem(
    id="p1",
    question="A shop sells 4 boxes of 12 pens and 3 boxes of 10 pencils. How many items in all?",
    reference_solution="4 * 12 = 48 pens.\n3 * 10 = 30 pencils.\n48 + 30 = 78.\n#### 78",
    reference_answer="78",
)


def test_decomposition_is_parsed_strictly():
    good = json.dumps(
        {
            "subproblems": [
                {"question": "q1", "solution": "s1", "answer": "48"},
                {"question": "q2", "solution": "s2", "answer": "30"},
            ]
        }
    )
    assert [s["answer"] for s in parse_decomposition("Here: " + good, 2, 3)] == ["48", "30"]
    for text, reason in [
        ("no json", "no JSON object"),
        ("{not json}", "invalid JSON"),
        ('{"parts": []}', "no subproblems list"),
        ('{"subproblems": [{"question": "q", "solution": "s", "answer": "1"}]}', "1 subproblems"),
        ('{"subproblems": [{"question": "q"}, {"question": "r"}]}', "lacks question, solution"),
    ]:
        with pytest.raises(Rejected, match=reason):
            parse_decomposition(text, 2, 3)
    latex = (
        '{"subproblems": [{"question": "q", "solution": "\\boxed{\\frac{1}{2}}", "answer": "a"}]}'
    )
    assert parse_decomposition(latex, 1, 3)[0]["solution"] == "\\boxed{\\frac{1}{2}}"
    schema = decomposition_schema(2, 3)["properties"]["subproblems"]
    assert (schema["minItems"], schema["maxItems"]) == (2, 3)


@pytest.mark.parametrize(
    ("question", "answer", "reason"),
    [
        ("How many pens are in 4 boxes of 12 pens each?", "48", None),
        ("Pens.", "48", "ill-defined: not a question"),
        ("Using the original problem, how many pens are there?", "48", "refers to the original"),
        ("Given the first subproblem's result, how many pencils?", "30", "refers to the original"),
        (
            "A shop sells 4 boxes of 12 pens and 3 boxes of 10 pencils. How many items?",
            "78",
            "variant of the full problem",
        ),
        ("What is 3 boxes of 10 pencils plus 48 pens in all?", "78", "same answer"),
        ("How many pens are in 5 boxes of 12 pens each?", "60", "not derived from the reference"),
        ("From the previous solution, how many pens in all?", "48", "refers to the original"),
        ("Using Problem 1, how many pens are there?", "48", "refers to the original"),
        ("Combining both new problems, how many pens?", "48", "refers to the original"),
    ],
)
def test_subproblem_checks(question, answer, reason):
    solution = f"Each of the 4 boxes holds 12 pens.\nSo 4 * 12 = {answer}, \\boxed{{{answer}}}."
    sub = {"question": question, "solution": solution, "answer": answer}
    found = check_subproblem(sub, PARENT, Decompose())
    assert found == reason if reason is None else reason in found


def test_subproblems_are_neither_one_step_nor_nearly_all():
    """The paper's checks: a sub-solution of one step is too simple; one that is nearly
    the whole reference is the full problem again."""
    question = "How many pens are in 4 boxes of 12 pens each?"
    one = {"question": question, "solution": "4 * 12 = 48, \\boxed{48}", "answer": "48"}
    assert check_subproblem(one, PARENT, Decompose()) == "too simple: fewer than 2 steps"
    assert check_subproblem(one, PARENT, Decompose(min_solution_steps=1)) is None
    whole = {
        "question": question,
        "solution": PARENT.reference_solution.replace("78", "48"),
        "answer": "48",
    }
    assert check_subproblem(whole, PARENT, Decompose()) == "nearly all of the reference solution"


def test_subtask_count_follows_the_reference_length():
    d = Decompose(
        subtasks_by_reference_tokens=[
            {"min_tokens": 400, "max_tokens": 1000, "subtasks": 2},
            {"min_tokens": 1000, "max_tokens": 1600, "subtasks": 3},
        ]
    )
    assert [d.subtask_count(n) for n in (399, 400, 999, 1000, 1599, 1600)] == [
        None,
        (2, 2),
        (2, 2),
        (3, 3),
        (3, 3),
        None,
    ]
    assert Decompose().subtask_count(5000) == (2, 3)
    with pytest.raises(ValueError, match="ranges must ascend without overlap"):
        Decompose(
            subtasks_by_reference_tokens=[
                {"min_tokens": 400, "max_tokens": 1000, "subtasks": 2},
                {"min_tokens": 900, "max_tokens": 1600, "subtasks": 3},
            ]
        )
    with pytest.raises(ValueError, match=r"min_tokens \(1000\) >= max_tokens \(400\)"):
        Decompose(
            subtasks_by_reference_tokens=[{"min_tokens": 1000, "max_tokens": 400, "subtasks": 2}]
        )


BASE = ["Tom has 3 + 4 = 7 apples.\n", "He eats 2, so 7 - 2 = 5 are left.\n", "#### 5"]


def test_rewrite_keeps_the_prefix_and_labels_the_chain():
    k = rewrite_position(3, 0.67, "last", seed=0)
    assert k == 1
    made = assemble(
        BASE,
        k,
        "He eats 2, so 7 - 2 = 4 are left.",
        "#### 4",
        error_type="calculation",
        length_ratio=(0.7, 1.3),
        strategy="auto",
    )
    assert made.steps[:k] == BASE[:k]
    assert made.steps[k] == "He eats 2, so 7 - 2 = 4 are left.\n"
    assert made.labels == [True, False, False]
    assert made.error_types == [None, "calculation", "calculation"]


@pytest.mark.parametrize(
    ("rewrite", "continuation", "reason"),
    [
        ("", "#### 4", "rewrite: empty"),
        ("He eats 2, so  7 - 2 = 5 are left.", "#### 5", "rewrite: unchanged"),
        ("He eats 2, so 7 - 2 = 4 are left.", "Actually #### 4", "leaks the error"),
        ("He eats 2, so 7 - 2 = 4 are left.", "So 4.\n" * 20 + "#### 4", "length"),
    ],
)
def test_rewrite_rejections(rewrite, continuation, reason):
    with pytest.raises(CannotPerturb, match=reason):
        assemble(
            BASE,
            1,
            rewrite,
            continuation,
            error_type="calculation",
            length_ratio=(0.7, 1.3),
            strategy="auto",
        )


def test_rewrite_cleaning_and_swer_rule():
    assert clean_rewrite("Rewritten step: 7 - 2 = 4.\nThis is wrong.", "7 - 2 = 5.\n") == (
        "7 - 2 = 4."
    )
    assert rewrite_position(10, 0.05, "last", seed=0) == 9  # room for one wrong step
    assert rewrite_position(10, 0.5, "last", seed=0) == 5  # room for five
    two, three = [False, False] + [True] * 4, [False] * 3 + [True] * 3
    assert swer_meets(two, 0.34) and not swer_meets(three, 0.34)
    assert swer_meets(three, 0.34, 0.2)
    assert swer_meets([True] * 9 + [False], 0.05)  # at least one wrong step


def test_max_tokens_follow_the_reference_length(vllm_backend):
    from supdata.engines import Engine
    from supdata.ops.sampling import token_budget

    engine = Engine(vllm_backend, None)
    params = SampleBuilder(
        kind="sample", max_tokens=400, max_tokens_per_reference=1.5, min_tokens=32
    )
    short = Problem(id="a", question="q", reference_solution="2 + 2 = 4. #### 4")
    long = Problem(id="b", question="q", reference_solution="word " * 1000)
    n_short = engine.count_tokens(short.reference_solution)
    assert token_budget(short, params, engine) == max(32, -(-3 * n_short // 2))
    assert token_budget(long, params, engine) == 400
    assert token_budget(Problem(id="c", question="q"), params, engine) == 400
    fixed = SampleBuilder(kind="sample", max_tokens=123)
    assert token_budget(short, fixed, engine) == 123


def _trace(pid, i, text, status, finish="stop"):
    from supdata.core.records import Trace

    return Trace(
        id=f"{pid}/sample-{i}",
        problem_id=pid,
        text=text,
        steps=[text],
        origin="sampled",
        status=status,
        sampling={"finish_reason": finish},
    )


def test_pairs_take_only_complete_samples(shared_data):
    """A sample cut at max_tokens or without an answer is never chosen or rejected."""
    from supdata.builders.steperror.pairs import build_pairs
    from supdata.builders.steperror.params import SteperrorBuilder

    from conftest import read_jsonl

    row = read_jsonl(shared_data / "gsm8k" / "test.jsonl")[0]
    answer = row["answer"].split("####")[-1].strip()
    p = Problem(
        id="g0",
        question=row["question"],
        reference_solution=row["answer"],
        reference_answer=answer,
        source="gsm8k",
    )
    samples = [
        _trace(
            "g0",
            0,
            "She makes 16 - 3 - 4 = 9, and 9 * 2 = 18 ... 18 + 18 + 18 + 18",
            "incorrect",
            "length",
        ),
        _trace("g0", 1, "She sells the eggs at the market.", "no_answer"),
        _trace("g0", 2, "9 * 3 = 27. The answer is 27.", "incorrect"),
        _trace("g0", 3, "9 * 2 = 18. The answer is 18.", "correct", "length"),
        _trace("g0", 4, "16 - 3 - 4 = 9; 9 * 2 = 18. The answer is 18.", "correct"),
    ]
    builder = SteperrorBuilder(kind="steperror")
    stats = StageStats("pairs")
    rows = list(build_pairs([p], [], samples, builder, None, VerifyConfig(), stats, 8))
    assert [(r["chosen_trace_id"], r["rejected_trace_id"]) for r in rows] == [
        ("g0/sample-4", "g0/sample-2")
    ]
    assert stats.counts["sample not eligible: cut at max_tokens"] == 2
    assert stats.counts["sample not eligible: no final answer"] == 1
    # Only incomplete wrong samples: the problem is dropped, and says why.
    stats = StageStats("pairs")
    kept = samples[:2] + samples[3:]
    assert list(build_pairs([p], [], kept, builder, None, VerifyConfig(), stats, 8)) == []
    assert stats.dropped == {"no complete wrong sample": 1}


def test_pairs_choose_random_is_seeded_and_uses_every_sample():
    from supdata.builders.steperror.pairs import build_pairs
    from supdata.builders.steperror.params import SteperrorBuilder

    problems = [
        Problem(id=f"p{k}", question="q", reference_solution="", reference_answer="1", source="s")
        for k in range(40)
    ]
    samples = [
        _trace(p.id, i, f"wrong {i}", "incorrect") if i < 3 else _trace(p.id, 3, "right", "correct")
        for p in problems
        for i in range(4)
    ]
    picks = []
    for choose, window in (("first", 40), ("random", 40), ("random", 7)):
        builder = SteperrorBuilder(kind="steperror", choose=choose)
        stats = StageStats("p")
        rows = build_pairs(problems, [], samples, builder, None, VerifyConfig(), stats, window)
        picks.append([r["rejected_trace_id"].rsplit("-", 1)[1] for r in rows])
        assert (stats.n_in, stats.n_out) == (40, 40)
    assert set(picks[0]) == {"0"}
    # The same picks whatever the window the stage streams in.
    assert picks[1] == picks[2] and set(picks[1]) == {"0", "1", "2"}


def test_pairs_refuse_samples_out_of_problem_order():
    """Pairs join the samples stage to the problems as sorted runs: a sample whose problem
    came earlier is an error that names it, never a pair silently lost."""
    from supdata.builders.steperror.pairs import build_pairs
    from supdata.builders.steperror.params import SteperrorBuilder

    problems = [
        Problem(id=f"p{k}", question="q", reference_solution="", reference_answer="1", source="s")
        for k in range(3)
    ]
    samples = [_trace("p1", 0, "w", "incorrect"), _trace("p0", 0, "w", "incorrect")]
    builder = SteperrorBuilder(kind="steperror")
    with pytest.raises(LookupError, match="samples: record 'p0' was never joined"):
        list(build_pairs(problems, [], samples, builder, None, VerifyConfig(), StageStats("p"), 2))


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (
            {"length_range": [1.5, 0.5], "prompt": "solve_length@1"},
            "must be [lo, hi] with 0 < lo <= hi",
        ),
        ({"length_range": [0.5, 1.5]}, "prompt solve@1 does not use ['max_words', 'min_words']"),
        ({"choose": "best"}, "Input should be 'first' or 'random'"),
        ({"pools": "matched"}, "pools: matched keeps problems with a subtask pair"),
    ],
)
def test_length_range_and_choose_fail_at_validation(tmp_path, extra, message):
    import yaml

    from supdata.recipe import RecipeError, load_recipe

    recipe = {
        "name": "x",
        "source": {"kind": "reasoning_gym", "name": "gsm_symbolic", "size": 4},
        "builders": [{"kind": "steperror", **extra}],
    }
    path = tmp_path / "r.yaml"
    path.write_text(yaml.safe_dump(recipe, sort_keys=False))
    with pytest.raises(RecipeError, match=re.escape(message)) as err:
        load_recipe(path)
    assert "r.yaml:" in str(err.value) and "builders[0]." in str(err.value)


def test_length_range_reaches_the_prompt():
    from supdata.ops.sampling import SamplingSection, length_words
    from supdata.prompts import load_prompt

    p = Problem(
        id="p",
        question="How many?",
        reference_solution=" ".join(["w"] * 40),
        reference_answer="1",
        source="s",
    )
    params = SamplingSection(prompt="solve_length@1", length_range=(0.5, 1.5))
    words = length_words(p, params)
    assert words == {"min_words": 20, "max_words": 60}
    system = load_prompt("solve_length@1").render(question=p.question, **words)[0]["content"]
    assert "between 20 and 60 words" in system
    # Without a range (a subproblem's reproduction, an export) it is solve@1.
    bare = load_prompt("solve_length@1").render(question=p.question)
    assert bare == load_prompt("solve@1").render(question=p.question)


def test_matched_pools_keep_problems_with_a_subtask_pair():
    """pools: matched -- hard_erXX and mixtures use only problems whose subtask kept a
    pair, and run after sub_pairs; a problem outside is counted."""
    from types import SimpleNamespace

    from supdata.builders.steperror.params import SteperrorBuilder
    from supdata.builders.steperror.stages import _pool, steperror_stages
    from supdata.recipe import load_recipe

    from conftest import REPO

    builder = SteperrorBuilder(kind="steperror", pools="matched", decompose=Decompose())
    recipe = load_recipe(REPO / "recipes" / "steperror" / "demo.yaml")
    names = [s.name for s in steperror_stages(builder, recipe, {})]
    assert names.index("sub_pairs") < names.index("hard_er00")
    assert {"subtasks", "sub_pairs"} <= set(
        next(s for s in steperror_stages(builder, recipe, {}) if s.name == "hard_er50").needs
    )
    subs = [
        Problem(
            id=f"p{k}/sub-1",
            question="q",
            reference_solution="",
            reference_answer="1",
            source="s",
            meta={"parent_id": f"p{k}"},
        )
        for k in range(3)
    ]
    ctx = SimpleNamespace(
        outputs={
            "pairs": [{"problem_id": f"p{k}"} for k in range(5)],
            "subtasks": subs,
            "sub_pairs": [{"problem_id": "p0/sub-1"}, {"problem_id": "p2/sub-1"}],
        }
    )
    stats = StageStats("hard_er50")
    assert [r["problem_id"] for r in _pool(ctx, builder, "hard", stats)] == ["p0", "p2"]
    assert stats.counts["hard: problems without a subtask pair (left out)"] == 3
    everything = SteperrorBuilder(kind="steperror", decompose=Decompose())
    assert len(_pool(ctx, everything, "hard", StageStats("x"))) == 5


@pytest.mark.parametrize(
    ("reply", "judgement"),
    [
        ("Correct", "Correct"),
        (" wrong.", "Wrong"),
        ("N/A", "N/A"),
        ("**Correct**", "Correct"),
        ("I think", None),
        ("", None),
    ],
)
def test_parse_judgement(reply, judgement):
    from supdata.ops.judge import parse_judgement

    assert parse_judgement(reply) == judgement


def test_judge_agreement_table_is_exact(shared_data):
    """A scripted judge (the real part here is math-verify, on real GSM8K answers): its
    agreement with math-verify is counted exactly, N/A and unreadable replies excluded."""
    from supdata.core.records import Trace
    from supdata.engines import Completion, Engine
    from supdata.ops.judge import add_judged, judge_traces

    from conftest import read_jsonl

    rows = read_jsonl(shared_data / "gsm8k" / "test.jsonl")[:6]
    problems, traces = {}, []
    for i, row in enumerate(rows):
        answer = row["answer"].split("####")[-1].strip()
        problems[f"g{i}"] = Problem(
            id=f"g{i}",
            question=row["question"],
            reference_solution=row["answer"],
            reference_answer=answer,
            source="gsm8k",
        )
        given = answer if i % 2 == 0 else str(int(answer.replace(",", "")) + 1)
        text = f"So the answer is {given}."
        traces.append(
            Trace(id=f"g{i}/s", problem_id=f"g{i}", text=text, steps=[text], origin="sampled")
        )
    for t, j in zip(
        traces,
        verify_many(
            [(t.text, problems[t.problem_id].reference_answer) for t in traces], VerifyConfig()
        ),
        strict=True,
    ):
        t.status = j.status
    assert [t.correct for t in traces] == [True, False] * 3
    # judge replies: agree, agree, Wrong on a right answer, N/A, garbage, Correct on a wrong one
    replies = iter(["Correct", "Wrong", "Wrong", "N/A", "hmm", "Correct"])

    class Scripted:
        kind, fingerprint = "scripted", "scripted-judge"

        def stream(self, requests):
            for i, r in enumerate(requests):
                assert r.sampling.structured.choice == ("Correct", "Wrong", "N/A")
                yield i, Completion(r.id, [next(replies)], ["stop"], 10, [1], [False])

        def close(self):
            pass

    stats = StageStats("samples")
    facts = judge_traces(traces, problems, Engine(Scripted(), name="judge"), "judge@1", stats)
    assert facts["judged"] == 6 and facts["na"] == 1 and facts["unreadable"] == 1
    assert facts["compared"] == 4 and facts["agreement"] == 0.5
    assert facts["table"] == {
        "both correct": 1,
        "both wrong": 1,
        "judge correct only": 1,
        "math-verify only": 1,
    }
    assert stats.counts["judge: agrees with math-verify"] == 2
    # A sample stage judges window by window: the windows' facts add up to the same.
    replies = iter(["Correct", "Wrong", "Wrong", "N/A", "hmm", "Correct"])
    total = None
    for window in (traces[:1], traces[1:4], traces[4:]):
        judge = Engine(Scripted(), name="judge")
        total = add_judged(total, judge_traces(window, problems, judge, "judge@1", stats))
    assert total == facts


def test_synthetic_negatives_keep_only_believable_wrong_rewrites(shared_data):
    """Scripted rewrites of real GSM8K reference solutions (math-verify is real): a wrong
    answer at a similar length is kept; a copy, a short one, a banned word, a right
    answer or no answer are dropped, each counted by kind and reason."""
    from supdata.builders.steperror.negatives import synthetic_negatives
    from supdata.builders.steperror.params import Negatives
    from supdata.engines import Completion, Engine

    from conftest import read_jsonl

    rows = read_jsonl(shared_data / "gsm8k" / "test.jsonl")[:3]
    pairs = []
    for i, row in enumerate(rows):
        solution = re.sub(r"<<[^>]*>>", "", row["answer"])
        answer = solution.split("####")[-1].strip()
        body = solution.split("####")[0].strip()
        pairs.append(
            {
                "id": f"g{i}",
                "problem_id": f"g{i}",
                "prompt": row["question"],
                "chosen": f"{body}\nThe answer is \\boxed{{{answer}}}.",
                "chosen_origin": "sampled",
                "chosen_trace_id": f"g{i}/sample-0",
                "rejected": "x",
                "rejected_trace_id": "y",
                "reference_answer": answer,
            }
        )

    def rewrite(pair, kind):
        wrong = str(int(pair["reference_answer"].replace(",", "")) + 7)
        body = pair["chosen"].rsplit("\\boxed", 1)[0]
        return {
            ("g0", "computation"): f"{body}\\boxed{{{wrong}}}.",  # kept
            ("g0", "wrong_method"): f"{body.replace('.', ', however.', 1)}\\boxed{{{wrong}}}.",
            ("g1", "computation"): pair["chosen"],  # a copy
            ("g1", "wrong_method"): f"So \\boxed{{{wrong}}}.",  # far too short
            ("g2", "computation"): body + "\\boxed{" + pair["reference_answer"] + "} .",
            ("g2", "wrong_method"): " ".join(["eggs"] * len(body.split())),  # no answer
        }[(pair["id"], kind)]

    class Scripted:
        kind, fingerprint = "scripted", "scripted-rewriter"

        def stream(self, requests):
            for i, r in enumerate(requests):
                pid, _, kind = r.id.partition("/negative-")
                text = rewrite(next(p for p in pairs if p["id"] == pid), kind)
                yield i, Completion(r.id, [text], ["stop"], 10, [1], [False])

        def close(self):
            pass

    stats = StageStats("negatives")
    kept = list(
        synthetic_negatives(
            pairs,
            Negatives(),
            Engine(Scripted(), name="rewriter"),
            verify=VerifyConfig(),
            seed=0,
            stats=stats,
            window=2,
        )
    )
    assert [(r["id"], r["error_kind"]) for r in kept] == [
        ("g0/negative-computation", "computation")
    ]
    assert kept[0]["chosen"] == pairs[0]["chosen"] and kept[0]["rejected"] != kept[0]["chosen"]
    reasons = {r.split(": ", 1)[1].split(" ")[0] for r in stats.dropped}
    assert stats.dropped["wrong_method: announces the error (a banned word)"] == 1
    assert stats.dropped["computation: empty or a copy of the correct solution"] == 1
    assert stats.dropped["computation: final answer not wrong (correct)"] == 1
    assert stats.dropped["wrong_method: no final answer"] == 1
    assert any(r.startswith("wrong_method: length 0.") for r in stats.dropped), reasons
    assert stats.n_in == 6 and stats.n_out == 1


def test_negatives_in_the_recipe():
    from supdata.builders.steperror.params import Negatives, SteperrorBuilder

    builder = SteperrorBuilder(kind="steperror", negatives=Negatives())
    assert "negatives" in builder.configs()
    with pytest.raises(ValueError, match=r"length_ratio \[1.3, 0.7\]"):
        Negatives(length_ratio=(1.3, 0.7))
    with pytest.raises(ValueError, match="no prompt for kinds"):
        Negatives(prompts={"computation": "negative_computation@1"})
