"""``perturb``: step errors injected into correct solutions with exact control (SWER
grid, positions, rule or model error types); only erroneous steps labelled Wrong."""

from supdata.builders.papers import GUIDING
from supdata.builders.perturb.params import PerturbBuilder
from supdata.builders.perturb.stages import PERTURBED, er_description, perturb_stages
from supdata.builders.spec import BuilderSpec
from supdata.core.records.models import PerturbedRow
from supdata.core.rows import ConfigSpec
from supdata.ops.mixture import MixRow

SPEC = BuilderSpec(
    kind="perturb",
    params=PerturbBuilder,
    stages=perturb_stages,
    configs={
        "perturbed": ConfigSpec(PerturbedRow, PERTURBED),
        "perturbed_er*": ConfigSpec(MixRow, er_description()),
    },
    paper=GUIDING,
    prompts=("perturb_step@1", "solve@1", "label_steps@1"),
)

__all__ = ["SPEC", "PerturbBuilder"]
