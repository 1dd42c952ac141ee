"""Model perturbations label only erroneous steps Wrong: the rewritten step by
construction, later steps only on evidence (the carried chain, or an annotator). Real
GSM8K references; scripted engines play the rewriter, the continuing actor and the
annotator with fixed text."""

from __future__ import annotations

import json
import re
import statistics

import pytest

from supdata.builders.perturb.jobs import (
    CHAIN,
    Job,
    annotate_continuations,
    meets_target,
    model_traces,
)
from supdata.builders.perturb.params import PerturbBuilder
from supdata.core.records import Problem, Trace
from supdata.core.records.models import PerturbedRow
from supdata.core.stats import StageStats
from supdata.engines import Completion, Engine
from supdata.ops.perturb import CannotPerturb, given_quantities, perturb
from supdata.ops.perturb.chain import chain_labels, false_arithmetic
from supdata.ops.perturb.rewrite import final_answer
from supdata.ops.steps import segment
from supdata.verify import VerifyConfig, verify_many

from conftest import builds_by_window, read_jsonl


class Scripted:
    """A backend that answers each request from ``respond(request)``."""

    kind, fingerprint = "scripted", "scripted-model"

    def __init__(self, respond):
        self.respond = respond

    def stream(self, requests):
        for i, r in enumerate(requests):
            yield i, Completion(r.id, [self.respond(r)], ["stop"], 10, [5], [False])

    def close(self):
        pass


def _gsm8k(shared_data, index: int) -> tuple[Problem, Trace]:
    row = read_jsonl(shared_data / "gsm8k" / "test.jsonl")[index]
    text = re.sub(r"<<[^>]*>>", "", row["answer"])
    answer = row["answer"].split("####")[-1].strip()
    problem = Problem(
        id=f"gsm8k-{index}", question=row["question"], reference_solution=text,
        reference_answer=answer,
    )  # fmt: skip
    base = Trace(
        id=f"gsm8k-{index}/reference", problem_id=problem.id, text=text, steps=segment(text),
        origin="reference", status="correct",
    )  # fmt: skip
    return problem, base


# (GSM8K test index, step rewritten (1-based), error type, the rewriter's step, the
# actor's continuation, expected labels). Steps that only use the problem's quantities
# or values the reference also computed stay Correct.
KYLAR_REWRITE = "The discount price of one glass is 60/100 * 5 = $4."
KYLAR = (
    "If every second glass is cheaper, that means Kylar is going to buy 16 / 2 = 8 "
    "cheaper glasses.\nSo for the cheaper glasses, Kylar is going to pay 8 * 4 = $32.\n"
    "And for the regular-priced glasses, Kylar will pay 8 * 5 = $40.\n"
    "So in total Kylar needs to pay 32 + 40 = $72 for the glasses he wants to buy.\n#### 72"
)
CASES = [
    pytest.param(
        5, 1, "calculation", KYLAR_REWRITE, KYLAR,
        [False, True, False, True, False, False],
        id="kylar-first-step-two-independent-steps",
    ),
    pytest.param(
        5, 2, "wrong_operation",
        "If every second glass is cheaper, that means Kylar is going to buy 16 - 2 = 14 "
        "cheaper glasses.",
        "So for the cheaper glasses, Kylar is going to pay 14 * 3 = $42.\n"
        "And for the regular-priced glasses, Kylar will pay 14 * 5 = $70.\n"
        "So in total Kylar needs to pay 42 + 70 = $112 for the glasses he wants to buy.\n"
        "#### 112",
        [True, False, False, False, False, False],
        id="kylar-second-step-every-later-step-depends",
    ),
    pytest.param(
        9, 2, "misread_quantity",
        "Her hourly rate for the overtime pay is $10 x 1.5 = $15.",
        "So, Eliza will receive $15 x 5 =$75 for overtime pay.\n"
        "Her regular weekly earning is $10 x 40 = $400.\n"
        "Thus, Eliza will receive a total of $400 + $75 = $475 for this week's work.\n#### 475",
        [True, False, False, True, False, False],
        id="eliza-regular-pay-untouched",
    ),
    pytest.param(
        7, 1, "calculation",
        "First find how many gigabytes are in 40% of the file: 200 GB * 40% = 60 GB",
        "Then divide that number by the download rate to find the time until Windows "
        "restarts: 60 GB / 2 GB/minute = 30 minutes\nThen find the time to download the "
        "whole file after the restart: 200 GB / 2 GB/minute = 100 minutes\nThen add the "
        "time to download 40% of the file, to download the whole file, and to wait for "
        "Windows to update: 30 minutes + 100 minutes + 20 minutes = 150 minutes\n#### 150",
        [False, False, True, False, False],
        id="carla-value-stated-without-arithmetic",
    ),
    pytest.param(
        5, 1, "calculation", KYLAR_REWRITE,
        KYLAR.replace("8 * 5 = $40", "8 * 5 = $45").replace("32 + 40 = $72", "32 + 45 = $77")
        .replace("#### 72", "#### 77"),
        [False, True, False, False, False, False],
        id="kylar-actor-slips-on-its-own",
    ),
]  # fmt: skip


