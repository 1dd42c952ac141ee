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

from conftest import read_jsonl, write_jsonl
from supdata.engines import Completion
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


class FakeBackend:
    """Stands in for a model: records every request, answers from ``respond``."""

    kind = "fake"
    fingerprint = "fake-model"

    def __init__(self, respond):
        self.respond = respond
        self.requests = []

    def stream(self, requests):
        for i, request in enumerate(requests):
            self.requests.append(request)
            texts = [self.respond(request, k) for k in range(request.sampling.n)]
            n = len(texts)
            yield i, Completion(request.id, texts, ["stop"] * n, 10, [5] * n, [False] * n)

    def close(self):
        pass


@pytest.fixture
def fake_engine(monkeypatch):
    """Every engine a build starts is a FakeBackend (one shared instance)."""
    from supdata import engines

    holder = {}

    def install(respond):
        backend = FakeBackend(respond)
        holder["backend"] = backend
        monkeypatch.setitem(engines.BACKENDS, "vllm", lambda config: backend)
        return backend

    return install


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


