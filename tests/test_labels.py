"""Annotator step labels: aligned one-to-one with the steps, or rejected with a reason."""

from __future__ import annotations

import json

import pytest

from supdata.ops.annotate import LabelRejected, label_schema, parse_labels


def test_json_labels():
    assert parse_labels('{"steps": ["Correct", "Wrong", "correct"]}', 3) == [True, False, True]


def test_text_labels():
    text = "Step 1: Correct\nStep 2 - **Wrong** because 3+4 is not 8\nStep 3: Incorrect"
    assert parse_labels(text, 3) == [True, False, False]


@pytest.mark.parametrize(
    ("text", "n", "reason"),
    [
        ('{"steps": ["Correct"]}', 2, "1 labels for 2 steps"),
        ('{"steps": ["Correct", "Maybe"]}', 2, "label 'Maybe' is not Correct or Wrong"),
        ("Step 1: Correct\nStep 3: Wrong", 2, "not 1, 2, 3"),
        ("Step 1: Correct", 2, "1 labels for 2 steps"),
        ("All good!", 2, "neither JSON labels nor"),
    ],
)
def test_rejections_never_guess(text, n, reason):
    with pytest.raises(LabelRejected, match=reason):
        parse_labels(text, n)


def test_schema_fixes_the_count():
    schema = label_schema(4)
    assert (
        schema["properties"]["steps"]["minItems"] == schema["properties"]["steps"]["maxItems"] == 4
    )
    json.dumps(schema)
