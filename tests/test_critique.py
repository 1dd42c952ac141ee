"""The critique builder's parts on a real engine: flawed paths, filters, ProcessBench
evaluation. End to end it runs in test_cli's `make` test."""

from __future__ import annotations

import json

import pytest

from supdata.builders.critique import CritiqueBuilder
from supdata.builders.critique.filters import inconsistency, shortcut
from supdata.builders.critique.flawed import Rg1, bases, rg2, rg3
from supdata.builders.critique.format import Critique
from supdata.core.records import Problem, Trace
from supdata.core.stats import StageStats
from supdata.engines import Engine
from supdata.eval.critic import DataError, SplitScore, evaluate, load_items
from supdata.ops.steps import segment
from supdata.verify import VerifyConfig, verify_many

from conftest import write_jsonl

QUESTION = "Tom has 3 bags with 4 apples each. He eats 2 apples. How many apples are left?"
REFERENCE = "Tom has 3 * 4 = 12 apples.\nAfter eating 2 he has 12 - 2 = 10 apples.\n#### 10"


def _reference() -> Trace:
    t = Trace(
        id="p1/reference",
        problem_id="p1",
        text=REFERENCE,
        steps=segment(REFERENCE, "auto"),
        origin="reference",
    )
    t.status = "correct"
    return t


def _critique(labels: list[bool], final: bool) -> Critique:
    return Critique(labels, ["why"] * len(labels), final, "why", "json")


@pytest.mark.parametrize(
    ("labels", "final", "correct", "method", "k", "expected"),
    [
        ([True, False, False], False, False, "rg1", -1, None),
        ([True, True, True], True, False, "rg1", -1, "final verdict disagrees"),
        ([True, True, True], False, False, "rg1", -1, "rg1: no Wrong step in a wrong solution"),
        ([True, False, True], True, True, "rg1", -1, "rg1: a Wrong step in a correct solution"),
        ([True, True, False], False, False, "rg2", 1, None),
        ([False, True, True], False, False, "rg2", 1, "rg2: first Wrong step before k"),
        ([True, False, False], False, False, "rg3", 1, None),
        ([True, True, False], False, False, "rg3", 1, "rg3: first Wrong step not at k"),
        ([True, True, True], False, False, "rg3", 1, "rg3: no Wrong step where one is known"),
    ],
)
def test_consistency_filter(labels, final, correct, method, k, expected):  # noqa: PLR0917
    found = inconsistency(
        _critique(labels, final), solution_correct=correct, method=method, known_step=k
    )
    assert found == expected if expected is None else expected in found


def test_rg2_exact_and_rg3_tolerance():
    c = _critique([True, True, False], False)
    assert inconsistency(c, solution_correct=False, method="rg2", known_step=1) is None
    assert inconsistency(
        c, solution_correct=False, method="rg2", known_step=1, rg2_tolerance="exact"
    ) == ("rg2: first Wrong step not at k")
    assert (
        inconsistency(c, solution_correct=False, method="rg3", known_step=1, rg3_tolerance=1)
        is None
    )


def test_anti_shortcut():
    response = "3 * 4 = 12 apples. 12 - 2 = 10. #### 10"
    assert shortcut(["#### 10"], response, 0.5) == "refinement has fewer than two steps"
    assert shortcut(["So it is\n", "10"], response, 0.5) == "refinement carries too few numbers"
    assert shortcut(["3 * 4 = 12.\n", "12 - 2 = 10. #### 10"], response, 0.5) is None


def test_rg1_balances_with_references_when_the_actor_is_never_right():
    wrong = [
        Trace(
            id=f"p1/sample-{i}", problem_id="p1", text="#### 9", steps=["#### 9"], origin="sampled"
        )
        for i in range(4)
    ]
    for t in wrong:
        t.status = "incorrect"
    ref = _reference()
    stats = StageStats("flawed")
    paths = Rg1(wrong, [ref], 0.25, 0, stats).paths(wrong, [ref])
    assert [t.sampling["method"] for t in paths] == ["rg1"] * 5
    assert paths[-1].origin == "reference" and stats.counts["rg1: references kept for balance"] == 1
    assert "method" not in ref.sampling  # the input is not changed


