"""Dataset cards rendered from ``cards/`` in a sandboxed Jinja environment."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from jinja2 import FileSystemLoader, StrictUndefined
from jinja2.sandbox import SandboxedEnvironment

from supdata.assets import asset_dir

# Citations of source datasets; a builder's method citation comes with its spec.
CITATIONS = {
    "gsm8k": {
        "title": "Training Verifiers to Solve Math Word Problems (GSM8K)",
        "ref": "arXiv:2110.14168",
    },
    "math": {
        "title": "Measuring Mathematical Problem Solving With the MATH Dataset",
        "ref": "arXiv:2103.03874",
    },
    "processbench": {
        "title": "ProcessBench: Identifying Process Errors in Mathematical Reasoning",
        "ref": "arXiv:2412.06559",
    },
    "reasoning_gym": {
        "title": "Reasoning Gym: Reasoning Environments for Reinforcement "
        "Learning with Verifiable Rewards",
        "ref": "arXiv:2505.24760",
    },
}


def size_category(n: int) -> str:
    for limit, name in (
        (1_000, "n<1K"),
        (10_000, "1K<n<10K"),
        (100_000, "10K<n<100K"),
        (1_000_000, "100K<n<1M"),
    ):
        if n < limit:
            return name
    return "n>1M"


def cell(value: Any, width: int = 90) -> str:
    """A value as one markdown table cell: no pipes or newlines, at most ``width`` chars."""
    text = " ".join(str(value).split()).replace("|", "\\|")
    return text if len(text) <= width else text[: width - 3] + "..."


def render_card(template: str, **context: Any) -> str:
    return _env(asset_dir("cards")).get_template(template).render(**context)


def render_section(path: Path, **context: Any) -> str:
    """A builder's card section (a template in its folder), in the same sandbox."""
    return _env(path.parent).get_template(path.name).render(**context)


def _env(folder: Path) -> SandboxedEnvironment:
    env = SandboxedEnvironment(
        loader=FileSystemLoader(folder),
        undefined=StrictUndefined,
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["size_category"] = size_category
    env.filters["cell"] = cell
    return env


def card_header(
    *,
    license: str,
    pretty_name: str,
    configs: list[dict[str, Any]],
    split: str,
    source_datasets: list[str],
    total_rows: int,
) -> str:
    """The card's YAML metadata, made with huggingface_hub's ``DatasetCardData`` (so
    values are escaped and the keys are the Hub's): license, pretty_name, language,
    task_categories, tags, size_categories, source_datasets, configs and dataset_info
    with each config's ``features``. ``configs``: name, rows, num_bytes, download_size
    and ``schema`` (its Arrow schema) per config."""
    import yaml
    from datasets import Features
    from datasets.info import DatasetInfo
    from huggingface_hub import DatasetCardData

    data = DatasetCardData(
        license=license,
        pretty_name=pretty_name,
        language=["en"],
        task_categories=["text-generation"],
        tags=["supdata", "reasoning", "math", "process-supervision"],
        size_categories=[size_category(total_rows)],
        source_datasets=source_datasets or None,
        configs=[
            {
                "config_name": c["name"],
                "data_files": [{"split": split, "path": f"{c['name']}/{split}-*.parquet"}],
                **({"default": True} if i == 0 else {}),
            }
            for i, c in enumerate(configs)
        ],
        dataset_info=[
            {
                "config_name": c["name"],
                **DatasetInfo(features=Features.from_arrow_schema(c["schema"]))._to_yaml_dict(),
                "splits": [{"name": split, "num_bytes": c["num_bytes"], "num_examples": c["rows"]}],
                "download_size": c["download_size"],
                "dataset_size": c["num_bytes"],
            }
            for c in configs
        ],
    ).to_dict()
    ordered = {"license": data.pop("license"), **data}  # license first, as the Hub shows it
    return "---\n" + yaml.safe_dump(ordered, sort_keys=False, allow_unicode=True) + "---\n"
