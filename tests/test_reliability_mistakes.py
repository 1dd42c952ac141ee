"""Issue 16, as a careful and hostile user: a table of recipe mistakes and a table of bad
source files.

Every recipe mistake must be one ``RecipeError`` from ``load_recipe`` (what ``supdata
build`` calls before anything runs) naming the file, the line and the field path, e.g.
``r.yaml:7: builders[0].n: ...``; a handful also go through the CLI (exit 2, no
traceback). Every bad source file must be counted and skipped with its reason and
file:line (``strict: true``: a ``SourceError`` at that file:line), or be one
``SourceError`` naming the file; never another exception.

The first run of this table found eight bugs, each fixed and kept here as a row: an
infinite ``max_tokens_per_reference``, ``min_tokens`` above ``max_tokens``, inverted
level and solution-length filters, a fractional ``kv_cache_gb`` (vLLM reads an int),
JSON nested too deeply or holding a 5,000-digit integer, and an empty source file.
"""

from __future__ import annotations

import gzip
import json
import re
import subprocess
import sys
import textwrap
import time
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from supdata.core.stats import StageStats
from supdata.recipe import RecipeError, load_recipe
from supdata.sources import FileSource, SourceError, load_problems

# -- recipes ------------------------------------------------------------------------------

# Four lines; a builder appended after it starts at line 5 (`builders:`), its `- kind:` is
# line 6 and its first field line 7.
BASE = (
    "name: x\n"
    "source: {kind: reasoning_gym, name: gsm_symbolic, size: 4}\n"
    "engines:\n"
    "  actor: {kind: vllm, max_model_len: 1024}\n"
)
GYM = "source: {kind: reasoning_gym, name: gsm_symbolic, size: 4}\n"


def builder(kind: str, *fields: str) -> str:
    """BASE plus one builder: its `kind` on line 6, ``fields`` from line 7."""
    return BASE + f"builders:\n  - kind: {kind}\n" + "".join(f"    {f}\n" for f in fields)


def source(fields: str) -> str:
    """A recipe whose line 2 is a reasoning_gym source with these extra fields."""
    return f"name: x\nsource: {{kind: reasoning_gym, name: gsm_symbolic, {fields}}}\n"


@dataclass(frozen=True)
class RecipeMistake:
    text: str
    line: int | None
    field: str
    pattern: str
    files: dict[str, str]


def mistake(
    case_id: str,
    text: str,
    line: int | None,
    field: str,
    pattern: str,
    *,
    files: dict[str, str] | None = None,
):
    """One recipe mistake: the error must hold ``{recipe}:{line}: {field}: `` and match
    ``pattern``. ``line`` None: a field missing from the top-level mapping (no line to
    point at) or a whole-file problem; then ``{recipe}: {field}`` is required.
    ``files``: other files to write next to the recipe (the working directory)."""
    case = RecipeMistake(text, line, field, pattern, files or {})
    return pytest.param(case, id=case_id)


