"""What a source reads, checked before a build starts and fingerprinted for resume.

``source_problems`` finds what would make the source stage fail (a missing file, an
unknown reasoning_gym dataset), so the recipe loader reports it with the field's line,
before any model loads. ``input_fingerprint`` is the content of every local file the
source reads: a resumed build compares it, so an edited source file is read again.
"""

from __future__ import annotations

import glob
import hashlib
import os
from pathlib import Path
from typing import Any

from supdata.sources.config import FileSource, HfSource, ReasoningGymSource, _Source

# datasets' packaged builders: ``path: json`` etc. read ``data_files``.
_HF_BUILDERS = {"json", "csv", "parquet", "text", "arrow", "pandas", "webdataset", "imagefolder"}


def source_problems(source: _Source) -> list[tuple[tuple[str, ...], str]]:
    """(field path within ``source``, message) for each input that cannot be read."""
    if isinstance(source, FileSource):
        path = Path(source.path)
        if not path.exists():
            return [(("path",), f"source file {source.path!r} does not exist{_cwd_note(path)}")]
        if not path.is_file():
            return [(("path",), f"source path {source.path!r} is not a file")]
        if not os.access(path, os.R_OK):
            return [(("path",), f"source file {source.path!r} is not readable")]
        return []
    if isinstance(source, ReasoningGymSource):
        try:
            from reasoning_gym.factory import DATASETS
        except ImportError:
            return [(("kind",), "reasoning_gym is not installed (pip install reasoning-gym)")]
        if source.name not in DATASETS:
            close = _close(source.name, DATASETS)
            hint = f"; did you mean {', '.join(map(repr, close))}?" if close else ""
            return [
                (
                    ("name",),
                    f"unknown reasoning_gym dataset {source.name!r}{hint} "
                    f"({len(DATASETS)} datasets, e.g. gsm_symbolic, chain_sum)",
                )
            ]
        return []
    if isinstance(source, HfSource):
        return [(loc, message) for loc, message, _ in _hf_files(source) if message]
    return []


def check_source(source: _Source) -> None:
    """Raise ``ValueError`` naming every input of ``source`` that cannot be read."""
    problems = source_problems(source)
    if problems:
        raise ValueError(
            "; ".join(f"source.{'.'.join(map(str, loc))}: {msg}" for loc, msg in problems)
        )


def input_files(source: _Source) -> list[Path]:
    """The local files the source reads (none for reasoning_gym or a Hub dataset)."""
    if isinstance(source, FileSource):
        return [Path(source.path)]
    if isinstance(source, HfSource):
        return [p for _, message, files in _hf_files(source) if not message for p in files]
    return []


def input_fingerprint(source: _Source) -> dict[str, Any]:
    """Size and sha256 of every local input file, by path as the recipe names it.

    ``{"files": {path: {"size": bytes, "sha256": hex}}}`` plus, for generated sources,
    the generator's version (``{"generator": "reasoning_gym 0.1.19"}``): the same recipe
    under another version makes other problems. Files are hashed in full on every call
    (about 1 s per GB): no shortcut by mtime, which an edit can keep (``cp -p``, ``touch
    -r``, a coarse clock). A missing file is recorded as such, so the fingerprint still
    differs from the one taken while it existed.
    """
    out: dict[str, Any] = {"files": {}}
    for path in input_files(source):
        out["files"][str(path)] = file_print(path)
    if isinstance(source, ReasoningGymSource):
        out["generator"] = f"reasoning_gym {_version('reasoning-gym')}"
    elif isinstance(source, HfSource) and not out["files"]:
        out["hub"] = {"path": source.path, "revision": source.revision}
    return out


def file_print(path: Path) -> dict[str, Any]:
    """Size and sha256 of one file (read in blocks), or ``{"missing": True}``."""
    try:
        st = path.stat()
    except FileNotFoundError:
        return {"missing": True}
    h = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return {"size": st.st_size, "sha256": h.hexdigest()}


def _hf_files(source: HfSource) -> list[tuple[tuple[str, ...], str, list[Path]]]:
    """(field path, problem or "", matched local files) per local input of an hf source."""
    out: list[tuple[tuple[str, ...], str, list[Path]]] = []
    local_dir = _is_local(source.path)
    if local_dir:
        root = Path(source.path).expanduser()
        if not root.exists():
            out.append((("path",), f"local dataset {source.path!r} does not exist", []))
            return out
        if root.is_file():
            out.append((("path",), "", [root]))
        elif source.data_files is None:
            files = sorted(p for p in root.rglob("*") if p.is_file() and ".git" not in p.parts)
            out.append((("path",), "", files))
    elif source.path in _HF_BUILDERS and source.data_files is None:
        out.append((("data_files",), f"path: {source.path} (a file builder) needs data_files", []))
    if source.data_files is None:
        return out
    base = Path(source.path).expanduser() if local_dir and Path(source.path).is_dir() else None
    for loc, pattern in _patterns(source.data_files):
        if "://" in pattern:
            continue  # a URL or hf:// path: read by datasets, not checked here
        if not local_dir and source.path not in _HF_BUILDERS:
            continue  # data_files of a Hub repo are paths inside that repo
        full = str((base / pattern) if base is not None else Path(pattern).expanduser())
        matched = glob.glob(full, recursive=True)  # noqa: PTH207 (patterns may be absolute)
        files = sorted(Path(p) for p in matched if Path(p).is_file())
        if not files:
            out.append((("data_files", *loc), f"no file matches {pattern!r}", []))
        else:
            out.append((("data_files", *loc), "", files))
    return out


def _patterns(data_files: Any) -> list[tuple[tuple[Any, ...], str]]:
    if isinstance(data_files, str):
        return [((), data_files)]
    if isinstance(data_files, list):
        return [((i,), p) for i, p in enumerate(data_files)]
    out = []
    for split, files in data_files.items():
        out += [((split, *loc), p) for loc, p in _patterns(files)]
    return out


def _is_local(path: str) -> bool:
    return path.startswith(("/", "./", "../", "~")) or Path(path).exists()


def _cwd_note(path: Path) -> str:
    return "" if path.is_absolute() else f" (relative to the working directory {Path.cwd()})"


def _close(name: str, names: Any) -> list[str]:
    import difflib

    return difflib.get_close_matches(name, list(names), n=3, cutoff=0.6)


def _version(dist: str) -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(dist)
    except PackageNotFoundError:
        return "unknown"
