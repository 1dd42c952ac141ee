from __future__ import annotations

import pyarrow.parquet as pq
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from supdata.core.records import ORIGINS, VERIFY_STATUSES, Problem, StepAnnotation, Trace
from supdata.core.records.arrow import read_parquet, to_table, write_parquet
from supdata.core.records.sampling import FIELDS as SAMPLING_FIELDS
from supdata.publish import RowSchemaError, validate_rows

text = st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=40)
json_scalar = st.none() | st.booleans() | st.integers(-(2**53), 2**53) | text
json_value = st.recursive(
    json_scalar,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(text, inner, max_size=3),
    max_leaves=8,
)


# The sampling struct's fields by type (supdata.core.records.sampling.SamplingRow).
SAMPLING_VALUES = {
    **dict.fromkeys(("temperature", "top_p", "target_swer"), st.floats(allow_nan=False)),
    **dict.fromkeys(
        ("top_k", "n", "max_tokens", "first_error_step", "known_error_step"),
        st.integers(-(2**63), 2**63 - 1),
    ),
    "carry": st.booleans(),
}
sampling_dicts = st.fixed_dictionaries(
    {},
    optional={name: SAMPLING_VALUES.get(name, text) for name in SAMPLING_FIELDS},
)


@st.composite
def traces(draw, problem_id: str = "p") -> Trace:
    steps = draw(st.lists(text.filter(bool), max_size=5))
    annotation = None
    if steps and draw(st.booleans()):
        labels = draw(st.lists(st.none() | st.booleans(), min_size=len(steps), max_size=len(steps)))
        types = draw(
            st.none() | st.lists(st.none() | text, min_size=len(steps), max_size=len(steps))
        )
        annotation = StepAnnotation(
            labels=labels, source=draw(text.filter(bool)), error_types=types
        )
    return Trace(
        id=draw(text.filter(bool)),
        problem_id=problem_id,
        text="".join(steps),
        steps=steps,
        origin=draw(st.sampled_from(ORIGINS)),
        final_answer=draw(st.none() | text),
        status=draw(st.none() | st.sampled_from(VERIFY_STATUSES)),
        model=draw(st.none() | text),
        sampling=draw(sampling_dicts),
        seed=draw(st.none() | st.integers(-(2**63), 2**63 - 1)),
        parent_id=draw(st.none() | text),
        annotation=annotation,
    )


@st.composite
def problems(draw) -> Problem:
    pid = draw(text.filter(bool))
    return Problem(
        id=pid,
        question=draw(text.filter(str.strip)),
        reference_solution=draw(text),
        reference_answer=draw(st.none() | text),
        source=draw(text),
        level=draw(st.none() | st.integers(-(2**31), 2**31 - 1)),
        subject=draw(st.none() | text),
        meta=draw(st.dictionaries(text, json_value, max_size=3)),
        solutions=draw(st.lists(traces(pid), max_size=2)),
    )


def test_sampling_is_a_fixed_struct():
    """An unknown sampling key fails when the trace is written, naming the trace and key;
    a JSON string (folders published before the struct) still reads."""
    trace = Trace(id="t", problem_id="p", text="a", steps=["a"], origin="sampled")
    trace.sampling = {"temperature": 1, "temprature": 0.5}
    with pytest.raises(ValueError, match=r"trace 't': sampling keys \['temprature'\]"):
        trace.to_row()
    trace.sampling = {"temperature": 1, "n": 4}
    row = trace.to_row()
    assert row["sampling"]["temperature"] == 1.0 and row["sampling"]["rule"] is None
    assert Trace.from_row(row).sampling == {"temperature": 1.0, "n": 4}
    old = {**row, "sampling": '{"temperature": 1.0, "n": 4}'}
    assert Trace.from_row(old).sampling == {"temperature": 1.0, "n": 4}


@settings(max_examples=60, deadline=None)
@given(st.lists(problems(), max_size=4))
def test_problem_round_trip_through_parquet(tmp_path_factory, records):
    path = tmp_path_factory.mktemp("rt") / "p.parquet"
    write_parquet(to_table(records, Problem), path)
    assert read_parquet(path, Problem) == records
    validate_rows("problems", pq.read_table(path).to_pylist())


@settings(max_examples=60, deadline=None)
@given(st.lists(traces(), max_size=5))
def test_trace_round_trip_through_parquet(tmp_path_factory, records):
    path = tmp_path_factory.mktemp("rt") / "t.parquet"
    write_parquet(to_table(records, Trace), path)
    assert read_parquet(path, Trace) == records


def test_empty_table_keeps_types():
    table = to_table([], Trace)
    assert table.num_rows == 0
    assert str(table.schema.field("annotation").type).startswith("struct<labels: list<item: bool>")


def test_steps_must_join_back_to_text():
    with pytest.raises(ValueError, match="do not join back"):
        Trace(id="t", problem_id="p", text="a b", steps=["a", "b"], origin="sampled")


def test_labels_must_align_with_steps():
    with pytest.raises(ValueError, match="2 labels for 3 steps"):
        Trace(
            id="t",
            problem_id="p",
            text="abc",
            steps=["a", "b", "c"],
            origin="sampled",
            annotation=StepAnnotation(labels=[True, False], source="x"),
        )


def test_first_error_and_swer_from_labels():
    ann = StepAnnotation.from_first_error(4, 2, "human:processbench")
    assert ann.labels == [True, True, False, None]
    assert ann.first_error_step == 2
    assert ann.swer == pytest.approx(1 / 3)
    assert StepAnnotation.from_first_error(3, -1, "h").first_error_step == -1
    with pytest.raises(ValueError, match="outside"):
        StepAnnotation.from_first_error(3, 3, "h")


def test_stored_first_error_step_must_agree_with_labels():
    row = StepAnnotation(labels=[True, False], source="x").to_row()
    row["first_error_step"] = 0
    with pytest.raises(ValueError, match="disagrees"):
        StepAnnotation.from_row(row)


def test_unknown_origin_and_status_rejected():
    with pytest.raises(ValueError, match="origin"):
        Trace(id="t", problem_id="p", text="", steps=[], origin="dreamed")
    with pytest.raises(ValueError, match="status"):
        Trace(id="t", problem_id="p", text="", steps=[], origin="sampled", status="maybe")


def test_schema_names_row_and_field():
    good = Trace(id="t1", problem_id="p", text="a", steps=["a"], origin="reference").to_row()
    assert validate_rows("references", [good]) == 1
    bad = dict(good, id="t2", steps="a")
    with pytest.raises(RowSchemaError, match=r"row 1 \(id 't2'\): field steps: .*references\.json"):
        validate_rows("references", [good, bad])
    sampled = dict(good, origin="sampled")
    with pytest.raises(RowSchemaError, match="field origin"):
        validate_rows("references", [sampled])
    with pytest.raises(RowSchemaError, match="no schema for config 'nope'"):
        validate_rows("nope", [good])
