from __future__ import annotations

import textwrap

import pytest

from supdata.recipe import RecipeError, load_recipe
from supdata.sources import ReasoningGymSource

GOOD = """\
name: tiny
source:
  kind: reasoning_gym
  name: gsm_symbolic
  size: 4
"""


def _write(tmp_path, text):
    path = tmp_path / "recipe.yaml"
    path.write_text(textwrap.dedent(text))
    return path


def test_good_recipe_and_defaults(tmp_path):
    recipe = load_recipe(_write(tmp_path, GOOD))
    assert isinstance(recipe.source, ReasoningGymSource)
    assert recipe.source.normalizer == "reasoning_gym"
    assert recipe.segmentation.strategy == "auto"
    assert recipe.verification.timeout_s > 0


def test_shipped_demo_recipe_is_valid():
    from supdata.assets import asset_dir

    recipe = load_recipe(asset_dir("recipes") / "demo.yaml")
    assert recipe.name == "demo"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("name: x\nsource:\n  kind: file\n", r"recipe\.yaml:3: source\.path: Field required"),
        (
            "name: x\nsource:\n  kind: parquetz\n  path: a\n",
            r"recipe\.yaml:3: source\.kind: Input tag 'parquetz' .* "
            r"expected tags: 'hf', 'file', 'reasoning_gym'",
        ),
        (
            "name: x\nsource:\n  kind: hf\n  path: gsm8k\n  split: 3\n",
            r"recipe\.yaml:5: source\.split: Input should be a valid string \(got 3\)",
        ),
        (
            "name: x\nsource:\n  kind: reasoning_gym\n  name: gsm_symbolic\n  size: ten\n",
            r"recipe\.yaml:5: source\.size: Input should be a valid integer",
        ),
        (
            "name: x\nsource:\n  kind: file\n  path: a.jsonl\n  colour: red\n",
            r"recipe\.yaml:5: source\.colour: Extra inputs are not permitted",
        ),
        (
            "name: x\nsource:\n  kind: file\n  path: a.jsonl\n  filters:\n    min_level: high\n",
            r"recipe\.yaml:6: source\.filters\.min_level: Input should be a valid integer",
        ),
        (
            "name: x\nsource:\n  kind: file\n  path: a.txt\n",
            r"source: Value error, cannot tell the format of 'a\.txt'",
        ),
        (
            "name: x\nsource:\n  kind: file\n  path: a.jsonl\n  normalizer: gsm9k\n",
            r"recipe\.yaml:5: source\.normalizer: Input should be 'generic', 'gsm8k'",
        ),
        (
            "name: x\nsegmentation:\n  strategy: words\nsource: {kind: file, path: a.jsonl}\n",
            r"recipe\.yaml:3: segmentation\.strategy: Input should be 'auto'",
        ),
        ("source: {kind: file, path: a.jsonl}\n", r"recipe\.yaml: name: Field required"),
        (
            "name: x\nsource: [1, 2]\n",
            r"recipe\.yaml:2: source: Input should be a valid dictionary",
        ),
        (
            "name: x\nsource: {kind: file, path: a.jsonl}\n"
            "engines:\n  actor:\n    kind: llamacpp\n",
            r"recipe\.yaml:5: engines\.actor\.kind: Input should be 'auto', 'vllm', 'openai' or "
            r"'transformers'",
        ),
        (
            "name: x\nsource: {kind: file, path: a.jsonl}\nengines:\n  actor:\n    kind: vllm\n"
            "    model: ./models/missing\n",
            r"recipe\.yaml:6: engines\.actor\.model: Value error, model path "
            r"'\./models/missing' is not a model folder",
        ),
        (
            "name: x\nsource: {kind: file, path: a.jsonl}\nengines:\n  critic:\n    kind: openai\n"
            "    concurrency: 0\n",
            r"recipe\.yaml:6: engines\.critic\.concurrency: "
            r"Input should be greater than or equal to 1",
        ),
        ("- just\n- a list\n", r"recipe\.yaml: expected a mapping at the top level, got list"),
        ("name: x\nsource: {kind: file\n", r"recipe\.yaml: not valid YAML"),
        (
            "name: !!python/object/apply:os.system ['echo hacked']\n",
            r"recipe\.yaml: not valid YAML",
        ),
    ],
)
def test_bad_recipes_name_file_line_and_field(tmp_path, text, expected):
    with pytest.raises(RecipeError, match=expected):
        load_recipe(_write(tmp_path, text))


