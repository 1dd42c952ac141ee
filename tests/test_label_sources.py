"""Step-label sources: Monte-Carlo rollouts, binary search, annotator, consensus.

Exact arithmetic runs on a scripted engine (tests/conftest.py FakeBackend) that answers a
rollout from step prefix k right or wrong by a rule the test sets, on real ProcessBench
solutions with GSM8K's reference answers; the real path (continuation on vLLM with the
embedded model, math-verify) runs once at the end.
"""

from __future__ import annotations

import json
import math
import re
from collections import Counter

import pytest

from supdata.core.stats import StageStats
from supdata.engines import Engine, RequestCache
from supdata.eval.labels import label_pairs
from supdata.ops.labels import (
    BinarySearchSource,
    ConsensusSource,
    LabelSet,
    McSource,
    first_error,
    labels_from_first_error,
    run_sources,
    source_errors,
)
from supdata.ops.labels.agreement import Agreement, agreement, cohen_kappa
from supdata.sources.match import reference_index
from supdata.verify import VerifyConfig

from conftest import FakeBackend, builds_by_window

VERIFY = VerifyConfig(workers=0)
N = 4


@pytest.fixture(scope="module")
def gsm8k_pairs(shared_data):
    refs = reference_index([shared_data / "gsm8k" / "test.jsonl"], "gsm8k")
    return label_pairs(shared_data / "processbench" / "gsm8k.json", refs, sample=60, seed=3)


def _prefix_step(request) -> int:
    return int(re.search(r"/prefix-(\d+)$", request.id).group(1))


def oracle(pairs, right=None):
    """Rollouts from prefix k reach the reference answer iff k is before the human first
    error (all of them; ``right(request, i)`` overrides)."""
    by_id = {t.id: (p, t) for p, t in pairs}

    def respond(request, i):
        trace_id = request.id.rsplit("/prefix-", 1)[0]
        problem, trace = by_id[trace_id]
        k = _prefix_step(request)
        first = trace.annotation.first_error_step
        ok = right(request, i) if right else (first == -1 or k < first)
        answer = problem.reference_answer if ok else f"{problem.reference_answer}1"
        return f" So the answer is \\boxed{{{answer}}}."

    return respond


def run(pairs, sources, respond, cache=None):
    backend = FakeBackend(respond)
    engine = Engine(backend, cache, name="actor")
    stats, costs = StageStats("labels"), {}
    sets = run_sources(pairs, sources, {"actor": engine}, VERIFY, stats, costs=costs)
    return sets, stats, costs, backend


def consistent(pairs):
    """Items whose own final answer agrees with the human label (error <=> wrong answer):
    on them both sources can find the human first error."""
    from supdata.verify import judge

    out = []
    for p, t in pairs:
        status = judge(t.text, p.reference_answer, VERIFY).status
        if status in ("correct", "incorrect") and (status == "correct") == (
            t.annotation.first_error_step == -1
        ):
            out.append((p, t))
    return out


def test_mc_labels_every_prefix_with_continuation_and_math_verify(gsm8k_pairs):
    pairs = consistent(gsm8k_pairs)
    assert len(pairs) >= 40
    sets, stats, costs, backend = run(pairs, [McSource(kind="mc", completions=N)], oracle(pairs))
    # one request per non-final prefix, each continuing the exact prefix text N times
    assert len(backend.requests) == sum(len(t.steps) - 1 for _, t in pairs)
    by_id = {t.id: t for _, t in pairs}
    for r in backend.requests:
        trace = by_id[r.id.rsplit("/prefix-", 1)[0]]
        k = _prefix_step(r)
        assert r.continue_final and r.sampling.n == N
        assert r.messages[-1] == {"role": "assistant", "content": "".join(trace.steps[: k + 1])}
    assert len({r.sampling.seed for r in backend.requests}) == len(backend.requests)
    for (_, t), ls in zip(pairs, sets["mc"], strict=True):
        first = t.annotation.first_error_step
        want = [1.0 if first == -1 or k < first else 0.0 for k in range(len(t.steps))]
        assert ls.soft == want, t.id
        assert ls.labels == [v > 0 for v in want]
        assert ls.first_error == first
        assert ls.provenance["engine"] == "fake-model" and ls.provenance["rollouts"] == N
    assert costs["mc"].rollouts == N * len(backend.requests)
    assert stats.counts["mc: solutions fully labelled"] == len(pairs)


