"""Data hygiene: decontamination against benchmarks, deduplication, the card, the audit CLI.

The acceptance checks run on the real data in ../shared/data: MATH-500 and GSM8K-test
problems planted in a source (verbatim and rewritten) never reach an engine, and 2,000
MATH train problems checked against MATH-500 give a near-zero rate of hits, each a
real overlap.
"""

from __future__ import annotations

import json
import random
import re
import textwrap

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from supdata.hygiene import (
    Benchmark,
    BenchmarkError,
    Deduplicator,
    NgramIndex,
    ProblemDedup,
    normalize,
)
from supdata.hygiene.normalize import words
from supdata.recipe import RecipeError, load_recipe

from conftest import FakeBackend, read_jsonl, write_jsonl


def _bench(path, field):
    return {"file": str(path), "field": field}


# --- normalization -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("a", "b"),
    [
        (r"Find $\frac{1}{2} + x^2$.", r"find  $\frac {1} {2}+x ^ 2$"),
        ("Let $f(x)=x^{2}$, find $f(3)$.", "LET $f( x ) = x^2$,\nfind\t$f(3)$"),
        (r"What is $\dfrac{3}{4}$?", r"What is \(\frac{3}{4}\)?"),
        (r"Solve $\left(x+1\right)\cdot 2 = 6$.", r"Solve $(x + 1) \cdot 2=6$"),
        (r"Is $x \le 5\,$cm?", r"is $x\leq 5$ cm"),
        ("She paid $1,000 for it.", "She paid $1000 for it"),
    ],
)
def test_normalization_ignores_case_whitespace_and_latex_spacing(a, b):
    assert normalize(a) == normalize(b)


@pytest.mark.parametrize(
    ("a", "b"),
    [(r"$x^2+1$", r"$x^2-1$"), ("Compute 3.5 times 2.", "Compute 35 times 2."), ("2/3", "3/2")],
)
def test_normalization_keeps_what_changes_the_problem(a, b):
    assert normalize(a) != normalize(b)


# --- the n-gram index ----------------------------------------------------------------

LONG = (
    "A bakery sells muffins for 3 dollars each and cookies for 2 dollars each. "
    "On Monday it sold 40 muffins and 25 cookies. How much money did it make?"
)


def test_ngram_index_reports_the_matching_ngram_and_item():
    index = NgramIndex(ngram=13)
    index.add("bench", [("b-1", LONG), ("b-2", "An unrelated problem about triangles.")])
    embedded = "Here is a warm-up. " + LONG.replace("How much", "Tell me how much")
    (match,) = index.check(embedded)
    assert (match.benchmark, match.item_id, match.kind) == ("bench", "b-1", "ngram")
    assert len(match.ngram.split()) == 13 and match.ngram in " ".join(words(LONG))
    assert index.check(LONG.upper())[0].kind == "exact"
    assert index.check("A bakery sells bread. How much money did it make on Monday?") == []


def test_threshold_counts_or_shares_ngrams():
    text = LONG + " Then it sold many other things that are not in the benchmark at all today."
    strict = NgramIndex(ngram=13, threshold=30)
    strict.add("bench", [("b-1", LONG)])
    assert strict.check(text) == []  # LONG has fewer than 30 13-grams
    share = NgramIndex(ngram=13, threshold=0.5)
    share.add("bench", [("b-1", LONG)])
    assert share.check(text)[0].hits >= 0.5 * (len(words(text)) - 12)
    padding = " ".join(f"filler{i}" for i in range(60))  # distinct n-grams dilute the share
    assert share.check(LONG + " " + padding) == []


def test_short_benchmark_items_match_whole_or_exactly():
    index = NgramIndex(ngram=13, min_words=8)
    short = "What is the sum of the first ten positive integers?"  # 10 words
    tiny = r"Compute $\dbinom{8}{4}$."  # 4 words: exact only
    index.add("bench", [("s", short), ("t", tiny)])
    (hit,) = index.check("Quick one. " + short + " Show your work.")
    assert (hit.kind, hit.item_id) == ("contained", "s")
    assert index.check(r"compute \binom {8}{4}")[0].kind == "exact"
    assert index.check(r"Compute $\binom{8}{4}$ and then add 3 to the result.") == []
    assert index.check("What is the sum of the first ten positive odd integers?") == []