def test_rg1_draws_the_same_balance_window_by_window():
    """The balance draw is over the whole stage (the published rule: round(share x wrong)
    correct responses at random, samples before references); streamed three problems at a
    time it keeps exactly the paths the draw over the whole list keeps."""
    import random

    rng = random.Random(3)
    samples, refs = [], []
    for p in range(30):
        for i in range(4):
            t = Trace(id=f"p{p}/sample-{i}", problem_id=f"p{p}", text="x", steps=["x"],
                      origin="sampled")  # fmt: skip
            t.status = rng.choice(["correct", "incorrect", "incorrect", "no_answer", "timeout"])
            samples.append(t)
        ref = Trace(id=f"p{p}/ref", problem_id=f"p{p}", text="x", steps=["x"], origin="reference")
        ref.status = rng.choice(["correct", "bad_reference"])
        refs.append(ref)
    for share in (0.25, 3.0):  # 3.0: more than the correct samples, references fill in
        wrong = [t for t in samples if t.status in ("incorrect", "no_answer")]
        correct = [t for t in samples if t.status == "correct"]
        want = int(share * len(wrong) + 0.5)
        draw = random.Random("0:rg1")
        expected = wrong + draw.sample(correct, min(want, len(correct)))
        if len(expected) - len(wrong) < want:
            right = [t for t in refs if t.status == "correct"]
            expected += draw.sample(right, min(want - len(expected) + len(wrong), len(right)))
        stats = StageStats("flawed")
        rg1 = Rg1(samples, refs, share, 0, stats)
        got = []
        for w in range(0, 30, 3):
            ids = {f"p{p}" for p in range(w, w + 3)}
            got += rg1.paths(
                [t for t in samples if t.problem_id in ids],
                [t for t in refs if t.problem_id in ids],
            )
        assert sorted(t.id for t in got) == sorted(t.id for t in expected)
        assert stats.counts["rg1: wrong"] == len(wrong)
        kept_refs = sum(t.origin == "reference" for t in expected)
        assert stats.counts["rg1: references kept for balance"] == kept_refs
        assert (kept_refs > 0) == (share == 3.0)


@pytest.fixture(scope="module")
def actor(vllm_backend):
    return Engine(vllm_backend, None)


def test_rg2_keeps_the_prefix_and_rg3_puts_the_mistake_at_k(actor):
    params = CritiqueBuilder(
        kind="critique",
        max_tokens=96,
        rg2_samples=8,
        rg2_temperature=1.5,
        rg3_types=["wrong_result", "calculation"],
    )
    ref = _reference()
    problem = Problem(
        id="p1", question=QUESTION, reference_solution=REFERENCE, reference_answer="10"
    )
    stats = StageStats("flawed")
    starts = bases([problem], [ref], [], stats)
    assert starts == [ref]
    kept = rg2(
        starts,
        {"p1": QUESTION},
        {"p1": "10"},
        params,
        actor,
        strategy="auto",
        verify=VerifyConfig(workers=0),
        stats=stats,
    )
    for t in kept:  # the tiny model may never turn wrong in 8 tries; then it is counted
        k = t.sampling["known_error_step"]
        assert 1 <= k < len(ref.steps)
        assert t.steps[:k] == ref.steps[:k] and t.text.startswith("".join(ref.steps[:k]))
        assert t.status == "incorrect"
        (again,) = verify_many([(t.text, "10")], VerifyConfig(workers=0))
        assert again.status == "incorrect"
    assert len(kept) + stats.dropped["rg2: no continuation turned wrong"] == 1

    for error_type in params.rg3_types:
        one = params.model_copy(update={"rg3_types": [error_type]})
        stats = StageStats("rg3")
        made = rg3(starts, {"p1": QUESTION}, one, actor, actor, strategy="auto", stats=stats)
        assert len(made) + sum(stats.dropped.values()) == 1
        for t in made:
            k = t.sampling["known_error_step"]
            assert t.sampling["error_type"] == error_type
            assert t.steps[:k] == ref.steps[:k]
            assert t.steps[k].split() != ref.steps[k].split()  # the mistake is at k
            assert t.sampling["by"] == ("model" if error_type == "calculation" else "rule")


def test_processbench_metric():
    score = SplitScore("x")
    for label, predicted in [(2, 2), (2, 1), (1, None), (-1, -1), (-1, 0)]:
        score.add(label, predicted)
    d = score.to_dict()
    assert (d["error_acc"], d["correct_acc"]) == (round(1 / 3, 4), 0.5)
    assert d["f1"] == round(2 * (1 / 3) * 0.5 / (1 / 3 + 0.5), 4)
    assert SplitScore("only errors", erroneous=2, erroneous_hit=1).f1 is None


@pytest.mark.shared_data
def test_processbench_sample_is_seeded_and_mixed(shared_data):
    path = shared_data / "processbench" / "gsm8k.json"
    assert all(r["label"] >= 0 for r in load_items(path, 100))  # the file is sorted by label
    picked = load_items(path, sample=60, seed=0)
    assert picked == load_items(path, sample=60, seed=0) and len(picked) == 60
    assert 0 < sum(r["label"] == -1 for r in picked) < 60


