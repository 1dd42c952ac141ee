"""Issue 16, sources: duplicate ids, bad rows (one policy for every format), the quadratic
``\\boxed{`` scan, inputs checked before a build, and the content fingerprint for resume."""

from __future__ import annotations

import json
import os
import random
import time

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from supdata.core.stats import StageStats
from supdata.sources import (
    FileSource,
    HfSource,
    ReasoningGymSource,
    SourceError,
    check_source,
    input_fingerprint,
    load_problems,
    source_problems,
)


def _load(source, **kw):
    stats = StageStats("source")
    return list(load_problems(source, stats, **kw)), stats


def _file(path, **kw):
    return FileSource(kind="file", path=str(path), **kw)


GOOD = {"question": "What is 1+1?", "answer": "2"}


# -- item 2: duplicate problem ids -----------------------------------------------------


def test_duplicate_ids_in_jsonl_name_both_lines(tmp_path):
    path = tmp_path / "dup.jsonl"
    rows = [
        {"id": "dup", "question": "a?", "answer": "5"},
        {"id": "other", "question": "b?", "answer": "1"},
        {"id": "dup", "question": "c?", "answer": "20"},
    ]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    with pytest.raises(
        SourceError, match=r"duplicate problem id 'dup': .*dup\.jsonl:1 and .*dup\.jsonl:3"
    ):
        _load(_file(path))


@pytest.mark.parametrize("fmt", ["json", "parquet", "csv"])
def test_duplicate_ids_in_other_formats_name_both_rows(tmp_path, fmt):
    rows = [
        {"id": "dup", "question": "a?", "answer": "5"},
        {"id": "dup", "question": "c?", "answer": "20"},
    ]
    path = tmp_path / f"dup.{fmt}"
    if fmt == "json":
        path.write_text(json.dumps(rows))
        where = (r"dup\.json\[0\]", r"dup\.json\[1\]")
    elif fmt == "parquet":
        pq.write_table(pa.Table.from_pylist(rows), path)
        where = ("row 0", "row 1")
    else:
        path.write_text("id,question,answer\ndup,a?,5\ndup,c?,20\n")
        where = (r"dup\.csv:2", r"dup\.csv:3")
    with pytest.raises(SourceError, match=rf"'dup': .*{where[0]} and .*{where[1]}"):
        _load(_file(path))


def test_generated_ids_do_not_collide():
    problems, _ = _load(ReasoningGymSource(kind="reasoning_gym", name="gsm_symbolic", size=64))
    assert len({p.id for p in problems}) == len(problems) == 64


# -- item 11: bad rows are counted and skipped (strict: true aborts at file:line) -------

BAD_JSONL = (
    b"\xef\xbb\xbf" + json.dumps(GOOD).encode() + b"\n"  # a BOM on the first line: fine
    b'{"question": "broken", \n'  # line 2: broken JSON
    b"[1, 2]\n"  # line 3: not an object
    b"null\n"  # line 4: not an object
    b'{"question": "caf\xe9?", "answer": "3"}\n'  # line 5: a Latin-1 byte
    b"\n"
    b'{"question": "What is 2+2?", "answer": "4"}\n'  # line 7: fine
)


def test_bad_jsonl_rows_are_counted_with_their_line_and_skipped(tmp_path):
    path = tmp_path / "bad.jsonl"
    path.write_bytes(BAD_JSONL)
    problems, stats = _load(_file(path))
    assert [p.reference_answer for p in problems] == ["2", "4"]
    assert stats.n_in == 6 and stats.n_out == 2
    assert stats.dropped == {
        "bad row: not valid JSON": 1,
        "bad row: not a JSON object": 2,
        "bad row: not UTF-8": 1,
    }
    assert stats.examples["bad row: not valid JSON"].startswith(f"{path}:2: not valid JSON")
    assert stats.examples["bad row: not a JSON object"] == f"{path}:3: not a JSON object (got list)"
    assert stats.examples["bad row: not UTF-8"].startswith(f"{path}:5: not UTF-8 (byte 0xe9")


def test_strict_aborts_at_the_first_bad_row_with_file_and_line(tmp_path):
    path = tmp_path / "bad.jsonl"
    path.write_bytes(BAD_JSONL)
    with pytest.raises(SourceError, match=rf"^{path}:2: not valid JSON"):
        _load(_file(path, strict=True))
    with pytest.raises(SourceError, match=rf"^{path}:2: not valid JSON"):
        _load(_file(path), strict=True)  # the build's --strict override