# --- planted benchmark problems: removed before any generation ----------------------


def _rewrite(text: str) -> str:
    """Case, whitespace and LaTeX-spacing changes that leave the problem as it was."""
    text = re.sub(r"\\frac\{([^{}]*)\}\{([^{}]*)\}", r"\\frac {\1} {\2}", text)
    text = text.replace("^", " ^ ").replace("=", " = ").replace(",", " ,")
    text = "\n  ".join(text.split(" "))
    return text.upper() if len(text) % 2 else text.swapcase()


@pytest.mark.shared_data
def test_planted_benchmark_problems_are_removed_before_generation(
    shared_data, tmp_path, monkeypatch, fake_engine
):
    math500 = read_jsonl(shared_data / "math500" / "test.jsonl")
    gsm_test = read_jsonl(shared_data / "gsm8k" / "test.jsonl")
    train = read_jsonl(shared_data / "math_full" / "hendrycks_train.jsonl")
    rows = [{"problem": r["problem"], "solution": r["solution"]} for r in train[:30]]
    planted: dict[str, tuple[str, str]] = {}  # text -> (benchmark, item id)
    for j, r in enumerate(math500[100:116]):
        text = r["problem"] if j % 2 else _rewrite(r["problem"])
        planted[text] = ("math500", r["unique_id"])
        rows.append({"problem": text, "solution": r["solution"]})
    for j, r in enumerate(gsm_test[200:216]):
        text = r["question"] if j % 2 else _rewrite(r["question"])
        if j % 4 == 0:  # restated inside a longer text: caught by the n-grams
            text = "Read carefully and answer. " + text
        planted[text] = ("gsm8k_test", str(200 + j))
        answer = r["answer"].split("####")[-1].strip()
        rows.append({"problem": text, "solution": f"So it is $\\boxed{{{answer}}}$."})
    rows.append(dict(rows[0]))  # one exact duplicate of a kept problem
    random.Random(0).shuffle(rows)  # planted items anywhere in the file
    write_jsonl(tmp_path / "source.jsonl", rows)
    recipe_path = tmp_path / "recipe.yaml"
    recipe_path.write_text(
        textwrap.dedent(
            f"""\
            name: planted
            source: {{kind: file, path: {tmp_path / "source.jsonl"}, normalizer: math}}
            decontaminate:
              against:
                - {{name: math500, file: {shared_data / "math500" / "test.jsonl"}}}
                - {{name: gsm8k_test, file: {shared_data / "gsm8k" / "test.jsonl"}}}
            dedup: {{}}
            engines:
              actor: {{kind: vllm}}
            builders:
              - {{kind: sample, n: 3, max_tokens: 64}}
            verification: {{workers: 1}}
            """
        )
    )
    recipe = load_recipe(recipe_path)
    # samples 1 and 2 of every problem are the same text: solution dedup drops one
    backend = fake_engine(lambda request, k: f"Step 1: think.\nThe answer is {min(k, 1)}.")
    from supdata.build import build

    out = tmp_path / "out"
    stats = build(recipe, out, use_cache=False)

    prompts = " ".join(m["content"] for req in backend.requests for m in req.messages)
    reached = [t for t in planted if t.strip() in prompts]
    assert not reached, "a planted problem reached the model"
    assert len(backend.requests) == 30, "every MATH train problem was kept and sampled"
    source = stats["stages"]["source"]
    assert source["dropped"] == {
        "contaminated: gsm8k_test": 16,
        "contaminated: math500": 16,
        "duplicate problem": 1,
    }
    decon = stats["hygiene"]["decontamination"]
    assert decon["removed"] == {"math500": 16, "gsm8k_test": 16}
    matches = decon["stages"]["source"]["matches"]
    named = {(b, m["benchmark_id"]) for b, ms in matches.items() for m in ms}
    assert named == set(planted.values()), "the report names every planted item"
    assert {m["kind"] for ms in matches.values() for m in ms} == {"exact", "ngram"}
    assert all(m["ngram"] for ms in matches.values() for m in ms)
    assert [b["items"] for b in decon["benchmarks"]] == [500, 1319]

    assert stats["stages"]["samples"]["dropped"] == {"duplicate solution": 30}
    assert stats["hygiene"]["dedup"]["solutions"]["samples"]["exact"] == 30
    on_disk = json.loads((out / "stats.json").read_text())
    assert on_disk["hygiene"]["decontamination"]["removed"] == decon["removed"]
    card = (out / "README.md").read_text()
    assert "## Contamination" in card and "## Duplicates" in card
    assert "| `math500` | file " in card and "| 500 | 16 |" in card
    assert "| `gsm8k_test` | file " in card and "| 1319 | 16 |" in card
    assert "1 exact duplicates" in card and "`samples` 30 exact, 0 near" in card


