"""The test-time loops: `supdata eval-vr` (STV's verification-refinement loop) and
`supdata eval-refine` (AutoMathCritique's critique-refine evaluation). Per-round figures
exact on a scripted actor and reviewer (real GSM8K problems, real math-verify, real
request cache), bad input refused before any model loads, the real engine end to end."""

from __future__ import annotations

import json
import os
import re
from contextlib import nullcontext

import pytest

from supdata.cli import main

from conftest import read_jsonl, write_jsonl

# trajectory -> per round: is the answer right, and what the verifier says about it
# (None: a feedback without a verdict line). A verdict of Correct ends the trajectory:
# its answer is carried unchanged. The majority vote per problem over its two
# trajectories breaks a tie toward the first trajectory's answer.
SCRIPT = {
    "p0/t0": [(True, "Wrong"), (False, "Wrong"), (True, "Correct")],  # a false alarm
    "p0/t1": [(False, "Wrong"), (True, "Correct")],  # fixed in round 1
    "p1/t0": [(False, None), (False, "Wrong"), (False, "Wrong")],  # never fixed
    "p1/t1": [(False, "Correct")],  # inflation: a wrong answer accepted at once
}
ROUND = re.compile(r"^(?P<traj>p\d/t\d)/round-(?P<r>\d+)(?P<rest>.*)$")


def _source(shared_data, tmp_path):
    rows = read_jsonl(shared_data / "gsm8k" / "test.jsonl")[:2]
    gold = [r["answer"].split("####")[-1].strip() for r in rows]
    bins = ["hard", "hardest"]
    path = write_jsonl(
        tmp_path / "problems.jsonl",
        [{"id": f"p{i}", **r, "bin": bins[i]} for i, r in enumerate(rows)],
    )
    return path, gold


def _recipe(
    tmp_path, path, builder="  - kind: stv\n    ask_verdict: false\n    vil: {engine: critic}\n"
):
    recipe = tmp_path / "recipe.yaml"
    recipe.write_text(
        f"name: vr\nsource: {{kind: file, path: {path}, normalizer: gsm8k}}\n"
        "engines:\n  actor: {kind: vllm}\n  critic: {kind: vllm}\nbuilders:\n" + builder
    )
    return recipe


@pytest.mark.shared_data
def test_the_loop_figures_per_round_are_exact(shared_data, tmp_path, fake_engine, capsys):
    path, gold = _source(shared_data, tmp_path)

    logs = set()

    def respond(request, k):
        logs.add(os.environ.get("SUPDATA_ENGINE_LOG"))
        m = ROUND.match(request.id)
        traj, r = m["traj"], int(m["r"])
        right, verdict = SCRIPT[traj][r]
        if m["rest"] == "/verify-student":
            return "I checked the steps." + (f"\nVerdict: {verdict}" if verdict else "")
        if r > 0:  # a revision sees its last answer and the verifier's feedback
            assert request.messages[-2]["role"] == "assistant"
            assert "I checked the steps." in request.messages[-1]["content"]
        answer = int(gold[int(traj[1])]) + (0 if right else 1)
        return f"Step 1: work it out.\nThe answer is \\boxed{{{answer}}}."

    backend = fake_engine(respond)
    report = tmp_path / "report.json"
    argv = [str(_recipe(tmp_path, path)), "--rounds", "2", "--samples", "2", "--out", str(report)]
    cache = ["--cache", str(tmp_path / "cache.sqlite")]
    assert main(["eval-vr", *argv, *cache]) == 0
    result = json.loads(report.read_text())
    figures = [
        {k: v for k, v in r.items() if k not in ("round", "trajectories")} for r in result["rounds"]
    ]
    assert figures == [
        {"pass@1": 0.25, "majority": 0.5, "claimed_correct": 0.25, "precision": 0.0,
         "recall": 0.0, "inflation": 0.0, "verdict_accuracy": 0.25, "no_verdict": 1,
         "revised": 0, "right_to_wrong": 0, "wrong_to_right": 0},
        {"pass@1": 0.25, "majority": 0.0, "claimed_correct": 0.5, "precision": 0.5,
         "recall": 1.0, "inflation": 0.25, "verdict_accuracy": 1.0, "no_verdict": 0,
         "revised": 3, "right_to_wrong": 1, "wrong_to_right": 1},
        {"pass@1": 0.5, "majority": 0.5, "claimed_correct": 0.75, "precision": 0.6667,
         "recall": 1.0, "inflation": 0.25, "verdict_accuracy": 1.0, "no_verdict": 0,
         "revised": 2, "right_to_wrong": 0, "wrong_to_right": 1},
    ]  # fmt: skip
    hardest = result["by_bin"]["hardest"]
    assert [r["pass@1"] for r in hardest] == [0.0, 0.0, 0.0]
    assert [r["claimed_correct"] for r in hardest] == [0.5, 0.5, 0.5]
    assert [r["pass@1"] for r in result["by_bin"]["hard"]] == [0.5, 0.5, 1.0]
    assert result["setup"]["verifier"]["engine"] == "critic"
    # requests: 4 + 3 + 2 answers and as many verifications; accepted answers are final
    assert len(backend.requests) == 18
    shown = capsys.readouterr().out
    assert "V-R loop: all problems" in shown and "bin hardest" in shown
    # engine start-up output goes to a log under the cache folder, for this command only
    (log,) = logs
    assert "/supdata/logs/eval-vr-" in log and "SUPDATA_ENGINE_LOG" not in os.environ

    # a second run is served by the request cache: no request reaches the model
    backend.requests.clear()
    assert main(["eval-vr", *argv, *cache]) == 0
    assert backend.requests == []
    assert json.loads(report.read_text())["rounds"] == result["rounds"]