def test_json_array_null_element_and_latin1_byte_are_bad_rows(tmp_path):
    path = tmp_path / "rows.json"
    body = (
        b'[{"question": "What is 1+1?", "answer": "2"}, null, '
        b'{"question": "caf\xe9?", "answer": "3"}, 7]'
    )
    path.write_bytes(b"\xef\xbb\xbf" + body)
    problems, stats = _load(_file(path))
    assert [p.question for p in problems] == ["What is 1+1?"]
    assert stats.dropped == {"bad row: not a JSON object": 2, "bad row: not UTF-8": 1}
    assert (
        stats.examples["bad row: not a JSON object"] == f"{path}[1]: not a JSON object (got null)"
    )
    assert stats.examples["bad row: not UTF-8"].startswith(f"{path}[2]: not UTF-8")
    with pytest.raises(SourceError, match=r"rows\.json\[1\]: not a JSON object \(got null\)"):
        _load(_file(path, strict=True))


def test_json_array_that_does_not_parse_names_line_and_column(tmp_path):
    path = tmp_path / "broken.json"
    path.write_text('[\n  {"question": "a?", "answer": "1"},\n  {"question": \n]')
    with pytest.raises(SourceError, match=r"broken\.json:4:1: not valid JSON"):
        _load(_file(path))


def test_csv_bad_rows_are_counted_and_skipped(tmp_path):
    path = tmp_path / "rows.csv"
    path.write_bytes(
        b"\xef\xbb\xbfquestion,answer,level\n"
        b"What is 1+1?,2,1\n"
        b"too,many,fields,here\n"
        b"caf\xe9?,3,1\n"
        b'"What is\n2+2?",4,2\n'
    )
    problems, stats = _load(_file(path))
    assert [(p.question, p.reference_answer, p.level) for p in problems] == [
        ("What is 1+1?", "2", 1),
        ("What is\n2+2?", "4", 2),
    ]
    assert stats.dropped == {"bad row: wrong number of CSV fields": 1, "bad row: not UTF-8": 1}
    assert stats.examples["bad row: wrong number of CSV fields"].startswith(f"{path}:3:")
    assert stats.examples["bad row: not UTF-8"].startswith(f"{path}:4:")


def test_normalizer_rejections_abort_under_strict_naming_the_line(tmp_path):
    path = tmp_path / "g.jsonl"
    path.write_text(json.dumps({"question": "a?", "answer": "no hashes"}) + "\n")
    problems, stats = _load(_file(path, normalizer="gsm8k"))
    assert problems == [] and stats.examples["answer has no '####' final answer"] == f"{path}:1"
    with pytest.raises(SourceError, match=rf"{path}:1: answer has no '####'"):
        _load(_file(path, normalizer="gsm8k", strict=True))


def test_corrupt_parquet_is_a_clear_error(tmp_path):
    path = tmp_path / "rows.parquet"
    pq.write_table(pa.Table.from_pylist([GOOD] * 50), path)
    data = bytearray(path.read_bytes())
    data[4:40] = b"\xff" * 36  # flip bytes in the first data page
    path.write_bytes(bytes(data))
    with pytest.raises(SourceError, match=r"rows\.parquet: not a readable parquet file"):
        _load(_file(path))


def test_raw_rows_stays_strict_for_other_readers(tmp_path):
    path = tmp_path / "bad.jsonl"
    path.write_bytes(BAD_JSONL)
    with pytest.raises(SourceError, match=rf"{path}:2: not valid JSON"):
        list(_file(path).raw_rows())


# -- item 11: an unclosed \boxed{ row is linear ----------------------------------------


def test_56kb_of_unclosed_boxed_is_read_in_well_under_a_second(tmp_path):
    solution = "\\boxed{" * 8000  # 56 kB: the quadratic scan took 60-100 s
    path = tmp_path / "boxes.jsonl"
    path.write_text(json.dumps({"question": "q?", "solution": solution}) + "\n")
    started = time.perf_counter()
    problems, stats = _load(_file(path, normalizer="math"))
    assert time.perf_counter() - started < 1.0
    assert problems == [] and stats.dropped == {"no reference answer": 1}


def test_linear_last_boxed_agrees_with_the_verifier_one():
    from supdata.sources.normalize import last_boxed
    from supdata.verify.extract import last_boxed as reference

    rng = random.Random(0)
    pieces = ["\\boxed{", "\\fbox {", "{", "}", "\\", "\\{", "\\}", "a", " ", "12", "\\frac{1}{2}"]
    for _ in range(5000):
        text = "".join(rng.choice(pieces) for _ in range(rng.randint(0, 14)))
        assert last_boxed(text) == reference(text), text
    assert last_boxed("so \\boxed{\\frac{1}{2}} and \\boxed{3") == "\\frac{1}{2}"


# -- item 9: inputs are checked before a build ------------------------------------------


def test_missing_file_and_unknown_reasoning_gym_name_are_found_before_reading(tmp_path):
    missing = _file(tmp_path / "nope.jsonl")
    assert source_problems(missing) == [
        (("path",), f"source file {str(tmp_path / 'nope.jsonl')!r} does not exist")
    ]
    with pytest.raises(
        ValueError, match=r"source\.path: source file .*nope\.jsonl' does not exist"
    ):
        check_source(missing)
    gym = ReasoningGymSource(kind="reasoning_gym", name="gsm_symbolc")
    ((loc, message),) = source_problems(gym)
    assert loc == ("name",)
    assert "unknown reasoning_gym dataset 'gsm_symbolc'; did you mean 'gsm_symbolic'" in message
    assert source_problems(ReasoningGymSource(kind="reasoning_gym", name="gsm_symbolic")) == []