BASE = "name: x\nsource: {kind: reasoning_gym, name: gsm_symbolic, size: 4}\n"
ACTOR = "engines:\n  actor: {kind: vllm}\n"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            BASE + ACTOR + "builders:\n  - kind: sample\n    engine: critic\n",
            r"recipe\.yaml:7: builders\[0\]\.engine: no engine named 'critic' "
            r"\(engines: \['actor'\]\)",
        ),
        (
            BASE + ACTOR + "builders:\n  - kind: steperror\n    annotator: critic\n",
            r"recipe\.yaml:7: builders\[0\]\.annotator: no engine named 'critic'",
        ),
        (
            BASE + ACTOR + "builders:\n  - kind: steperrorz\n",
            r"recipe\.yaml:6: builders\[0\]\.kind: Input tag 'steperrorz' .* "
            r"expected tags: 'sample'",
        ),
        (
            BASE + ACTOR + "builders:\n  - kind: sample\n    prompt: solve@9\n",
            r"recipe\.yaml:7: builders\[0\]\.prompt: Value error, "
            r"prompt 'solve' has no version '9'; has \[1\]",
        ),
        (
            BASE + ACTOR + "builders:\n  - kind: sample\n    n: 0\n",
            r"recipe\.yaml:7: builders\[0\]\.n: Input should be greater than or equal to 1",
        ),
        (
            BASE + "outputs:\n  configs: [problems, pairs]\n",
            r"recipe\.yaml:4: outputs\.configs\[1\]: 'pairs' is not made by this recipe",
        ),
        (
            BASE + "publish:\n  repo: not a repo\n",
            r"recipe\.yaml:4: publish\.repo: String should match pattern",
        ),
        (
            BASE + ACTOR + "builders:\n  - {kind: sample}\n  - {kind: sample}\n",
            r"builders\[1\]\.kind: config 'samples' is made twice",
        ),
    ],
)
def test_builder_output_and_publish_mistakes(tmp_path, text, expected):
    with pytest.raises(RecipeError, match=expected):
        load_recipe(_write(tmp_path, text))


@pytest.mark.parametrize(
    ("builder", "expected"),
    [
        (
            "{kind: perturb, swer_grid: [0.5, 1.5]}",
            r"builders\[0\]\.swer_grid: Value error, "
            r"SWER targets must be in \(0, 1\]; got \[1\.5\]",
        ),
        (
            "{kind: steperror, er_grid: [0.0, 1.2]}",
            r"builders\[0\]\.er_grid: Value error, outcome error rates must be in \[0, 1\]",
        ),
        (
            "{kind: perturb, swer_grid: []}",
            r"builders\[0\]\.swer_grid: List should have at least 1",
        ),
        (
            "{kind: perturb, types: [typo]}",
            r"builders\[0\]\.types\[0\]: Input should be 'wrong_result'",
        ),
        (
            "{kind: perturb, positions: [centre]}",
            r"builders\[0\]\.positions\[0\]: Input should be 'first', 'middle', 'last' or 'random'",
        ),
    ],
)
def test_perturb_mistakes_fail_before_any_work(tmp_path, builder, expected):
    text = BASE + f"builders:\n  - {builder}\n"
    with pytest.raises(RecipeError, match=expected):
        load_recipe(_write(tmp_path, text))


def test_include_merges_and_the_recipe_wins(tmp_path):
    (tmp_path / "shared").mkdir()
    (tmp_path / "shared" / "engines.yaml").write_text(
        "engines:\n  actor: {kind: vllm, max_model_len: 1024}\npublish: {license: mit}\n"
    )
    recipe = _write(
        tmp_path,
        "include: shared/engines.yaml\n" + BASE + "engines:\n  actor: {max_model_len: 2048}\n",
    )
    loaded = load_recipe(recipe)
    assert loaded.engines["actor"].kind == "vllm"
    assert loaded.engines["actor"].max_model_len == 2048
    assert loaded.publish.license == "mit"


def test_include_mistakes(tmp_path):
    with pytest.raises(RecipeError, match=r"include: 'gone\.yaml' not found"):
        load_recipe(_write(tmp_path, "include: gone.yaml\n" + BASE))
    (tmp_path / "a.yaml").write_text("include: b.yaml\n")
    (tmp_path / "b.yaml").write_text("include: a.yaml\n")
    with pytest.raises(RecipeError, match=r"include: cycle: .*a\.yaml -> .*b\.yaml -> .*a\.yaml"):
        load_recipe(tmp_path / "a.yaml")
    with pytest.raises(RecipeError, match="include: expected a file name or a list"):
        load_recipe(_write(tmp_path, "include: {a: 1}\n" + BASE))


def test_missing_recipe_file(tmp_path):
    with pytest.raises(RecipeError, match=r"nope\.yaml: recipe file not found"):
        load_recipe(tmp_path / "nope.yaml")
