"""``stv``: self-trained verification: rollouts binned by pass rate, informed-verifier
targets, the uninformed verifier on the same attempts, verifier-in-the-loop prompts."""

from pathlib import Path

from supdata.builders.papers import STV
from supdata.builders.sample.stages import SAMPLES
from supdata.builders.spec import BuilderSpec
from supdata.builders.stv import stages as _stages
from supdata.builders.stv.models import DistillRow, VerifierRlRow, VilRow
from supdata.builders.stv.params import StvBuilder
from supdata.core.records.models import SampleRow
from supdata.core.rows import ConfigSpec

SPEC = BuilderSpec(
    kind="stv",
    params=StvBuilder,
    stages=_stages.stv_stages,
    configs={
        "samples": ConfigSpec(SampleRow, SAMPLES),
        "distill": ConfigSpec(DistillRow, _stages.DISTILL),
        "verifier_rl": ConfigSpec(VerifierRlRow, _stages.VERIFIER_RL),
        "vil": ConfigSpec(VilRow, _stages.VIL),
    },
    card=Path(__file__).with_name("card.md.j2"),
    paper=STV,
    prompts=("solve@1", "verify@1", "verify_informed@1", "vil_feedback@1"),
)

__all__ = ["SPEC", "StvBuilder"]