RECIPE_MISTAKES = [
    # -- wrong types -------------------------------------------------------------------
    mistake("n-is-a-word", builder("sample", "n: four"), 7, "builders[0].n", r"valid integer"),
    mistake("n-is-a-fraction", builder("sample", "n: 2.5"), 7, "builders[0].n", "fractional"),
    mistake("n-is-clock-time", builder("sample", "n: 1:30"), 7, "builders[0].n", "'1:30'"),
    mistake("n-is-true", builder("sample", "n: true"), 7, "builders[0].n", "boolean true"),
    mistake("n-is-rich-markup", builder("sample", "n: '[/b]'"), 7, "builders[0].n", r"'\[/b\]'"),
    mistake("builders-is-a-string", BASE + "builders: sample\n", 5, "builders", "valid list"),
    mistake(
        "builders-is-a-mapping", BASE + "builders:\n  kind: sample\n", 6, "builders", "valid list"
    ),
    mistake("builder-is-null", BASE + "builders:\n  - null\n", 6, "builders[0]", "dictionary"),
    mistake(
        "engines-is-a-list",
        "name: x\n" + GYM + "engines: [actor]\n",
        3,
        "engines",
        "valid dictionary",
    ),
    mistake(
        "engine-is-empty",
        "name: x\n" + GYM + "engines:\n  actor:\n",
        4,
        "engines.actor",
        "got None",
    ),
    mistake("source-is-a-path", "name: x\nsource: gsm8k.jsonl\n", 2, "source", "dictionary"),
    mistake("source-fields-is-a-list", source("fields: [q]"), 2, "source.fields", "dictionary"),
    mistake("source-config-is-a-list", source("config: [1]"), 2, "source.config", "dictionary"),
    mistake("strict-is-a-word", source("strict: sometimes"), 2, "source.strict", "valid boolean"),
    # -- unknown keys, one per level ----------------------------------------------------
    mistake("unknown-top-key", BASE + "bulders: []\n", 5, "bulders", "Extra inputs"),
    mistake("unknown-source-key", source("sise: 4"), 2, "source.sise", "Extra inputs"),
    mistake(
        "unknown-filters-key", source("filters: {level: 3}"), 2, "source.filters.level", "Extra"
    ),
    mistake(
        "unknown-engine-key",
        BASE.replace("kind: vllm,", "kind: vllm, gpus: 2,"),
        4,
        "engines.actor.gpus",
        "Extra inputs",
    ),
    mistake(
        "unknown-builder-key",
        builder("sample", "temprature: 0.5"),
        7,
        "builders[0].temprature",
        "Extra inputs",
    ),
    mistake(
        "unknown-nested-builder-key",
        builder("steperror", "decompose: {subtasks: 3}"),
        7,
        "builders[0].decompose.subtasks",
        "Extra inputs",
    ),
    mistake("unknown-runner-key", BASE + "runner: {gpus: 2}\n", 5, "runner.gpus", "Extra"),
    mistake(
        "unknown-verification-key",
        BASE + "verification: {timeout: 5}\n",
        5,
        "verification.timeout",
        "Extra inputs",
    ),
    mistake(
        "unknown-publish-key", BASE + "publish: {licence: mit}\n", 5, "publish.licence", "Extra"
    ),
    mistake("unknown-dedup-key", BASE + "dedup: {problem: {}}\n", 5, "dedup.problem", "Extra"),
    mistake(
        "unknown-benchmark-key",
        BASE + "decontaminate: {against: [{name: math500, fiel: q}]}\n",
        5,
        "decontaminate.against[0].fiel",
        "Extra inputs",
    ),
    # -- unknown names ------------------------------------------------------------------
    mistake("unknown-builder-kind", builder("smaple"), 6, "builders[0].kind", "'smaple'.*'sample'"),
    mistake(
        "builder-without-kind", BASE + "builders:\n  - n: 3\n", 6, "builders[0].kind", "'kind'"
    ),
    mistake(
        "unknown-source-kind",
        "name: x\nsource: {kind: s3, path: a}\n",
        2,
        "source.kind",
        "'s3'.*'hf', 'file', 'reasoning_gym'",
    ),
    mistake("unknown-engine-kind", BASE.replace("vllm", "tgi"), 4, "engines.actor.kind", "tgi"),
    mistake(
        "unknown-engine-referenced",
        builder("sample", "engine: critic"),
        7,
        "builders[0].engine",
        r"no engine named 'critic' \(engines: \['actor'\]\)",
    ),
    mistake(
        "unknown-critic-engine",
        builder("critique", "critic: judge"),
        7,
        "builders[0].critic",
        "no engine named 'judge'",
    ),
    mistake(
        "unknown-verifier-engine",
        builder("stv", "verifier: v2"),
        7,
        "builders[0].verifier",
        "no engine named 'v2'",
    ),
    mistake(
        "unknown-decompose-engine",
        builder("steperror", "decompose: {engine: big}"),
        7,
        "builders[0].decompose.engine",
        "no engine named 'big'",
    ),
    mistake(
        "unknown-prompt", builder("sample", "prompt: nosuch@1"), 7, "builders[0].prompt", "nosuch"
    ),
    mistake(
        "unknown-prompt-version",
        builder("sample", "prompt: solve@99"),
        7,
        "builders[0].prompt",
        "no version '99'",
    ),
    mistake(
        "unknown-error-type", builder("perturb", "types: [typo]"), 7, "builders[0].types[0]", "typo"
    ),
    mistake(
        "unknown-critique-method",
        builder("critique", "methods: [rg4]"),
        7,
        "builders[0].methods[0]",
        "rg4",
    ),
    mistake("unknown-normalizer", source("normalizer: aops"), 2, "source.normalizer", "'aops'"),
    mistake(
        "unknown-reasoning-gym-dataset",
        "name: x\nsource: {kind: reasoning_gym, name: gsm_symbolik}\n",
        2,
        "source.name",
        "did you mean 'gsm_symbolic'",
    ),
    mistake(
        "unknown-segmentation",
        BASE + "segmentation: {strategy: sentences}\n",
        5,
        "segmentation.strategy",
        "sentences",
    ),
    mistake(
        "unknown-benchmark",
        BASE + "decontaminate: {against: [mathh500]}\n",
        5,
        "decontaminate.against[0]",
        "unknown benchmark 'mathh500'",
    ),
    mistake(
        "unknown-mixture-pool",
        builder("steperror", "mixtures: {m: [easy@0.1]}"),
        7,
        "builders[0].mixtures",
        "unknown pool 'easy'",
    ),
    mistake(
        "unpublished-config", BASE + "outputs: {configs: [pairs]}\n", 5, "outputs.configs[0]", ""
    ),
    # -- zero, negative, too big, out of range ----------------------------------------
    mistake("n-zero", builder("sample", "n: 0"), 7, "builders[0].n", r"greater than or equal"),
    mistake("n-negative", builder("sample", "n: -3"), 7, "builders[0].n", r"\(got -3\)"),
    mistake("n-too-big-octal", builder("sample", "n: 0o7777"), 7, "builders[0].n", "got 4095"),
    mistake("stv-n-zero", builder("stv", "n: 0"), 7, "builders[0].n", "greater than or equal"),
    mistake("size-zero", source("size: 0"), 2, "source.size", "greater than or equal to 1"),
    mistake("limit-zero", source("limit: 0"), 2, "source.limit", "greater than or equal to 1"),
    mistake("shard-rows-zero", BASE + "outputs: {shard_rows: 0}\n", 5, "outputs.shard_rows", ""),
    mistake(
        "er-grid-1.5",
        builder("steperror", "er_grid: [0.1, 1.5]"),
        7,
        "builders[0].er_grid",
        r"must be in \[0, 1\]; got \[1.5\]",
    ),
    mistake(
        "er-grid-twice",
        builder("steperror", "er_grid: [0.1, 0.1]"),
        7,
        "builders[0].er_grid",
        "same config",
    ),
    mistake(
        "er-grid-empty", builder("steperror", "er_grid: []"), 7, "builders[0].er_grid", "at least"
    ),
    mistake(
        "sub-er-negative",
        builder("steperror", "decompose: {er_grid: [-0.1]}"),
        7,
        "builders[0].decompose.er_grid",
        r"\[0, 1\]",
    ),
    mistake(
        "swer-zero", builder("perturb", "swer_grid: [0]"), 7, "builders[0].swer_grid", r"\(0, 1\]"
    ),
    mistake(
        "position-zero",
        builder("perturb", "positions: [0]"),
        7,
        "builders[0].positions",
        "counts from 1",
    ),
    mistake(
        "temperature-negative",
        builder("sample", "temperature: -1"),
        7,
        "builders[0].temperature",
        "greater than or equal to 0",
    ),
    mistake(
        "temperature-nan",
        builder("sample", "temperature: .nan"),
        7,
        "builders[0].temperature",
        "got nan",
    ),
    mistake("top-p-zero", builder("sample", "top_p: 0"), 7, "builders[0].top_p", "greater"),
    mistake(
        "correct-share-negative",
        builder("critique", "rg1_correct_share: -0.1"),
        7,
        "builders[0].rg1_correct_share",
        "greater than or equal to 0",
    ),
    mistake(
        "gpu-memory-1.5",
        BASE.replace("kind: vllm,", "kind: vllm, gpu_memory_utilization: 1.5,"),
        4,
        "engines.actor.gpu_memory_utilization",
        "less than or equal to 1",
    ),
    mistake(
        "max-model-len-8",
        BASE.replace("1024", "8"),
        4,
        "engines.actor.max_model_len",
        "greater than or equal to 16",
    ),
    mistake(
        "concurrency-zero",
        BASE.replace("kind: vllm,", "kind: openai, concurrency: 0,"),
        4,
        "engines.actor.concurrency",
        "",
    ),
    mistake(
        "dedup-threshold-1.5",
        BASE + "dedup: {problems: {threshold: 1.5}}\n",
        5,
        "dedup.problems.threshold",
        "less than or equal to 1",
    ),
    mistake(
        "verification-timeout-zero",
        BASE + "verification: {timeout_s: 0}\n",
        5,
        "verification.timeout_s",
        "greater than 0",
    ),
    mistake(
        "max-tokens-above-context",
        builder("stv", "feedback_max_tokens: 2000"),
        7,
        "builders[0].feedback_max_tokens",
        "must be below engine 'actor''s max_model_len",
    ),
    mistake(
        "max-tokens-per-reference-infinite",
        builder("sample", "max_tokens_per_reference: .inf"),
        7,
        "builders[0].max_tokens_per_reference",
        "",
    ),
    # -- inverted bounds ----------------------------------------------------------------
    mistake(
        "feedback-bounds-inverted",
        builder("stv", "feedback_min_tokens: 600", "feedback_max_tokens: 100"),
        7,
        "builders[0].feedback_min_tokens",
        r"\(600\) > feedback_max_tokens \(100\)",
    ),
    mistake(
        "subtask-bounds-inverted",
        builder("steperror", "decompose: {min_subtasks: 4, max_subtasks: 2}"),
        7,
        "builders[0].decompose",
        r"min_subtasks \(4\) > max_subtasks \(2\)",
    ),
    mistake(
        "length-ratio-inverted",
        builder("perturb", "length_ratio: [1.3, 0.7]"),
        7,
        "builders[0].length_ratio",
        "low <= high",
    ),
    mistake(
        "refine-k-above-n",
        builder("critique", "refine_k: 5", "refine_n: 2"),
        7,
        "builders[0].refine_k",
        r"refine_k \(5\) > refine_n \(2\)",
    ),
    mistake(
        "min-words-above-ngram",
        BASE + "decontaminate: {against: [math500], ngram: 5, min_words: 8}\n",
        5,
        "decontaminate",
        r"min_words \(8\) > ngram \(5\)",
    ),
    mistake(
        "sampling-min-tokens-above-max-tokens",
        builder("sample", "max_tokens: 32", "min_tokens: 100", "max_tokens_per_reference: 1.5"),
        8,
        "builders[0].min_tokens",
        "max_tokens",
    ),
    mistake(
        "filter-levels-inverted",
        source("size: 4, filters: {min_level: 5, max_level: 2}"),
        2,
        "source.filters",
        "min_level",
    ),
    mistake(
        "filter-solution-tokens-inverted",
        source("size: 4, filters: {min_solution_tokens: 500, max_solution_tokens: 10}"),
        2,
        "source.filters",
        "min_solution_tokens",
    ),
    # -- bins ---------------------------------------------------------------------------
    mistake(
        "bin-empty-interval",
        builder("stv", "bins: {a: '[0.5, 0.2]'}"),
        7,
        "builders[0].bins",
        "bin 'a'.* is empty",
    ),
    mistake(
        "bin-unquoted-list",
        builder("stv", "bins: {a: [0, 0]}"),
        7,
        "builders[0].bins",
        "quoted string",
    ),
    mistake(
        "bin-not-an-interval",
        builder("stv", "bins: {a: zero}"),
        7,
        "builders[0].bins",
        "not an interval",
    ),
    mistake(
        "bins-overlap",
        builder("stv", "bins: {a: '[0, 0.5]', b: '[0.3, 1]'}"),
        7,
        "builders[0].bins",
        "overlaps",
    ),
    mistake("bins-none", builder("stv", "bins: {}"), 7, "builders[0].bins", "at least 1"),
    # -- missing required fields ----------------------------------------------------------
    mistake("no-name", GYM, None, "name", "Field required"),
    mistake("no-source", "name: x\n", None, "source", "Field required"),
    mistake(
        "no-engine-kind",
        BASE.replace("kind: vllm, ", ""),
        4,
        "engines.actor.kind",
        "Field required",
    ),
    mistake(
        "no-source-name",
        "name: x\nsource: {kind: reasoning_gym, size: 4}\n",
        2,
        "source.name",
        "Field required",
    ),
    mistake(
        "no-source-path", "name: x\nsource: {kind: file}\n", 2, "source.path", "Field required"
    ),
    mistake(
        "no-benchmarks",
        BASE + "decontaminate: {ngram: 5}\n",
        5,
        "decontaminate.against",
        "Field required",
    ),
    mistake(
        "model-types-without-engine",
        builder("perturb", "types: [wrong_result, calculation]"),
        6,
        "builders[0].engine",
        r"need `engine:`",
    ),
    mistake(
        "mixture-part-without-section",
        builder("steperror", "mixtures: {m: [sub@0.1]}"),
        7,
        "builders[0].mixtures.m[0]",
        "needs `decompose:`",
    ),
    mistake(
        "correct-samples-without-sampler",
        builder("perturb", "apply_to: [correct_samples]"),
        7,
        "builders[0].apply_to",
        "needs a sample or steperror builder",
    ),
    mistake(
        "config-made-twice",
        BASE + "builders:\n  - kind: sample\n  - kind: steperror\n",
        7,
        "builders[1].kind",
        "'samples' is made twice",
    ),
    # -- bad strings, paths and includes ---------------------------------------------------
    mistake("name-with-space", "name: 'my data'\n" + GYM, 1, "name", "pattern"),
    mistake("split-with-slash", BASE + "outputs: {split: a/b}\n", 5, "outputs.split", "pattern"),
    mistake("repo-without-org", BASE + "publish: {repo: noslash}\n", 5, "publish.repo", ""),
    mistake(
        "base-url-without-scheme",
        "name: x\n" + GYM + "engines:\n  actor: {kind: openai, base_url: 'localhost:8000'}\n",
        4,
        "engines.actor.base_url",
        "http:// or https://",
    ),
    mistake(
        "model-folder-missing",
        BASE.replace("kind: vllm,", "kind: vllm, model: ./nomodel,"),
        4,
        "engines.actor.model",
        "no config.json",
    ),
    mistake(
        "ray-address-is-a-url",
        BASE + "runner: {address: 'http://x'}\n",
        5,
        "runner.address",
        "pattern",
    ),
    mistake(
        "source-file-missing",
        "name: x\nsource:\n  kind: file\n  path: nope.jsonl\n",
        4,
        "source.path",
        "'nope.jsonl' does not exist",
    ),
    mistake(
        "source-path-is-a-folder",
        "name: x\nsource:\n  kind: file\n  path: folder.jsonl\n",
        4,
        "source.path",
        "is not a file",
        files={"folder.jsonl/keep": ""},
    ),
    mistake(
        "source-extension-unknown",
        "name: x\nsource:\n  kind: file\n  path: data.txt\n",
        3,  # a block mapping's value starts on the line after `source:`
        "source",
        "cannot tell the format of 'data.txt'",
        files={"data.txt": '{"question": "q?", "answer": "1"}\n'},
    ),
    mistake(
        "source-format-unknown",
        "name: x\nsource: {kind: file, path: data.jsonl, format: xml}\n",
        2,
        "source.format",
        "'xml'",
        files={"data.jsonl": '{"question": "q?", "answer": "1"}\n'},
    ),
    mistake(
        "hf-data-files-missing",
        "name: x\nsource: {kind: hf, path: json, data_files: [gone.jsonl]}\n",
        2,
        "source.data_files[0]",
        "no file matches 'gone.jsonl'",
    ),
    mistake(
        "hf-builder-without-data-files",
        "name: x\nsource: {kind: hf, path: json}\n",
        2,
        "source.data_files",
        "needs data_files",
    ),
    mistake(
        "include-not-found",
        "include: ../nope/base.yaml\n" + BASE,
        1,
        "include",
        "'../nope/base.yaml' not found",
    ),
    mistake("include-of-numbers", "include: [1, 2]\n" + BASE, 1, "include", "file name"),
    mistake(
        "include-cycle",
        "include: a.yaml\n" + BASE,
        1,
        "include",
        "cycle",
        files={"a.yaml": "include: b.yaml\n", "b.yaml": "include: a.yaml\n"},
    ),
    # -- YAML itself ------------------------------------------------------------------------
    mistake("tab-indent", BASE + "builders:\n\t- kind: sample\n", 6, "", "not valid YAML"),
    mistake("undefined-alias", BASE + "builders:\n  - *nope\n", 6, "", "undefined alias"),
    mistake(
        "python-tag", BASE + "builders: !!python/object:os.system [ls]\n", 5, "", "constructor"
    ),
    mistake(
        "duplicate-key",
        BASE + "builders:\n  - kind: sample\nbuilders: []\n",
        7,
        "",
        "duplicate key 'builders' \\(first at line 5\\)",
    ),
    mistake("top-level-list", "- a\n- b\n", None, "", "expected a mapping at the top level"),
    mistake("empty-file", "", None, "", "expected a mapping at the top level"),
]