def test_binary_search_finds_the_same_first_error_with_log_n_probes(gsm8k_pairs):
    pairs = consistent(gsm8k_pairs)
    sets, _, costs, backend = run(
        pairs, [BinarySearchSource(kind="binary_search", rollouts=N)], oracle(pairs)
    )
    probes: dict[str, int] = {}
    for r in backend.requests:
        key = r.id.rsplit("/prefix-", 1)[0]
        probes[key] = probes.get(key, 0) + 1
    for (_, t), ls in zip(pairs, sets["binary_search"], strict=True):
        first = t.annotation.first_error_step
        assert ls.first_error == first, t.id
        assert ls.labels == labels_from_first_error(len(t.steps), first)
        used = probes.get(t.id, 0)
        if first == -1:
            assert used == 0  # a right final answer costs no rollout
        else:
            assert used <= math.ceil(math.log2(len(t.steps)))
    # each round is one submission: rounds = the longest search
    assert costs["binary_search"].rounds == max(probes.values())
    mc_rollouts = N * sum(len(t.steps) - 1 for _, t in pairs)
    assert costs["binary_search"].rollouts < 0.5 * mc_rollouts


def test_soft_labels_are_the_share_of_judged_rollouts_and_unjudged_ones_are_never_guessed(
    gsm8k_pairs,
):
    pairs = [pt for pt in consistent(gsm8k_pairs) if len(pt[1].steps) >= 4][:5]

    def respond(request, i):
        k = _prefix_step(request)
        if k == 1:
            return "I cannot finish this."  # no answer: unverifiable
        if k == 0:  # 3 of N reach the answer, one has no answer
            return ["\\boxed{X}", "no idea", "\\boxed{X}", "\\boxed{X}"][i]
        return "\\boxed{-12345}"

    def fill(request, i):
        text = respond(request, i)
        problem = next(p for p, t in pairs if request.id.startswith(t.id))
        return text.replace("X", problem.reference_answer)

    sets, stats, _, _ = run(pairs, [McSource(kind="mc", completions=N)], fill)
    for ls in sets["mc"]:
        assert ls.soft[0] == 1.0 and ls.labels[0] is True  # 3 right of 3 judged
        assert ls.soft[1] is None and ls.labels[1] is None
        assert ls.soft[2] == 0.0 and ls.labels[2] is False
        assert ls.first_error is None  # step 1 unknown before the first wrong one
    assert stats.counts["mc: rollouts unverifiable: no_answer"] == len(pairs) * (N + 1)
    # binary search: a probe without a judgeable rollout leaves the solution unlabelled
    wrong = [(p, t) for p, t in pairs if t.annotation.first_error_step != -1]
    if wrong:
        sets, stats, _, _ = run(wrong, [BinarySearchSource(kind="binary_search", rollouts=N)],
                                lambda r, i: "no answer")  # fmt: skip
        assert all(ls.labels == [None] * len(ls.labels) for ls in sets["binary_search"])
        assert stats.counts["binary_search: unlabelled: a probe had no judgeable rollout"] == len(
            wrong
        )


def test_rollouts_are_cached_so_a_rerun_generates_nothing(gsm8k_pairs, tmp_path):
    pairs = consistent(gsm8k_pairs)[:8]
    cache = RequestCache(tmp_path / "c.sqlite")
    first, *_ = run(pairs, [McSource(kind="mc", completions=N)], oracle(pairs), cache)
    again, _, costs, backend = run(
        pairs, [McSource(kind="mc", completions=N)], oracle(pairs), cache
    )
    assert backend.requests == [] and costs["mc"].generated == 0
    assert [s.to_row() for s in again["mc"]] == [s.to_row() for s in first["mc"]]


def test_consensus_keeps_only_agreeing_first_errors(gsm8k_pairs):
    pairs = consistent(gsm8k_pairs)
    # three right-answer solutions whose every rollout fails: mc finds an error at step 0,
    # binary search (which trusts a right final answer) none
    wrong_ids = {t.id for _, t in pairs if t.annotation.first_error_step == -1}
    wrong_ids = set(sorted(wrong_ids)[:3])
    assert len(wrong_ids) == 3

    def right(request, i):
        trace_id = request.id.rsplit("/prefix-", 1)[0]
        t = next(t for _, t in pairs if t.id == trace_id)
        first = t.annotation.first_error_step
        return trace_id not in wrong_ids and (first == -1 or _prefix_step(request) < first)

    sources = [
        McSource(kind="mc", completions=2),
        BinarySearchSource(kind="binary_search", rollouts=2, name="bs"),
        ConsensusSource(kind="consensus", of=["mc", "bs"]),
    ]
    sets, stats, _, _ = run(pairs, sources, oracle(pairs, right))
    for (_, t), mc, bs, agreed in zip(
        pairs, sets["mc"], sets["bs"], sets["consensus"], strict=True
    ):
        if mc.first_error == bs.first_error:
            assert agreed.first_error == mc.first_error
        else:
            assert agreed.labels == [None] * len(t.steps)
    assert stats.counts["consensus: solutions disagreed or undecided"] == 3
    assert stats.counts["consensus: solutions agreed"] == len(pairs) - 3


