"""Issue 16, recipes: duplicate keys, YAML 1.1 booleans, encodings, syntax errors, errors in
included files, prompt templates, token caps and source inputs, all found by load_recipe
(before any engine loads) and named by file:line and field."""

from __future__ import annotations

import shutil
import textwrap

import pytest

from supdata import prompts
from supdata.recipe import RecipeError, load_recipe

BASE = "name: x\nsource: {kind: reasoning_gym, name: gsm_symbolic, size: 4}\n"
ACTOR = "engines:\n  actor: {kind: vllm, max_model_len: 1024}\n"


def _write(tmp_path, text, name="recipe.yaml"):
    path = tmp_path / name
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def _error(path) -> str:
    with pytest.raises(RecipeError) as info:
        load_recipe(path)
    return str(info.value)


# -- item 10: duplicate keys ----------------------------------------------------------


def test_a_second_builders_key_is_an_error_not_a_wipe(tmp_path):
    path = _write(
        tmp_path,
        BASE + ACTOR + "builders:\n  - {kind: sample}\noutputs: {split: train}\nbuilders: []\n",
    )
    message = _error(path)
    assert message.startswith(
        f"{path}:8:1: not valid YAML: duplicate key 'builders' (first at line 5)"
    )


def test_duplicate_nested_key_names_its_line(tmp_path):
    path = _write(tmp_path, BASE + "engines:\n  actor:\n    kind: vllm\n    kind: openai\n")
    assert _error(path).startswith(f"{path}:6:5: not valid YAML: duplicate key 'kind'")


def test_merge_keys_may_still_be_overridden(tmp_path):
    text = BASE + "engines:\n  a: &e {kind: vllm, seed: 1}\n  b:\n    <<: *e\n    seed: 2\n"
    recipe = load_recipe(_write(tmp_path, text))
    assert (recipe.engines["a"].seed, recipe.engines["b"].seed) == (1, 2)


# -- item 10: YAML 1.1 booleans where a number is expected ---------------------------


def test_n_yes_is_not_read_as_one(tmp_path):
    path = _write(tmp_path, BASE + ACTOR + "builders:\n  - kind: sample\n    n: yes\n")
    assert f"{path}:7: builders[0].n: Input should be a valid integer" in _error(path)
    assert "(got 'yes')" in _error(path)


def test_n_true_is_not_read_as_one(tmp_path):
    path = _write(tmp_path, BASE + ACTOR + "builders:\n  - kind: sample\n    n: true\n")
    assert f"{path}:7: builders[0].n: expected a number, got the boolean true" in _error(path)
    path = _write(tmp_path, BASE + "verification: {timeout_s: false}\n")
    assert "verification.timeout_s: Input should be greater than 0" in _error(path)


def test_yaml_12_scalars(tmp_path):
    text = (
        BASE + "engines:\n  actor: {kind: vllm, enforce_eager: no, revision: 2024-01-01, "
        "seed: 010, kv_cache_gb: 1e0}\noutputs: {shard_rows: 1_000}\n"
    )
    recipe = load_recipe(_write(tmp_path, text))
    actor = recipe.engines["actor"]
    assert actor.enforce_eager is False  # a bool field still takes yes/no
    assert actor.revision == "2024-01-01"  # a string, not a date
    assert actor.seed == 10 and actor.kv_cache_gb == 1.0  # decimal, not octal 8
    assert recipe.outputs.shard_rows == 1000


# -- item 9: encoding, syntax errors, included files ---------------------------------


def test_non_utf8_recipe_names_file_line_and_column(tmp_path):
    path = tmp_path / "recipe.yaml"
    path.write_bytes(b"name: x\ndescription: caf\xe9\n" + BASE.split("\n", 1)[1].encode())
    assert _error(path) == (f"{path}:2:17: not UTF-8 text (byte 0xe9); save the recipe as UTF-8")


def test_utf8_bom_is_fine(tmp_path):
    path = tmp_path / "recipe.yaml"
    path.write_bytes(b"\xef\xbb\xbf" + BASE.encode())
    assert load_recipe(path).name == "x"


def test_yaml_syntax_error_keeps_its_text_and_line(tmp_path):
    path = _write(tmp_path, "name: x\n  bad: [1\n" + BASE)
    message = _error(path)
    assert message.startswith(f"{path}:2:6: not valid YAML: mapping values are not allowed here")
    assert "bad: [1" in message  # the offending line is shown


def test_errors_in_an_included_file_are_blamed_on_it(tmp_path):
    inc = _write(
        tmp_path, "engines:\n  critic:\n    kind: openai\n    concurrency: 0\n", "base.yaml"
    )
    path = _write(tmp_path, "include: base.yaml\n" + BASE)
    message = _error(path)
    assert f"{inc}:4: engines.critic.concurrency: Input should be greater" in message
    # the recipe's own values keep the recipe's lines
    path = _write(tmp_path, "include: base.yaml\n" + BASE + "outputs: {split: 'a b'}\n")
    assert f"{path}:4: outputs.split: String should match" in _error(path)


