"""Trainer adapters over real built folders: every format's rows, files and errors.

The training proofs (each format feeding its trainer for real steps) are in test_train.py.
"""

from __future__ import annotations

import doctest
import json
import subprocess
import sys

import datasets
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from supdata import export
from supdata.export import (
    ExportError,
    convert,
    export_dir,
    formats_for,
    read_config,
    to_distill,
    to_llamafactory,
    to_stepwise,
    to_trl_dpo,
    to_trl_grpo,
    to_trl_sft,
    to_verl,
)
from supdata.export.rewards import math_verify_reward, parse_verdict, verdict_reward

from conftest import REPO

SOLVE_SYSTEM = "You are a careful math tutor."


def _messages_ok(messages: list[dict]) -> bool:
    return bool(messages) and all(set(m) == {"role", "content"} for m in messages)


@pytest.mark.parametrize(
    "module", ["trl", "distill", "verl", "llamafactory", "prm"], ids=lambda m: f"export.{m}"
)
def test_docstring_examples_hold(module):
    """Each adapter's docstring shows one row in and out; the examples run."""
    mod = getattr(export, module)
    result = doctest.testmod(mod, optionflags=doctest.NORMALIZE_WHITESPACE)
    assert result.attempted > 0
    assert result.failed == 0


def test_sft_from_mixtures_and_sft_configs(model_build):
    hard = read_config(model_build, "hard_er50")
    out = to_trl_sft(hard, config="hard_er50")
    assert out.column_names == ["id", "prompt", "completion"]
    assert len(out) == len(hard)
    for src, row in zip(hard, out, strict=True):
        assert row["prompt"][0]["content"].startswith(SOLVE_SYSTEM)
        assert row["prompt"][-1] == {"role": "user", "content": src["prompt"]}
        assert row["completion"] == [{"role": "assistant", "content": src["completion"]}]
    mix = to_trl_sft(read_config(model_build, "mix_hard50_sub10"), config="mix_hard50_sub10")
    assert all(_messages_ok(r["prompt"]) for r in mix)
    critic = read_config(model_build, "critic_sft")
    out = to_trl_sft(critic, config="critic_sft")
    assert out["prompt"] == critic["prompt"] and out["completion"] == critic["completion"]
    lf = to_llamafactory(hard, config="hard_er50")
    assert lf[0]["messages"][-1] == {"role": "assistant", "content": hard[0]["completion"]}
    assert lf[0]["system"].startswith(SOLVE_SYSTEM)
    subtasks = to_trl_sft(read_config(model_build, "problems"), config="subtasks")
    assert all(r["completion"][0]["content"] for r in subtasks)


def test_dpo_from_pairs(model_build):
    pairs = read_config(model_build, "pairs")
    out = to_trl_dpo(pairs, config="pairs")
    assert out.column_names == ["id", "prompt", "chosen", "rejected"]
    for src, row in zip(pairs, out, strict=True):
        assert row["prompt"][-1]["content"] == src["prompt"]
        assert row["chosen"] == [{"role": "assistant", "content": src["chosen"]}]
        assert row["rejected"] == [{"role": "assistant", "content": src["rejected"]}]


def test_grpo_from_samples_is_one_prompt_per_problem(model_build):
    samples = read_config(model_build, "samples")
    problems = read_config(model_build, "problems")
    done = convert(samples, "trl-grpo", config="samples", problems=problems)
    out = done.dataset
    assert out.column_names == ["id", "prompt", "answer"]
    assert sorted(out["id"]) == sorted(problems["id"])
    answers = {p["id"]: p["reference_answer"] for p in problems}
    assert all(r["answer"] == answers[r["id"]] for r in out)
    assert done.skipped == {"repeats an exported prompt (same problem)": len(samples) - len(out)}
    # the prompt the samples were drawn with (recorded in their sampling)
    assert out[0]["prompt"][0]["content"].startswith(SOLVE_SYSTEM)
    with pytest.raises(ExportError, match="carry problem_id but no question: pass problems="):
        to_trl_grpo(samples, config="samples")
    with pytest.raises(ExportError, match="is not in the problems table"):
        to_trl_grpo(samples, config="samples", problems={"other": {"question": "?"}})