def _run(shared_data, case, *, target, **params):
    index, position, error_type, rewrite, continuation = case
    problem, base = _gsm8k(shared_data, index)
    job = Job(base, target, position, error_type, seed=7)
    said = {f"{job.id}/rewrite": rewrite, f"{job.id}/continue": continuation}
    engine = Engine(Scripted(lambda r: said[r.id]), name="scripted")
    builder = PerturbBuilder(kind="perturb", types=[error_type], engine="actor", **params)
    stats = StageStats("perturbed")
    traces = model_traces(
        [job], builder, engine, engine, problems={problem.id: problem}, strategy="auto",
        stats=stats,
    )  # fmt: skip
    return problem, base, builder, traces, stats


@pytest.mark.shared_data
@pytest.mark.parametrize(
    ("index", "position", "error_type", "rewrite", "continuation", "expected"), CASES
)
def test_model_rows_label_only_erroneous_steps(  # noqa: PLR0917
    shared_data, index, position, error_type, rewrite, continuation, expected
):
    n, wrong = len(expected), expected.count(False)
    case = (index, position, error_type, rewrite, continuation)
    problem, base, builder, traces, stats = _run(shared_data, case, target=wrong / n)
    assert len(traces) == 1, stats.dropped
    t = traces[0]
    k = position - 1
    assert t.steps[:k] == base.steps[:k] and len(t.steps) == n
    ann = t.annotation
    assert ann.labels == expected and ann.source == CHAIN
    assert ann.first_error_step == k == t.sampling["first_error_step"]
    assert ann.swer == wrong / n  # wrong steps / all steps, not (n - k) / n
    assert ann.error_types[k] == error_type
    assert all(ann.error_types[i] is None for i, ok in enumerate(expected) if ok)
    assert meets_target(t, builder, stats)
    (judged,) = verify_many([(t.text, problem.reference_answer)], VerifyConfig(workers=0))
    assert judged.status == "incorrect"
    t.status, t.final_answer = judged.status, judged.answer
    PerturbedRow.model_validate(PerturbedRow.encode(t))  # the published row shape


@pytest.mark.shared_data
def test_a_later_step_without_the_wrong_value_stays_correct(shared_data):
    _, _, _, traces, _ = _run(shared_data, CASES[0].values[:5], target=0.67)
    (t,) = traces
    regular = next(i for i, s in enumerate(t.steps) if "8 * 5 = $40" in s)
    assert t.annotation.labels[regular] is True
    # the old rule (every step from the first error on) would have said 1.0
    assert t.annotation.swer == pytest.approx(4 / 6)
    assert (len(t.steps) - t.annotation.first_error_step) / len(t.steps) == 1.0


