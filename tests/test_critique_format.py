"""The critique format: strict parsing, alignment, and the published MathCritique text."""

from __future__ import annotations

import json

import jsonschema
import pytest

from supdata.builders.critique.format import (
    Critique,
    CritiqueRejected,
    critique_schema,
    parse_critique,
    render_critique,
)

STEPS = ["3 + 4 = 7.\n", "7 * 2 = 15.\n", "The answer is 15."]
JSON = {
    "steps": [
        {"correctness": "Correct", "explanation": "right sum"},
        {"correctness": "Wrong", "explanation": "7 * 2 is 14"},
        {"correctness": "Wrong", "explanation": "follows the slip"},
    ],
    "final_answer": {"correctness": "Wrong", "explanation": "should be 14"},
}


def test_json_critique_aligns_with_the_steps():
    jsonschema.validate(JSON, critique_schema(3))
    c = parse_critique(json.dumps(JSON), 3)
    assert c.labels == [True, False, False] and c.first_error_step == 1
    assert not c.final_correct and c.format == "json"
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(JSON, critique_schema(2))  # the schema fixes the count


def test_text_round_trip():
    c = parse_critique(json.dumps(JSON), 3)
    text = render_critique(c, STEPS)
    back = parse_critique(text, 3)
    assert (back.labels, back.final_correct, back.format) == (c.labels, c.final_correct, "text")
    assert back.explanations == c.explanations


@pytest.mark.parametrize(
    ("text", "n", "reason"),
    [
        (json.dumps(JSON), 2, "3 step verdicts for 2 steps"),
        ('{"steps": [', 3, "invalid or truncated JSON"),
        (json.dumps({**JSON, "final_answer": None}), 3, "no final answer verdict"),
        (
            json.dumps({**JSON, "steps": [*JSON["steps"][:2], {"correctness": "Maybe"}]}),
            3,
            "step 3: verdict 'Maybe' is not Correct or Wrong",
        ),
        ("Step 1 looks fine. Step 2 is wrong.", 2, "no final answer verdict"),
        ("Correctness of the final answer: Wrong", 2, "no 'Step sentence"),
    ],
)
def test_rejections_never_guess(text, n, reason):
    with pytest.raises(CritiqueRejected, match=reason):
        parse_critique(text, n)


def test_render_refuses_misaligned():
    c = Critique([True], ["ok"], True, "fine", "json")
    with pytest.raises(ValueError, match="1 verdicts for 2 steps"):
        render_critique(c, ["a", "b"])


@pytest.mark.shared_data
def test_every_published_mathcritique_critique_parses(shared_data):
    """The 200 released MathCritique-76k rows hold a critique in the published format.

    Four of them end with a "Step sentence:" (the answer line) that has no step verdict,
    only the final one: it gets no label, so such a critique aligns with the steps
    before it and not with a segmentation that counts the answer line as a step. One
    says "Correct for the equation but wrong in context": rejected, not guessed."""
    rows = json.loads(
        (shared_data / "mathcritique" / "Meta-Llama-3-8B-all-sftdata_0_new.json").read_text()
    )
    wrong_final = dangling = 0
    rejected = []
    for row in rows:
        critique = row["instruction"][row["instruction"].index("Step sentence:") :]
        n = critique.count("Correctness of the step:")
        dangling += critique.count("Step sentence:") - n
        try:
            c = parse_critique(critique, n)
        except CritiqueRejected as exc:
            rejected.append(str(exc))
            continue
        assert len(c.labels) == n and all(c.explanations) and c.final_explanation
        wrong_final += not c.final_correct
    assert wrong_final > 0 and dangling == 4
    assert rejected == [
        "step 5: verdict 'Correct for the equation but wrong in context' is not Correct or Wrong"
    ]


def _text(blocks, final="Wrong"):
    body = "".join(
        f"Step sentence: {s}\nCorrectness of the step: {v}\nExplanation: because.\n\n"
        for s, v in blocks
    )
    return body + (f"Correctness of the final answer: {final}\nExplanation: so.\n" if final else "")


GOOD_BLOCKS = [(STEPS[0].strip(), "Correct"), (STEPS[1].strip(), "Wrong"), (STEPS[2], "Wrong")]


@pytest.mark.parametrize(
    ("kind", "text", "outcome"),
    [
        ("well formed", _text(GOOD_BLOCKS), [True, False, False]),
        (
            "verdicts in other cases",
            _text([(s, v.upper()) for s, v in GOOD_BLOCKS]),
            [True, False, False],
        ),
        ("'Incorrect' for Wrong", _text([(s, "incorrect") for s, _ in GOOD_BLOCKS]), [False] * 3),
        (
            "bracketed verdicts",
            _text([(s, f"[{v}]") for s, v in GOOD_BLOCKS]),
            [True, False, False],
        ),
        ("missing step", _text(GOOD_BLOCKS[:2]), "2 step verdicts for 3 steps"),
        ("extra step", _text([*GOOD_BLOCKS, ("And so on.", "Correct")]), "4 step verdicts"),
        (
            "reordered steps",
            _text([GOOD_BLOCKS[1], GOOD_BLOCKS[0], GOOD_BLOCKS[2]]),
            "out of order",
        ),
        ("repeated step", _text([GOOD_BLOCKS[0], GOOD_BLOCKS[0], GOOD_BLOCKS[2]]), "out of order"),
        ("another solution's steps", _text([("x = 9", "Correct")] * 3), "step sentence is not"),
        (
            "verdict in another language",
            _text([(s, "Richtig") for s, _ in GOOD_BLOCKS]),
            "'Richtig'",
        ),
        (
            "hedged verdict",
            _text([(s, "Partly correct") for s, _ in GOOD_BLOCKS]),
            "'Partly correct'",
        ),
        ("truncated text", _text(GOOD_BLOCKS, final=None)[:-40], "no final answer verdict"),
        ("truncated JSON", json.dumps(JSON)[:-30], "invalid or truncated JSON"),
        (
            "JSON steps not a list",
            json.dumps({**JSON, "steps": "all fine"}),
            "without a steps list",
        ),
        (
            "JSON verdict as a bool",
            json.dumps({**JSON, "steps": [{"correctness": True}] * 3}),
            "step 1: verdict True",
        ),
        (
            "JSON step as a string",
            json.dumps({**JSON, "steps": ["ok", "ok", "ok"]}),
            "not an object",
        ),
        ("fenced JSON", "```json\n" + json.dumps(JSON) + "\n```", [True, False, False]),
        ("empty output", "", "no final answer verdict"),
    ],
)
def test_malformed_critiques_align_or_are_rejected(kind, text, outcome):
    if isinstance(outcome, list):
        assert parse_critique(text, 3, STEPS).labels == outcome, kind
    else:
        with pytest.raises(CritiqueRejected, match=outcome):
            parse_critique(text, 3, STEPS)
