"""``label``: step labels for solutions that arrive with the source, from every source."""

from supdata.builders.label.models import LabelledRow
from supdata.builders.label.params import LabelBuilder
from supdata.builders.label.stages import LABELLED, label_stages
from supdata.builders.spec import BuilderSpec
from supdata.core.rows import ConfigSpec

SPEC = BuilderSpec(
    kind="label",
    params=LabelBuilder,
    stages=label_stages,
    configs={"labelled": ConfigSpec(LabelledRow, LABELLED)},
    prompts=("solve@1", "label_steps@1"),
)

__all__ = ["SPEC", "LabelBuilder"]