@pytest.mark.parametrize(
    ("labels", "first"),
    [
        ([True, True, False, None], 2),
        ([True, True, True], -1),
        ([True, None, False], None),
        ([None, False], None),
        ([False, True], 0),
        ([], None),
    ],
)
def test_first_error_of_a_label_list(labels, first):
    assert first_error(labels) == first


def test_agreement_and_kappa_by_hand():
    # 4 steps labelled by both: agree on 3; rater a True 3/4, b True 2/4
    a, b = [True, True, True, False], [True, True, False, False]
    # observed .75, expected .75*.5 + .25*.5 = .5 -> kappa .5
    assert cohen_kappa(a, b) == pytest.approx(0.5)
    assert cohen_kappa([True, True], [True, True]) is None
    got = agreement([[True, False, None], [True, True]], [[True, False, False], [True, False]])
    assert got["both_decided"] == 2 and got["first_error_agreement"] == 0.5
    assert got["steps_both_labelled"] == 4
    # accumulated window by window (a stage labelled as it streams): the same figures
    import random

    rng = random.Random(0)
    left = [[rng.choice([True, False, None]) for _ in range(rng.randint(1, 6))] for _ in range(40)]
    right = [[x if rng.random() < 0.7 else rng.choice([True, False]) for x in t] for t in left]
    acc = Agreement()
    for i in range(0, 40, 7):
        acc.add(left[i : i + 7], right[i : i + 7])
    whole = agreement(left, right)
    assert acc.result() == whole and whole["step_kappa"] is not None


def test_bad_label_settings_name_the_field():
    from pydantic import TypeAdapter, ValidationError

    from supdata.ops.labels import LabelSource

    adapter = TypeAdapter(list[LabelSource])
    with pytest.raises(ValidationError, match=r"0\.mc\.completions"):
        adapter.validate_python([{"kind": "mc", "completions": 0}])
    with pytest.raises(ValidationError, match=r"0\.binary_search\.rollouts"):
        adapter.validate_python([{"kind": "binary_search", "rollouts": 0}])
    sources = adapter.validate_python(
        [{"kind": "mc"}, {"kind": "mc"}, {"kind": "consensus", "of": ["mc", "annotator"]}]
    )
    errors = source_errors(sources)
    assert ((1, "name"), "two label sets are named 'mc'") in errors
    assert any(path == (2, "of", 1) and "'annotator'" in msg for path, msg in errors)
    with pytest.raises(ValueError, match="2 soft labels for 3 steps"):
        LabelSet("mc", [True, True, False], [1.0, 1.0])


def test_eval_labels_cli_scores_against_human_labels(shared_data, fake_engine, tmp_path):
    from supdata.cli import main

    data = shared_data / "processbench" / "gsm8k.json"
    refs = shared_data / "gsm8k" / "test.jsonl"
    pairs = label_pairs(data, reference_index([refs], "gsm8k"), sample=30, seed=0)
    fake_engine(oracle(pairs))
    out = tmp_path / "labels.json"
    argv = [
        "eval-labels", str(data), "--references", str(refs), "--sample", "30",
        "--source", "mc", "--source", "binary_search", "--rollouts", "2", "--out", str(out),
        "--no-cache",
    ]  # fmt: skip
    assert main(argv) == 0
    report = json.loads(out.read_text())
    kept = consistent(pairs)
    for name in ("mc", "binary_search"):
        (split,) = report["sources"][name]["splits"]
        assert split["items"] == 30
        assert split["erroneous"] and split["correct"]
        hits = split["erroneous"] * split["error_acc"] + split["correct"] * split["correct_acc"]
        assert round(hits) >= len(kept)  # the oracle's rollouts find every consistent item
    assert len(report["items"]) == 30
    assert (
        report["sources"]["binary_search"]["cost"]["gsm8k"]["rollouts"]
        < (report["sources"]["mc"]["cost"]["gsm8k"]["rollouts"])
    )


def test_eval_labels_bad_input_fails_before_any_model(shared_data, tmp_path, capsys):
    from supdata.cli import main

    data = shared_data / "processbench" / "gsm8k.json"
    assert main(["eval-labels", str(data), "--limit", "3"]) == 2
    assert "--references" in capsys.readouterr().err
    other = tmp_path / "other.jsonl"
    other.write_text(json.dumps({"question": "What is 1+1?", "answer": "2\n#### 2"}) + "\n")
    assert main(["eval-labels", str(data), "--limit", "3", "--references", str(other)]) == 2
    err = capsys.readouterr().err
    assert "item gsm8k-0: its problem is in none of the reference files" in err


