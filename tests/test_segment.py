from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from supdata.ops.steps import segment, strip_steps
from supdata.ops.steps.protected import protected_spans

GSM8K = (
    "Janet sells 16 - 3 - 4 = 9 duck eggs a day.\n"
    "She makes 9 * 2 = $18 every day at the farmer's market.\n"
    "#### 18"
)


def test_gsm8k_one_step_per_line():
    steps = segment(GSM8K)
    assert strip_steps(steps) == [
        "Janet sells 16 - 3 - 4 = 9 duck eggs a day.",
        "She makes 9 * 2 = $18 every day at the farmer's market.",
        "#### 18",
    ]
    assert "".join(steps) == GSM8K


def test_step_markers_win_over_lines():
    text = "Step 1: add 2 and 3\nso 5\nStep 2: double it\nStep 3: 10"
    assert strip_steps(segment(text)) == [
        "Step 1: add 2 and 3\nso 5",
        "Step 2: double it",
        "Step 3: 10",
    ]
    bold = "Plan first.\n**Step 1:** a\n**Step 2:** b"
    assert strip_steps(segment(bold)) == ["Plan first.", "**Step 1:** a", "**Step 2:** b"]


def test_markers_and_blank_lines_are_both_boundaries():
    text = "Intro.\n\n## Step 1: x\nmore x\n\nstill step one? no, a paragraph\n## Step 2: y"
    assert strip_steps(segment(text)) == [
        "Intro.",
        "## Step 1: x\nmore x",
        "still step one? no, a paragraph",
        "## Step 2: y",
    ]


def test_numbered_list_only_in_sequence():
    text = "We compute:\n1. a = 2\n2. b = 3\n7. not an item\n3. a + b = 5"
    assert strip_steps(segment(text)) == [
        "We compute:",
        "1. a = 2",
        "2. b = 3\n7. not an item",
        "3. a + b = 5",
    ]


def test_paragraphs():
    text = "First we note x.\nIt is odd.\n\n\nThen y.\n   \nFinally z."
    steps = segment(text)
    assert strip_steps(steps) == ["First we note x.\nIt is odd.", "Then y.", "Finally z."]
    assert steps[0].endswith("\n\n\n")


@pytest.mark.parametrize(
    "block",
    [
        "$$\na = 1\n\nb = 2\n$$",
        "\\[\na = 1\n\nb = 2\n\\]",
        "\\begin{align*}\na &= 1\\\\\n\nb &= \\begin{cases}1\\\\\n\n2\\end{cases}\n\\end{align*}",
        "```python\nx = 1\n\nprint(x)\n```",
        '[asy]\ndraw((0,0)--(1,1));\n\nlabel("A");\n[/asy]',
    ],
)
def test_never_splits_inside_protected_blocks(block):
    text = f"Before.\n\n{block}\n\nAfter."
    for strategy in ("auto", "paragraphs", "lines"):
        steps = segment(text, strategy)
        assert "".join(steps) == text
        assert any(block in s for s in steps), (strategy, steps)


def test_unclosed_block_protects_nothing():
    text = "a\n\n$$ x\n\nb"
    assert len(segment(text)) == 3
    assert protected_spans(text) == []


def test_strategies_are_explicit():
    text = "1. a\n2. b\n\nc"
    assert strip_steps(segment(text, "numbered")) == ["1. a", "2. b\n\nc"]
    assert strip_steps(segment(text, "paragraphs")) == ["1. a\n2. b", "c"]
    assert strip_steps(segment(text, "lines")) == ["1. a", "2. b", "c"]
    with pytest.raises(ValueError, match="unknown segmentation strategy 'words'"):
        segment(text, "words")


def test_edge_cases():
    assert segment("") == []
    assert segment("   ") == ["   "]
    assert segment("\n\nonly\n") == ["\n\nonly\n"]
    assert segment("a") == ["a"]


pieces = st.sampled_from(
    [
        "Step 1: ",
        "Step 2: ",
        "1. ",
        "2) ",
        "x = 1",
        "$$",
        "\\[",
        "\\]",
        "```",
        "\n",
        "\n\n",
        " ",
        "\t",
        "word",
        "\\begin{align}",
        "\\end{align}",
        "[asy]",
        "[/asy]",
        "é",
        "#",
    ]
)


@settings(max_examples=400, deadline=None)
@given(
    st.lists(pieces, max_size=30),
    st.sampled_from(["auto", "markers", "numbered", "paragraphs", "lines"]),
)
def test_lossless_and_deterministic(parts, strategy):
    text = "".join(parts)
    steps = segment(text, strategy)
    assert "".join(steps) == text
    assert steps == segment(text, strategy)
    assert all(s.strip() for s in steps) or len(steps) <= 1


@pytest.mark.shared_data
@pytest.mark.parametrize("split", ["gsm8k", "math"])
def test_processbench_steps_survive_rejoin_and_resegment(shared_data, split):
    items = json.loads((shared_data / "processbench" / f"{split}.json").read_text())
    same = 0
    for item in items:
        text = "\n\n".join(item["steps"])
        steps = segment(text)
        assert "".join(steps) == text
        same += strip_steps(steps) == strip_steps(item["steps"])
    assert same / len(items) >= 0.99, f"{same}/{len(items)}"
