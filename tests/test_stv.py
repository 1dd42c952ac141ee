"""The stv builder: bins, verdicts, the leak filter, and the demo build with the real engine."""

from __future__ import annotations

import json
from collections import defaultdict
from pathlib import Path

import datasets
import pytest

from supdata.builders.stv import StvBuilder
from supdata.builders.stv.attempts import Attempt, binned_attempts
from supdata.builders.stv.bins import bin_of, parse_bins
from supdata.builders.stv.figures import accuracy_figures
from supdata.builders.stv.leak import leak, mention
from supdata.builders.stv.rows import distill_rows
from supdata.core.records import Problem, Trace
from supdata.core.stats import StageStats
from supdata.export.folder import read_config
from supdata.ops.verdict import parse_verdict
from supdata.recipe import RecipeError, load_recipe

REPO = Path(__file__).resolve().parents[1]
BASE = (
    "name: x\nsource: {kind: reasoning_gym, name: gsm_symbolic, size: 4}\n"
    "engines:\n  actor: {kind: vllm}\nbuilders:\n  - kind: stv\n"
)


# -- bins --------------------------------------------------------------------------------


def test_default_bins_are_the_papers():
    bins = parse_bins(StvBuilder(kind="stv").bins)
    assert [str(b) for b in bins] == ["[0, 0]", "(0, 0.2]"]
    assert [bin_of(x, bins) for x in (0, 0.125, 0.2, 0.25, 1)] == [
        "hardest",
        "hard",
        "hard",
        None,
        None,
    ]


@pytest.mark.parametrize(
    ("builder", "expected"),
    [
        (
            '    bins: {a: "[0, 0.3]", b: "(0.2, 0.5]"}\n',
            r"builders\[0\]\.bins: Value error, bin 'b' \(0\.2, 0\.5\] overlaps "
            r"bin 'a' \[0, 0\.3\]",
        ),
        (
            '    bins: {a: "[0, 0.2]", b: "[0.2, 1]"}\n',
            r"builders\[0\]\.bins: .*bin 'b' \[0\.2, 1\] overlaps bin 'a'",
        ),
        (
            '    bins: {a: "[0, 1.5]"}\n',
            r"builders\[0\]\.bins: .*bin 'a': \[0, 1\.5\] falls outside \[0, 1\]",
        ),
        (
            '    bins: {a: "(-0.1, 0.2]"}\n',
            r"builders\[0\]\.bins: .*falls outside \[0, 1\]",
        ),
        ('    bins: {a: "(0, 0]"}\n', r"builders\[0\]\.bins: .*bin 'a': \(0, 0\] is empty"),
        ("    bins: {a: [0, 0]}\n", r"builders\[0\]\.bins: .*write the interval as a quoted"),
        ("    samples_per_attempt: 0\n", r"builders\[0\]\.samples_per_attempt: .*greater than"),
        ("    verifier: judge\n", r"builders\[0\]\.verifier: no engine named 'judge'"),
        (
            "    feedback_min_tokens: 600\n    feedback_max_tokens: 500\n",
            r"builders\[0\]\.feedback_min_tokens: feedback_min_tokens \(600\) > ",
        ),
        (
            '    n: 8\n    bins: {rare: "(0, 0.1]"}\n',
            r"recipe\.yaml:8: builders\[0\]\.bins\.rare: \(0, 0\.1\] holds no pass rate "
            r"reachable with n=8",
        ),
        ("    vil: {engine: judge}\n", r"builders\[0\]\.vil\.engine: no engine named 'judge'"),
        (
            "    vil: {feedback: informed_teacher, engine: actor}\n",
            r"builders\[0\]\.vil\.engine: vil\.engine names the verifier",
        ),
        ("    vil: {feedback: critic}\n", r"builders\[0\]\.vil\.feedback: Input should be"),
    ],
)
def test_bad_stv_settings_fail_before_any_work(tmp_path, builder, expected):
    path = tmp_path / "recipe.yaml"
    path.write_text(BASE + builder)
    with pytest.raises(RecipeError, match=expected):
        load_recipe(path)