def test_grpo_and_verl_from_stv(stv_rows):
    vil = to_trl_grpo(stv_rows["vil"], config="vil")
    assert vil["prompt"] == stv_rows["vil"]["prompt"]
    assert vil["answer"] == stv_rows["vil"]["answer"]
    verifier = to_trl_grpo(stv_rows["verifier_rl"], config="verifier_rl")
    assert verifier["answer"] == [
        "Correct" if t else "Wrong" for t in stv_rows["verifier_rl"]["truth"]
    ]
    rows = to_verl(stv_rows["verifier_rl"], config="verifier_rl")
    assert set(rows["ability"]) == {"verification"}
    # STV trains per bin: data_source is the row's bin ([0, 0], (0, 0.2], ...).
    assert rows["data_source"] == stv_rows["verifier_rl"]["bin"]
    assert to_verl(stv_rows["vil"], config="vil")["data_source"] == stv_rows["vil"]["bin"]
    # unnamed: recognised by columns
    assert to_trl_grpo(stv_rows["vil"])["answer"] == vil["answer"]


def test_verl_from_distill_for_stv_training(stv_demo, tmp_path):
    """distill -> verl: student prompt, the informed teacher's ref_prompt, the true verdict
    as the rule reward's ground truth, the bin as data_source; the file's schema is
    verl's plus ref_prompt."""
    out = tmp_path / "distill.parquet"
    cmd = [sys.executable, "-m", "supdata", "export", str(stv_demo), "--config", "distill"]
    done = subprocess.run(
        [*cmd, "--to", "verl", "--out", str(out)], capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr
    table = pq.read_table(out)
    assert table.schema.names == [
        "data_source",
        "prompt",
        "ability",
        "reward_model",
        "extra_info",
        "ref_prompt",
    ]
    distill = read_config(stv_demo, "distill")
    rows = table.to_pylist()
    assert [r["data_source"] for r in rows] == distill["bin"]
    assert [r["ref_prompt"] for r in rows] == distill["ref_prompt"]
    assert [r["prompt"] for r in rows] == distill["prompt"]
    truth = ["Correct" if t else "Wrong" for t in distill["truth"]]
    assert [r["reward_model"] for r in rows] == [
        {"style": "rule", "ground_truth": t} for t in truth
    ]
    assert [r["extra_info"]["id"] for r in rows] == distill["id"]


def test_stepwise_from_critiques_samples_and_perturbed(model_build, tiny_build):
    critiques = read_config(model_build, "critiques")
    out = to_stepwise(critiques, config="critiques")
    assert out.column_names == ["id", "prompt", "completions", "labels"]
    for src, row in zip(critiques, out, strict=True):
        assert row["prompt"] == src["question"]
        assert row["completions"] == [s.strip() for s in src["steps"]]
        assert row["labels"] == src["labels"]
    perturbed = read_config(tiny_build, "perturbed")
    out = to_stepwise(perturbed, config="perturbed", problems=read_config(tiny_build, "problems"))
    assert len(out) == len(perturbed)
    assert all(False in r["labels"] for r in out)
    assert all(len(r["labels"]) == len(r["completions"]) for r in out)
    samples = read_config(model_build, "samples").to_list()
    samples[0]["annotation"] = None
    samples[1]["annotation"]["labels"] = [None] * len(samples[1]["steps"])
    samples[2]["annotation"]["labels"] = [True] + [None] * (len(samples[2]["steps"]) - 1)
    done = convert(
        datasets.Dataset.from_list(samples),
        "stepwise",
        config="samples",
        problems=read_config(model_build, "problems"),
    )
    assert done.skipped == {"no step labels": 1, "first step not judged": 1}
    assert len(done.dataset) == len(samples) - 2
    assert done.dataset[0]["completions"] == [samples[2]["steps"][0].strip()]
    with pytest.raises(ExportError, match=r"none of its 4 rows .*'no step labels': 4"):
        to_stepwise(
            read_config(tiny_build, "references"),
            config="references",
            problems=read_config(tiny_build, "problems"),
        )


def test_distill_rows(stv_rows):
    src = stv_rows["distill"]
    out = to_distill(src, config="distill")
    assert out.column_names == [
        "id",
        "problem_id",
        "prompt",
        "teacher_prompt",
        "completion",
        "verdict",
        "truth",
    ]
    assert out["teacher_prompt"] == src["ref_prompt"]
    assert out["prompt"] == src["prompt"] and out["completion"] == src["completion"]
    sft = to_trl_sft(src, config="distill")
    assert sft["prompt"] == src["prompt"]


def test_verl_parquet_has_the_documented_types(tiny_build, tmp_path):
    target = tmp_path / "verl" / "train.parquet"
    done = export_dir(tiny_build, "problems", "verl", target)
    table = pq.read_table(target)
    messages = pa.list_(pa.struct([("role", pa.string()), ("content", pa.string())]))
    assert table.schema.field("data_source").type == pa.string()
    assert table.schema.field("prompt").type == messages
    assert table.schema.field("ability").type == pa.string()
    assert table.schema.field("reward_model").type == pa.struct(
        [("style", pa.string()), ("ground_truth", pa.string())]
    )
    assert table.schema.field("extra_info").type == pa.struct(
        [
            ("split", pa.string()),
            ("index", pa.int64()),
            ("id", pa.string()),
            ("problem_id", pa.string()),
        ]
    )
    assert table.schema.names == ["data_source", "prompt", "ability", "reward_model", "extra_info"]
    rows = table.to_pylist()
    problems = read_config(tiny_build, "problems")
    assert len(rows) == len(problems) == len(done.converted.dataset)
    assert [r["extra_info"]["index"] for r in rows] == list(range(len(rows)))
    for row, p in zip(rows, problems, strict=True):
        assert row["data_source"] == "supdata/problems"
        assert row["ability"] == "math"
        assert row["reward_model"] == {"style": "rule", "ground_truth": p["reference_answer"]}
        assert row["prompt"][-1] == {"role": "user", "content": p["question"]}
    assert not list(target.parent.glob(".*")), "no temp file left behind"


@pytest.mark.parametrize(
    ("config", "style", "ranking"),
    [
        ("critic_sft", "sharegpt", False),
        ("refine_sft", "alpaca", False),
        ("hard_er50", "alpaca", False),
        ("pairs", "sharegpt", True),
        ("pairs", "alpaca", True),
    ],
)
def test_llamafactory_files_load_through_dataset_info(
    model_build, tmp_path, config, style, ranking
):
    data_dir = tmp_path / "data"
    (data_dir).mkdir()
    (data_dir / "dataset_info.json").write_text('{"kept": {"file_name": "kept.json"}}')
    export_dir(model_build, config, "llamafactory", data_dir, style=style, name="mine")
    info = json.loads((data_dir / "dataset_info.json").read_text())
    assert set(info) == {"kept", "mine"}, "other entries stay"
    entry = info["mine"]
    assert entry.get("formatting", "alpaca") == style
    assert entry.get("ranking", False) is ranking
    loaded = datasets.load_dataset(
        "json", data_files=str(data_dir / entry["file_name"]), split="train"
    )
    source = read_config(model_build, config)
    assert len(loaded) == len(source)
    # every column the entry names is in the file, as LLaMA-Factory's converters read it
    assert set(entry["columns"].values()) <= set(loaded.column_names)
    row = loaded[0]
    if style == "sharegpt":
        tags = entry["tags"]
        turns = row[entry["columns"]["messages"]]
        assert turns[0][tags["role_tag"]] == tags["user_tag"]
        if ranking:
            assert row["chosen"][tags["role_tag"]] == tags["assistant_tag"]
            assert turns[-1][tags["role_tag"]] == tags["user_tag"]
        else:
            assert turns[-1][tags["role_tag"]] == tags["assistant_tag"]
        assert all(t[tags["role_tag"]] != "system" for t in turns)
        assert row["system"]
    else:
        assert row[entry["columns"]["prompt"]] and row[entry["columns"]["system"]]
        if not ranking:
            assert row[entry["columns"]["response"]]
    if config == "refine_sft" and style == "alpaca":
        assert len(row["history"]) == 1, "the earlier turn goes to history"


def test_a_config_names_the_formats_it_supports():
    assert formats_for("critiques") == ["stepwise"]
    assert formats_for("hard_er30") == ["trl-sft", "llamafactory"]
    assert formats_for("sub_er10") == formats_for("rephrased_er50") == formats_for("mix_a_b")
    assert formats_for("pairs") == ["trl-dpo", "llamafactory"]
    assert formats_for("samples") == ["trl-grpo", "stepwise", "math-shepherd", "prm800k", "verl"]
    assert formats_for("labelled") == formats_for("samples")
    assert formats_for("vil") == ["trl-grpo", "verl"]
    assert formats_for("distill") == ["trl-sft", "distill", "verl", "llamafactory"]


def test_bad_export_requests_fail_clearly(model_build, tmp_path):
    critiques = read_config(model_build, "critiques")
    with pytest.raises(
        ExportError,
        match=r"'critiques' \(critique rows\) cannot feed trl-dpo; it supports: stepwise",
    ):
        to_trl_dpo(critiques, config="critiques")
    with pytest.raises(ExportError, match="unknown format 'trl-ppo'"):
        convert(critiques, "trl-ppo", config="critiques")
    with pytest.raises(ExportError, match=r"need the columns \['chosen'"):
        convert(
            critiques.remove_columns(["critique"]).add_column("prompt", ["x"] * len(critiques)),
            "trl-dpo",
            config="pairs",
        )
    with pytest.raises(ExportError, match=r"configs here: .*critic_sft"):
        export_dir(model_build, "nope", "trl-sft", tmp_path / "x.parquet")
    with pytest.raises(ExportError, match=r"name it \*\.parquet"):
        export_dir(model_build, "pairs", "trl-dpo", tmp_path / "x.json")
    with pytest.raises(ExportError, match="no known row shape"):
        convert(datasets.Dataset.from_list([{"a": 1}]), "trl-sft")


def _cli(*args):
    return subprocess.run(
        [sys.executable, "-m", "supdata", "export", *map(str, args)],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=False,
    )


def test_cli_export_writes_and_reports(tiny_build, model_build, tmp_path):
    result = _cli(
        model_build, "--config", "samples", "--to", "stepwise", "--out", tmp_path / "s.parquet"
    )
    assert result.returncode == 0, result.stderr
    assert "samples (trace rows): in 12  out 12" in result.stderr
    assert f"wrote {tmp_path / 's.parquet'}" in result.stdout
    assert pq.read_table(tmp_path / "s.parquet").column_names == [
        "id",
        "prompt",
        "completions",
        "labels",
    ]
    result = _cli(
        model_build, "--config", "critiques", "--to", "trl-dpo", "--out", tmp_path / "c.parquet"
    )
    assert result.returncode == 2
    assert "cannot feed trl-dpo; it supports: stepwise" in result.stderr
    assert not (tmp_path / "c.parquet").exists()


def test_math_verify_reward_takes_strings_and_messages():
    completions = [
        "5 + 3 = 8\nThe answer is \\boxed{8}.",
        [{"role": "assistant", "content": "#### 9"}],
        "I do not know",
    ]
    assert math_verify_reward(completions, answer=["8", "8", "8"], prompts=[None] * 3) == [
        1.0,
        0.0,
        0.0,
    ]


def test_verdict_reward():
    assert parse_verdict("step 1 fine.\nVerdict: **Wrong**") is False
    assert parse_verdict("Verdict: Correct") is True
    assert parse_verdict("no idea") is None
    feedback = ["All good.\nVerdict: Correct", "Verdict: Correct", "no verdict"]
    assert verdict_reward(feedback, answer=["Correct", "Wrong", "Wrong"]) == [1.0, 0.0, 0.0]


def test_w2s_nested_layout(tmp_path):
    """The paper's formulate_pref_pairs layout from real demo pairs: one entry per
    original problem with a subtask pair, ``original`` and ``subtask_k`` holding task /
    pos_ans / neg_ans; a problem without a subtask pair is left out and counted."""
    from supdata.builders.steperror.models import PairRow
    from supdata.publish import DatasetFolder

    pairs = json.loads((REPO / "tests" / "data" / "export_rows.json").read_text())["configs"][
        "pairs"
    ]
    first = pairs[0]
    subs = [
        {
            **first,
            "id": f"{first['problem_id']}/sub-{k}",
            "problem_id": f"{first['problem_id']}/sub-{k}",
            "prompt": f"How many in part {k}?",
            "chosen": f"right {k}",
            "rejected": f"wrong {k}",
        }
        for k in (2, 1)
    ]
    schema = PairRow.arrow_schema()
    with DatasetFolder(tmp_path / "w2s") as folder:
        folder.add_config("pairs", pa.Table.from_pylist(pairs, schema=schema))
        folder.add_config("sub_pairs", pa.Table.from_pylist(subs, schema=schema))
        root = folder.commit()
    out = tmp_path / "pairs.json"
    cmd = [sys.executable, "-m", "supdata", "export", str(root), "--config", "pairs"]
    result = subprocess.run(
        [*cmd, "--to", "w2s-nested", "--out", str(out)], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr
    assert "no subtask pair (the paper drops the full task): 2" in result.stderr
    (entry,) = json.loads(out.read_text())
    assert list(entry) == ["ori_id", "original", "subtask_1", "subtask_2"]
    assert entry["ori_id"] == first["problem_id"]
    assert entry["original"] == {
        "task": first["prompt"],
        "pos_ans": first["chosen"],
        "neg_ans": first["rejected"],
    }
    assert entry["subtask_1"] == {
        "task": "How many in part 1?",
        "pos_ans": "right 1",
        "neg_ans": "wrong 1",
    }
    bad = subprocess.run(
        [*cmd[:-1], "samples", "--to", "w2s-nested", "--out", str(out)],
        check=False,
        capture_output=True,
        text=True,
    )
    assert bad.returncode != 0 and "built from the pairs config" in bad.stderr
