"""Where the shipped schemas, recipes and cards live.

A wheel carries them under ``supdata/_assets``; an editable install reads them from the
repository root, where they are edited.
"""

from __future__ import annotations

from pathlib import Path

_PACKAGED = Path(__file__).parent / "_assets"
_REPO = Path(__file__).resolve().parents[2]


def asset_dir(name: str) -> Path:
    for base in (_PACKAGED, _REPO):
        path = base / name
        if path.is_dir():
            return path
    raise FileNotFoundError(f"supdata's {name}/ folder is missing from {_PACKAGED} and {_REPO}")