# --- false positives: MATH train against MATH-500 ------------------------------------


@pytest.mark.shared_data
def test_false_positive_rate_on_math_train_is_near_zero(shared_data):
    math500 = read_jsonl(shared_data / "math500" / "test.jsonl")
    train = read_jsonl(shared_data / "math_full" / "hendrycks_train.jsonl")[:2000]
    index = NgramIndex()  # the defaults: 13-grams, one shared n-gram is enough
    index.add("math500", [(r["unique_id"], r["problem"]) for r in math500])
    by_id = {r["unique_id"]: r["problem"] for r in math500}
    hits = [(r, ms[0]) for r in train if (ms := index.check(r["problem"]))]
    rate = len(hits) / len(train)
    print(f"\nMATH train vs MATH-500: {len(hits)} of {len(train)} flagged ({rate:.2%})")
    for r, m in hits:
        print(f"  {m.kind} x{m.hits} {m.item_id}: {m.ngram!r}")
        # a real overlap: the matching words are in both problems, in order
        assert m.ngram in " ".join(words(r["problem"])), m
        assert m.ngram in " ".join(words(by_id[m.item_id])), m
    assert rate < 0.02


# --- near-duplicates: number-substituted copies -------------------------------------


def _gsm_symbolic(size: int, seed: int):
    import reasoning_gym

    dataset = reasoning_gym.create_dataset("gsm_symbolic", size=size, seed=seed)
    return [(dataset.task_indices[i], x["question"]) for i, x in enumerate(dataset)]


def _one_per_template(items):
    seen, out = set(), []
    for template, question in items:
        if template not in seen:
            seen.add(template)
            out.append(question)
    return out


def _swap_numbers(text: str, rng: random.Random) -> str:
    return re.sub(r"\d+", lambda m: str(int(m.group()) + rng.randint(1, 9)), text)


def test_near_dedup_catches_number_substituted_copies():
    distinct = _one_per_template(_gsm_symbolic(300, seed=3))
    assert len(distinct) >= 60
    rng = random.Random(0)
    copies = [_swap_numbers(q, rng) for q in distinct[:40]]
    assert all(c != q for c, q in zip(copies, distinct, strict=False))
    dedup = ProblemDedup().make()  # the defaults: near at 0.8, numbers masked
    for i, q in enumerate(distinct):
        assert dedup.check(f"orig-{i}", q) is None, "a distinct problem was dropped"
    found = [dedup.check(f"copy-{i}", c) for i, c in enumerate(copies)]
    assert all(d is not None and d.kind == "near" for d in found)
    assert [d.of for d in found] == [f"orig-{i}" for i in range(40)]


def test_near_dedup_keeps_distinct_problems_and_respects_the_threshold():
    distinct = _one_per_template(_gsm_symbolic(300, seed=5))
    dedup = Deduplicator(threshold=0.8)
    assert all(dedup.check(str(i), q) is None for i, q in enumerate(distinct))
    # numbers kept: a copy with other numbers is a different problem (arithmetic drills)
    keep = Deduplicator(numbers="keep", threshold=0.9)
    rng = random.Random(1)
    for i, q in enumerate(distinct[:30]):
        assert keep.check(f"o{i}", q) is None
        assert keep.check(f"c{i}", _swap_numbers(q, rng)) is None
        assert keep.check(f"x{i}", q.upper()).kind == "exact"


