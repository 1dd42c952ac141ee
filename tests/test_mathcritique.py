"""The mathcritique prompt preset, template files as prompt values, and the published
SFT layout export, on real data (GSM8K, MATH, the published MathCritique rows)."""

from __future__ import annotations

import dataclasses
import json
import re
from pathlib import Path

import pytest

from supdata.builders.critique.format import CritiqueRejected, parse_critique
from supdata.export.folder import read_config
from supdata.export.mathcritique import to_mathcritique
from supdata.prompts import load_prompt
from supdata.recipe import RecipeError, load_recipe

from conftest import builds_by_window, read_jsonl, write_jsonl

PREFIX = "Let's break it down step by step:\n\n"
PHRASE = "The answer is $\\boxed{[your answer]}$."
_TURN = "\n<|end_of_text|>\nHuman: "


def _published(shared_data: Path) -> list[dict]:
    return json.loads(
        (shared_data / "mathcritique" / "Meta-Llama-3-8B-all-sftdata_0_new.json").read_text()
    )


def _parts(row: dict) -> tuple[str, list[str], str]:
    """A published refinement row: question, solution lines, critique."""
    first, _, second = row["instruction"].partition(_TURN)
    question, _, solution = first.partition("\n\nAssistant:")
    lines = [x for x in solution.removeprefix(PREFIX).split("\n") if x.strip()]
    return question, lines, second.split("\n\n", 1)[1].removesuffix("\n")


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
    (
        _GOOD.replace("{% for s in steps %}{{ s }}\n      {% endfor %}", "-"),
        r"does not use \['steps'\]",
    ),
    (
        _GOOD.replace("{{ question }}", "{{ question }"),
        r"critic.yaml:4: messages\[0\] \(user\): Jinja syntax error at template line 1",
    ),
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
        _HEAD.replace("src.jsonl", str(tmp_path / "src.jsonl"))
        + "builders:\n  - kind: critique\n    prompts: mathcritique\n"
        "    critic_prompt: prompts/critic.yaml\n"
    )
    monkeypatch.chdir("/")
    builder = load_recipe(tmp_path / "recipe.yaml").builders[0]
    assert builder.critic_prompt == str(tmp_path / "prompts" / "critic.yaml")
    assert builder.refine_prompt == "mathcritique_refine@1"  # the preset fills the rest
    ref = load_prompt(builder.critic_prompt).ref
    assert re.fullmatch(r"file:critic\.yaml@[0-9a-f]{12}", ref)


def test_a_template_is_compiled_once_and_renders_fresh_values(shared_data, monkeypatch):
    """Rendering compiles each message once (the compile cost a build a quarter of a
    millisecond per message); every render still fills its own values, and a changed
    prompt file is new text, so it compiles anew."""
    from supdata import prompts

    compiled = []
    real = prompts._ENV.from_string
    monkeypatch.setattr(prompts._ENV, "from_string", lambda s: compiled.append(s) or real(s))
    prompts._compiled.cache_clear()
    rows = read_jsonl(shared_data / "gsm8k" / "test.jsonl")[:50]
    prompt = load_prompt("mathcritique_solve@1")  # (loading checks the template once)
    compiled.clear()
    rendered = [prompt.render(question=r["question"]) for r in rows]
    assert len(compiled) == len(prompt.messages)
    assert all(
        r["question"] in "".join(m["content"] for m in out)
        for r, out in zip(rows, rendered, strict=True)
    )
    changed = dataclasses.replace(
        prompt, messages=({"role": "user", "content": "Q: {{ question }}"},)
    )
    assert changed.render(question="1+1?") == ({"role": "user", "content": "Q: 1+1?"},)
    assert len(compiled) == len(prompt.messages) + 1


# -- a scripted build with the preset, and the published SFT layout -----------------------