def test_yaml_mistakes_in_an_included_file_are_blamed_on_it(tmp_path):
    _write(tmp_path, "publish:\n  license: mit\n  license: gpl\n", "dup.yaml")
    path = _write(tmp_path, "include: dup.yaml\n" + BASE)
    assert _error(path).startswith(f"{tmp_path / 'dup.yaml'}:3:3: not valid YAML: duplicate key")
    _write(tmp_path, "publish: [oops\n", "broken.yaml")
    path = _write(tmp_path, "include: broken.yaml\n" + BASE)
    assert _error(path).startswith(f"{tmp_path / 'broken.yaml'}:2:1: not valid YAML")
    path = _write(tmp_path, "name: x\ninclude: gone.yaml\n" + BASE.split("\n", 1)[1])
    assert _error(path).startswith(f"{path}:2: include: 'gone.yaml' not found")


# -- item 9: source inputs are checked with the recipe -------------------------------


def test_missing_source_file_fails_at_validation_with_its_line(tmp_path):
    path = _write(tmp_path, "name: x\nsource:\n  kind: file\n  path: nope.jsonl\n")
    message = _error(path)
    assert f"{path}:4: source.path: source file 'nope.jsonl' does not exist" in message


def test_unknown_reasoning_gym_name_fails_at_validation_with_its_line(tmp_path):
    path = _write(tmp_path, "name: x\nsource: {kind: reasoning_gym, name: gsm_symbolik}\n")
    message = _error(path)
    assert f"{path}:2: source.name: unknown reasoning_gym dataset 'gsm_symbolik'" in message
    assert "did you mean 'gsm_symbolic'" in message


# -- item 10: max_tokens above max_model_len ------------------------------------------


def test_max_tokens_at_or_above_max_model_len_names_the_field(tmp_path):
    path = _write(tmp_path, BASE + ACTOR + "builders:\n  - kind: sample\n    max_tokens: 4096\n")
    assert (
        f"{path}:7: builders[0].max_tokens: 4096 must be below engine 'actor''s "
        "max_model_len (1024)"
    ) in _error(path)


def test_nested_and_default_token_caps_are_checked_against_their_engine(tmp_path):
    engines = "engines:\n  actor: {kind: vllm}\n  small: {kind: vllm, max_model_len: 600}\n"
    text = (
        BASE
        + engines
        + (
            "builders:\n  - kind: steperror\n    max_tokens: 256\n"
            "    decompose: {engine: small}\n"  # decompose.max_tokens defaults to 1024
        )
    )
    path = _write(tmp_path, text)
    message = _error(path)
    assert "builders[0].decompose.max_tokens: 1024 must be below engine 'small'" in message
    assert "builders[0].max_tokens" not in message  # the actor has no cap
    ok = text.replace("{engine: small}", "{engine: small, max_tokens: 512}")
    load_recipe(_write(tmp_path, ok))


# -- item 9: prompt templates compile in the sandbox at validation --------------------


@pytest.fixture
def templates(tmp_path, monkeypatch):
    """A copy of the packaged templates that a test may break."""
    folder = tmp_path / "templates"
    shutil.copytree(prompts.TEMPLATES, folder)
    monkeypatch.setattr(prompts, "TEMPLATES", folder)
    prompts.available.cache_clear()
    prompts.load_prompt.cache_clear()
    yield folder
    prompts.available.cache_clear()
    prompts.load_prompt.cache_clear()


def _break(folder, name, content):
    path = folder / name
    text = path.read_text().replace('content: "{{ question }}"', f"content: {content!r}")
    assert text != path.read_text()
    path.write_text(text)


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        ("{{ question ", r"Jinja syntax error at template line 1: unexpected end of template"),
        ("{% for s in steps %}{{ s }}", r"Jinja syntax error at template line 1: Unexpected end"),
        ("{{ question.__class__.__mro__ }}", r"access to '__(class|mro)__' is not allowed"),
        ("{{ question|attr('__class__') }}", r"access to '__class__' is not allowed"),
        ("{{ '{0.__class__}'.format(question) }}", r"not allowed in the sandbox"),
    ],
)
def test_broken_prompt_template_fails_at_validation(tmp_path, templates, content, expected):
    _break(templates, "solve.v1.yaml", content)
    path = _write(tmp_path, BASE + ACTOR + "builders:\n  - kind: sample\n    prompt: solve@1\n")
    message = _error(path)
    assert f"{path}:7: builders[0].prompt: " in message
    assert "solve.v1.yaml" in message
    import re

    assert re.search(expected, message), message


def test_a_broken_default_prompt_is_found_too(tmp_path, templates):
    path = templates / "restyle.v1.yaml"
    path.write_text(path.read_text().replace("{{", "{{ {{", 1))
    recipe = _write(tmp_path, BASE + ACTOR + "builders:\n  - kind: steperror\n")
    message = _error(recipe)
    assert f"{recipe}:6: builders[0].restyle_prompt: prompt restyle@1" in message
    assert "Jinja syntax error" in message


def test_every_packaged_prompt_compiles():
    for pid, versions in prompts.available().items():
        for version in versions:
            prompts.load_prompt(f"{pid}@{version}")


def test_commands_that_never_read_the_source_can_skip_the_input_check(tmp_path):
    path = _write(tmp_path, "name: x\nsource:\n  kind: file\n  path: nope.jsonl\n" + ACTOR)
    recipe = load_recipe(path, check_inputs=False)
    assert recipe.engines["actor"].max_model_len == 1024
