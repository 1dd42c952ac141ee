"""The supdata command end to end: real files, real parquet, real datasets.load_dataset."""

from __future__ import annotations

import json
import subprocess
import sys
import time

import datasets
import pyarrow.parquet as pq
import pytest

from supdata.cli import main
from supdata.recipe import load_recipe

from conftest import REPO, write_jsonl


def run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "supdata", *args],
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=300,
        check=False,
    )


def test_sources_lists_kinds_and_fields(capsys):
    assert main(["sources"]) == 0
    shown = capsys.readouterr().out
    for word in (
        "kind: hf",
        "kind: file",
        "kind: reasoning_gym",
        "data_files",
        "revision",
        "shuffle_seed",
        "processbench",
        "gsm8k",
    ):
        assert word in shown


def test_peek_shows_normalized_problems(capsys):
    assert (
        main(["peek", str(REPO / "recipes" / "steperror" / "demo.yaml"), "-n", "2", "--json"]) == 0
    )
    captured = capsys.readouterr()
    assert captured.out.count('"reference_answer"') == 2
    assert "showed 2" in captured.err


def test_verify_file_reports_statuses(tmp_path, capsys):
    rows = [
        {"prediction": "so \\boxed{4}", "answer": "4"},
        {"prediction": "#### 7", "answer": "8"},
        {"prediction": "no idea", "answer": "8"},
        {"prediction": "\\boxed{1}", "answer": None},
    ]
    path = write_jsonl(tmp_path / "preds.jsonl", rows)
    out = tmp_path / "judged.jsonl"
    assert main(["verify", str(path), "--out", str(out), "--workers", "1"]) == 0
    table = capsys.readouterr().out
    assert "4 items" in table
    statuses = [json.loads(line)["status"] for line in out.read_text().splitlines()]
    assert statuses == ["correct", "incorrect", "no_answer", "bad_reference"]


def test_verify_names_the_missing_column(tmp_path, capsys):
    path = write_jsonl(tmp_path / "preds.jsonl", [{"pred": "1", "answer": "1"}])
    assert main(["verify", str(path)]) == 2
    assert "row 0 has no 'prediction' column" in capsys.readouterr().err


REFS_RECIPE = """\
name: demo
description: references only, no engine
source: {kind: reasoning_gym, name: gsm_symbolic, size: 40, seed: 42}
publish: {license: apache-2.0}
"""


@pytest.fixture
def refs_recipe(tmp_path):
    path = tmp_path / "refs.yaml"
    path.write_text(REFS_RECIPE)
    return str(path)


def test_build_writes_a_loadable_validated_folder(tmp_path, refs_recipe):
    out = tmp_path / "demo"
    result = run("build", refs_recipe, "--limit", "12", "--out", str(out))
    assert result.returncode == 0, result.stderr
    assert run("validate", str(out)).returncode == 0
    stats = json.loads((out / "stats.json").read_text())
    assert stats["stages"]["source"]["out"] == 12
    assert stats["stages"]["references"]["counts"] == {"status:correct": 12}
    assert stats["measured"]["references"]["outcome_error_rate"] == 0.0
    card = (out / "README.md").read_text()
    assert card.startswith("---\nlicense: apache-2.0\n")
    assert "configs:\n- config_name: problems" in card
    assert "load_dataset" in card
    refs = datasets.load_dataset(str(out), "references", split="train")
    problems = datasets.load_dataset(str(out), "problems", split="train")
    assert len(refs) == len(problems) == 12
    assert all("".join(r["steps"]) == r["text"] for r in refs)
    assert all(r["correct"] for r in refs)
    assert sorted(p.name for p in out.iterdir()) == [
        "README.md",
        "plots",
        "problems",
        "recipe.yaml",
        "references",
        "stats.json",
    ]
    assert not list(tmp_path.glob(".demo.*")), "temporary folders are cleaned up"


def test_rebuilt_folder_loads_fresh_rows(tmp_path, refs_recipe):
    """datasets caches a local folder by its name and card metadata, not its files; the
    card's dataset_info (row counts and sizes) keeps a rebuilt folder from loading stale."""
    out = tmp_path / "demo"
    for limit in (4, 6):
        result = run("build", refs_recipe, "--limit", str(limit), "--out", str(out))
        assert result.returncode == 0, result.stderr
        assert len(datasets.load_dataset(str(out), "references", split="train")) == limit


