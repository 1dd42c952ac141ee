"""The mathcritique prompt preset, template files as prompt values, and the published
SFT layout export, on real data (GSM8K, MATH, the published MathCritique rows)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from conftest import read_jsonl, write_jsonl

from supdata.builders.critique.format import CritiqueRejected, parse_critique
from supdata.export.folder import read_config
from supdata.export.mathcritique import to_mathcritique
from supdata.prompts import load_prompt
from supdata.recipe import RecipeError, load_recipe

PREFIX = "Let's break it down step by step:\n\n"
PHRASE = "The answer is $\\boxed{[your answer]}$."
_TURN = "\n<|end_of_text|>\nHuman: "


def _published(shared_data: Path) -> list[dict]:
    return json.loads((shared_data / "mathcritique" / "Meta-Llama-3-8B-all-sftdata_0_new.json").read_text())


def _parts(row: dict) -> tuple[str, list[str], str]:
    """A published refinement row: question, solution lines, critique."""
    first, _, second = row["instruction"].partition(_TURN)
    question, _, solution = first.partition("\n\nAssistant:")
    lines = [x for x in solution.removeprefix(PREFIX).split("\n") if x.strip()]
    return question, lines, second.split("\n\n", 1)[1]


# -- rendering ----------------------------------------------------------------------------


@pytest.mark.shared_data
@pytest.mark.parametrize("source", ["gsm8k", "math"])
def test_preset_renders_the_published_layouts(shared_data, source):
    if source == "gsm8k":
        row = read_jsonl(shared_data / "gsm8k" / "train.jsonl")[0]
        question = row["question"]
        steps = [s for s in row["answer"].split("####")[0].split("\n") if s.strip()]
    else:
        row = read_jsonl(shared_data / "math_full" / "hendrycks_train.jsonl")[0]
        question = row["problem"]
        steps = [s + "\n" for s in re.split(r"(?<=\.)\s+", row["solution"]) if s.strip()]
    steps = [*steps, "The answer is $\\boxed{1}$."]

    solve = load_prompt("mathcritique_solve").render(question=question)
    assert [m["role"] for m in solve] == ["user", "assistant"]
    assert solve[0]["content"].startswith(question + " ")
    assert solve[0]["content"].endswith(f"'{PHRASE}'")
    assert solve[1]["content"] == PREFIX and load_prompt("mathcritique_solve").continues

    critic = load_prompt("mathcritique_critic")
    (msg,) = critic.render(
        question=question, steps=steps, reference="", hint_step=None, hint_type=None
    )
    text = msg["content"]
    assert text.startswith("Instruction:\n") and critic.output == "mathcritique"
    assert "Correctness of the step: [Correct/Wrong]\nExplanation: [Your Explanation]" in text
    assert f"\n\nQuestion:\n{question}\n\nSolution:\n" in text
    lines = text.split("\n\nSolution:\n", 1)[1].split("\n")
    assert lines == [" ".join(s.split("\n")).strip() for s in steps]  # one step per line

    refine = load_prompt("mathcritique_refine").render(
        question=question, steps=steps, response="", critique="CRITIQUE"
    )
    assert [m["role"] for m in refine] == ["user", "assistant", "user", "assistant"]
    assert refine[0] == solve[0]
    assert refine[1]["content"] == PREFIX + "\n".join(lines)
    assert refine[2]["content"].endswith("\n\nCRITIQUE") and PHRASE in refine[2]["content"]
    assert refine[3]["content"] == PREFIX


# -- critic output parsing ----------------------------------------------------------------

# Published rows (index into the 200) -> labels, final verdict; None: rejected (reason).
PARSED = [
    (0, [False, False, False, False], False),  # "The answer is 15." has no block
    (150, None, "out of order"),  # the critique merges two solution lines into one
    (17, None, "3 step verdicts for 2 steps"),  # splits a line into two sentences
]


@pytest.mark.shared_data
@pytest.mark.parametrize(("index", "labels", "final"), PARSED)
def test_preset_parser_on_published_critiques(shared_data, index, labels, final):
    _, lines, critique = _parts(_published(shared_data)[index])
    if labels is None:
        with pytest.raises(CritiqueRejected, match=final):
            parse_critique(critique, len(lines), lines, answer_step=True)
        return
    c = parse_critique(critique, len(lines), lines, answer_step=True)
    assert (c.labels, c.final_correct, c.format) == (labels, final, "text")
    with pytest.raises(CritiqueRejected, match="verdicts"):  # supdata@1 does not infer it
        parse_critique(critique, len(lines), lines)


@pytest.mark.shared_data
def test_preset_parser_reads_most_published_critiques_and_never_guesses(shared_data):
    read = rejected = 0
    for row in _published(shared_data):
        _, lines, critique = _parts(row)
        try:
            c = parse_critique(critique, len(lines), lines, answer_step=True)
        except CritiqueRejected:
            rejected += 1
            continue
        read += 1
        assert len(c.labels) == len(lines)
    # the rest critique sentences, not the solution's lines: rejected, not shifted
    assert (read, rejected) == (106, 94)


VARIANTS = [  # the published format as critics write it: brackets, trailing spaces
    ("Correctness of the step: [Correct]", True),
    ("Correctness of the step: Wrong  ", False),
    ("Correctness of the step: Incorrect", False),
    ("Correctness of the step: [Wrong]", False),
]


@pytest.mark.parametrize(("line", "label"), VARIANTS)
def test_preset_parser_verdict_spellings(line, label):
    steps = ["Half of 10 is 5.", "The answer is $\\boxed{5}$."]
    text = (
        f"Step sentence: Half of 10 is 5.\n{line}\nExplanation: checked.\n\n"
        "Correctness of the final answer: [Correct]\nExplanation: 5."
    )
    c = parse_critique(text, 2, steps, answer_step=True)
    assert c.labels == [label, True] and c.final_correct


def test_an_uncritiqued_step_other_than_the_answer_line_is_rejected():
    steps = ["Half of 10 is 5.", "Add 1 to get 6."]
    text = (
        "Step sentence: Half of 10 is 5.\nCorrectness of the step: Correct\nExplanation: ok"
        "\n\nCorrectness of the final answer: Wrong\nExplanation: 6."
    )
    with pytest.raises(CritiqueRejected, match="1 step verdicts for 2 steps"):
        parse_critique(text, 2, steps, answer_step=True)


# -- template files as prompt values ------------------------------------------------------

_HEAD = "name: t\nsource: {kind: file, path: src.jsonl}\nengines:\n  actor: {kind: vllm}\n"
_GOOD = (
    "messages:\n  - role: user\n    content: |-\n      Question: {{ question }}\n"
    "      {% for s in steps %}{{ s }}\n      {% endfor %}\n"
)
FILE_ERRORS = [  # (template text or None for a missing file, expected message part)
    (None, "prompt file .*critic.yaml: not found"),
    ("messages: [\n", r"critic.yaml:\d+: not valid YAML"),
    ("messages: {role: user}\n", "expected `messages:`"),
    (_GOOD.replace("{{ question }}", "{{ question }} {{ answer_key }}"), r"unknown.*'answer_key'"),
    (_GOOD.replace("{% for s in steps %}{{ s }}\n      {% endfor %}", "-"), r"does not use \['steps'\]"),
    (_GOOD.replace("{{ question }}", "{{ question }"), r"critic.yaml:4: messages\[0\] \(user\): Jinja syntax error at template line 1"),
]


@pytest.mark.parametrize(("template", "message"), FILE_ERRORS)
def test_prompt_file_errors_name_file_line_and_field(tmp_path, template, message):
    write_jsonl(tmp_path / "src.jsonl", [{"question": "1+1?", "answer": "2"}])
    if template is not None:
        (tmp_path / "critic.yaml").write_text(template)
    recipe = tmp_path / "recipe.yaml"
    recipe.write_text(
        _HEAD + "builders:\n  - kind: critique\n    prompts: mathcritique\n"
        "    critic_prompt: critic.yaml\n"
    )
    with pytest.raises(RecipeError) as exc:
        load_recipe(recipe)
    text = str(exc.value)
    assert f"{recipe}:8: builders[0].critic_prompt:" in text, text
    assert re.search(message, text), text


def test_a_good_prompt_file_loads_relative_to_the_recipe(tmp_path, monkeypatch):
    write_jsonl(tmp_path / "src.jsonl", [{"question": "1+1?", "answer": "2"}])
    (tmp_path / "prompts").mkdir()
    (tmp_path / "prompts" / "critic.yaml").write_text(_GOOD)
    (tmp_path / "recipe.yaml").write_text(
        _HEAD.replace("src.jsonl", str(tmp_path / "src.jsonl")) + "builders:\n  - kind: critique\n    prompts: mathcritique\n"
        "    critic_prompt: prompts/critic.yaml\n"
    )
    monkeypatch.chdir("/")
    builder = load_recipe(tmp_path / "recipe.yaml").builders[0]
    assert builder.critic_prompt == str(tmp_path / "prompts" / "critic.yaml")
    assert builder.refine_prompt == "mathcritique_refine@1"  # the preset fills the rest
    ref = load_prompt(builder.critic_prompt).ref
    assert re.fullmatch(r"file:critic\.yaml@[0-9a-f]{12}", ref)
