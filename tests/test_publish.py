"""Publishing: schema gate, shards, card checks, inspect, push (Hub faked at HfApi)."""

from __future__ import annotations

import io

import httpx
import pytest
from rich.console import Console

from supdata.core.records import Problem, StepAnnotation, Trace
from supdata.core.records.arrow import to_table
from supdata.inspect_rows import inspect
from supdata.publish import DatasetFolder, RowSchemaError
from supdata.publish.push import PushError, push
from supdata.publish.validate import FolderError, validate_folder

CARD = "---\nconfigs:\n- config_name: references\n  data_files: references/*.parquet\n---\n# x\n"


def _trace(i: int, **kw) -> Trace:
    steps = ["Step 1: 2+2=4\n", "Step 2: so 5\n", "The answer is 5."]
    return Trace(
        id=f"t{i}",
        problem_id=f"p{i}",
        text="".join(steps),
        steps=steps,
        origin="reference",
        status="incorrect",
        annotation=StepAnnotation.from_first_error(3, 1, "construction"),
        **kw,
    )


def _folder(tmp_path, traces, **kw):
    with DatasetFolder(tmp_path / "ds") as folder:
        folder.add_config("references", to_table(traces, Trace), **kw)
        folder.write_text("README.md", CARD)
        return folder.commit()


def test_shards_are_named_n_of_m(tmp_path):
    out = _folder(tmp_path, [_trace(i) for i in range(5)], shard_rows=2)
    names = sorted(p.name for p in (out / "references").iterdir())
    assert names == [f"train-0000{i}-of-00003.parquet" for i in range(3)]
    assert validate_folder(out) == {"references": 5}


def test_a_row_breaking_its_schema_stops_publishing(tmp_path):
    bad = _trace(7, model=None)
    bad.origin = "sampled"  # references must be origin=reference
    with pytest.raises(
        RowSchemaError, match=r"row 1 \(id 't7'\): field origin: .*references\.json"
    ):
        _folder(tmp_path, [_trace(0), bad])
    assert not (tmp_path / "ds").exists()
    assert not list(tmp_path.iterdir()), "the temporary folder is removed too"


def test_validate_folder_names_the_broken_file(tmp_path):
    out = _folder(tmp_path, [_trace(0)])
    problems = to_table([Problem(id="p", question="q?")], Problem)
    import pyarrow.parquet as pq

    pq.write_table(problems, out / "references" / "train-00000-of-00001.parquet")
    with pytest.raises(FolderError, match=r"references/train-00000-of-00001\.parquet: .*row 0"):
        validate_folder(out)
    (out / "README.md").write_text("# no metadata\n")
    with pytest.raises(FolderError, match="no YAML metadata"):
        validate_folder(out)


def test_inspect_colours_steps_and_marks_the_first_error(tmp_path):
    out = _folder(tmp_path, [_trace(0), _trace(1)])
    buffer = io.StringIO()
    shown = inspect(out, "references", n=1, console=Console(file=buffer, width=100))
    text = buffer.getvalue()
    assert shown == 2
    assert "Step 2: so 5   <- first error" in text
    assert "incorrect" in text and "labels: construction" in text
    with pytest.raises(FileNotFoundError, match="no config 'samples'"):
        inspect(out, "samples")


class RecordingHfApi:
    """The Hub cannot be reached here: this records the calls at the HfApi boundary."""

    def __init__(self, fail_first: int = 0, status: int = 503) -> None:
        self.calls: list[tuple[str, dict]] = []
        self.fail_first = fail_first
        self.status = status

    def create_repo(self, repo_id, **kw):
        self.calls.append(("create_repo", {"repo_id": repo_id, **kw}))
        if self.fail_first:
            self.fail_first -= 1
            from huggingface_hub.errors import HfHubHTTPError

            request = httpx.Request("POST", "https://huggingface.co/api/repos/create")
            response = httpx.Response(self.status, request=request)
            raise HfHubHTTPError(f"{self.status} from the fake", response=response)
        return f"https://huggingface.co/datasets/{repo_id}"

    def upload_folder(self, **kw):
        self.calls.append(("upload_folder", kw))
        return type(
            "Info", (), {"commit_url": f"https://huggingface.co/datasets/{kw['repo_id']}/commit/1"}
        )()


def test_push_creates_the_repo_then_uploads_the_folder(tmp_path, monkeypatch):
    monkeypatch.setenv("HF_TOKEN", "hf_secret_do_not_write")
    out = _folder(tmp_path, [_trace(0)])
    api = RecordingHfApi()
    url = push(out, "org/name", private=True, api=api)
    assert url.endswith("/commit/1")
    (name1, create), (name2, upload) = api.calls
    assert name1 == "create_repo" and create == {
        "repo_id": "org/name",
        "repo_type": "dataset",
        "private": True,
        "exist_ok": True,
    }
    assert name2 == "upload_folder"
    assert upload["repo_id"] == "org/name" and upload["repo_type"] == "dataset"
    assert upload["folder_path"] == str(out)
    assert "token" not in upload and "token" not in create  # huggingface_hub reads it itself
    assert not any(
        "hf_secret" in p.read_text(errors="ignore")
        for p in out.rglob("*")
        if p.is_file() and p.suffix in (".md", ".json")
    )


def test_push_retries_server_errors_but_not_client_errors(tmp_path, monkeypatch):
    monkeypatch.setattr("supdata.publish.push.time.sleep", lambda s: None)
    out = _folder(tmp_path, [_trace(0)])
    api = RecordingHfApi(fail_first=2, status=503)
    push(out, "org/name", api=api)
    assert [c[0] for c in api.calls] == ["create_repo"] * 3 + ["upload_folder"]
    forbidden = RecordingHfApi(fail_first=1, status=403)
    with pytest.raises(PushError, match=r"push to org/name failed: 403"):
        push(out, "org/name", api=forbidden)
    assert len(forbidden.calls) == 1


def test_push_refuses_an_invalid_folder(tmp_path):
    out = _folder(tmp_path, [_trace(0)])
    (out / "README.md").unlink()
    api = RecordingHfApi()
    with pytest.raises(FolderError, match=r"no README\.md"):
        push(out, "org/name", api=api)
    assert api.calls == []