def test_mc_on_the_real_engine(shared_data, vllm_backend):
    """The real path: vLLM continues real prefixes, math-verify judges the rollouts."""
    refs = reference_index([shared_data / "gsm8k" / "test.jsonl"], "gsm8k")
    pairs = label_pairs(shared_data / "processbench" / "gsm8k.json", refs, limit=3)
    engine = Engine(vllm_backend, None, name="actor")
    stats, costs = StageStats("labels"), {}
    sources = [
        McSource(kind="mc", completions=2, max_tokens=48),
        BinarySearchSource(kind="binary_search", rollouts=2, max_tokens=48),
    ]
    sets = run_sources(pairs, sources, {"actor": engine}, VERIFY, stats, costs=costs)
    for (_, t), ls in zip(pairs, sets["mc"], strict=True):
        assert len(ls.labels) == len(t.steps) == len(ls.soft)
        assert ls.provenance["engine"] == vllm_backend.fingerprint
        for v, label in zip(ls.soft, ls.labels, strict=True):
            assert v is None or (0 <= v <= 1 and label is (v > 0))
    assert costs["mc"].rollouts == 2 * sum(len(t.steps) - 1 for _, t in pairs)
    assert costs["mc"].output_tokens > 0
    assert len(sets["binary_search"]) == len(pairs)


# -- labels: in a builder's recipe section --------------------------------------------------

LABELLED_RECIPE = """\
name: labelled
source: {{kind: file, path: {src}, normalizer: gsm8k, limit: 6}}
engines:
  actor: {{kind: vllm, max_model_len: 2048}}
builders:
  - kind: sample
    n: 2
    labels:
      - {{kind: mc, completions: 3}}
      - {{kind: binary_search, rollouts: 3, name: bs}}
      - {{kind: consensus, of: [mc, bs]}}
    use_labels: consensus
verification: {{workers: 1, timeout_s: 10}}
publish: {{license: apache-2.0}}
"""


def _solution(answer: str, wrong: bool) -> str:
    middle = "Then compute it wrongly." if wrong else "Then compute."
    return f"First, read the problem.\n\n{middle}\n\nSo the answer is \\boxed{{{answer}}}."


def _right_then_wrong(src):
    """Samples right or wrong by sample index (the second goes wrong at step 1);
    rollouts from a prefix that went wrong fail."""
    lines = src.read_text().splitlines()[:6]
    questions = [json.loads(line)["question"] for line in lines]
    answers = [json.loads(line)["answer"].rsplit("####", 1)[1].strip().replace(",", "")
               for line in lines]  # fmt: skip

    def respond(request, k):
        answer = answers[questions.index(request.messages[1]["content"])]
        if not request.continue_final:  # a sample: the second one goes wrong at step 1
            return _solution(answer if k == 0 else f"{answer}9", wrong=k == 1)
        bad = "wrongly" in request.messages[-1]["content"]
        return f" So \\boxed{{{answer}1}}." if bad else f" So \\boxed{{{answer}}}."

    return respond


def test_sample_builder_labels_its_samples_with_every_source(shared_data, fake_engine, tmp_path):
    """Samples right or wrong by sample index; rollouts from the first prefix of a wrong
    sample fail, so mc and binary search agree on step 1 as its first error."""
    import datasets

    from supdata.build import build
    from supdata.recipe import load_recipe

    src = shared_data / "gsm8k" / "test.jsonl"
    respond = _right_then_wrong(src)
    fake_engine(respond)
    recipe_path = tmp_path / "r.yaml"
    recipe_path.write_text(LABELLED_RECIPE.format(src=src))
    build(load_recipe(recipe_path), tmp_path / "out", cache_path=tmp_path / "c.sqlite")
    rows = datasets.load_dataset(str(tmp_path / "out"), "samples", split="train").to_list()
    assert len(rows) == 12
    for r in rows:
        sets = {s["name"]: s for s in r["label_sets"]}
        assert list(sets) == ["mc", "bs", "consensus"]
        assert sets["mc"]["provenance"]["rollouts"] == 3 and sets["mc"]["kind"] == "mc"
        assert sets["consensus"]["provenance"]["of"] == ["mc", "bs"]
        if r["correct"]:
            assert sets["mc"]["labels"] == [True, True, True]
            assert sets["bs"]["labels"] == [True, True, True]
            assert r["annotation"]["labels"] == [True, True, True]
        else:
            assert sets["mc"]["soft"] == [1.0, 0.0, 0.0]
            assert sets["bs"]["labels"] == [True, False, None]
            assert sets["consensus"]["first_error_step"] == 1
            assert r["annotation"]["first_error_step"] == 1
            assert r["annotation"]["source"] == "consensus:mc+bs"
    stats = json.loads((tmp_path / "out" / "stats.json").read_text())
    card = (tmp_path / "out" / "README.md").read_text()
    assert "Step labels" in card and "binary_search" in card
    assert stats["stages"]["samples"]["counts"]["consensus: solutions agreed"] == 12