@pytest.mark.shared_data
def test_the_target_is_checked_on_the_measured_swer(shared_data):
    # 4 of 6 steps are wrong: a 1.0 target is missed (it was met when every step from the
    # first error on counted as wrong), unless the tolerance allows 0.34 off.
    for tolerance, kept in ((0.0, False), (0.34, True)):
        _, _, builder, traces, stats = _run(
            shared_data, CASES[0].values[:5], target=1.0,
            swer_tolerance=tolerance,
        )  # fmt: skip
        assert meets_target(traces[0], builder, stats) is kept
        assert stats.dropped.get("calculation: measured SWER off target", 0) == (not kept)


@pytest.mark.shared_data
def test_annotator_labels_the_continuation(shared_data):
    problem, _, _, traces, _ = _run(shared_data, CASES[2].values[:5], target=0.5)
    (t,) = traces
    # The annotator calls step 4 (regular pay) Wrong too, and step 1 (the base's) Wrong:
    # the prefix and the rewritten step stay as constructed; later steps are its call.
    said = json.dumps({"steps": ["Wrong", "Wrong", "Correct", "Wrong", "Wrong", "Wrong"]})
    annotator = Engine(Scripted(lambda r: said), name="annotator")
    stats = StageStats("perturbed")
    kept = annotate_continuations([t], {problem.id: problem}, annotator, "label_steps@1", stats)
    assert kept == [t]
    ann = t.annotation
    assert ann.labels == [True, False, True, False, False, False]
    assert ann.source == "construction+annotator:scripted-model"
    assert ann.error_types == [None, "misread_quantity", None, None, "misread_quantity",
                               "misread_quantity"]  # fmt: skip
    assert ann.swer == 4 / 6 and ann.first_error_step == 1
    assert stats.counts["annotator overruled on the prefix or the rewritten step"] == 1
    assert stats.counts["annotator and chain differ on a later step"] == 2
    # labels that do not align are never written: the row is dropped and counted
    annotator = Engine(Scripted(lambda r: '{"steps": ["Correct"]}'), name="annotator")
    stats = StageStats("perturbed")
    assert (
        annotate_continuations([t], {problem.id: problem}, annotator, "label_steps@1", stats) == []
    )
    assert stats.dropped["misread_quantity: annotator labels rejected"] == 1


def test_false_arithmetic_allows_rounding_and_chained_equalities():
    assert false_arithmetic("He eats 2, so 7 - 2 = 4 are left.")
    assert not false_arithmetic("Each gets 10 / 3 = 3.33 cups.")
    assert not false_arithmetic("So 4 * 60 / 5 = 4 * 12 = 48 lines.")


@pytest.mark.shared_data
def test_chain_labels_agree_with_carried_rule_errors_on_gsm8k(shared_data, capsys):
    """A rule error carried through the reference is a continuation whose wrong steps
    are known exactly (the steps the carry changed): the carried chain, reading only
    the text, must find the same steps. Also the measured SWER beside the share of steps
    from the first error on (what the old labels gave)."""
    agree = total = 0
    swers, from_first = [], []
    for i, row in enumerate(read_jsonl(shared_data / "gsm8k" / "test.jsonl")):
        steps = segment(re.sub(r"<<[^>]*>>", "", row["answer"]))
        givens = given_quantities(row["question"])
        for target in (0.25, 0.5, 0.75, 1.0):
            try:
                p = perturb(steps, error_type="wrong_result", target_swer=target, seed=i,
                            givens=givens, position="first")  # fmt: skip
            except CannotPerturb:
                continue
            k = p.first_error
            made = chain_labels(steps, k, p.steps, givens, final_answer(steps))
            total += 1
            agree += made.labels == p.labels
            swers.append(made.labels.count(False) / len(p.steps))
            from_first.append((len(p.steps) - k) / len(p.steps))
    with capsys.disabled():
        print(
            f"\nchain vs carried rule labels on GSM8K test: {agree}/{total} rows agree; "
            f"mean SWER {statistics.fmean(swers):.3f}, mean share from the first error on "
            f"{statistics.fmean(from_first):.3f}, rows where they differ "
            f"{sum(a != b for a, b in zip(swers, from_first, strict=True))}"
        )
    assert total > 1000 and agree / total >= 0.99


