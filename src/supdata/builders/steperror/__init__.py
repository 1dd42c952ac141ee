"""``steperror``: weak-to-strong step-error corpora (Guiding Through Complexity):
samples, preference pairs, exact outcome-error-rate mixtures, subtask decompositions,
rephrasings, named mixtures and teachers (per-teacher ER and SWER, target-ER selection)."""

from pathlib import Path

from supdata.builders.papers import GUIDING
from supdata.builders.sample.stages import SAMPLES
from supdata.builders.spec import BuilderSpec
from supdata.builders.steperror import stages as _stages
from supdata.builders.steperror.models import (
    NegativeRow,
    PairRow,
    RephrasedRow,
    TeacherSampleRow,
)
from supdata.builders.steperror.params import SteperrorBuilder
from supdata.core.records.models import SampleRow, SubtaskRow
from supdata.core.rows import ConfigSpec
from supdata.ops.mixture import MixRow

SPEC = BuilderSpec(
    kind="steperror",
    params=SteperrorBuilder,
    stages=_stages.steperror_stages,
    configs={
        "samples": ConfigSpec(SampleRow, SAMPLES),
        "pairs": ConfigSpec(PairRow, _stages.PAIRS),
        "hard_er*": ConfigSpec(MixRow, _stages.er_description("hard")),
        "subtasks": ConfigSpec(SubtaskRow, _stages.SUBTASKS),
        "sub_samples": ConfigSpec(SampleRow, _stages.SUB_SAMPLES),
        "sub_pairs": ConfigSpec(PairRow, _stages.SUB_PAIRS),
        "sub_er*": ConfigSpec(MixRow, _stages.er_description("sub")),
        "rephrased": ConfigSpec(RephrasedRow, _stages.REPHRASED),
        "rephrased_er*": ConfigSpec(MixRow, _stages.er_description("rephrased")),
        "negatives": ConfigSpec(NegativeRow, _stages.NEGATIVES),
        "mix_*": ConfigSpec(MixRow, _stages.MIXTURE),
        "teacher_samples": ConfigSpec(TeacherSampleRow, _stages.TEACHER_SAMPLES),
        "teacher_er*": ConfigSpec(MixRow, _stages.TEACHER_ER),
    },
    card=Path(__file__).with_name("card.md.j2"),
    paper=GUIDING,
    prompts=(
        "solve@1",
        "restyle@1",
        "label_steps@1",
        "decompose@1",
        "rephrase_question@1",
        "rephrase_solution@1",
        "negative_computation@1",
        "negative_method@1",
        "negative_composed@1",
        "judge@1",
        "solve_length@1",
    ),
)

__all__ = ["SPEC", "SteperrorBuilder"]