def test_math_hard_recipe_is_the_papers_setup():
    """recipes/stv/math-hard.yaml is for a GPU; here its config is checked, not run."""
    recipe = load_recipe(REPO / "recipes" / "stv" / "math-hard.yaml")
    (builder,) = recipe.builders
    assert builder.kind == "stv" and builder.n == 8
    assert builder.bins == {"hardest": "[0, 0]", "hard": "(0, 0.2]"}
    assert builder.verifier == builder.engine  # one model in both roles
    assert recipe.source.filters.min_level == 4 and recipe.source.filters.max_level == 5
    assert builder.configs() == ("samples", "distill", "verifier_rl", "vil")


# -- verdicts and leaks ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "verdict"),
    [
        ("Step 1 is right.\nVerdict: Correct", True),
        ("Step 2 adds wrong.\n**Verdict:** Wrong", False),
        ("Verdict: incorrect", False),
        ('Say "Verdict: Correct" or "Verdict: Wrong".\nStep 1 ...\nVerdict: Wrong', False),
        ("The verdict is: correct.", True),
        (r"\boxed{Wrong}", False),
        ("The final answer is correct, I think.", None),
        ("", None),
    ],
)
def test_parse_verdict(text, verdict):
    assert parse_verdict(text) is verdict


def test_mention_respects_number_boundaries_and_latex_spacing():
    assert mention("so the total is 18 apples", "18")
    assert mention("18.0 in all", "18")
    assert mention("it costs 12,000 dollars", "12000")
    assert not mention("180 or 1.8 or 218", "18")
    assert not mention("step 18 is fine", "18")  # a step index, not the answer
    assert mention(r"so x = \dfrac{1} {2}", r"\frac{1}{2}")
    assert mention(r"the answer is \boxed{x}", "x") and not mention("x + y", "x")


def _attempt(text: str, truth: bool, answer: str = "18") -> Attempt:
    problem = Problem(
        id="p1",
        source="t",
        question="Tom has 7 apples and buys 11. How many?",
        reference_solution="7 + 11 = 18\nThe answer is \\boxed{18}.",
        reference_answer=answer,
    )
    trace = Trace("p1/s0", "p1", text, text.splitlines(keepends=True), "sampled")
    return Attempt(trace, problem, truth, "hardest", 0.0)


def _feedback(attempt: Attempt, text: str, i: int, role: str = "informed_verdict", **extra):
    return {
        "id": f"{attempt.trace.id}/{role}/{i}",
        "attempt_id": attempt.trace.id,
        "problem_id": "p1",
        "role": role,
        "sample": i,
        "feedback": text,
        "verdict": parse_verdict(text),
        "verdict_asked": False,
        "truth": attempt.truth,
        "bin": attempt.bin,
        "pass_rate": attempt.pass_rate,
        "finish_reason": "stop",
        "tokens": 40,
        **extra,
    }


def test_leak_filter_rejects_planted_leaks_and_keeps_clean_feedback():
    attempt = _attempt("7 + 11 = 17\nThe answer is \\boxed{17}.", truth=False)
    clean = "Step 1 adds 7 and 11 but writes 17: 7 + 11 is not 17.\nVerdict: Wrong"
    states = "Step 1 is wrong: the right total is 18, not 17.\nVerdict: Wrong"
    cites = "Compared with the reference solution, step 1 is off.\nVerdict: Wrong"
    assert leak(clean, attempt.trace.text, "18") is None
    assert leak(states, attempt.trace.text, "18") == (
        "states the reference answer the attempt does not contain"
    )
    assert leak(cites, attempt.trace.text, "18") == "mentions the reference solution"
    # an attempt that contains the answer may hear it back
    assert leak(states, "7 + 11 = 18, then 18 - 1 = 17", "18") is None

    verdicts = [
        _feedback(attempt, clean, 0),
        _feedback(attempt, states, 1),
        _feedback(attempt, cites, 2),
        _feedback(attempt, "Looks fine.\nVerdict: Correct", 3),  # disagrees with the truth
        _feedback(attempt, "Step 1 ...", 4, finish_reason="length"),
        _feedback(attempt, "Verdict: Wrong", 5, tokens=3),
        _feedback(attempt, "Step 1 looks odd.", 6),  # no verdict line
        _feedback(attempt, clean, 7),  # the same text again
    ]
    stats = StageStats("distill")
    params = StvBuilder(kind="stv", feedback_min_tokens=8)
    rows = distill_rows(verdicts, [attempt], params, stats)
    assert [r["id"] for r in rows] == ["p1/s0/informed_verdict/0"]
    assert rows[0]["completion"] == [{"role": "assistant", "content": clean}]
    assert rows[0]["verdict"] is False and rows[0]["truth"] is False
    assert "Reference solution" in rows[0]["ref_prompt"][-1]["content"]
    assert "final answer is wrong" in rows[0]["ref_prompt"][-1]["content"]
    assert "Reference" not in rows[0]["prompt"][-1]["content"]
    assert dict(stats.dropped) == {
        "states the reference answer the attempt does not contain": 1,
        "mentions the reference solution": 1,
        "verdict disagrees with the truth": 1,
        "too long: cut at feedback_max_tokens (512)": 1,
        "too short: under feedback_min_tokens (8)": 1,
        "no verdict line": 1,
        "duplicate feedback for the attempt": 1,
    }