@pytest.mark.parametrize(
    ("labels", "where", "message"),
    [
        ("[{kind: mc, completions: 0}]", "builders[0].labels[0].mc.completions", "greater"),
        ("[{kind: mc, engine: nope}]", "builders[0].labels[0].engine", "no engine named 'nope'"),
        ("[{kind: mc}, {kind: consensus, of: [mc, annotator]}]", "builders[0].labels[1].of[1]",
         "no label source of that name"),
        ("[{kind: rollouts}]", "builders[0].labels[0]", "kind"),
    ],
)  # fmt: skip
def test_bad_labels_in_a_recipe_name_file_line_and_field(tmp_path, labels, where, message):
    from supdata.recipe import RecipeError, load_recipe

    path = tmp_path / "r.yaml"
    path.write_text(
        "name: x\nsource: {kind: reasoning_gym, name: gsm_symbolic, size: 4}\n"
        "engines:\n  actor: {kind: vllm, max_model_len: 1024}\n"
        f"builders:\n  - kind: sample\n    labels: {labels}\n"
    )
    with pytest.raises(RecipeError) as info:
        load_recipe(path)
    text = str(info.value)
    assert f"{path}:7" in text and where in text and message in text, text


def test_a_label_builder_on_a_source_without_solutions_fails_at_load(tmp_path):
    """Its config would have no steps to label: said at the builder, before any model."""
    from supdata.recipe import RecipeError, load_recipe

    path = tmp_path / "r.yaml"
    path.write_text(
        "name: x\nsource: {kind: reasoning_gym, name: gsm_symbolic, size: 4}\n"
        "engines:\n  actor: {kind: vllm}\n"
        "builders:\n  - kind: label\n    labels: [{kind: mc}]\n"
    )
    with pytest.raises(RecipeError) as info:
        load_recipe(path)
    text = str(info.value)
    assert f"{path}:6: builders[0].kind" in text and "no steps to label" in text, text


def test_use_labels_must_name_a_label_set(tmp_path):
    from supdata.recipe import RecipeError, load_recipe

    path = tmp_path / "r.yaml"
    path.write_text(
        "name: x\nsource: {kind: reasoning_gym, name: gsm_symbolic, size: 4}\n"
        "engines:\n  actor: {kind: vllm, max_model_len: 1024}\n"
        "builders:\n  - kind: sample\n    labels: [{kind: mc}]\n    use_labels: bs\n"
    )
    with pytest.raises(RecipeError, match=r"r\.yaml:8.*use_labels.*no label set named 'bs'"):
        load_recipe(path)


# -- the label builder: solutions that come with the source ----------------------------------


def _label_recipe(tmp_path, shared_data, labels: str) -> object:
    from supdata.recipe import load_recipe

    path = tmp_path / "label.yaml"
    path.write_text(
        "name: pb-labels\n"
        f"source: {{kind: file, path: {shared_data / 'processbench' / 'gsm8k.json'}, "
        "normalizer: processbench, shuffle_seed: 0, limit: 24}\n"
        "engines:\n  actor: {kind: vllm, max_model_len: 2048}\n"
        "builders:\n  - kind: label\n"
        f"    references: [{shared_data / 'gsm8k' / 'test.jsonl'}]\n"
        f"    labels: {labels}\n"
        "verification: {workers: 1}\npublish: {license: apache-2.0}\n"
    )
    return load_recipe(path)


def test_label_builder_without_sources_is_model_free(shared_data, fake_engine, tmp_path):
    import datasets

    from supdata.build import build
    from supdata.publish.validate import validate_folder

    backend = fake_engine(lambda request, k: pytest.fail("a model was asked"))
    build(_label_recipe(tmp_path, shared_data, "[]"), tmp_path / "out", cache_path=None)
    assert backend.requests == []
    assert validate_folder(tmp_path / "out")["labelled"] == 24
    rows = datasets.load_dataset(str(tmp_path / "out"), "labelled", split="train").to_list()
    assert len(rows) == 24
    human = {
        r["id"]: r for r in json.loads((shared_data / "processbench" / "gsm8k.json").read_text())
    }
    for r in rows:
        (given,) = r["label_sets"]
        item = human[r["problem_id"]]
        assert given["kind"] == "given" and given["provenance"]["source"] == "human:gsm8k"
        assert given["first_error_step"] == item["label"]
        assert r["status"] in ("correct", "incorrect")  # verified against GSM8K's answer