def _respond(request, k):
    """The scripted model: a rewritten step, a continuation, and an annotator that calls
    every step Correct."""
    if request.id.endswith("/rewrite"):
        return "It comes to 1000 + 1 = 1001."
    if request.id.endswith("/continue"):
        return "We keep going from there.\n#### 1001"
    n = int(re.search(r"exactly (\d+) entries", request.messages[-1]["content"])[1])
    return json.dumps({"steps": ["Correct"] * n})


MODEL_RECIPE = """\
name: perturbed-model
source: {{kind: file, path: {path}, normalizer: gsm8k, limit: 6}}
engines:
  actor: {{kind: vllm}}
builders:
  - kind: perturb
    swer_grid: [0.5]
    positions: [first]
    types: [calculation]
    engine: actor
    annotator: {annotator}
    length_ratio: [0.01, 100]
    swer_tolerance: 0.5
verification: {{workers: 1}}
"""


@pytest.mark.shared_data
@pytest.mark.parametrize("annotator", ["null", "actor"])
def test_model_rows_through_the_build(shared_data, tmp_path, monkeypatch, annotator):
    """The stage end to end with a fake engine: the rewritten first step is Wrong; the
    fake actor's two continuation steps use no wrong value of the chain, so only the
    final answer step (off the reference's) is Wrong, or, with the annotator (which
    calls every step Correct), none of them."""
    from supdata import engines
    from supdata.build import build
    from supdata.recipe import load_recipe

    backend = Scripted(lambda request: _respond(request, 0))
    monkeypatch.setitem(engines.BACKENDS, "vllm", lambda config: backend)
    path = tmp_path / "r.yaml"
    gsm = shared_data / "gsm8k" / "test.jsonl"
    path.write_text(MODEL_RECIPE.format(path=gsm, annotator=annotator))
    stats = build(load_recipe(path), tmp_path / "out")
    import datasets

    rows = datasets.load_dataset(str(tmp_path / "out"), "perturbed", split="train")
    assert len(rows) >= 3
    source = CHAIN if annotator == "null" else "construction+annotator:scripted-model"
    for row in rows:
        ann = row["annotation"]
        expected = [False, True, False] if annotator == "null" else [False, True, True]
        assert ann["labels"] == expected and ann["first_error_step"] == 0
        assert ann["source"] == source and row["sampling"]["position"] == "first"
    measured = stats["measured"]["perturbed"]
    by_target = measured["swer_by_target"]["0.5"]
    assert by_target["measured_mean"] == (0.6667 if annotator == "null" else 0.3333)
    assert by_target["from_first_error_mean"] == 1.0 and by_target["first_error_step_mean"] == 1
    assert measured["first_error_step"] == {"step 1": len(rows)}
    card = (tmp_path / "out" / "README.md").read_text()
    assert "share of steps from the first error on" in card and "by step: step 1" in card


@pytest.mark.shared_data
def test_model_rows_do_not_depend_on_the_window(shared_data, tmp_path, monkeypatch):
    """Model perturbation sends ``runner.window`` jobs at a time to the engines (bases and
    problems read side by side from disk): a flow build at one job per window gives the
    same rows in the same order and the same counters as a stage-by-stage build at one
    window for all."""
    gsm = shared_data / "gsm8k" / "test.jsonl"
    recipe = MODEL_RECIPE.format(path=gsm, annotator="actor")
    recipe = recipe.replace("types: [calculation]", "types: [calculation, wrong_result]")
    one, every = builds_by_window(tmp_path, monkeypatch, _respond, recipe)
    assert len(one[0]["perturbed"]) >= 3
    assert {r["sampling"]["method"] for r in one[0]["perturbed"]} == {"model", "rule"}
    assert one[:3] == every[:3] and one[3] > every[3]