def test_targets_come_from_the_teacher_the_recipe_names():
    """Both teachers are asked; informed_verdict picks whose feedback becomes targets, and
    the ref_prompt is that teacher's prompt (with or without the stated verdict)."""
    attempt = _attempt("7 + 11 = 17\nThe answer is \\boxed{17}.", truth=False)
    text = "Step 1 adds 7 and 11 but writes 17: 7 + 11 is not 17.\nVerdict: Wrong"
    verdicts = [
        _feedback(attempt, text, 0, role="informed"),
        _feedback(attempt, text + " ", 0, role="informed_verdict"),
        _feedback(attempt, text, 0, role="student"),
    ]
    for told, role in ((True, "informed_verdict"), (False, "informed")):
        params = StvBuilder(kind="stv", feedback_min_tokens=8, informed_verdict=told)
        (row,) = distill_rows(verdicts, [attempt], params, StageStats("distill"))
        assert row["id"] == f"p1/s0/{role}/0"
        teacher = row["ref_prompt"][-1]["content"]
        assert "Reference solution" in teacher
        assert ("final answer is wrong" in teacher) is told


def test_binned_attempts_and_accuracy_figures():
    problems = [
        Problem(id=f"p{i}", source="t", question="q?", reference_answer="1") for i in range(3)
    ]
    samples = [
        Trace(f"p{i}/s{j}", f"p{i}", "x", ["x"], "sampled", status=status)
        for i, statuses in enumerate(
            [
                ["incorrect"] * 5,  # 0.0 -> hardest
                ["correct"] + ["incorrect"] * 4,  # 0.2 -> hard
                ["correct"] * 3 + ["incorrect"] * 2,  # 0.6 -> no bin
            ]
        )
        for j, status in enumerate(statuses)
    ]
    stats = StageStats("verdicts")
    attempts = binned_attempts(samples, problems, parse_bins(StvBuilder(kind="stv").bins), stats)
    assert [(a.trace.id, a.bin, a.pass_rate, a.truth) for a in attempts[4:6]] == [
        ("p0/s4", "hardest", 0.0, False),
        ("p1/s0", "hard", 0.2, True),
    ]
    assert len(attempts) == 10 and stats.counts["problems in bin: none"] == 1

    def row(a, role, verdict):
        return {"attempt_id": a.trace.id, "role": role, "verdict": verdict, "truth": a.truth,
                "bin": a.bin}  # fmt: skip

    rows = [row(a, "informed_verdict", a.truth) for a in attempts]  # always right
    rows += [row(a, "informed", a.truth if a.bin == "hard" else True) for a in attempts]
    rows += [row(a, "student", None if a.bin == "hard" else True) for a in attempts]
    acc = accuracy_figures(rows, ["hardest", "hard"])
    assert acc["all"]["informed_verdict"]["accuracy"] == 1.0
    # the reference-only teacher says Correct to the 5 wrong hardest attempts
    assert acc["all"]["informed"] == {
        "n": 10,
        "correct": 5,
        "accuracy": 0.5,
        "parsed": 10,
        "attempts": 10,
    }
    assert acc["bin:hardest"]["uninformed"]["accuracy"] == 0.0  # says Correct to wrong ones
    assert acc["bin:hard"]["uninformed"]["parsed"] == 0  # no verdict = a miss
    # the headline gap is the reference's effect; the verdict's is reported beside it
    assert acc["all"]["gap"] == 0.5 and acc["all"]["gap_with_verdict"] == 1.0
    assert acc["bin:hardest"]["gap"] == 0.0 and acc["bin:hard"]["gap"] == 1.0


# -- the demo, built with the real engine ------------------------------------------------