def _write_recipe(tmp_path: Path, text: str, files: dict[str, str]) -> Path:
    for name, content in files.items():
        target = tmp_path / name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(content, encoding="utf-8")
    path = tmp_path / "r.yaml"
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


@pytest.mark.parametrize("case", RECIPE_MISTAKES)
def test_recipe_mistake_is_one_error_with_file_line_and_field(tmp_path, monkeypatch, case):
    monkeypatch.chdir(tmp_path)  # relative source paths are relative to the working dir
    path = _write_recipe(tmp_path, case.text, case.files)
    with pytest.raises(RecipeError) as info:
        load_recipe(path)
    message = str(info.value)
    assert "Traceback" not in message
    line, field = case.line, case.field
    if line is None:
        where = f"{path}: {field}" if field else f"{path}: "
    elif not field:  # a YAML error: file:line:column
        where = f"{path}:{line}:"
    else:
        where = f"{path}:{line}: {field}: "
    if "cycle" in case.pattern:  # the cycle is found in the included file
        where = f":{line}: include: "
    assert where in message, message
    assert re.search(case.pattern, message), message


def test_pydantic_mistakes_are_reported_together(tmp_path):
    """Three mistakes in one builder: both field errors come in one message (the engine
    reference is checked once the fields are valid)."""
    path = _write_recipe(tmp_path, builder("sample", "n: 0", "top_p: 2", "engine: critic"), {})
    with pytest.raises(RecipeError) as info:
        load_recipe(path)
    message = str(info.value)
    assert message.startswith(f"{path}: invalid recipe (2 problem(s))")
    assert f"{path}:7: builders[0].n: " in message
    assert f"{path}:8: builders[0].top_p: " in message