def test_rows_without_answers_are_counted_in_stats(tmp_path):
    rows = [
        {"question": "2+2?", "answer": "4", "solution": "2+2 = 4.\nThe answer is 4."},
        {"question": "Lost answer?", "solution": "Somehow 7."},
    ]
    src = write_jsonl(tmp_path / "src.jsonl", rows)
    recipe = tmp_path / "r.yaml"
    recipe.write_text(
        f"name: tiny\nsource:\n  kind: file\n  path: {src}\nverification:\n  workers: 1\n"
    )
    out = tmp_path / "tiny"
    assert main(["build", str(recipe), "--out", str(out)]) == 0
    stats = json.loads((out / "stats.json").read_text())
    assert stats["stages"]["source"]["dropped"] == {"no reference answer": 1}
    assert stats["stages"]["source"]["dropped_examples"] == {"no reference answer": "src-1"}
    assert "no reference answer: 1" in (out / "README.md").read_text()
    table = pq.read_table(out / "references" / "train-00000-of-00001.parquet")
    assert table.column("steps").to_pylist() == [["2+2 = 4.\n", "The answer is 4."]]


def test_bad_recipe_fails_before_any_work(tmp_path):
    recipe = tmp_path / "bad.yaml"
    recipe.write_text("name: bad\nsource:\n  kind: file\n  path: x.jsonl\n  limit: zero\n")
    out = tmp_path / "never"
    result = run("build", str(recipe), "--out", str(out))
    assert result.returncode == 2
    assert "bad.yaml:5: source.limit: Input should be a valid integer" in result.stderr
    assert not out.exists() and not list(tmp_path.glob(".never*"))


def test_failed_build_keeps_previous_output(tmp_path, refs_recipe):
    out = tmp_path / "demo"
    assert run("build", refs_recipe, "--limit", "3", "--out", str(out)).returncode == 0
    before = (out / "stats.json").read_text()
    recipe = tmp_path / "missing.yaml"
    recipe.write_text(f"name: demo\nsource:\n  kind: file\n  path: {tmp_path / 'gone.jsonl'}\n")
    result = run("build", str(recipe), "--out", str(out))
    assert result.returncode == 2 and "does not exist" in result.stderr
    assert (out / "stats.json").read_text() == before