def test_processbench_input_is_checked_before_any_model(tmp_path):
    bad = write_jsonl(
        tmp_path / "b.jsonl", [{"id": "a", "problem": "q", "steps": ["s"], "label": 3}]
    )
    with pytest.raises(DataError, match=r"item 0 \(a\): label 3 is not -1 or a step index below 1"):
        load_items(bad)
    with pytest.raises(DataError, match=r"item 0: missing \['label'\]"):
        load_items(write_jsonl(tmp_path / "c.jsonl", [{"id": "a", "problem": "q", "steps": ["s"]}]))


@pytest.mark.shared_data
def test_eval_critic_on_processbench_gsm8k(shared_data, actor, tmp_path):
    """The harness on real ProcessBench items: 4 with an error, 4 without."""
    items = json.loads((shared_data / "processbench" / "gsm8k.json").read_text())
    picked = [r for r in items if r["label"] >= 0][:4] + [r for r in items if r["label"] == -1][:4]
    path = tmp_path / "gsm8k.json"
    path.write_text(json.dumps(picked))
    (score,), predictions = evaluate(actor, [path])
    d = score.to_dict()
    assert (d["items"], d["erroneous"], d["correct"]) == (8, 4, 4)
    assert len(predictions) == 8
    hits = (
        sum((p["predicted"] == p["label"]) for p in predictions if p["label"] >= 0),
        sum(p["predicted"] == -1 for p in predictions if p["label"] == -1),
    )
    assert (score.erroneous_hit, score.correct_hit) == hits
    assert d["f1"] is not None and 0 <= d["f1"] <= 1
    assert d["unparsed"] == sum(p["rejected"] is not None for p in predictions)


@pytest.mark.shared_data
def test_eval_critic_reads_the_hub_layouts_and_averages_f1(shared_data, tmp_path, capsys):
    """The olympiadbench / omnimath splits as the Hub publishes them (a JSON array, and
    the parquet conversion ``default/<split>/0000.parquet``), real ProcessBench items
    (MATH's, renamed), a scripted critic that finds the first error on every other item:
    per-split F1 and ProcessBench's average F1 over splits, exact."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from supdata.cli import main
    from supdata.eval.critic import average_f1, split_name

    from conftest import FakeBackend

    items = json.loads((shared_data / "processbench" / "math.json").read_text())
    wrong = [r for r in items if r["label"] >= 0][:4]
    right = [r for r in items if r["label"] == -1][:4]
    olympiad = [{**r, "id": f"olympiadbench-{i}"} for i, r in enumerate(wrong + right)]
    omni = [{**r, "id": f"omnimath-{i}"} for i, r in enumerate(wrong[:2] + right)]
    (tmp_path / "olympiadbench.json").write_text(json.dumps(olympiad, indent=2))
    omni_path = tmp_path / "default" / "omnimath" / "0000.parquet"
    omni_path.parent.mkdir(parents=True)
    pq.write_table(pa.Table.from_pylist(omni), omni_path)
    assert [split_name(p) for p in (tmp_path / "olympiadbench.json", omni_path)] == [
        "olympiadbench",
        "omnimath",
    ]
    hits = {r["id"] for r in wrong[:2] + right[:3]}  # the critic gets these right
    # one problem has several solutions: an item is its problem and its steps
    key = {(r["problem"], r["steps"][-1].strip()): r for r in wrong + right}
    assert len(key) == 8

    def respond(request, k):
        text = request.messages[-1]["content"]
        item = next(r for (q, last), r in key.items() if q in text and last in text)
        n, truth = len(item["steps"]), item["label"]
        first = truth if item["id"] in hits else (-1 if truth >= 0 else 0)
        steps = [{"correctness": "Wrong" if i == first else "Correct", "explanation": "."}
                 for i in range(n)]  # fmt: skip
        final = {"correctness": "Correct" if first == -1 else "Wrong", "explanation": "."}
        return json.dumps({"steps": steps, "final_answer": final})

    backend = FakeBackend(respond)
    from supdata import engines

    report = tmp_path / "report.json"
    with pytest.MonkeyPatch.context() as mp:
        mp.setitem(engines.BACKENDS, "vllm", lambda config: backend)
        argv = ["eval-critic", str(tmp_path / "olympiadbench.json"), str(omni_path)]
        assert main([*argv, "--kind", "vllm", "--no-cache", "--out", str(report)]) == 0
    result = json.loads(report.read_text())
    f1 = {s["split"]: s["f1"] for s in result["splits"]}
    # olympiadbench: errors found 2/4, correct ones passed 3/4 -> F1 = 2 * .5 * .75 / 1.25
    # omnimath: errors found 2/2, correct ones passed 3/4 -> F1 = 2 * 1 * .75 / 1.75
    assert f1 == {"olympiadbench": 0.6, "omnimath": 0.8571}
    assert result["average_f1"] == 0.7286
    assert average_f1([]) is None
    assert "average F1" in capsys.readouterr().out