def test_a_mistake_in_an_included_file_names_that_file(tmp_path):
    base = tmp_path / "base.yaml"
    base.write_text("engines:\n  actor:\n    kind: vllm\n    seed: -1\n")
    path = _write_recipe(tmp_path, "include: base.yaml\nname: x\n" + GYM, {})
    with pytest.raises(RecipeError) as info:
        load_recipe(path)
    assert f"{base}:4: engines.actor.seed: Input should be greater" in str(info.value)


def test_kv_cache_gb_is_a_whole_number_of_gb(tmp_path):
    """vLLM reads VLLM_CPU_KVCACHE_SPACE with ``int(...)``: ``kv_cache_gb: 1.5`` used to
    validate and then stop the CPU engine from starting."""
    path = _write_recipe(
        tmp_path, "name: x\n" + GYM + "engines:\n  actor: {kind: vllm, kv_cache_gb: 1.5}\n", {}
    )
    with pytest.raises(
        RecipeError, match=rf"{re.escape(str(path))}:\d+: engines\.actor\.kv_cache_gb: "
    ):
        load_recipe(path)


# -- the CLI: exit 2, the same message, no traceback ----------------------------------

CLI_CASES = {
    "unknown-builder-kind": (builder("smaple"), "r.yaml:6: builders[0].kind: "),
    "er-grid-1.5": (builder("steperror", "er_grid: [0.1, 1.5]"), "r.yaml:7: builders[0].er_grid"),
    "unknown-engine": (builder("sample", "engine: critic"), "r.yaml:7: builders[0].engine: "),
    "rich-markup-value": (builder("sample", "n: '[/b]'"), "r.yaml:7: builders[0].n: "),
    "missing-source-file": (
        "name: x\nsource:\n  kind: file\n  path: '[/x]nope.jsonl'\n",
        "r.yaml:4: source.path: source file '[/x]nope.jsonl' does not exist",
    ),
    "yaml-tab": (BASE + "builders:\n\t- kind: sample\n", "r.yaml:6:1: not valid YAML"),
}


