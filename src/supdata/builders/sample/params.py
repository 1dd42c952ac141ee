"""The ``sample`` builder's recipe section."""

from __future__ import annotations

from typing import Literal

from supdata.builders.spec import SampledParams


class SampleBuilder(SampledParams):
    """Sample N solutions per problem, segment them, verify them: the ``samples`` config."""

    kind: Literal["sample"]