@pytest.mark.slow
@pytest.mark.timeout(2400)
def test_stv_demo(stv_demo):
    demo = stv_demo
    stats = json.loads((demo / "stats.json").read_text())

    def load(config):
        if config in stats["empty_configs"]:
            return []
        return datasets.load_dataset(str(demo), config, split="train").to_list()

    samples = load("samples")
    problems = {p["id"]: p for p in load("problems")}
    recipe = load_recipe(REPO / "recipes" / "stv" / "demo.yaml")
    (builder,) = recipe.builders
    assert len(samples) == builder.n * len(problems)
    # bins and pass rates recomputed from the samples
    judged = defaultdict(list)
    for s in samples:
        if s["correct"] is not None:
            judged[s["problem_id"]].append(s["correct"])
    rate = {pid: sum(v) / len(v) for pid, v in judged.items()}
    bins = parse_bins(builder.bins)
    truth = {s["id"]: s["correct"] for s in samples}
    rl = load("verifier_rl")
    binned = [s for s in samples if bin_of(rate[s["problem_id"]], bins) is not None]
    assert len(rl) == len(binned) > 0
    distill, vil = load("distill"), load("vil")
    for r in rl + distill + vil:
        assert r["pass_rate"] == rate[r["problem_id"]]
        assert r["bin"] == bin_of(rate[r["problem_id"]], bins)
    for r in rl:
        assert r["truth"] == truth[r["id"]]
        assert "Reference" not in r["prompt"][-1]["content"]
    # every kept target's verdict equals the truth; none leaks the reference
    assert stats["stages"]["distill"]["out"] == len(distill)
    for r in distill:
        assert r["truth"] == truth[r["attempt_id"]]
        text = r["completion"][0]["content"]
        assert parse_verdict(text) is r["verdict"] is r["truth"]
        assert leak(text, r["attempt"], problems[r["problem_id"]]["reference_answer"]) is None
        student, teacher = r["prompt"][-1]["content"], r["ref_prompt"][-1]["content"]
        assert r["attempt"] in student and r["attempt"] in teacher
        reference = problems[r["problem_id"]]["reference_solution"]
        assert reference in teacher and reference not in student
    # every informed feedback was kept or dropped for a counted reason
    d = stats["stages"]["distill"]
    assert d["in"] == len(binned) * builder.samples_per_attempt
    assert d["out"] + sum(d["dropped"].values()) == d["in"]
    # vil: [system, problem, attempt, feedback] with the ground-truth answer
    for r in vil:
        assert [m["role"] for m in r["prompt"]] == ["system", "user", "assistant", "user"]
        assert r["answer"] == problems[r["problem_id"]]["reference_answer"]
        assert r["attempt_correct"] == truth[r["id"]]
        assert r["feedback_source"] == "verifier_engine:actor"
    # the card prints both accuracies, measured, with counts
    acc = stats["verifier_accuracy"]["all"]
    counts = stats["stages"]["verdicts"]["counts"]
    roles = ("informed", "informed_verdict", "uninformed")
    for role, key in zip(roles, ("informed", "informed_verdict", "student"), strict=True):
        assert acc[role]["n"] == len(binned) * builder.samples_per_attempt
        assert acc[role]["correct"] == counts.get(f"{key}: verdict matches the truth", 0)
    card = (demo / "README.md").read_text()
    assert "### Verifier asymmetry" in card
    i, u = acc["informed"], acc["uninformed"]
    assert f"| all | {i['attempts']} | {i['accuracy']} ({i['correct']}/{i['n']}," in card
    assert f"| {u['accuracy']} ({u['correct']}/{u['n']}," in card


# -- the stages' arithmetic, the model scripted --------------------------------------------


def _gsm_source(shared_data: Path, tmp_path: Path, count: int) -> tuple[Path, dict[str, str]]:
    """The first ``count`` GSM8K test problems as a file source; question -> answer."""
    from conftest import read_jsonl, write_jsonl

    rows = read_jsonl(shared_data / "gsm8k" / "test.jsonl")[:count]
    path = write_jsonl(tmp_path / "source.jsonl", rows)
    return path, {r["question"]: r["answer"].split("####")[-1].strip() for r in rows}


def _question_of(request, answers: dict[str, str]) -> str:
    text = " ".join(m["content"] for m in request.messages)
    return next(q for q in answers if q in text)


