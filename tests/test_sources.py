from __future__ import annotations

import json

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from supdata.core.stats import StageStats
from supdata.sources import FileSource, HfSource, ReasoningGymSource, load_problems

from conftest import read_jsonl, write_jsonl

ROWS = [
    {"question": "What is 2+2?", "answer": "4", "solution": "2+2=4", "level": 1},
    {"question": "What is 3*3?", "answer": "9", "solution": "3*3=9", "level": 2},
    {"question": "No answer here?", "solution": "nothing"},
    {"question": "What is 10/2?", "answer": "5", "solution": "10/2=5", "level": 3},
]


def _load(source):
    stats = StageStats("source")
    return list(load_problems(source, stats)), stats


@pytest.mark.parametrize("fmt", ["jsonl", "json", "parquet"])
def test_file_source_reads_each_format_and_counts_rows_without_answer(tmp_path, fmt):
    path = tmp_path / f"rows.{fmt}"
    if fmt == "jsonl":
        write_jsonl(path, ROWS)
    elif fmt == "json":
        path.write_text(json.dumps(ROWS))
    else:
        pq.write_table(pa.Table.from_pylist(ROWS), path)
    problems, stats = _load(FileSource(kind="file", path=str(path)))
    assert [p.reference_answer for p in problems] == ["4", "9", "5"]
    assert [p.level for p in problems] == [1, 2, 3]
    assert stats.n_in == 4 and stats.n_out == 3
    assert stats.dropped == {"no reference answer": 1}


def test_field_mapping_renames_columns(tmp_path):
    path = write_jsonl(tmp_path / "odd.jsonl", [{"q": "What is 1+1?", "gold": "2", "uid": "a"}])
    source = FileSource(
        kind="file",
        path=str(path),
        fields={"question": "q", "reference_answer": "gold", "id": "uid"},
    )
    (problem,), _ = _load(source)
    assert (problem.id, problem.question, problem.reference_answer) == ("a", "What is 1+1?", "2")


def test_filters_shuffle_and_limit(tmp_path):
    rows = [
        {"question": f"q{i}?", "answer": str(i), "solution": "x " * i, "level": i % 5 + 1}
        for i in range(40)
    ]
    path = write_jsonl(tmp_path / "rows.jsonl", rows)
    base = {"kind": "file", "path": str(path)}
    by_level, stats = _load(FileSource(**base, filters={"min_level": 4}))
    assert {p.level for p in by_level} == {4, 5} and stats.dropped == {"level below min_level": 24}
    short, stats = _load(FileSource(**base, filters={"max_solution_tokens": 9}))
    assert len(short) == 10 and stats.dropped == {"reference solution too long": 30}
    a, _ = _load(FileSource(**base, shuffle_seed=7, limit=5))
    b, _ = _load(FileSource(**base, shuffle_seed=7, limit=5))
    c, _ = _load(FileSource(**base, shuffle_seed=8, limit=5))
    assert [p.id for p in a] == [p.id for p in b] != [p.id for p in c]
    assert len(a) == 5


def test_bad_json_line_names_file_and_line(tmp_path):
    path = tmp_path / "bad.jsonl"
    path.write_text('{"question": "a?", "answer": "1"}\n{oops\n')
    with pytest.raises(ValueError, match=r"bad\.jsonl:2: not valid JSON"):
        _load(FileSource(kind="file", path=str(path), strict=True))
    problems, stats = _load(FileSource(kind="file", path=str(path)))  # default: counted
    assert len(problems) == 1 and stats.dropped == {"bad row: not valid JSON": 1}


def test_reasoning_gym_gsm_symbolic_carries_step_by_step_solutions():
    problems, stats = _load(
        ReasoningGymSource(kind="reasoning_gym", name="gsm_symbolic", size=20, seed=3)
    )
    assert len(problems) == 20 and stats.dropped == {}
    for p in problems:
        assert p.reference_solution.count("\n") >= 1
        assert p.reference_solution.rstrip().endswith(p.reference_answer)
        assert "answer_cot" not in p.meta
    again, _ = _load(ReasoningGymSource(kind="reasoning_gym", name="gsm_symbolic", size=20, seed=3))
    assert [p.question for p in again] == [p.question for p in problems]


def test_hf_source_reads_local_files_and_folders(tmp_path):
    folder = tmp_path / "ds"
    folder.mkdir()
    write_jsonl(folder / "train.jsonl", ROWS)
    by_builder, stats = _load(
        HfSource(kind="hf", path="json", data_files=str(folder / "train.jsonl"))
    )
    assert len(by_builder) == 3 and stats.dropped == {"no reference answer": 1}
    by_folder, _ = _load(HfSource(kind="hf", path=str(folder), split="train"))
    assert [p.question for p in by_folder] == [p.question for p in by_builder]


@pytest.mark.shared_data
def test_gsm8k_normalizer(shared_data):
    problems, stats = _load(
        FileSource(kind="file", path=str(shared_data / "gsm8k" / "test.jsonl"), normalizer="gsm8k")
    )
    assert len(problems) == 1319 and stats.dropped == {}
    first = problems[0]
    assert first.reference_answer == "18"
    assert "<<" not in first.reference_solution and "#### 18" in first.reference_solution
    assert all("," not in p.reference_answer for p in problems)


@pytest.mark.shared_data
def test_math_normalizers(shared_data):
    m500, _ = _load(
        FileSource(kind="file", path=str(shared_data / "math500" / "test.jsonl"), normalizer="math")
    )
    assert len(m500) == 500
    assert m500[0].id == "test/precalculus/807.json" and m500[0].subject == "Precalculus"
    assert m500[0].level == 2
    train, _stats = _load(
        FileSource(
            kind="file",
            path=str(shared_data / "math_full" / "hendrycks_train.jsonl"),
            normalizer="math",
            filters={"levels": [5]},
            limit=50,
        )
    )
    assert {p.level for p in train} == {5} and len(train) == 50
    assert all(p.reference_answer for p in train)  # taken from the last \boxed{}