def _script(answers: dict[str, str]):
    """A scripted actor and critic for GSM8K problems (``answers``: question -> answer):
    the first sample right, the second wrong at step 2; the critic finds that step."""

    def respond(request, k):
        if "/prefix-" in request.id:  # labels: rollouts from a step prefix of a flawed path
            right = int(answers[request.messages[1]["content"]])
            wrong = "wrongly" in request.messages[-1]["content"]
            return f" So the answer is \\boxed{{{right + 1 if wrong else right}}}."
        text = request.messages[0]["content"]
        if text.startswith("Instruction:"):
            lines = text.split("\n\nSolution:\n", 1)[1].split("\n\nHint:")[0].split("\n")
            wrong = "wrongly" in lines[1]
            blocks = [
                f"Step sentence: {line}\nCorrectness of the step: "
                f"[{'Wrong' if wrong and i == 1 else 'Correct'}]\nExplanation: checked."
                for i, line in enumerate(lines[:-1])
            ]
            final = "Wrong" if wrong else "Correct"
            return "\n\n".join(
                [*blocks, f"Correctness of the final answer: [{final}]\nExplanation: ok."]
            )
        question = next(q for q in answers if q in text)
        right = int(answers[question])
        if request.id.endswith("/refine"):
            return f"We start from 2 and 3.\nThen 5 more.\nThe answer is $\\boxed{{{right}}}$."
        if k == 0:
            return f"We start from 2 and 3.\nThen 5 more.\nThe answer is $\\boxed{{{right}}}$."
        return (
            f"We start from 2 and 3.\nThen 5 more wrongly.\nThe answer is $\\boxed{{{right + 1}}}$."
        )

    return respond


@pytest.mark.shared_data
def test_critique_build_with_the_mathcritique_preset(shared_data, tmp_path, fake_engine):
    """Two GSM8K problems; the actor answers right on its first sample and wrong on its
    second; the critic (published format, brackets, the answer line uncritiqued) finds
    the wrong step; every refinement is right. Rows carry the preset, the prompts are the
    published layouts, and the export's keys are the published rows' keys."""
    from supdata.build import build
    from supdata.export import export_dir

    rows = read_jsonl(shared_data / "gsm8k" / "test.jsonl")[:2]
    source = write_jsonl(tmp_path / "source.jsonl", rows)
    answers = {r["question"]: r["answer"].split("####")[-1].strip() for r in rows}

    respond = _script(answers)
    backend = fake_engine(respond)
    recipe = tmp_path / "recipe.yaml"
    recipe.write_text(
        f"name: mc\nsource: {{kind: file, path: {source}, normalizer: gsm8k}}\n"
        "engines:\n  actor: {kind: vllm}\nbuilders:\n  - kind: critique\n"
        "    prompts: mathcritique\n    methods: [rg1]\n    n: 2\n    refine_n: 1\n"
        "    labels: [{kind: mc, completions: 2}]\n"
    )
    build(load_recipe(recipe), tmp_path / "out", cache_path=tmp_path / "c.sqlite")
    out = tmp_path / "out"

    solves = [r for r in backend.requests if r.id in {"0", "1"} or r.id.endswith("/refine")]
    assert solves and all(r.continue_final and r.messages[-1]["content"] == PREFIX for r in solves)
    for config in ("critiques", "critic_sft", "refine_sft", "selfimprove_sft"):
        got = read_config(out, config).to_list()
        assert got, config
        assert {r["prompt_set"] for r in got} == {"mathcritique"}, config
        assert all(r["prompt_ref"].startswith("mathcritique_") for r in got), config
    critiques = read_config(out, "critiques").to_list()
    wrong = [r for r in critiques if not r["final_correct"]]
    assert wrong and all(r["labels"] == [True, False, False] for r in wrong)
    for r in critiques:  # Monte-Carlo labels of each flawed path beside the critic's
        (mc,) = r["label_sets"]
        assert mc["labels"] == ([True, True, True] if r["final_correct"] else [True, False, False])
    assert all(r["first_error_step"] == 1 for r in wrong)
    critic = read_config(out, "critic_sft").to_list()[0]
    assert critic["prompt"][0]["content"].startswith("Instruction:")
    assert "Reference solution" not in critic["prompt"][0]["content"]

    published = _published(shared_data)
    for config, style in [("refine_sft", "alpaca"), ("selfimprove_sft", "alpaca")]:
        target = tmp_path / f"{config}.json"
        export_dir(out, config, "mathcritique", target, style=style)
        made = json.loads(target.read_text())
        assert made and all(list(r) == list(published[0]) for r in made)
        assert all(r["output"].startswith(PREFIX) and r["instruction"].endswith("\n") for r in made)
        assert all(PHRASE in r["instruction"] for r in made)
    refined = json.loads((tmp_path / "refine_sft.json").read_text())[0]
    assert refined["instruction"].count("\n\nAssistant:" + PREFIX) == 1
    assert refined["instruction"].count(_TURN) == 1
    assert "\nCorrectness of the step: Wrong\n" in refined["instruction"]
    target = tmp_path / "critic.json"
    export_dir(out, "critic_sft", "mathcritique", target, style="sharegpt")
    (conv,) = {tuple(r) for r in json.loads(target.read_text())}
    assert conv == ("conversations",)
    first = json.loads(target.read_text())[0]["conversations"]
    assert [t["from"] for t in first] == ["human", "gpt"]
    assert first[1]["value"].startswith("Step sentence: ")


