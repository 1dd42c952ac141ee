"""Reliability of the output folder: supdata never deletes what it did not make, never
validates or pushes a file it did not check, and prints errors as plain text.

Model-free builds (reasoning_gym problems, references, rule perturbations) keep these
fast; the Hub itself is faked (an object with the two HfApi methods push calls), since no
Hub can be reached here.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from supdata.build import build
from supdata.publish.folder import MARKER, OutputError
from supdata.publish.push import push, uploaded_files
from supdata.publish.validate import FolderError, validate_folder
from supdata.recipe import load_recipe

from conftest import TINY_RECIPE, write_jsonl

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture
def recipe(tmp_path) -> Path:
    path = tmp_path / "tiny.yaml"
    path.write_text(TINY_RECIPE)
    return path


def _build(recipe: Path, out: Path, **kw) -> dict:
    return build(load_recipe(recipe), out, limit=3, use_cache=False, **kw)


def test_out_never_replaces_a_folder_supdata_did_not_make(tmp_path, recipe):
    mine = tmp_path / "P"
    mine.mkdir()
    (mine / "thesis.txt").write_text("x")
    with pytest.raises(OutputError, match=r"not made by supdata .*--force"):
        _build(recipe, mine)
    assert (mine / "thesis.txt").read_text() == "x"
    assert not any(p.name.startswith(".P") for p in tmp_path.iterdir())  # nothing ran

    out = tmp_path / "ds"
    _build(recipe, out)
    assert "supdata_version" in (out / MARKER).read_text()
    _build(recipe, out)  # its own folder: replaced
    assert validate_folder(out)["problems"] == 3

    _build(recipe, mine, force=True)  # --force: the user said so
    assert not (mine / "thesis.txt").exists()


def test_out_refuses_a_file_the_current_folder_and_the_source_folder(tmp_path, recipe):
    afile = tmp_path / "FILE"
    afile.write_text("keep")
    with pytest.raises(OutputError, match="is a file"):
        _build(recipe, afile)
    assert afile.read_text() == "keep"
    assert not (tmp_path / ".FILE.old").exists()

    with pytest.raises(OutputError, match="current folder"):
        _build(recipe, Path(), force=True)

    data = tmp_path / "data"
    data.mkdir()
    source = write_jsonl(data / "p.jsonl", [{"id": "a", "question": "1+1?", "answer": "2"}])
    rec = tmp_path / "file.yaml"
    rec.write_text(f"name: f\nsource: {{kind: file, path: {source}}}\n")
    for force in (False, True):
        with pytest.raises(OutputError, match="holds the input file"):
            build(load_recipe(rec), data, use_cache=False, force=force)
    assert source.is_file()


def test_cli_out_errors_are_plain_text_exit_2(tmp_path, recipe):
    odd = tmp_path / "odd[b]" / "[/x]"  # rich markup in the path
    odd.mkdir(parents=True)
    (odd / "keep.txt").write_text("k")
    result = subprocess.run(
        [sys.executable, "-m", "supdata", "build", str(recipe), "--out", str(odd)],
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=300,
        check=False,
    )
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr and "MarkupError" not in result.stderr
    assert f"--out {odd}: exists and was not made by supdata" in result.stderr
    assert (odd / "keep.txt").is_file()


@pytest.fixture
def built(tmp_path, recipe) -> Path:
    out = tmp_path / "built"
    _build(recipe, out)
    return out


@pytest.mark.parametrize(
    "extra",
    ["evil/train-00000-of-00001.parquet", "notes.jsonl", "references/extra/x.parquet"],
)
def test_validate_and_push_refuse_files_validate_does_not_read(built, extra):
    path = built / extra
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("not parquet")
    with pytest.raises(FolderError, match=r"no part of the dataset"):
        validate_folder(built)
    with pytest.raises(FolderError):
        push(built, "org/name", api=_NoHub())


def test_push_uploads_exactly_what_validate_checked(built):
    counts = validate_folder(built)
    hub = _NoHub()
    push(built, "org/name", api=hub)
    sent = set(hub.uploaded["allow_patterns"])
    on_disk = {p.relative_to(built).as_posix() for p in built.rglob("*") if p.is_file()}
    assert sent == on_disk
    assert sent == {p.relative_to(built).as_posix() for p in uploaded_files(built)}
    assert {s.split("/")[0] for s in sent if s.endswith(".parquet")} == set(counts)


def test_validate_catches_row_count_bad_parquet_and_broken_rows(built):
    card = built / "README.md"
    text = card.read_text()
    card.write_text(text.replace("num_examples: 3", "num_examples: 4", 1))
    with pytest.raises(FolderError, match="has 3 rows; the card says 4"):
        validate_folder(built)
    card.write_text(text)

    shard = next((built / "references").glob("*.parquet"))
    # Two flipped bytes at the end of the largest column chunk: page data, which every
    # page's CRC covers (a flip in a page header's statistics can go unnoticed).
    meta = pq.ParquetFile(shard).metadata.row_group(0)
    chunk = max(
        (meta.column(i) for i in range(meta.num_columns)), key=lambda c: c.total_compressed_size
    )
    start = chunk.dictionary_page_offset if chunk.has_dictionary_page else chunk.data_page_offset
    at = start + chunk.total_compressed_size - 3
    data = bytearray(shard.read_bytes())
    data[at] ^= 0xFF
    data[at + 1] ^= 0xFF
    good = shard.read_bytes()
    shard.write_bytes(bytes(data))
    with pytest.raises(FolderError, match=r"references/train-00000-of-00001\.parquet"):
        validate_folder(built)
    shard.write_bytes(good)

    rows = pq.read_table(shard).to_pylist()
    for change, why in (
        ({"text": rows[0]["text"] + " extra"}, "steps do not join"),
        ({"correct": not rows[0]["correct"]}, "contradicts status"),
    ):
        bad = [{**rows[0], **change}, *rows[1:]]
        pq.write_table(pa.Table.from_pylist(bad, schema=pq.read_schema(shard)), shard)
        with pytest.raises(FolderError, match=why):
            validate_folder(built)
    shutil.rmtree(built)


def test_validate_names_an_invalid_card_header(built):
    card = built / "README.md"
    text = card.read_text()
    assert text.startswith("---\n")
    card.write_text(text.replace("---\n", "---\nconfigs: [unclosed\n", 1))
    with pytest.raises(FolderError, match=r"README\.md"):
        validate_folder(built)
    card.write_text(text)
    validate_folder(built)


class _NoHub:
    """Stands in for HfApi (the Hub cannot be reached here): records the upload call."""

    def __init__(self) -> None:
        self.uploaded: dict = {}

    def create_repo(self, repo, **kw):
        return f"https://huggingface.co/datasets/{repo}"

    def upload_folder(self, **kw):
        self.uploaded = kw


def test_disk_full_while_publishing_keeps_the_old_folder(tmp_path, recipe):
    """A real full disk (a 300 kB tmpfs; skipped where mounting is not allowed): the build
    fails with a message, the folder built before stays whole, no temp folder is left."""
    mnt = tmp_path / "small"
    mnt.mkdir()
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=300k", "tmpfs", str(mnt)],
        capture_output=True,
        check=False,
    )
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a small tmpfs here: {mounted.stderr.decode().strip()}")
    try:
        out = mnt / "ds"
        _build(recipe, out)
        before = {p.relative_to(out): p.read_bytes() for p in out.rglob("*") if p.is_file()}
        (mnt / "filler").write_bytes(b"x" * (300_000 - sum(map(len, before.values())) - 20_000))
        bigger = tmp_path / "big.yaml"
        bigger.write_text(TINY_RECIPE.replace("size: 16", "size: 400"))
        result = subprocess.run(
            [
                sys.executable,
                "-m",
                "supdata",
                "build",
                str(bigger),
                "--out",
                str(out),
                "--no-cache",
                "--limit",
                "300",
            ],
            capture_output=True,
            text=True,
            cwd=REPO,
            timeout=300,
            check=False,
        )
        assert result.returncode == 1, result.stderr[-2000:]
        assert "Traceback" not in result.stderr
        assert "No space left on device" in result.stderr
        after = {p.relative_to(out): p.read_bytes() for p in out.rglob("*") if p.is_file()}
        assert after == before
        leftovers = [p.name for p in mnt.iterdir() if p.name not in ("ds", "filler")]
        assert leftovers in ([], [".ds.work"]), leftovers
    finally:
        subprocess.run(["umount", str(mnt)], check=False)