@pytest.mark.shared_data
@pytest.mark.parametrize("window", [4096, 1])
@pytest.mark.parametrize("source", ["verifier_engine", "informed_teacher"])
def test_stv_stages_on_a_scripted_model(shared_data, tmp_path, fake_engine, source, window):
    """Two real GSM8K problems, the model scripted so every figure is exact: problem 1 is
    solved by 1 rollout of 8 (bin hard), problem 2 never (hardest). The teacher told the
    verdict repeats it; the reference-only teacher and the student say Correct to all.
    The headline gap is then 0 (the reference did not help) while the gap with the stated
    verdict is 15/16: the number the old card reported as the gap. The same figures
    when every stage joins its inputs one problem at a time (``window: 1``)."""
    from supdata.build import build
    from supdata.export import export_dir

    path, answers = _gsm_source(shared_data, tmp_path, 2)
    first = next(iter(answers))

    def respond(request, k):
        if "/verify-informed_verdict" in request.id:
            told_right = "solution's final answer is right." in request.messages[-1]["content"]
            return f"Checked each step.\nVerdict: {'Correct' if told_right else 'Wrong'}"
        if "/verify-" in request.id:
            return "Checked each step.\nVerdict: Correct"
        question = _question_of(request, answers)
        answer = int(answers[question]) + (0 if question == first and k == 0 else 1)
        return f"Step 1: work it out.\nThe answer is \\boxed{{{answer}}}."

    backend = fake_engine(respond)
    vil = "" if source == "verifier_engine" else "    vil: {feedback: informed_teacher}\n"
    recipe_path = tmp_path / "recipe.yaml"
    recipe_path.write_text(
        f"name: scripted\nsource: {{kind: file, path: {path}, normalizer: gsm8k}}\n"
        f"runner: {{window: {window}}}\n"
        "engines:\n  actor: {kind: vllm}\nbuilders:\n  - kind: stv\n    n: 8\n"
        "    samples_per_attempt: 1\n    feedback_min_tokens: 1\n" + vil
    )
    stats = build(load_recipe(recipe_path), tmp_path / "out", cache_path=tmp_path / "c.sqlite")
    acc = stats["verifier_accuracy"]["all"]
    assert acc["uninformed"]["correct"] == acc["informed"]["correct"] == 1
    assert acc["informed_verdict"]["correct"] == acc["informed_verdict"]["n"] == 16
    assert acc["gap"] == 0.0 and acc["gap_with_verdict"] == 0.9375
    assert stats["verifier_accuracy"]["bin:hard"]["informed"]["accuracy"] == 0.125

    out = tmp_path / "out"
    distill = read_config(out, "distill").to_list()
    assert len(distill) == 16 and all(r["verdict"] == r["truth"] for r in distill)
    assert all("solution's final answer is" in r["ref_prompt"][-1]["content"] for r in distill)
    rows = read_config(out, "vil").to_list()
    assert len(rows) == 16
    if source == "verifier_engine":
        # the verifier's feedback as it is: Correct also on the 15 wrong attempts
        assert {r["feedback_source"] for r in rows} == {"verifier_engine:actor"}
        assert sum(r["feedback_verdict"] for r in rows) == 16
        asked = [r.id for r in backend.requests if r.id.endswith("/verify-student")]
        assert len(asked) == 16, "the vil stage's requests came from the request cache"
    else:
        assert {r["feedback_source"] for r in rows} == {"informed_teacher"}
        assert all(r["feedback_verdict"] == r["attempt_correct"] for r in rows)
    card = (out / "README.md").read_text()
    assert f"feedback by {rows[0]['feedback_source']} (16 rows)" in card
    assert "| all | 16 | 0.0625 (1/16, 16 with a verdict) | 1.0 (16/16," in card

    # the oracle-solution files STV consumes, one per bin
    done = export_dir(out, "verifier_rl", "stv-oracle", tmp_path / "oracle")
    files = {p.name: [json.loads(x) for x in p.read_text().splitlines()] for p in done.written}
    assert sorted(files) == ["train_problems_hard.jsonl", "train_problems_hardest.jsonl"]
    (hard,) = files["train_problems_hard.jsonl"]
    assert hard["problem"] == first and hard["answer"] == answers[first]
    assert hard["pass_rate"] == 0.125 and "<<" not in hard["solution"]
    assert hard["solution"] and hard["bin"] == "hard"