def test_export_layout_round_trips_a_published_row(shared_data):
    """A published refinement row, written as supdata rows, exports back to itself."""
    row = _published(shared_data)[0]
    question, lines, critique = _parts(row)
    messages = load_prompt("mathcritique_refine").render(
        question=question.removesuffix(
            " Please also give your final number in the format of 'The answer is [your answer].'"
        ),
        steps=lines,
        critique=critique,
    )
    sft = {
        "prompt": list(messages),
        "completion": [{"role": "assistant", "content": row["output"].removeprefix(PREFIX)}],
    }
    (made,) = to_mathcritique([sft], "alpaca")
    assert list(made) == list(row) and made["input"] == row["input"] == ""
    assert made["output"] == row["output"]
    head = made["instruction"].partition(_TURN)[0]
    assert head.split("\n\nAssistant:")[1] == PREFIX + "\n".join(lines)
    assert made["instruction"].endswith("\n\n" + critique + "\n")
    assert row["instruction"].endswith("\n\n" + critique + "\n")
    assert (
        head.split("\n\nAssistant:")[1]
        == row["instruction"].split(_TURN)[0].split("\n\nAssistant:")[1]
    )


@pytest.mark.shared_data
def test_critique_rows_do_not_depend_on_the_window(shared_data, tmp_path, monkeypatch):
    """Every critique stage joins its inputs to the source from disk ``runner.window``
    problems at a time (flawed paths by RG1, RG2 and RG3, critiques, the SFT exports and
    the one-round loop): a flow build at one problem per window gives the same rows, in
    the same order, and the same counters as a stage-by-stage build at one window."""
    rows = read_jsonl(shared_data / "gsm8k" / "test.jsonl")[:5]
    source = write_jsonl(tmp_path / "source.jsonl", rows)
    answers = {r["question"]: r["answer"].split("####")[-1].strip() for r in rows}
    script = _script(answers)

    def respond(request, k):
        if request.id.endswith("/rg3/rewrite"):  # RG3's model-made mistake: one step
            return "Then 9 more."
        if request.id.endswith("/rg2") and k == 1:  # RG2: one continuation turns wrong
            return "Then 5 more wrongly.\nThe answer is $\\boxed{0}$."
        return script(request, k)

    recipe = (
        f"name: mc\nsource: {{kind: file, path: {source}, normalizer: gsm8k}}\n"
        "engines:\n  actor: {kind: vllm, model: o/actor}\nbuilders:\n  - kind: critique\n"
        "    prompts: mathcritique\n    methods: [rg1, rg2, rg3]\n    n: 2\n"
        "    refine_n: 1\n    rg1_correct_share: 0.5\n"
        "    rg3_types: [wrong_result, wrong_operation]\n"
    )
    one, every = builds_by_window(tmp_path, monkeypatch, respond, recipe)
    assert {"critiques", "critic_sft", "refine_sft", "selfimprove_sft"} <= set(one[0])
    made = one[1]["flawed"][3]
    assert all(made[f"method:{m}"] > 0 for m in ("rg1", "rg2", "rg3")), made
    assert one[:3] == every[:3] and one[3] > every[3]