def test_label_builder_scores_sources_against_the_given_labels(shared_data, fake_engine, tmp_path):
    from supdata.build import build

    recipe = _label_recipe(tmp_path, shared_data, "[{kind: binary_search, rollouts: 2}]")
    refs = reference_index([shared_data / "gsm8k" / "test.jsonl"], "gsm8k")
    items = json.loads((shared_data / "processbench" / "gsm8k.json").read_text())
    pairs = []
    for row in items:
        ref = refs[" ".join(row["problem"].split())]
        problem = type(ref)(id=row["id"], question=row["problem"],
                            reference_answer=ref.reference_answer)  # fmt: skip
        from supdata.sources.normalize import given_trace

        pairs.append((problem, given_trace(row["id"], row["steps"], row["label"], "gsm8k")))
    fake_engine(oracle(pairs))
    build(recipe, tmp_path / "out", cache_path=tmp_path / "c.sqlite")
    from supdata.export import read_config

    rows = read_config(tmp_path / "out", "labelled").to_list()
    for r in rows:
        given, bs = r["label_sets"]
        if (r["status"] == "correct") == (given["first_error_step"] == -1):
            assert bs["first_error_step"] == given["first_error_step"], r["id"]
    card = (tmp_path / "out" / "README.md").read_text()
    assert "`given` vs `binary_search`: first error agrees on" in card


# -- PRM exports: Math-Shepherd tags, PRM800K ratings, TRL stepwise with soft labels ----------


def _shepherd_rows(shared_data):
    for line in (shared_data / "math_shepherd_samples" / "samples_math-shepherd.jsonl").open():
        yield json.loads(line)


def test_math_shepherd_rows_read_and_export_back_unchanged(shared_data):
    """Each published Math-Shepherd row, read by the math_shepherd normalizer (its labels
    as the given annotation) and exported, comes back character for character."""
    from datasets import Dataset

    from supdata.export.convert import convert
    from supdata.sources.normalize import math_shepherd

    for i, rec in enumerate(_shepherd_rows(shared_data)):
        problem = math_shepherd(rec, i, "ms")
        (trace,) = problem.solutions
        assert trace.annotation.labels == [
            s == "+" for s in re.findall(r" ([+-])(?=\nStep|$)", rec["label"])
        ]
        out = convert(
            Dataset.from_list([trace.to_row()]), "math-shepherd", config="samples",
            problems={problem.id: {"question": problem.question, "reference_answer": None}},
        ).dataset[0]  # fmt: skip
        assert out["input"] == rec["input"]
        assert out["label"] == rec["label"]


def test_prm800k_export_matches_published_ratings(shared_data):
    """Published PRM800K records whose chosen steps are rated 1/-1: their steps and
    ratings, exported from a trace, come back up to the first -1."""
    from supdata.export.common import Context
    from supdata.export.prm import prm800k_from_trace

    path = shared_data / "prm800k_samples" / "prm800k_samples_dedup.jsonl"
    checked = 0
    for line in path.open():
        rec = json.loads(line)
        chosen = []
        for step in rec["label"]["steps"]:
            k = step["chosen_completion"]
            done = k is None
            pick = step["human_completion"] if done else step["completions"][k]
            if done:  # the first rejected step: the rated completion that ended the run
                pick = next((c for c in step["completions"] if c["rating"] == -1), None)
            if pick is None or pick["rating"] not in (1, -1):
                break
            chosen.append(pick)
            if done:
                break
        if not chosen or any(c["rating"] not in (1, -1) for c in chosen):
            continue
        steps = [c["text"] + "\n\n" for c in chosen]
        row = {"id": "r", "problem_id": "q", "steps": steps,
               "annotation": {"labels": [c["rating"] == 1 for c in chosen]}}  # fmt: skip
        problem = rec["question"]["problem"]
        answer = rec["question"]["ground_truth_answer"]
        ctx = Context(problems={"q": {"question": problem, "reference_answer": answer}})
        out = prm800k_from_trace(row, ctx)
        assert out["question"] == {"problem": problem, "ground_truth_answer": answer}
        got = [
            (s["completions"][0]["text"], s["completions"][0]["rating"])
            for s in out["label"]["steps"]
        ]
        first_bad = next((i for i, c in enumerate(chosen) if c["rating"] == -1), len(chosen) - 1)
        assert got == [(c["text"].strip(), c["rating"]) for c in chosen[: first_bad + 1]]
        if any(c["rating"] == -1 for c in chosen):
            assert out["label"]["finish_reason"] == "found_error"
        checked += 1
    assert checked >= 5