@pytest.mark.shared_data
def test_processbench_normalizer_keeps_steps_and_labels(shared_data):
    problems, stats = _load(
        FileSource(
            kind="file",
            path=str(shared_data / "processbench" / "math.json"),
            normalizer="processbench",
        )
    )
    raw = json.loads((shared_data / "processbench" / "math.json").read_text())
    assert len(problems) == 1000 and stats.dropped == {}
    for p, r in zip(problems, raw, strict=True):
        (trace,) = p.solutions
        assert [s.strip() for s in trace.steps] == [s.strip() for s in r["steps"]]
        assert trace.annotation.first_error_step == r["label"]
        assert trace.correct == r["final_answer_correct"]


def test_numina_normalizer(tmp_path):
    row = {"problem": "Find x if 2x=6.", "solution": "Divide: x = \\boxed{3}.", "source": "amc"}
    path = write_jsonl(tmp_path / "numina.jsonl", [row])
    (p,), _ = _load(FileSource(kind="file", path=str(path), normalizer="numina"))
    assert (p.reference_answer, p.subject) == ("3", "amc")


def test_skipped_rows_carry_reasons(tmp_path):
    rows = [{"question": "a?", "answer": "no hashes"}, {"question": 5, "answer": "#### 1"}]
    path = write_jsonl(tmp_path / "g.jsonl", rows)
    problems, stats = _load(FileSource(kind="file", path=str(path), normalizer="gsm8k"))
    assert problems == []
    assert stats.dropped == {"answer has no '####' final answer": 1, "question is int, not text": 1}
    assert stats.examples["answer has no '####' final answer"] == f"{path}:1"
    assert read_jsonl(path)  # the source file is untouched


def test_arithmetic_chains_get_a_computed_reference():
    from supdata.sources.normalize import chain_steps
    from supdata.verify import VerifyConfig, verify_many

    solution = chain_steps("4 - 1 + 12 - 30")
    assert solution.splitlines() == [
        "4 - 1 = 3",
        "3 + 12 = 15",
        "15 - 30 = -15",
        "The answer is \\boxed{-15}.",
    ]
    (judged,) = verify_many([(solution, "-15")], VerifyConfig(workers=0))
    assert judged.status == "correct"
    assert chain_steps("-5 + 3").startswith("-5 + 3 = -2")
    assert chain_steps("2 * 3") == chain_steps("(1 + 2)") == ""  # only +/- chains


# The paper's pre-filter, table-driven on real MATH problems (hendrycks test, by index in
# ../shared/data/math_full/hendrycks_test.jsonl) and hand-written non-MATH cases.
PREFILTER_CASES = [
    ("has a figure", "[asy] draw((0,0)--(1,1)); [/asy] What is the area?", True, False, True),
    ("in the diagram", "In the diagram, $AB = 3$. Find $BC$.", True, False, True),
    (
        "array shown below",
        "Rows of Pascal's triangle are shown below. How many rows?",
        False,
        False,
        True,
    ),
    ("parts (a) (b)", "(a) Find $x$ if $2x=4$. (b) What is $3x$?", False, True, True),
    ("options (A) (B)", "Which is larger? (A) 3 (B) 4", False, False, True),
    (
        "conditions a) b)",
        "Find n.\na) Divided by 2, the remainder is 1.\nb) Divided by 3, the remainder is 2.",
        False,
        False,
        True,
    ),
    ("French", "Janet a 16 œufs par jour. Combien en vend-elle au marché?", False, False, False),
    ("Chinese", "珍妮每天有16个鸡蛋。她卖掉多少个？", False, False, False),
    ("math only", "Compute: $0.\\overline{7}-0.\\overline{4}$.", False, False, True),
]


@pytest.mark.parametrize(("name", "question", "figure", "multi", "english"), PREFILTER_CASES)
def test_prefilter_predicates(name, question, figure, multi, english):
    from supdata.sources.prefilter import has_figure, is_english, is_multi_part

    assert (has_figure(question), is_multi_part(question), is_english(question)) == (
        figure,
        multi,
        english,
    ), name


@pytest.mark.shared_data
def test_prefilter_on_math_and_gsm8k(shared_data, tmp_path):
    """Through a real file source: every MATH problem with an [asy] figure is dropped and
    counted; GSM8K test (English word problems, no parts) loses one (a "picture")."""
    rows = read_jsonl(shared_data / "math_full" / "hendrycks_test.jsonl")
    asy = sum("[asy]" in r["problem"] for r in rows)
    path = shared_data / "math_full" / "hendrycks_test.jsonl"
    filters = {"no_figures": True, "single_part": True, "english_only": True}
    kept, stats = _load(FileSource(kind="file", path=str(path), normalizer="math", filters=filters))
    assert not any("[asy]" in p.question for p in kept)
    assert asy <= stats.dropped["pre-filter: has a figure"] <= asy + 20
    assert stats.dropped.get("pre-filter: not English", 0) == 0
    assert len(kept) + sum(stats.dropped.values()) == len(rows)
    gsm = shared_data / "gsm8k" / "test.jsonl"
    kept, stats = _load(FileSource(kind="file", path=str(gsm), normalizer="gsm8k", filters=filters))
    assert len(kept) >= 1317 and set(stats.dropped) <= {"pre-filter: has a figure"}