def test_solution_dedup_compares_within_a_problem_only():
    from supdata.core.records import Trace
    from supdata.core.stats import StageStats
    from supdata.hygiene.config import SolutionDedup
    from supdata.hygiene.screen import DuplicateReport, dedup_solutions

    text = "Step 1: 12 + 30 = 42.\nStep 2: 42 / 2 = 21.\nThe answer is 21."

    def trace(id_: str, problem: str, body: str) -> Trace:
        return Trace(id=id_, problem_id=problem, text=body, steps=[body], origin="sampled")

    traces = [
        trace("p1/0", "p1", text),
        trace("p1/1", "p1", text.replace("Step 1:", "STEP  1 :")),  # same after normalizing
        trace("p1/2", "p1", text.replace("21", "20")),  # another answer: kept
        trace("p2/0", "p2", text),  # another problem: kept
    ]
    stats = StageStats("samples", n_out=len(traces))
    duplicates = DuplicateReport(SolutionDedup())
    kept = dedup_solutions(traces, duplicates, stats)
    report = duplicates.to_dict()
    assert [t.id for t in kept] == ["p1/0", "p1/2", "p2/0"]
    assert stats.n_out == 3
    assert dict(stats.dropped) == {"duplicate solution": 1}
    assert (report["exact"], report["near"]) == (1, 0)
    assert report["examples"][0] == {"id": "p1/1", "of": "p1/0", "kind": "exact", "sim": 1.0}


# --- recipe validation: before any work, with the field path --------------------------

BASE = "name: x\nsource: {kind: reasoning_gym, name: gsm_symbolic, size: 4}\n"


@pytest.fixture
def bench_file(tmp_path):
    return write_jsonl(tmp_path / "bench.jsonl", [{"problem": "What is 2 + 2?", "uid": "a"}])


@pytest.mark.parametrize(
    ("section", "expected"),
    [
        (
            "decontaminate:\n  against: [math500, gsm9k_test]\n",
            r"recipe\.yaml:4: decontaminate\.against\[1\]: Value error, unknown benchmark "
            r"'gsm9k_test'; known: \['aime24', .*'math500'",
        ),
        (
            "decontaminate:\n  against:\n    - {file: missing.jsonl, field: problem}\n",
            r"recipe\.yaml:5: decontaminate\.against\[0\]: Value error, benchmark file "
            r"'missing\.jsonl' does not exist",
        ),
        (
            "decontaminate:\n  against:\n    - {file: BENCH, field: question}\n",
            r"recipe\.yaml:5: decontaminate\.against\[0\]: Value error, benchmark '[^']*bench': "
            r".*bench\.jsonl has no column 'question' \(columns: \['problem', 'uid'\]\)",
        ),
        (
            "decontaminate:\n  against:\n    - {file: BENCH}\n",
            r"decontaminate\.against\[0\]: Value error, benchmark '[^']*bench': field: is required",
        ),
        (
            "decontaminate:\n  against: [math500]\n  ngram: 2\n",
            r"recipe\.yaml:5: decontaminate\.ngram: Input should be greater than or equal to 3",
        ),
        (
            "decontaminate:\n  against: [math500]\n  threshold: 1.5\n",
            r"decontaminate: Value error, threshold >= 1 is a count of n-grams; got 1\.5",
        ),
        (
            "decontaminate:\n  against: [math500, math500]\n",
            r"decontaminate: Value error, benchmarks listed twice: \['math500'\]",
        ),
        ("decontaminate:\n  against: []\n", r"decontaminate\.against: List should have at least 1"),
        (
            "decontaminate:\n  against: [math500]\n  ngrams: 13\n",
            r"recipe\.yaml:5: decontaminate\.ngrams: Extra inputs are not permitted",
        ),
        (
            "dedup:\n  problems: {threshold: 1.2}\n",
            r"recipe\.yaml:4: dedup\.problems\.threshold: Input should be less than or equal to 1",
        ),
        (
            "dedup:\n  solutions: {numbers: round}\n",
            r"recipe\.yaml:4: dedup\.solutions\.numbers: Input should be 'mask' or 'keep'",
        ),
    ],
)
def test_bad_hygiene_sections_name_the_field(tmp_path, bench_file, section, expected):
    path = tmp_path / "recipe.yaml"
    path.write_text(BASE + section.replace("BENCH", str(bench_file)))
    with pytest.raises(RecipeError, match=expected):
        load_recipe(path)