def test_hf_local_inputs_are_checked(tmp_path):
    assert source_problems(HfSource(kind="hf", path=str(tmp_path / "none"))) == [
        (("path",), f"local dataset {str(tmp_path / 'none')!r} does not exist")
    ]
    hf = HfSource(kind="hf", path="json", data_files=[str(tmp_path / "a.jsonl")])
    assert source_problems(hf) == [
        (("data_files", 0), f"no file matches {str(tmp_path / 'a.jsonl')!r}")
    ]
    (tmp_path / "a.jsonl").write_text(json.dumps(GOOD) + "\n")
    assert source_problems(hf) == []


# -- item 3: the content fingerprint of the inputs --------------------------------------


def test_input_fingerprint_changes_with_the_content_even_at_equal_size_and_mtime(tmp_path):
    path = tmp_path / "rows.jsonl"
    path.write_text(json.dumps({"id": "a", "question": "q?", "answer": "5"}) + "\n")
    source = _file(path)
    before = input_fingerprint(source)
    assert list(before["files"]) == [str(path)]
    assert before["files"][str(path)]["size"] == path.stat().st_size
    assert before == input_fingerprint(source)  # stable
    st = path.stat()
    path.write_text(json.dumps({"id": "a", "question": "q?", "answer": "6"}) + "\n")
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))  # same size, same mtime
    after = input_fingerprint(source)
    assert after["files"][str(path)]["size"] == before["files"][str(path)]["size"]
    assert after != before
    path.unlink()
    assert input_fingerprint(source)["files"][str(path)] == {"missing": True}


def test_input_fingerprint_of_generated_and_local_hf_sources(tmp_path):
    gym = input_fingerprint(ReasoningGymSource(kind="reasoning_gym", name="gsm_symbolic"))
    assert gym["files"] == {} and gym["generator"].startswith("reasoning_gym ")
    data = tmp_path / "train.jsonl"
    data.write_text(json.dumps(GOOD) + "\n")
    hf = input_fingerprint(HfSource(kind="hf", path="json", data_files=str(data)))
    assert list(hf["files"]) == [str(data)]
    hub = input_fingerprint(HfSource(kind="hf", path="org/name", revision="abc"))
    assert hub == {"files": {}, "hub": {"path": "org/name", "revision": "abc"}}


def test_an_offline_hub_source_is_a_clear_error():
    import subprocess
    import sys

    code = (
        "from supdata.sources import HfSource, load_problems\n"
        "list(load_problems(HfSource(kind='hf', path='someorg/not-here')))\n"
    )
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    run = subprocess.run(
        [sys.executable, "-c", code],
        check=False,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert run.returncode == 1
    last = run.stderr.strip().splitlines()[-1]
    assert last.startswith("supdata.sources.rows.SourceError: hf source 'someorg/not-here': ")
    assert "could not load split 'train'" in last and "Hub" in last


def test_a_build_that_died_after_the_source_stage_reads_the_edited_source(tmp_path, monkeypatch):
    """The issue's case end to end: the build dies after the source stage, the source
    file is edited (an answer changes), the re-run reads the file again and publishes
    the new answer (it used to say `source: done before` and publish the old one)."""
    import supdata.build as build_module
    from supdata.build import build
    from supdata.recipe import load_recipe

    data = tmp_path / "rows.jsonl"
    row = {"id": "p1", "question": "What is 2+3?", "answer": "5", "solution": "2+3=5"}
    data.write_text(json.dumps(row) + "\n")
    recipe = tmp_path / "r.yaml"
    recipe.write_text(
        f"name: stale\nsource: {{kind: file, path: {data}}}\n"
        "builders:\n  - {kind: perturb, swer_grid: [1.0], types: [wrong_result]}\n"
    )
    out = tmp_path / "out"

    def dies(ctx, stats):
        raise RuntimeError("killed after the source stage")

    monkeypatch.setattr(build_module, "_run_references", dies)
    with pytest.raises(RuntimeError, match="killed after the source stage"):
        build(load_recipe(recipe), out, use_cache=False)
    assert not out.exists() and (tmp_path / ".out.work").is_dir()  # a resumable work folder
    monkeypatch.undo()

    data.write_text(json.dumps({**row, "answer": "6", "solution": "2+3=6"}) + "\n")
    stats = build(load_recipe(recipe), out, use_cache=False)
    assert "source" not in stats["resumed_stages"]
    problems = pq.read_table(next((out / "problems").glob("*.parquet"))).to_pylist()
    assert [p["reference_answer"] for p in problems] == ["6"]
