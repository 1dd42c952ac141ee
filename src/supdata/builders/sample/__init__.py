"""``sample``: N solutions per problem, segmented into steps and verified."""

from supdata.builders.papers import GUIDING
from supdata.builders.sample.params import SampleBuilder
from supdata.builders.sample.stages import SAMPLES, sample_stages
from supdata.builders.spec import BuilderSpec
from supdata.core.records.models import SampleRow
from supdata.core.rows import ConfigSpec

SPEC = BuilderSpec(
    kind="sample",
    params=SampleBuilder,
    stages=sample_stages,
    configs={"samples": ConfigSpec(SampleRow, SAMPLES)},
    paper=GUIDING,
    prompts=("solve@1",),
)

__all__ = ["SPEC", "SampleBuilder"]
