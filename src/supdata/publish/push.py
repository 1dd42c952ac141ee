"""Upload a built folder to the Hugging Face Hub.

The token comes from the environment (``HF_TOKEN``) or the saved Hub login, through
huggingface_hub itself; supdata never reads, prints or writes it.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Any

log = logging.getLogger("supdata.push")


class PushError(RuntimeError):
    pass


def _retryable(exc: Exception) -> bool:
    from huggingface_hub.errors import HfHubHTTPError

    if isinstance(exc, HfHubHTTPError):
        status = getattr(exc.response, "status_code", None)
        return status is None or status == 429 or status >= 500
    return isinstance(exc, (ConnectionError, TimeoutError, OSError))


def uploaded_files(folder: Path) -> list[Path]:
    """The files push sends: exactly the ones validate checks."""
    import yaml

    from supdata.publish.validate import checked_files

    text = (folder / "README.md").read_text(encoding="utf-8")
    meta = yaml.safe_load(text[4 : text.index("\n---\n", 4)])
    return checked_files(folder, meta)


def push(
    folder: str | Path,
    repo: str,
    *,
    private: bool = False,
    revision: str | None = None,
    message: str | None = None,
    retries: int = 4,
    api: Any = None,
) -> str:
    """Validate ``folder`` again, create the dataset repo if needed, upload. Returns the URL."""
    from supdata.publish.validate import validate_folder

    folder = Path(folder)
    validate_folder(folder)  # nothing unvalidated is published
    files = [p.relative_to(folder).as_posix() for p in uploaded_files(folder)]
    if api is None:
        from huggingface_hub import HfApi

        api = HfApi()
    last: Exception | None = None
    for attempt in range(retries + 1):
        if attempt:
            delay = min(60.0, 2.0 * 2 ** (attempt - 1))
            log.info("push failed (%s); retrying in %.0fs", last, delay)
            time.sleep(delay)
        try:
            url = api.create_repo(repo, repo_type="dataset", private=private, exist_ok=True)
            info = api.upload_folder(
                repo_id=repo,
                repo_type="dataset",
                folder_path=str(folder),
                allow_patterns=files,  # exactly the files validate checked
                revision=revision,
                commit_message=message or f"supdata: upload {folder.name}",
            )
            return str(getattr(info, "commit_url", None) or url)
        except Exception as exc:
            if not _retryable(exc):
                raise PushError(f"push to {repo} failed: {exc}") from exc
            last = exc
    raise PushError(f"push to {repo} failed after {retries + 1} attempts: {last}")