def test_stepwise_export_takes_a_label_set_hard_or_soft(shared_data, fake_engine, tmp_path):
    from supdata.build import build
    from supdata.cli import main
    from supdata.export import read_config

    recipe = _label_recipe(tmp_path, shared_data, "[{kind: mc, completions: 2}]")
    refs = reference_index([shared_data / "gsm8k" / "test.jsonl"], "gsm8k")
    items = json.loads((shared_data / "processbench" / "gsm8k.json").read_text())
    from supdata.core.records import Problem
    from supdata.sources.normalize import given_trace

    pairs = [
        (Problem(id=r["id"], question=r["problem"],
                 reference_answer=refs[" ".join(r["problem"].split())].reference_answer),
         given_trace(r["id"], r["steps"], r["label"], "gsm8k"))
        for r in items
    ]  # fmt: skip
    fake_engine(oracle(pairs))
    out = tmp_path / "out"
    build(recipe, out, cache_path=tmp_path / "c.sqlite")
    rows = {r["id"]: r for r in read_config(out, "labelled").to_list()}
    for fmt, extra in (("stepwise", ["--soft"]), ("math-shepherd", []), ("prm800k", [])):
        target = tmp_path / f"{fmt}.parquet"
        argv = ["export", str(out), "--config", "labelled", "--to", fmt, "--label-set", "mc",
                "--out", str(target), *extra]  # fmt: skip
        assert main(argv) == 0
    import pyarrow.parquet as pq

    soft = pq.read_table(tmp_path / "stepwise.parquet").to_pylist()
    assert soft
    for r in soft:
        mc = next(s for s in rows[r["id"]]["label_sets"] if s["name"] == "mc")
        assert r["labels"] == mc["soft"][: len(r["labels"])]
        assert all(isinstance(x, float) for x in r["labels"])
    tags = pq.read_table(tmp_path / "math-shepherd.parquet").to_pylist()
    assert all(r["input"].count("ки") == r["label"].count("\n") + 1 for r in tags)
    assert main(["export", str(out), "--config", "labelled", "--to", "prm800k",
                 "--label-set", "nope", "--out", str(tmp_path / "x.parquet")]) != 0  # fmt: skip


def test_perturb_builder_labels_its_rows_beside_construction(tiny_build, fake_engine, tmp_path):
    """Rollouts reach the answer while the prefix is still the reference's own text; MC
    then finds each perturbed row's constructed first error, and the card compares."""
    from supdata.build import build
    from supdata.export import read_config
    from supdata.recipe import load_recipe

    from conftest import TINY_RECIPE

    problems = {p["question"]: p for p in read_config(tiny_build, "problems").to_list()}
    refs = {r["problem_id"]: r["text"] for r in read_config(tiny_build, "references").to_list()}

    def respond(request, k):
        problem = problems[request.messages[-2]["content"]]
        ok = refs[problem["id"]].startswith(request.messages[-1]["content"])
        return f" so \\boxed{{{problem['reference_answer'] if ok else '-987654'}}}"

    fake_engine(respond)
    text = TINY_RECIPE.replace(
        "types: [wrong_result, swap_operator, flip_sign]",
        "types: [wrong_result, swap_operator, flip_sign]\n    labels: [{kind: mc, completions: 2}]",
    ) + "engines:\n  actor: {kind: vllm, max_model_len: 2048}\n"  # fmt: skip
    recipe = tmp_path / "tiny.yaml"
    recipe.write_text(text)
    build(load_recipe(recipe), tmp_path / "out", limit=4, cache_path=tmp_path / "c.sqlite")
    rows = read_config(tmp_path / "out", "perturbed").to_list()
    assert rows
    exact = 0
    for r in rows:
        (mc,) = r["label_sets"]
        assert r["annotation"]["source"] == "construction"  # construction labels stay
        if r["status"] == "incorrect":
            assert mc["first_error_step"] == r["annotation"]["first_error_step"], r["id"]
            exact += 1
    assert exact > 0
    card = (tmp_path / "out" / "README.md").read_text()
    assert "`construction` vs `mc`: first error agrees on" in card


def test_label_builder_reads_math_shepherd_rows(shared_data, fake_engine, tmp_path):
    """The published Math-Shepherd sample through the label builder, model-free: every
    row's own +/- labels become the given set, answers matched from GSM8K train; all 7
    end on a '-' step, and the verifier finds all 7 final answers wrong."""
    from supdata.build import build
    from supdata.export import read_config
    from supdata.recipe import load_recipe

    fake_engine(lambda request, k: pytest.fail("a model was asked"))
    path = tmp_path / "ms.yaml"
    data = shared_data / "math_shepherd_samples" / "samples_math-shepherd.jsonl"
    path.write_text(
        "name: ms-labels\n"
        f"source: {{kind: file, path: {data}, normalizer: math_shepherd}}\n"
        "builders:\n  - kind: label\n"
        f"    references: [{shared_data / 'gsm8k' / 'train.jsonl'}]\n"
        "verification: {workers: 1}\npublish: {license: apache-2.0}\n"
    )
    build(load_recipe(path), tmp_path / "out", cache_path=None)
    rows = read_config(tmp_path / "out", "labelled").to_list()
    assert len(rows) == 7
    for r in rows:
        (given,) = r["label_sets"]
        assert given["provenance"]["source"] == "math-shepherd"
        assert given["labels"][-1] is False
        assert r["status"] == "incorrect"