@pytest.mark.shared_data
@pytest.mark.parametrize(
    "case",
    [
        ("eval-vr", ["--rounds", "0"], "argument --rounds: must be at least 1, got 0"),
        ("eval-vr", ["--samples", "two"], "argument --samples: 'two' is not a whole number"),
        ("eval-vr", ["--verifier", "judge"], "--verifier 'judge' is not an engine of the recipe"),
        ("eval-refine", ["--votes", "0"], "argument --votes: must be at least 1, got 0"),
        ("eval-refine", ["--critic", "x"], "--critic 'x' is not an engine of the recipe"),
        ("eval-refine", ["--rounds", "-1"], "argument --rounds: must be at least 1, got -1"),
        ("no answers", [], "source: no problem has a reference answer (the answer field)"),
    ],
)
def test_bad_settings_fail_before_any_model_loads(shared_data, tmp_path, fake_engine, capsys, case):
    command, args, message = case
    path, _ = _source(shared_data, tmp_path)
    if command == "no answers":  # a problems file whose rows carry no final answer
        rows = read_jsonl(path)
        write_jsonl(path, [{**r, "answer": r["answer"].split("####")[0]} for r in rows])
        command = "eval-refine"
    backend = fake_engine(lambda request, k: pytest.fail("a model was asked"))
    with pytest.raises(SystemExit) if "argument" in message else nullcontext():
        assert main([command, str(_recipe(tmp_path, path)), *args]) == 2
    assert message in capsys.readouterr().err
    assert backend.requests == []


# -- eval-refine -----------------------------------------------------------------------------

# trajectory -> per round: is the answer right, and the critic's final verdict (None: a
# critique that does not parse). Without --know-answer every answer is refined.
REFINE = {
    "p0/t0": [(True, "Correct"), (False, "Correct"), (True, "Correct")],
    "p0/t1": [(False, "Wrong"), (True, "Correct"), (True, "Correct")],
    "p1/t0": [(False, "Correct"), (False, "Wrong"), (False, None)],
    "p1/t1": [(True, "Correct"), (True, "Correct"), (True, "Wrong")],
}


def _refine_engine(gold, seen):
    def respond(request, k):
        m = ROUND.match(request.id)
        traj, r = m["traj"], int(m["r"])
        right, verdict = REFINE[traj][r]
        if m["rest"] == "/critique":
            assert "reference" not in request.messages[-1]["content"].lower()
            if verdict is None:
                return "I am not sure about this one."
            n = request.sampling.structured.json_schema["properties"]["steps"]["minItems"]
            step = {"explanation": "checked", "correctness": verdict}
            final = {"explanation": "checked", "correctness": verdict}
            return json.dumps({"steps": [step] * n, "final_answer": final})
        if r > 0:  # a refinement sees the critique of its last answer, as rendered
            seen.append(request.messages[-1]["content"])
        answer = int(gold[int(traj[1])]) + (0 if right else 1)
        return f"Step 1: work it out.\nThe answer is \\boxed{{{answer}}}."

    return respond


