"""Streaming stages (issue 23): stage outputs in parquet shards, read back shard by shard;
publishing from batches; mixtures over references decided from two columns; sample
stages submitted ``runner.window`` problems at a time."""

from __future__ import annotations

import textwrap

import pyarrow.parquet as pq
import pytest

from supdata.core.records import Trace
from supdata.core.records.models import ReferenceRow
from supdata.core.store import ShardWriter, StageData, write_stage


def _traces(n: int, start: int = 0) -> list[Trace]:
    return [
        Trace(
            id=f"p{i}/reference",
            problem_id=f"p{i}",
            text=f"{i} + 1 = {i + 1}.\n#### {i + 1}",
            steps=[f"{i} + 1 = {i + 1}.\n", f"#### {i + 1}"],
            origin="reference",
            status="correct",
        )
        for i in range(start, start + n)
    ]


def test_stage_streams_into_shards_and_reads_back_in_order(tmp_path):
    writer = ShardWriter(tmp_path / "refs", ReferenceRow, shard_rows=10)
    writer.extend(iter(_traces(25)))
    assert not (tmp_path / "refs").exists()  # nothing in place before the last shard
    data = writer.close()
    assert [f.name for f in data.files] == [f"part-0000{i}.parquet" for i in range(3)]
    assert [pq.ParquetFile(f).metadata.num_rows for f in data.files] == [10, 10, 5]
    assert len(data) == 25 and bool(data)
    assert [t.id for t in data] == [t.id for t in _traces(25)]
    assert list(data) == list(data)  # re-iterable: read from disk each time
    assert next(iter(data)).steps == _traces(1)[0].steps
    assert sum(b.num_rows for b in data.batches(7)) == 25
    assert data.scan().select("problem_id").collect()["problem_id"].to_list()[-1] == "p24"
    assert not (tmp_path / "refs.partial").exists()


def test_empty_stage_keeps_its_schema(tmp_path):
    data = write_stage(tmp_path / "empty", ReferenceRow, iter(()))
    assert len(data) == 0 and not data and list(data) == []
    assert pq.read_schema(data.files[0]) == ReferenceRow.arrow_schema()


def test_a_stage_that_dies_leaves_the_old_output_untouched(tmp_path):
    old = write_stage(tmp_path / "refs", ReferenceRow, _traces(3))

    def dying():
        yield from _traces(5, start=10)
        raise RuntimeError("engine died")

    with pytest.raises(RuntimeError, match="engine died"):
        write_stage(tmp_path / "refs", ReferenceRow, dying())
    assert [t.id for t in StageData(old.path, ReferenceRow)] == [t.id for t in _traces(3)]
    assert not (tmp_path / "refs.partial").exists()


def test_publishing_streams_batches_into_hub_shards(tmp_path):
    from supdata.core.rows import RowSchemaError
    from supdata.publish.folder import DatasetFolder

    data = write_stage(tmp_path / "refs", ReferenceRow, _traces(23))
    with DatasetFolder(tmp_path / "out") as folder:
        paths = folder.add_config(
            "references",
            data.batches(5),  # batches never line up with the shards
            shard_rows=10,
            row=ReferenceRow,
            num_rows=len(data),
            schema=ReferenceRow.arrow_schema(),
        )
        folder.write_text("README.md", "card")
        folder.commit()
    assert [pq.ParquetFile(p.parent.parent.parent / "out" / "references" / p.name).metadata.num_rows
            for p in paths] == [10, 10, 3]  # fmt: skip
    assert folder.configs == {"references": 23}

    bad = [t.to_row() for t in _traces(13)]
    bad[12]["steps"] = ["not the text"]
    import pyarrow as pa

    table = pa.Table.from_pylist(bad, schema=ReferenceRow.arrow_schema())
    with DatasetFolder(tmp_path / "bad") as folder, pytest.raises(RowSchemaError) as info:
        folder.add_config("references", table.to_batches(max_chunksize=4), shard_rows=5,
                          row=ReferenceRow, num_rows=13, schema=table.schema)  # fmt: skip
    assert "row 12 (id 'p12/reference')" in str(info.value)  # the index in the config
    assert not (tmp_path / "bad").exists()