def test_hub_benchmarks_validate_offline_and_fail_clearly_at_build_time(monkeypatch):
    import datasets

    from supdata.assets import asset_dir

    recipe = load_recipe(asset_dir("recipes") / "steperror" / "math-hard.yaml")
    names = [b.label for b in recipe.decontaminate.against]
    assert {"math500", "math_test", "gsm8k_test", "aime24", "aime25", "amc23"} <= set(names)

    def offline(*args, **kwargs):
        raise ConnectionError("Couldn't reach 'HuggingFaceH4/MATH-500' on the Hub")

    monkeypatch.setattr(datasets, "load_dataset", offline)
    with pytest.raises(
        BenchmarkError,
        match=r"benchmark 'math500': cannot load "
        r"HuggingFaceH4/MATH-500 \(split test\) from the Hub: .*file: PATH",
    ):
        Benchmark(name="math500").items()


def test_a_local_file_wins_over_the_hub(monkeypatch, bench_file):
    import datasets

    monkeypatch.setattr(datasets, "load_dataset", lambda *a, **k: pytest.fail("went to the Hub"))
    bench = Benchmark(name="math500", file=str(bench_file), id_field="uid")
    assert bench.items() == [("a", "What is 2 + 2?")]
    assert bench.describe() == f"file {bench_file} (field problem)"


# --- generated restatements: subproblems and rephrasings ------------------------------

GSM_JANET = (
    "Janet's ducks lay 16 eggs per day. She eats three for breakfast every morning and bakes "
    "muffins for her friends every day with four. She sells the remainder at the farmers' "
    "market daily for $2 per fresh duck egg. How much in dollars does she make every day at "
    "the farmers' market?"
)


def _decon(tmp_path):
    from supdata.hygiene import Decontaminate
    from supdata.hygiene.screen import Decontaminator

    path = write_jsonl(tmp_path / "gsm_test.jsonl", [{"question": GSM_JANET, "answer": "18"}])
    return Decontaminator(
        Decontaminate(against=[{"name": "gsm", "file": str(path), "field": "question"}])
    )


def test_contaminated_subproblems_are_rejected_before_the_reproduce_samples(tmp_path):
    from supdata.builders.steperror.decompose import decompose_problems
    from supdata.builders.steperror.params import Decompose
    from supdata.core.records import Problem
    from supdata.core.stats import StageStats
    from supdata.engines import Engine
    from supdata.verify import VerifyConfig

    parent = Problem(
        id="p",
        question="A farm has 16 eggs, uses 7, then sells the rest at $2 each and adds 4. Total?",
        reference_solution="16 - 7 = 9 eggs. 9 * 2 = 18 dollars. 18 + 4 = 22.",
        reference_answer="22",
    )
    subs = [
        {
            "question": "How many eggs are left if a farm has 16 eggs and uses 7?",
            "solution": "The farm starts with 16 eggs.\nIt uses 7: 16 - 7 = 9",
            "answer": "9",
        },
        {"question": GSM_JANET, "solution": "9 eggs are left.\n9 * 2 = 18", "answer": "18"},
    ]

    def respond(request, k):
        if "/sub-" in request.id:
            return "So the answer is \\boxed{9}."
        return json.dumps({"subproblems": subs})

    backend = FakeBackend(respond)
    report = _decon(tmp_path).report()
    stats = StageStats("subtasks")
    kept = decompose_problems(
        [parent],
        Decompose(reproduce_samples=2),
        Engine(backend),
        solve_prompt="solve@1",
        verify=VerifyConfig(workers=0),
        seed=0,
        stats=stats,
        screen=report.check,
    )
    assert [p.question for p in kept] == [subs[0]["question"]], stats.counts
    assert stats.counts["subproblem rejected: contaminated: gsm"] == 1, stats.counts
    reproduce = [r for r in backend.requests if "/sub-" in r.id]
    assert [r.id for r in reproduce] == ["p/sub-1"], "no samples spent on the contaminated one"
    assert report.to_dict()["removed"] == {"gsm": 1}
    assert report.to_dict()["matches"]["gsm"][0]["id"] == "p/sub-2"


