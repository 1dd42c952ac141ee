"""``critique``: AutoMathCritique-style data: flawed paths (RG1/RG2/RG3), step-level
critiques, consistency and refinement filters, critique-in-the-loop SFT rows (one
round, or ``selfimprove:`` rounds as the paper runs them)."""

from pathlib import Path

from supdata.builders.critique import stages as _stages
from supdata.builders.critique.models import CritiqueRow, SftRow, TripleRow
from supdata.builders.critique.params import CritiqueBuilder
from supdata.builders.papers import CRITIQUE
from supdata.builders.spec import BuilderSpec
from supdata.core.rows import ConfigSpec

SPEC = BuilderSpec(
    kind="critique",
    params=CritiqueBuilder,
    stages=_stages.critique_stages,
    configs={
        "critiques": ConfigSpec(CritiqueRow, _stages.CRITIQUES),
        "critic_sft": ConfigSpec(SftRow, _stages.CRITIC_SFT),
        "refine_sft": ConfigSpec(SftRow, _stages.REFINE_SFT),
        "selfimprove_sft": ConfigSpec(SftRow, _stages.SELFIMPROVE_SFT),
        "selfimprove_r*": ConfigSpec(SftRow, _stages.SELFIMPROVE_ROUND),
        "selfimprove_triples": ConfigSpec(TripleRow, _stages.SELFIMPROVE_TRIPLES),
    },
    card=Path(__file__).with_name("card.md.j2"),
    paper=CRITIQUE,
    prompts=("solve@1", "perturb_step@1", "critique@1", "refine@1"),
)

__all__ = ["SPEC", "CritiqueBuilder"]