MIX_RECIPE = """\
name: mixref
source: {{kind: file, path: {path}, normalizer: gsm8k, limit: 60}}
builders:
  - kind: perturb
    swer_grid: [0.5, 1.0]
    types: [wrong_result, swap_operator]
    er_grid: [0.0, 0.3, 1.0]
    er_seed: 3
publish: {{license: apache-2.0}}
"""


@pytest.mark.shared_data
def test_mixtures_over_references_take_exactly_round_er_m(shared_data, tmp_path, monkeypatch):
    """Real GSM8K references and rule perturbations; every mixture is decided from the
    candidates' two columns, streamed, and equals the in-memory rule row for row."""
    import datasets

    from supdata.build import build
    from supdata.core.stats import StageStats
    from supdata.ops.mixture import er_mixture, take_count
    from supdata.recipe import load_recipe

    path = tmp_path / "r.yaml"
    path.write_text(MIX_RECIPE.format(path=shared_data / "gsm8k" / "test.jsonl"))
    out = tmp_path / "out"
    from supdata.core.runner import Runner

    monkeypatch.setattr(Runner, "clean", lambda self: None)  # keep the intermediate to read
    stats = build(load_recipe(path), out)
    refs = {r["problem_id"]: r for r in datasets.load_dataset(str(out), "references")["train"]}
    perturbed: dict[str, set[str]] = {}
    for r in datasets.load_dataset(str(out), "perturbed")["train"]:
        perturbed.setdefault(r["problem_id"], set()).add(r["text"])
    verified = [p for p, r in refs.items() if r["status"] == "correct"]
    work = out.parent / f".{out.name}.work"
    candidates = list(
        _candidates_on_disk(work / "perturbed_candidates")  # the intermediate on disk
    )
    assert [c["problem_id"] for c in candidates] == verified  # source order, one each
    assert sum(c["rejected"] is not None for c in candidates) == len(perturbed)
    assert len(candidates) >= 40 and len(perturbed) >= 20  # a real mixture, both sides
    for er, name in [(0.0, "perturbed_er00"), (0.3, "perturbed_er30"), (1.0, "perturbed_er100")]:
        rows = datasets.load_dataset(str(out), name)["train"].to_list()
        expected = er_mixture(candidates, er, 3, StageStats("x"), part="perturbed")
        assert rows == expected
        m = len(candidates)
        wrong = [r for r in rows if not r["correct"]]
        missing = sum(c["rejected"] is None for c in candidates)
        assert len(wrong) == min(take_count(er, m), m - missing)
        for r in rows:
            if r["correct"]:
                assert r["completion"] == refs[r["problem_id"]]["text"]
            else:
                assert r["completion"] in perturbed[r["problem_id"]]
        assert stats["measured"][name]["rows"] == len(rows)
    assert "perturbed_er30" in (out / "README.md").read_text()


def _candidates_on_disk(path):
    from supdata.ops.mixture import CandidateRow

    return StageData(path, CandidateRow)


WINDOW_RECIPE = """\
name: windows
source: {kind: reasoning_gym, name: gsm_symbolic, size: 7, seed: 1}
engines:
  actor: {kind: vllm}
runner: {window: WINDOW}
builders:
  - kind: sample
    engine: actor
    n: 2
publish: {license: apache-2.0}
"""


def test_sample_stage_submits_one_window_at_a_time(tmp_path, monkeypatch):
    """A scripted engine (the exact submission sizes are the point): 7 problems with
    ``window: 3`` reach the engine as batches of 3, 3 and 1, and give the same rows as one
    batch of 7."""
    import datasets

    from supdata import engines
    from supdata.build import build
    from supdata.recipe import load_recipe

    from conftest import FakeBackend  # counts the size of every batch it gets

    rows = {}
    for window in (3, 100):
        backend = FakeBackend(lambda r, k: f"Add them.\nThe answer is {k}.")
        monkeypatch.setitem(engines.BACKENDS, "vllm", lambda config, b=backend: b)
        path = tmp_path / f"w{window}.yaml"
        path.write_text(WINDOW_RECIPE.replace("WINDOW", str(window)))
        out = tmp_path / f"out{window}"
        build(load_recipe(path), out, use_cache=False)
        assert backend.batches == ([3, 3, 1] if window == 3 else [7])
        rows[window] = datasets.load_dataset(str(out), "samples")["train"].to_list()
    assert len(rows[3]) == 14 and rows[3] == rows[100]