def test_a_rephrasing_that_lands_on_a_benchmark_problem_is_dropped(tmp_path):
    from supdata.builders.steperror.params import Rephrase
    from supdata.builders.steperror.rephrase import rephrase_pairs
    from supdata.core.stats import StageStats
    from supdata.engines import Engine
    from supdata.verify import VerifyConfig

    pair = {
        "id": "p",
        "problem_id": "p",
        "prompt": GSM_JANET.replace("Janet's ducks lay", "Every day the ducks of Janet lay"),
        "chosen": "16 - 3 - 4 = 9. 9 * 2 = 18. The answer is 18.",
        "rejected": "16 - 3 = 13. 13 * 2 = 26. The answer is 26.",
        "chosen_origin": "sampled",
        "chosen_trace_id": "p/0",
        "rejected_trace_id": "p/1",
        "reference_answer": "18",
    }

    def respond(request, k):
        if request.id.endswith("/question"):
            return GSM_JANET  # the paraphrase is the benchmark problem itself
        return pair["chosen"] if request.id.endswith("/chosen") else pair["rejected"] + " "

    report = _decon(tmp_path).report()
    stats = StageStats("rephrased")
    rows = rephrase_pairs(
        [pair],
        Rephrase(),
        Engine(FakeBackend(respond)),
        verify=VerifyConfig(workers=0),
        seed=0,
        stats=stats,
        screen=report.check,
    )
    assert rows == []
    assert dict(stats.dropped) == {"question: contaminated: gsm": 1}


# --- check-contamination on a built folder --------------------------------------------


@pytest.mark.shared_data
def test_check_contamination_audits_a_built_folder(shared_data, tmp_path, capsys):
    from supdata.cli import main

    math500 = read_jsonl(shared_data / "math500" / "test.jsonl")
    train = read_jsonl(shared_data / "math_full" / "hendrycks_train.jsonl")
    folder = tmp_path / "ds"
    problems = [r["problem"] for r in train[:20]] + [math500[7]["problem"]]
    (folder / "problems").mkdir(parents=True)
    pq.write_table(
        pa.table({"id": [f"q{i}" for i in range(21)], "question": problems}),
        folder / "problems" / "train-00000-of-00001.parquet",
    )
    messages = [
        [
            {"role": "user", "content": _rewrite(math500[3]["problem"])},
            {"role": "assistant", "content": "ok"},
        ],
        [{"role": "user", "content": train[40]["problem"]}],
    ]
    (folder / "critic_sft").mkdir()
    pq.write_table(
        pa.table({"id": ["s0", "s1"], "prompt": messages}),
        folder / "critic_sft" / "train-00000-of-00001.parquet",
    )
    (folder / "references").mkdir()
    pq.write_table(
        pa.table({"id": ["r0"], "text": ["no question column here"]}),
        folder / "references" / "train-00000-of-00001.parquet",
    )
    bench = f"math500={shared_data / 'math500' / 'test.jsonl'}"
    report_path = tmp_path / "report.json"
    rc = main(["check-contamination", str(folder), "--against", bench, "--json", str(report_path)])
    assert rc == 1
    shown = capsys.readouterr().out
    assert "math500" in shown and math500[7]["unique_id"] in shown
    report = json.loads(report_path.read_text())
    configs = report["configs"]
    assert configs["problems"]["rows"] == 21
    assert configs["problems"]["contaminated"] == {"math500": 1}
    assert configs["problems"]["matches"]["math500"][0]["id"] == "q20"
    assert configs["critic_sft"]["contaminated"] == {"math500": 1}
    assert configs["critic_sft"]["matches"]["math500"][0]["benchmark_id"] == math500[3]["unique_id"]
    assert configs["references"]["rows"] == 0
    assert report["contaminated_rows"] == 2
    rc = main(["check-contamination", str(folder), "--against", bench, "--configs", "references"])
    assert rc == 0
    assert main(["check-contamination", str(folder)]) == 2  # nothing to check against
    assert main(["check-contamination", str(folder), "--against", "gsm9k"]) == 2