def _prm800k_expected(rec):
    """Independently of the normalizer: the labelled path's length and first error, read
    off the raw record (chosen or human completions, then the -1 step of a found_error)."""
    kept = 0
    for step in rec["label"]["steps"]:
        if step["chosen_completion"] is None and not step["human_completion"]:
            break
        kept += 1
    if rec["label"]["finish_reason"] == "found_error":
        return kept + 1, kept
    return kept, -1


def test_prm800k_records_read_as_labelled_paths(shared_data):
    """Every published PRM800K record (phase 1 and 2, found_error / solution / give_up):
    the path the labeller took, ratings 1 and 0 right, -1 wrong, raw ratings kept."""
    from supdata.sources.normalize import prm800k

    path = shared_data / "prm800k_samples" / "prm800k_samples_dedup.jsonl"
    seen = Counter()
    for i, line in enumerate(path.open()):
        rec = json.loads(line)
        problem = prm800k(rec, i, "prm800k")
        (trace,) = problem.solutions
        length, first_error = _prm800k_expected(rec)
        assert len(trace.steps) == length, i
        assert trace.annotation.first_error_step == first_error, i
        assert trace.annotation.source == "human:prm800k"
        ratings = problem.meta["ratings"]
        assert trace.annotation.labels == [r is None or r >= 0 for r in ratings]
        assert problem.question == rec["question"]["problem"]
        seen[rec["label"]["finish_reason"]] += 1
    assert seen == {"found_error": 9, "solution": 5, "give_up": 2}


def test_prm800k_rejects_what_is_not_a_raw_record():
    from supdata.sources.normalize import SkipRow, prm800k

    with pytest.raises(SkipRow, match="not a raw PRM800K record"):
        prm800k({"problem": "1+1?", "answer": "2"}, 0, "x")
    empty = {"question": {"problem": "1+1?"}, "label": {"steps": [{"completions": None}]}}
    with pytest.raises(SkipRow, match="no rated step"):
        prm800k(empty, 0, "x")


def test_label_builder_reads_prm800k_records(shared_data, fake_engine, tmp_path):
    """Raw PRM800K records through the label builder, model-free: the labeller's path is
    the given set; every found_error path ends on its wrong step; the record without a
    ground-truth answer is dropped and counted."""
    from supdata.build import build
    from supdata.export import read_config
    from supdata.recipe import load_recipe

    fake_engine(lambda request, k: pytest.fail("a model was asked"))
    data = shared_data / "prm800k_samples" / "prm800k_samples_dedup.jsonl"
    path = tmp_path / "prm.yaml"
    path.write_text(
        "name: prm-labels\n"
        f"source: {{kind: file, path: {data}, normalizer: prm800k}}\n"
        "builders:\n  - kind: label\n"
        "verification: {workers: 1}\npublish: {license: mit}\n"
    )
    stats = build(load_recipe(path), tmp_path / "out", cache_path=None)
    assert stats["stages"]["source"]["dropped"] == {"no reference answer": 1}
    rows = read_config(tmp_path / "out", "labelled").to_list()
    assert len(rows) == 15
    ended = [r for r in rows if r["label_sets"][0]["first_error_step"] != -1]
    assert len(ended) == 9  # the found_error records
    for r in ended:
        (given,) = r["label_sets"]
        assert given["provenance"]["source"] == "human:prm800k_samples_dedup"  # the file
        assert given["first_error_step"] == len(given["labels"]) - 1


@pytest.mark.shared_data
def test_label_sources_run_window_by_window(shared_data, tmp_path, monkeypatch):
    """Label sources label each window of a sample stage as it streams; their figures
    (agreement, kappa, engine cost) add up over the windows: a flow build at one problem
    per window gives the same rows, counters and card figures as a stage-by-stage build
    at one window for all."""
    src = shared_data / "gsm8k" / "test.jsonl"
    recipe = LABELLED_RECIPE.format(src=src)
    one, every = builds_by_window(tmp_path, monkeypatch, _right_then_wrong(src), recipe)
    assert len(one[0]["samples"]) == 12
    assert one[:3] == every[:3] and one[3] > every[3]

    def label_lines(card: str) -> list[str]:
        return [line for line in card.splitlines() if " vs " in line or "kappa" in line]

    assert label_lines(one[4]) and label_lines(one[4]) == label_lines(every[4])