@pytest.mark.parametrize("bad", ["0", "-2", "many"])
def test_window_below_one_fails_at_validation_with_its_line(tmp_path, bad):
    from supdata.recipe import RecipeError, load_recipe

    path = tmp_path / "recipe.yaml"
    path.write_text(textwrap.dedent(WINDOW_RECIPE.replace("WINDOW", bad)))
    with pytest.raises(RecipeError) as info:
        load_recipe(path)
    assert f"{path}:5" in str(info.value) and "runner.window" in str(info.value)


def test_follow_merges_in_order_and_refuses_a_key_out_of_order():
    from supdata.ops.joins import Follow

    rows = [("a", 1), ("a", 2), ("c", 3), ("d", 4)]
    f = Follow(rows, lambda r: r[0], "rows")
    assert f.take("a") == [("a", 1), ("a", 2)]
    assert f.take("b") == []  # absent: nothing consumed
    assert f.seek("d") == ("d", 4)  # skips c
    with pytest.raises(LookupError, match="rows: no record 'a'"):
        f.seek("a")


@pytest.mark.parametrize("seed", range(5))
def test_streamed_selection_equals_the_in_memory_mixture(seed, tmp_path):
    """Candidates with missing sides (seeded at random): ``select`` + ``mix_rows`` over a
    stage on disk (and over a ``Replay`` filter of it) give exactly the rows
    ``er_mixture`` gives in memory."""
    import random

    from supdata.core.stats import StageStats
    from supdata.ops.mixture import CandidateRow, Replay, er_mixture, mixture

    rng = random.Random(seed)
    candidates = []
    for i in range(200):
        side = rng.choice(["both", "both", "right", "wrong"])
        candidates.append(
            {
                "id": f"p{i}",
                "problem_id": f"p{i}",
                "prompt": f"q{i}",
                "chosen": None if side == "wrong" else f"right {i}",
                "rejected": None if side == "right" else f"wrong {i}",
                "reference_answer": str(i),
            }
        )
    data = write_stage(tmp_path / "c", CandidateRow, candidates)
    odd = Replay(lambda: (c for c in data if int(c["id"][1:]) % 2))  # a filter, read twice
    for er in (0.0, 0.2, 0.5, 0.9, 1.0):
        a, b = StageStats("a"), StageStats("b")
        streamed = list(mixture(data, er, seed, a, part="p"))
        assert streamed == er_mixture(candidates, er, seed, b, part="p")
        assert a.to_dict() == b.to_dict()
        a, b = StageStats("a"), StageStats("b")
        replayed = list(mixture(odd, er, seed, a, part="p"))
        assert replayed == er_mixture(candidates[1::2], er, seed, b, part="p")
        assert a.to_dict() == b.to_dict() and len(replayed) <= 100


@pytest.mark.shared_data
def test_a_work_folder_of_another_stage_layout_is_never_resumed(shared_data, tmp_path, monkeypatch):
    """Stages join earlier stages from disk by the order they were written in, so stages
    written under another layout (older code) run again instead of being joined."""
    from supdata.build import build
    from supdata.core import runner
    from supdata.recipe import load_recipe

    monkeypatch.setattr(runner.Runner, "clean", lambda self: None)  # keep the work folder
    recipe = tmp_path / "r.yaml"
    recipe.write_text(
        f"name: layout\nsource: {{kind: file, path: {shared_data / 'gsm8k' / 'test.jsonl'}, "
        "normalizer: gsm8k, limit: 4}\nbuilders:\n  - kind: perturb\n    swer_grid: [0.5]\n"
        "    types: [wrong_result]\n"
    )
    out = tmp_path / "out"
    layout = runner.STAGE_LAYOUT
    monkeypatch.setattr(runner, "STAGE_LAYOUT", layout - 1)  # written by older code
    assert build(load_recipe(recipe), out)["resumed_stages"] == []
    monkeypatch.setattr(runner, "STAGE_LAYOUT", layout)
    assert build(load_recipe(recipe), out, force=True)["resumed_stages"] == []  # all ran again
    resumed = build(load_recipe(recipe), out, force=True)["resumed_stages"]
    assert resumed == ["source", "references", "perturbed"]  # same layout: resumed
