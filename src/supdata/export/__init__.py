"""Trainer adapters: a built config's rows in the format a trainer takes, no glue code.

Each format has a pure row adapter per row kind (see ``registry``) and a ``to_*``
function over a ``datasets.Dataset``; ``export_dir`` does the same for one config of a
built folder and writes the file (``supdata export``). Rewards for the RL formats are in
``rewards``.
"""

from supdata.export.common import ExportError
from supdata.export.convert import Converted, convert
from supdata.export.distill import to_distill
from supdata.export.folder import Exported, export_dir, read_config
from supdata.export.llamafactory import to_llamafactory
from supdata.export.registry import FORMATS, formats_for, kind_of
from supdata.export.trl import to_stepwise, to_trl_dpo, to_trl_grpo, to_trl_sft
from supdata.export.verl import to_verl

__all__ = [
    "FORMATS",
    "Converted",
    "ExportError",
    "Exported",
    "convert",
    "export_dir",
    "formats_for",
    "kind_of",
    "read_config",
    "to_distill",
    "to_llamafactory",
    "to_stepwise",
    "to_trl_dpo",
    "to_trl_grpo",
    "to_trl_sft",
    "to_verl",
]