@pytest.mark.shared_data
def test_refine_figures_per_round_are_exact(shared_data, tmp_path, fake_engine):
    path, gold = _source(shared_data, tmp_path)
    seen = []
    backend = fake_engine(_refine_engine(gold, seen))
    recipe = _recipe(tmp_path, path, "  - kind: critique\n    critic: critic\n")
    report = tmp_path / "refine.json"
    argv = ["eval-refine", str(recipe), "--rounds", "2", "--votes", "2", "--out", str(report)]
    assert main([*argv, "--no-cache"]) == 0
    result = json.loads(report.read_text())
    figures = [
        {k: v for k, v in r.items() if k not in ("round", "trajectories")} for r in result["rounds"]
    ]
    assert figures == [
        {"pass@1": 0.5, "majority": 0.5, "claimed_correct": 0.75, "precision": 0.6667,
         "recall": 1.0, "inflation": 0.25, "verdict_accuracy": 0.75, "no_verdict": 0,
         "revised": 0, "right_to_wrong": 0, "wrong_to_right": 0},
        {"pass@1": 0.5, "majority": 0.0, "claimed_correct": 0.75, "precision": 0.6667,
         "recall": 1.0, "inflation": 0.25, "verdict_accuracy": 0.75, "no_verdict": 0,
         "revised": 4, "right_to_wrong": 1, "wrong_to_right": 1},
        {"pass@1": 0.75, "majority": 0.5, "claimed_correct": 0.5, "precision": 1.0,
         "recall": 0.6667, "inflation": -0.25, "verdict_accuracy": 0.5, "no_verdict": 1,
         "revised": 4, "right_to_wrong": 0, "wrong_to_right": 1},
    ]  # fmt: skip
    assert len(backend.requests) == 24  # every answer critiqued and refined, each round
    assert len(seen) == 8 and all("Correctness of the step" in text for text in seen)
    assert result["setup"]["critic"]["engine"] == "critic"
    assert result["setup"]["know_answer"] is False

    # the oracle setting: answers math-verify finds right are final
    backend.requests.clear()
    assert main([*argv, "--no-cache", "--know-answer"]) == 0
    result = json.loads(report.read_text())
    assert [r["pass@1"] for r in result["rounds"]] == [0.5, 0.75, 0.75]
    assert [r["revised"] for r in result["rounds"]] == [0, 2, 1]
    assert [r["majority"] for r in result["rounds"]] == [0.5, 0.5, 0.5]
    assert len(backend.requests) == 14


@pytest.mark.slow
@pytest.mark.shared_data
@pytest.mark.timeout(900)
def test_the_loop_runs_on_the_real_engine(shared_data, vllm_backend):
    """Three GSM8K problems, one round, the embedded model (real vLLM) generating and
    verifying; math-verify judges."""
    from supdata.builders.stv import StvBuilder
    from supdata.engines import Engine
    from supdata.eval.loop import report
    from supdata.eval.vr import run_vr
    from supdata.sources.normalize import gsm8k
    from supdata.verify import VerifyConfig

    rows = read_jsonl(shared_data / "gsm8k" / "test.jsonl")[:3]
    problems = [gsm8k(r, i, "gsm8k") for i, r in enumerate(rows)]
    params = StvBuilder(kind="stv", max_tokens=160, feedback_max_tokens=96)
    engine = Engine(vllm_backend, None)
    trajectories = run_vr(
        problems, engine, engine, params, rounds=1, samples=1, verify=VerifyConfig()
    )
    result = report(trajectories, {})
    assert [r["trajectories"] for r in result["rounds"]] == [3, 3]
    for r in result["rounds"]:
        assert 0 <= r["pass@1"] <= 1 and 0 <= r["claimed_correct"] <= 1
        assert r["inflation"] == pytest.approx(r["claimed_correct"] - r["pass@1"], abs=1e-4)
    turns = [t["turns"] for t in result["trajectories"]]
    assert all(turn[0]["text"].strip() and turn[0]["review"].strip() for turn in turns)
    # every trajectory the verifier did not accept was revised, the others carried
    assert result["rounds"][1]["revised"] == sum(t[0]["verdict"] is not True for t in turns)
    for t in turns:
        if t[0]["verdict"] is True:
            assert t[1]["text"] == t[0]["text"] and not t[1]["revised"]


@pytest.mark.shared_data
def test_refine_with_the_mathcritique_preset(shared_data, tmp_path, fake_engine):
    """The published prompt set: answers and refinements continue the assistant prefix,
    the critic writes the published text format, which the loop parses."""
    path, gold = _source(shared_data, tmp_path)
    seen = []

    def respond(request, k):
        m = ROUND.match(request.id)
        traj, r = m["traj"], int(m["r"])
        right, verdict = REFINE[traj][r]
        if m["rest"] == "/critique":
            assert request.sampling.structured is None  # the published text format
            verdict = verdict or "Wrong"
            return (
                "Step sentence: Step 1: work it out.\nCorrectness of the step: Correct\n"
                "Explanation: fine.\n\nStep sentence: The answer is\nCorrectness of the step: "
                f"{verdict}\nExplanation: checked.\n\nFinal answer correctness: {verdict}"
            )
        seen.append(request)
        answer = int(gold[int(traj[1])]) + (0 if right else 1)
        return f"Step 1: work it out.\nThe answer is \\boxed{{{answer}}}."

    fake_engine(respond)
    recipe = _recipe(tmp_path, path, "  - kind: critique\n    prompts: mathcritique\n")
    report = tmp_path / "refine.json"
    argv = ["eval-refine", str(recipe), "--rounds", "1", "--votes", "2", "--out", str(report)]
    assert main([*argv, "--no-cache"]) == 0
    result = json.loads(report.read_text())
    assert all(r.continue_final and r.messages[-1]["role"] == "assistant" for r in seen)
    assert [r["pass@1"] for r in result["rounds"]] == [0.5, 0.5]
    assert result["setup"]["prompts"]["critique"].startswith("mathcritique_critic")