@pytest.mark.slow
@pytest.mark.timeout(3000)  # both demos from a cold request cache: about 15 min on 2 cores
def test_make_demo_from_the_makefile(tmp_path):
    """`make` (the main job) on the existing venv: builds and validates every demo."""
    result = subprocess.run(
        ["make", "demo"], cwd=REPO, capture_output=True, text=True, timeout=2700, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "ok  samples:" in result.stdout
    out = REPO / "build" / "steperror-demo"
    stats = json.loads((out / "stats.json").read_text())
    assert stats["stages"]["samples"]["out"] > 0

    def load(config):
        return datasets.load_dataset(str(out), config, split="train")

    for config in ("problems", "references", "samples"):
        assert len(load(config))
    assert (out / "plots" / "samples_pass_rate.png").stat().st_size > 1000
    # The annotator labelled sampled steps: aligned, or counted as rejected.
    samples = load("samples")
    labelled = [r for r in samples if r["annotation"] is not None]
    assert all(len(r["annotation"]["labels"]) == len(r["steps"]) for r in labelled)
    assert all(r["annotation"]["source"].startswith("annotator:") for r in labelled)
    counts = stats["stages"]["samples"]["counts"]
    rejected = sum(n for k, n in counts.items() if k.startswith("labels rejected"))
    assert counts.get("labels aligned", 0) == len(labelled)
    assert len(labelled) + rejected == len(samples)
    # The LLM judge judged every verified sample; the card reports its agreement.
    judged = sum(n for k, n in counts.items() if k.startswith("judge: ") and "math-verify" not in k)
    assert judged == sum(r["correct"] is not None for r in samples)
    assert "**LLM judge** (`samples`)" in (out / "README.md").read_text()
    # The prompt asked for the paper's length range; pairs take only complete samples.
    assert {r["sampling"]["prompt"] for r in samples} == {"solve_length@1"}
    by_id = {r["id"]: r for r in samples}
    for pair in load("pairs") if "pairs" not in stats["empty_configs"] else []:
        for trace_id in (pair["chosen_trace_id"], pair["rejected_trace_id"]):
            if trace_id in by_id:  # a restyled reference is not a sample
                assert by_id[trace_id]["sampling"]["finish_reason"] == "stop"
                assert by_id[trace_id]["status"] in ("correct", "incorrect")
    # Every ER mixture, re-verified with math-verify, has exactly its target rate; named
    # mixtures have it per part.
    from supdata.ops.mixture import take_count
    from supdata.verify import VerifyConfig, verify_many

    recipe = load_recipe(REPO / "recipes" / "steperror" / "demo.yaml")
    mixes = [c for c in recipe.builders[0].configs() if "_er" in c or c.startswith("mix_")]
    assert len(mixes) == 11 + 2 + 1 + 2
    card = (out / "README.md").read_text()
    for config in stats["empty_configs"]:  # an empty parquet config cannot be loaded
        assert not (out / config).exists() and f"`{config}`" in card.split("## Configs")[1]
    for config in (c for c in mixes if c not in stats["empty_configs"]):
        rows = load(config).to_list()
        judged = verify_many(
            [(r["completion"], r["reference_answer"]) for r in rows], VerifyConfig(workers=2)
        )
        assert [j.status == "correct" for j in judged] == [r["correct"] for r in rows], config
        for part in {r["part"] for r in rows}:
            mine = [r for r in rows if r["part"] == part]
            er = mine[0]["er_target"]
            assert sum(not r["correct"] for r in mine) == take_count(er, len(mine)), config
    # Decomposition and rephrasing ran; their yields are in stats and the card.
    for stage in ("subtasks", "sub_samples", "sub_pairs", "rephrased"):
        assert stats["stages"][stage]["in"] >= 0 and f"| {stage} |" in card
    assert stats["stages"]["subtasks"]["in"] == stats["stages"]["pairs"]["out"]
    proposed = stats["stages"]["subtasks"]["counts"].get("subproblems proposed", 0)
    dropped = sum(stats["stages"]["subtasks"]["dropped"].values())
    assert proposed or dropped  # every decomposition was read or its rejection counted
    if "subtasks" not in stats["empty_configs"]:
        for sub in load("subtasks"):
            assert json.loads(sub["meta"])["reproduced"] >= 1
    # Perturbed rows: the prefix before the first error is the reference's, labels align,
    # model rewrites end wrong and never announce the error.
    from supdata.ops.perturb import LEAKY_WORDS

    references = {r["problem_id"]: r for r in load("references")}
    perturbed = load("perturbed").to_list()
    assert {r["sampling"]["method"] for r in perturbed} <= {"rule", "model"}
    for row in perturbed:
        k = row["annotation"]["first_error_step"]
        assert row["steps"][:k] == references[row["problem_id"]]["steps"][:k]
        assert len(row["annotation"]["labels"]) == len(row["steps"])
        if row["sampling"]["method"] == "model":
            assert row["status"] == "incorrect" and not LEAKY_WORDS.search(row["text"])


def test_critique_demo_configs(tmp_path):
    """What `make` built from recipes/critique/demo.yaml (the test above runs it first)."""
    out = REPO / "build" / "critique-demo"
    if not (out / "stats.json").is_file():
        pytest.skip("run by `make demo` (test_make_demo_from_the_makefile)")
    stats = json.loads((out / "stats.json").read_text())
    flawed = stats["stages"]["flawed"]["counts"]
    assert {k for k in flawed if k.startswith("method:")} <= {
        "method:rg1",
        "method:rg2",
        "method:rg3",
    }
    critiques = stats["stages"]["critiques"]
    # every flawed path was critiqued: kept, or dropped with a counted reason
    assert critiques["in"] == stats["stages"]["flawed"]["out"]
    assert critiques["out"] + sum(critiques["dropped"].values()) == critiques["in"]
    published = ["critiques", "critic_sft", "refine_sft", "selfimprove_sft"]
    for config in published:
        if config in stats["empty_configs"]:
            continue
        rows = datasets.load_dataset(str(out), config, split="train")
        assert len(rows) == stats["stages"][config]["out"]
    if "critiques" not in stats["empty_configs"]:
        from supdata.builders.critique.format import parse_critique

        for row in datasets.load_dataset(str(out), "critiques", split="train"):
            assert len(row["labels"]) == len(row["steps"])
            again = parse_critique(row["critique"], len(row["steps"]))
            assert again.labels == row["labels"]
            assert row["refine_success_rate"] > 0
            assert (row["final_verdict"] == "Correct") == row["final_correct"]


@pytest.mark.parametrize(
    ("extra", "row", "message"),
    [
        (["--temperature", "-1"], {"prompt": "hi"}, "row 0: invalid sampling params: temperature"),
        ([], {"prompt": "hi", "sampling": {"top_p": 2}}, "row 0: invalid sampling params: top_p"),
        ([], {"text": "hi"}, "row 0: needs 'messages' (chat) or 'prompt' (text)"),
        (["--kind", "vllm", "--model", "./nowhere"], {"prompt": "hi"}, "is not a model folder"),
    ],
)
def test_generate_rejects_bad_input_before_loading_a_model(tmp_path, extra, row, message):
    prompts = write_jsonl(tmp_path / "p.jsonl", [row])
    started = time.monotonic()
    result = run("generate", str(prompts), "--out", str(tmp_path / "o.jsonl"), *extra)
    assert result.returncode == 2
    assert message in result.stderr
    assert time.monotonic() - started < 30  # no engine was started
    assert not (tmp_path / "o.jsonl").exists()


def test_cache_stats_and_clear(tmp_path, capsys):
    from supdata.engines.cache import CachedSample, RequestCache

    path = tmp_path / "c.sqlite"
    RequestCache(path).put_many("eng@1", {"k": CachedSample("t", "stop", 1, 2)})
    assert main(["cache", "stats", "--cache", str(path)]) == 0
    assert "samples: 1  output tokens: 2" in capsys.readouterr().out
    assert main(["cache", "clear", "--cache", str(path)]) == 0
    assert "removed 1 samples" in capsys.readouterr().out
