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


def test_every_shipped_recipe_is_valid():
    from supdata.assets import asset_dir

    shipped = sorted(asset_dir("recipes").rglob("*.yaml"))
    assert len(shipped) >= 2
    for path in shipped:
        load_recipe(path)


def test_critique_paper_scale_recipe():
    """recipes/critique/gsm8k-math.yaml is for a GPU; here its config is checked."""
    from supdata.assets import asset_dir

    recipe = load_recipe(asset_dir("recipes") / "critique" / "gsm8k-math.yaml")
    (builder,) = recipe.builders
    assert builder.kind == "critique" and builder.methods == ["rg1", "rg2", "rg3"]
    assert builder.critic == "critic" and recipe.engines["critic"].kind == "vllm"
    assert (builder.refine_n, builder.refine_k) == (8, 2)
    assert builder.configs() == (
        "critiques",
        "critic_sft",
        "refine_sft",
        "selfimprove_r1",
        "selfimprove_r2",
        "selfimprove_r3",
        "selfimprove_triples",
    )
    loop = builder.selfimprove
    assert (loop.rounds, loop.critic, loop.critic_sees_reference) == (3, "critic", False)
    assert (loop.n, loop.temperature, builder.shortcut) == (1, 0.7, "published")


def test_math_hard_recipe_is_the_papers_setup():
    """recipes/steperror/math-hard.yaml is for a GPU; here its config is checked, not run."""
    from supdata.assets import asset_dir

    recipe = load_recipe(asset_dir("recipes") / "steperror" / "math-hard.yaml")
    source = recipe.source
    assert source.kind == "hf" and source.normalizer == "math"
    assert (source.filters.min_level, source.filters.max_level) == (4, 5)
    assert (source.filters.min_solution_tokens, source.filters.max_solution_tokens) == (500, 2000)
    f = source.filters
    assert f.no_figures and f.single_part and f.english_only
    (builder,) = [b for b in recipe.builders if b.kind == "steperror"]
    assert builder.n == 3 and builder.temperature == 1.0
    assert builder.max_tokens_per_reference is None and builder.max_tokens == 4096
    assert builder.length_range == (0.5, 1.5) and builder.prompt == "solve_length@1"
    assert builder.choose == "random" and builder.pools == "matched"
    assert builder.er_grid == [i / 10 for i in range(11)]
    d = builder.decompose
    assert [d.subtask_count(n) for n in (399, 700, 1200, 1700)] == [None, (2, 2), (3, 3), None]
    assert builder.rephrase is not None
    assert builder.negatives.compose_from_subtasks  # the paper's composed full negative
    assert "mix_hard50_sub10" in builder.configs()
    assert recipe.engines[builder.engine].kind == "vllm"


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
        ("name: x\nsource: {kind: file\n", r"recipe\.yaml:3:1: not valid YAML: expected ','"),
        (
            "name: !!python/object/apply:os.system ['echo hacked']\n",
            r"recipe\.yaml:1:7: not valid YAML: could not determine a constructor",
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
            r"builders\[0\]\.positions: Value error, \[0\]: 'centre' is not a step number or one "
            r"of \['first', 'middle', 'last', 'random'\]",
        ),
        (
            "{kind: perturb, positions: [first, 0]}",
            r"builders\[0\]\.positions: Value error, \[1\]: a step number counts from 1, got 0",
        ),
        (
            "{kind: perturb, types: [calculation]}",
            r"builders\[0\]\.engine: model error types \['calculation'\] need `engine:`",
        ),
        (
            "{kind: perturb, apply_to: [correct_samples]}",
            r"builders\[0\]\.apply_to: correct_samples needs a sample or steperror builder",
        ),
        (
            "{kind: perturb, length_ratio: [1.3, 0.7]}",
            r"builders\[0\]\.length_ratio: Value error, length_ratio must be \(low, high\)",
        ),
        (
            "{kind: steperror, decompose: {er_grid: [0.1, -0.1]}}",
            r"builders\[0\]\.decompose\.er_grid: Value error, outcome error rates must be in",
        ),
        (
            "{kind: steperror, decompose: {min_subtasks: 3, max_subtasks: 2}}",
            r"builders\[0\]\.decompose: Value error, min_subtasks \(3\) > max_subtasks \(2\)",
        ),
        (
            "{kind: steperror, decompose: {engine: critic}}",
            r"builders\[0\]\.decompose\.engine: no engine named 'critic'",
        ),
        (
            "{kind: steperror, mixtures: {m: [hard@0.5, sub@0.1]}}",
            r"builders\[0\]\.mixtures\.m\[1\]: part 'sub@0\.1' needs `decompose:`",
        ),
        (
            "{kind: steperror, mixtures: {m: [hard@1.5]}}",
            r"builders\[0\]\.mixtures: Value error, mixture part 'hard@1\.5': ER must be in",
        ),
        (
            "{kind: steperror, mixtures: {m: [easy@0.5]}}",
            r"builders\[0\]\.mixtures: .*unknown pool 'easy'; "
            r"pools: \['hard', 'sub', 'rephrased'\]",
        ),
        (
            "{kind: critique, refine_n: 2, refine_k: 3}",
            r"builders\[0\]\.refine_k: refine_k \(3\) > refine_n \(2\)",
        ),
        (
            "{kind: critique, critic: judge}",
            r"builders\[0\]\.critic: no engine named 'judge'",
        ),
        (
            "{kind: critique, rg3_types: [typo]}",
            r"builders\[0\]\.rg3_types\[0\]: Input should be 'wrong_result'",
        ),
        (
            "{kind: steperror, mixtures: {m: [hard]}}",
            r"builders\[0\]\.mixtures: .*'hard' is not POOL@ER",
        ),
    ],
)
def test_perturb_mistakes_fail_before_any_work(tmp_path, builder, expected):
    text = BASE + ACTOR + f"builders:\n  - {builder}\n"
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