SUPDATA_BUILD = (sys.executable, "-m", "supdata", "build")


@pytest.fixture(scope="module")
def cli_results(tmp_path_factory):
    """Every CLI case at once (concurrent processes: the imports dominate)."""
    procs = {}
    for case, (text, _) in CLI_CASES.items():
        folder = tmp_path_factory.mktemp(case)
        (folder / "r.yaml").write_text(text, encoding="utf-8")
        procs[case] = subprocess.Popen(
            [*SUPDATA_BUILD, "r.yaml", "--validate", "--no-cache", "--out", str(folder / "out")],
            cwd=folder,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
    results = {}
    for case, proc in procs.items():
        try:
            out, err = proc.communicate(timeout=120)
        except subprocess.TimeoutExpired:
            proc.kill()
            out, err = proc.communicate()
        results[case] = (proc.returncode, out, err)
    return results


@pytest.mark.parametrize("case", list(CLI_CASES))
def test_cli_refuses_a_bad_recipe_with_exit_2_and_no_traceback(cli_results, case):
    code, out, err = cli_results[case]
    assert code == 2, (code, out, err)
    assert "Traceback" not in err
    assert err.startswith("error: ")
    assert CLI_CASES[case][1] in err, err


# -- source files -----------------------------------------------------------------------

GOOD = {"question": "What is 1+1?", "answer": "2"}
GOOD_LINE = json.dumps(GOOD).encode() + b"\n"


@dataclass(frozen=True)
class Kept:
    """Not a bad file: every row reads (and nothing is dropped)."""

    n: int


@dataclass(frozen=True)
class Skipped:
    """Rows counted under ``reason`` (the first named ``where``) and skipped; ``kept``
    rows remain. ``aborts``: under strict: true the first one is a SourceError at
    ``where`` (rows without an answer are a selection: counted, never an abort)."""

    reason: str
    where: str
    kept: int = 0
    aborts: bool = True


@dataclass(frozen=True)
class BadRow:
    """A bad row at ``where`` counted under any ``bad row: ...`` reason (strict: a
    SourceError at ``where``), or a SourceError naming ``where`` in both modes."""

    where: str
    kept: int = 1


@dataclass(frozen=True)
class Fails:
    """The file cannot be read: one SourceError, naming it, in every mode."""

    pattern: str


def _parquet(table: pa.Table):
    def write(path: Path) -> None:
        pq.write_table(table, path)

    return write


def bad_source(case_id, name, content, expect, **fields):
    return pytest.param(name, content, expect, fields, id=case_id)


def _jsonl(*rows) -> bytes:
    return b"".join(r if isinstance(r, bytes) else json.dumps(r).encode() + b"\n" for r in rows)


DEEP = b"[" * 100_000 + b"]" * 100_000
BIG_INT = b"1" * 5000

BAD_SOURCES = [
    # -- jsonl --------------------------------------------------------------------------
    bad_source("jsonl-bom", "a.jsonl", b"\xef\xbb\xbf" + GOOD_LINE, Kept(1)),
    bad_source("jsonl-crlf", "a.jsonl", GOOD_LINE.replace(b"\n", b"\r\n"), Kept(1)),
    bad_source("jsonl-blank-lines", "a.jsonl", b"\n  \n" + GOOD_LINE + b"\n", Kept(1)),
    bad_source(
        "jsonl-latin1-byte",
        "a.jsonl",
        GOOD_LINE + b'{"question": "caf\xe9?", "answer": "3"}\n',
        Skipped("bad row: not UTF-8", "{path}:2: not UTF-8 (byte 0xe9", kept=1),
    ),
    bad_source(
        "jsonl-broken-line",
        "a.jsonl",
        GOOD_LINE + b'{"question": "broken",\n',
        Skipped("bad row: not valid JSON", "{path}:2: not valid JSON", kept=1),
    ),
    bad_source(
        "jsonl-list-line",
        "a.jsonl",
        GOOD_LINE + b"[1, 2]\n",
        Skipped("bad row: not a JSON object", "{path}:2: not a JSON object (got list)", kept=1),
    ),
    bad_source(
        "jsonl-null-line",
        "a.jsonl",
        GOOD_LINE + b"null\n",
        Skipped("bad row: not a JSON object", "{path}:2: not a JSON object (got null)", kept=1),
    ),
    bad_source(
        "jsonl-bom-on-line-2",
        "a.jsonl",
        GOOD_LINE + b"\xef\xbb\xbf" + GOOD_LINE.replace(b"1+1", b"2+2"),
        Skipped("bad row: not valid JSON", "{path}:2: not valid JSON", kept=1),
    ),
    bad_source(
        "jsonl-lone-surrogate",
        "a.jsonl",
        GOOD_LINE + b'{"question": "a\\udc80", "answer": "2"}\n',
        Skipped("bad row: not UTF-8", "{path}:2: not UTF-8", kept=1),
    ),
    bad_source(
        "jsonl-utf16",
        "a.jsonl",
        GOOD_LINE.decode().encode("utf-16"),
        Skipped("bad row: not UTF-8", "{path}:1: not UTF-8 (byte 0xff"),
    ),
    bad_source(
        "jsonl-gzipped",
        "a.jsonl",
        gzip.compress(GOOD_LINE, mtime=0),
        Skipped("bad row: not UTF-8", "{path}:1: not UTF-8"),
    ),
    bad_source(
        "jsonl-holding-csv",
        "a.jsonl",
        b"question,answer\nWhat?,2\n",
        Skipped("bad row: not valid JSON", "{path}:1: not valid JSON"),
    ),
    bad_source(
        "jsonl-no-question",
        "a.jsonl",
        _jsonl(GOOD, {"answer": "2"}),
        Skipped("no question (looked for question, problem, prompt)", "{path}:2", kept=1),
    ),
    bad_source(
        "jsonl-null-question",
        "a.jsonl",
        _jsonl(GOOD, {"question": None, "answer": "2"}),
        Skipped("no question (looked for question, problem, prompt)", "{path}:2", kept=1),
    ),
    bad_source(
        "jsonl-empty-question",
        "a.jsonl",
        _jsonl(GOOD, {"question": "", "answer": "2"}),
        Skipped("no question (looked for question, problem, prompt)", "{path}:2", kept=1),
    ),
    bad_source(
        "jsonl-number-question",
        "a.jsonl",
        _jsonl(GOOD, {"question": 42, "answer": "2"}),
        Skipped("question is int, not text", "{path}:2", kept=1),
    ),
    bad_source(
        "jsonl-no-answer",
        "a.jsonl",
        _jsonl(GOOD, {"question": "q?"}),
        Skipped("no reference answer", "a-1", kept=1, aborts=False),
    ),
    bad_source(
        "jsonl-null-answer",
        "a.jsonl",
        _jsonl(GOOD, {"question": "q?", "answer": None}),
        Skipped("no reference answer", "a-1", kept=1, aborts=False),
    ),
    bad_source(
        "jsonl-gsm8k-answer-without-hashes",
        "a.jsonl",
        _jsonl({"question": "q?", "answer": "no hashes"}),
        Skipped("answer has no '####' final answer", "{path}:1"),
        normalizer="gsm8k",
    ),
    bad_source(
        "jsonl-duplicate-ids",
        "a.jsonl",
        _jsonl({**GOOD, "id": 1}, {"id": "1", "question": "b?", "answer": "5"}),
        Fails(r"duplicate problem id '1': {path}:1 and {path}:2"),
    ),
    bad_source(
        "jsonl-id-equal-to-a-generated-id",
        "a.jsonl",
        _jsonl({**GOOD, "id": "a-1"}, {"question": "b?", "answer": "5"}),
        Fails(r"duplicate problem id 'a-1': {path}:1 and {path}:2"),
    ),
    bad_source("jsonl-empty-file", "a.jsonl", b"", Kept(0)),
    bad_source(
        "jsonl-deeply-nested-line",
        "a.jsonl",
        GOOD_LINE + DEEP + b"\n",
        BadRow("{path}:2"),
    ),
    bad_source(
        "jsonl-5000-digit-integer",
        "a.jsonl",
        GOOD_LINE + b'{"question": "q?", "answer": ' + BIG_INT + b"}\n",
        Kept(2),
    ),
    # -- json ---------------------------------------------------------------------------
    bad_source(
        "json-null-element",
        "a.json",
        b"[" + json.dumps(GOOD).encode() + b", null]",
        Skipped("bad row: not a JSON object", "{path}[1]: not a JSON object (got null)", kept=1),
    ),
    bad_source(
        "json-number-file",
        "a.json",
        b"42",
        Skipped("bad row: not a JSON object", "{path}:1: not a JSON object (got int)"),
    ),
    bad_source(
        "json-array-broken",
        "a.json",
        b'[\n  {"question": "a?", "answer": "1"},\n  {"question": \n]',
        Fails(r"{path}:4:1: not valid JSON"),
    ),
    bad_source(
        "json-trailing-garbage",
        "a.json",
        b"[" + json.dumps(GOOD).encode() + b"] x",
        Fails(r"{path}:1:\d+: not valid JSON \(Extra data\)"),
    ),
    bad_source("json-whitespace-only", "a.json", b"  \n\n", Kept(0)),
    bad_source(
        "json-deeply-nested-element",
        "a.json",
        b"[" + json.dumps(GOOD).encode() + b", " + DEEP + b"]",
        BadRow("{path}"),
    ),
    bad_source(
        "json-5000-digit-integer",
        "a.json",
        b'[{"question": "q?", "answer": ' + BIG_INT + b"}]",
        Kept(1),
    ),
    # -- csv ----------------------------------------------------------------------------
    bad_source("csv-bom", "a.csv", b"\xef\xbb\xbfquestion,answer\nWhat?,2\n", Kept(1)),
    bad_source("csv-header-only", "a.csv", b"question,answer\n", Kept(0)),
    bad_source("csv-empty-file", "a.csv", b"", Kept(0)),
    bad_source(
        "csv-latin1-byte",
        "a.csv",
        b"question,answer\nWhat?,2\ncaf\xe9?,3\n",
        Skipped("bad row: not UTF-8", "{path}:3", kept=1),
    ),
    bad_source(
        "csv-missing-answer-column",
        "a.csv",
        b"question\nWhat?\n",
        Skipped("no reference answer", "a-0", aborts=False),
    ),
    bad_source(
        "csv-missing-question-column",
        "a.csv",
        b"text,answer\nWhat?,2\n",
        Skipped("no question (looked for question, problem, prompt)", "{path}:2"),
    ),
    bad_source(
        "csv-too-few-fields",
        "a.csv",
        b"question,answer\nWhat?\nWhy?,3\n",
        Skipped("bad row: wrong number of CSV fields", "{path}:2: wrong number", kept=1),
    ),
    bad_source(
        "csv-too-many-fields",
        "a.csv",
        b"question,answer\nWhat?,2,extra\nWhy?,3\n",
        Skipped("bad row: wrong number of CSV fields", "{path}:2: wrong number", kept=1),
    ),
    bad_source(
        "csv-unterminated-quote",
        "a.csv",
        b'question,answer\n"What?,2\nWhy?,3\n',
        Skipped("bad row: wrong number of CSV fields", "{path}:3: wrong number"),
    ),
    bad_source(
        "csv-field-over-128kb",
        "a.csv",
        b"question,answer\n" + b"q" * 200_000 + b",2\nWhy?,3\n",
        Skipped("bad row: not valid CSV", "{path}:2: not valid CSV", kept=1),
    ),
    bad_source(
        "csv-column-named-twice",
        "a.csv",
        b"question,question,answer\na,b,1\n",
        Fails(r"{path}:1: the CSV header names columns twice: \['question'\]"),
    ),
    bad_source(
        "csv-duplicate-ids",
        "a.csv",
        b"id,question,answer\nd,a?,5\nd,b?,20\n",
        Fails(r"duplicate problem id 'd': {path}:2 and {path}:3"),
    ),
    # -- parquet --------------------------------------------------------------------------
    bad_source(
        "parquet-int-question",
        "a.parquet",
        _parquet(pa.table({"question": [1, 2], "answer": ["1", "2"]})),
        Skipped("question is int, not text", "{path}: row 0"),
    ),
    bad_source(
        "parquet-struct-question",
        "a.parquet",
        _parquet(pa.table({"question": [{"t": "a"}], "answer": ["1"]})),
        Skipped("question is dict, not text", "{path}: row 0"),
    ),
    bad_source(
        "parquet-binary-question",
        "a.parquet",
        _parquet(pa.table({"question": pa.array([b"\xff\xfe"], pa.binary()), "answer": ["1"]})),
        Skipped("question is bytes, not text", "{path}: row 0"),
    ),
    bad_source(
        "parquet-null-question",
        "a.parquet",
        _parquet(pa.table({"question": pa.array([None, "b?"], pa.string()), "answer": ["1", "2"]})),
        Skipped("no question (looked for question, problem, prompt)", "{path}: row 0", kept=1),
    ),
    bad_source(
        "parquet-float-answer",
        "a.parquet",
        _parquet(pa.table({"question": ["a?"], "answer": [2.0]})),
        Kept(1),
    ),
    bad_source(
        "parquet-no-rows",
        "a.parquet",
        _parquet(pa.table({"question": pa.array([], pa.string())})),
        Kept(0),
    ),
    bad_source(
        "parquet-holding-jsonl",
        "a.parquet",
        GOOD_LINE,
        Fails(r"{path}: not a readable parquet file"),
    ),
    bad_source("parquet-empty-file", "a.parquet", b"", Fails(r"{path}: not a readable parquet")),
]


def _read(path: Path, strict: bool, fields: dict) -> tuple[list, StageStats]:
    stats = StageStats("source")
    source = FileSource(kind="file", path=str(path), strict=strict, **fields)
    return list(load_problems(source, stats)), stats


def _accounted(problems: list, stats: StageStats) -> None:
    """Every row read is either a problem or a counted drop."""
    assert stats.n_in == len(problems) + sum(stats.dropped.values()), stats


@pytest.mark.parametrize(("name", "content", "expect", "fields"), BAD_SOURCES)
def test_bad_source_is_counted_and_skipped_or_one_clear_error(
    tmp_path, name, content, expect, fields
):
    path = tmp_path / name
    if callable(content):
        content(path)
    else:
        path.write_bytes(content)

    if isinstance(expect, Fails):
        pattern = expect.pattern.format(path=re.escape(str(path)))
        for strict in (False, True):
            with pytest.raises(SourceError, match=pattern):
                _read(path, strict, fields)
        return

    if isinstance(expect, Kept):
        for strict in (False, True):
            problems, stats = _read(path, strict, fields)
            assert len(problems) == expect.n and not stats.dropped, stats
            _accounted(problems, stats)
        return

    where = expect.where.format(path=path)
    if isinstance(expect, BadRow):
        try:
            problems, stats = _read(path, False, fields)
        except SourceError as exc:  # the whole file refused: it must say where
            assert where in str(exc)
            return
        bad = {r: n for r, n in stats.dropped.items() if r.startswith("bad row: ")}
        assert bad, stats
        assert any(stats.examples[r].startswith(where) for r in bad), stats.examples
        assert len(problems) == expect.kept
        _accounted(problems, stats)
        with pytest.raises(SourceError, match=f"^{re.escape(where)}"):
            _read(path, True, fields)
        return

    problems, stats = _read(path, False, fields)
    assert expect.reason in stats.dropped, stats.dropped
    assert stats.examples[expect.reason].startswith(where), stats.examples
    assert len(problems) == expect.kept
    _accounted(problems, stats)
    if expect.aborts:
        with pytest.raises(SourceError, match=f"^{re.escape(where)}.*strict: true aborts"):
            _read(path, True, fields)
    else:
        assert len(_read(path, True, fields)[0]) == expect.kept


def test_a_2mb_row_is_read_quickly(tmp_path):
    path = tmp_path / "huge.jsonl"
    path.write_bytes(_jsonl({"question": "x " * 1_000_000, "answer": "2"}, GOOD))
    started = time.perf_counter()
    problems, stats = _read(path, False, {})
    assert time.perf_counter() - started < 5
    assert len(problems) == 2 and len(problems[0].question) == 2_000_000
    _accounted(problems, stats)


def test_an_empty_source_file_is_named_when_the_build_stops(tmp_path, monkeypatch):
    from supdata.build import build

    monkeypatch.chdir(tmp_path)
    data = tmp_path / "empty.jsonl"
    data.write_bytes(b"")
    path = _write_recipe(tmp_path, f"name: e\nsource: {{kind: file, path: {data}}}\n", {})
    with pytest.raises(ValueError, match=re.escape(str(data))):
        build(load_recipe(path), tmp_path / "out", use_cache=False)
