"""Stages of the ``critique`` builder.

critique_samples (internal) -> flawed (internal: RG1/RG2/RG3 paths) -> critiques ->
critic_sft, refine_sft; critique_samples -> selfimprove_sft (one round, the critic sees
the reference). With ``selfimprove:``, instead of selfimprove_sft, per round r:
selfimprove_samples_rR (internal) -> selfimprove_round_rR (internal; reads the earlier
rounds for the dedup) -> selfimprove_rR; all rounds -> selfimprove_triples.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterator
from functools import partial
from typing import TYPE_CHECKING, Any

from supdata.builders.critique.figures import (
    critique_figures,
    round_figures,
    sft_figures,
    triple_figures,
)
from supdata.builders.critique.flawed import Rg1, bases, rg2, rg3
from supdata.builders.critique.loop import YIELDS, round_sft, selfimprove_round, triples
from supdata.builders.critique.models import CritiqueRow, RoundRow, SftRow, TripleRow
from supdata.builders.critique.params import CritiqueBuilder
from supdata.builders.critique.rows import (
    critic_sft,
    critique_rows,
    refine_sft,
    selfimprove_sft,
)
from supdata.builders.sample.stages import stage_params
from supdata.core.records import Problem, Trace
from supdata.core.records.models import SampleRow, TraceRow
from supdata.core.runner import BuildContext, Output, Stage
from supdata.core.stats import StageStats
from supdata.ops.labels.stage import Labeller
from supdata.ops.stages import by_problem, sample, verify

if TYPE_CHECKING:
    from supdata.recipe import Recipe

CRITIQUES = (
    "a flawed path with a step-level critique that passed the consistency and refinement filters"
)
CRITIC_SFT = "critic training: problem and numbered steps to the critique"
REFINE_SFT = "refinement training: problem, response and critique to a correct refinement"
SELFIMPROVE_SFT = (
    "one critique-in-the-loop round (the critic sees the reference): problem to a correct "
    "or refined solution"
)
SELFIMPROVE_ROUND = (
    "critique-in-the-loop round R (reference-free critic unless critic_sees_reference): "
    "problem to a correct sampled or refined solution no earlier round kept"
)
SELFIMPROVE_TRIPLES = (
    "critique-in-the-loop triples, every round: wrong answer, critique, correct refinement "
    "that passed the anti-shortcut check and dedup"
)


def critique_stages(builder: CritiqueBuilder, recipe: Recipe, check: dict) -> list[Stage]:
    params = stage_params(builder, recipe, check)

    drawn_params = builder.model_copy(update={"labels": []})  # labels: go on the flawed paths

    def samples(ctx: BuildContext, stats: StageStats) -> Output:
        return Output(*sample(ctx, drawn_params, ctx.outputs["source"], stats))

    def flawed(ctx: BuildContext, stats: StageStats) -> Output:
        facts: dict[str, Any] = {}
        labeller = Labeller(ctx, builder.labels, stats, facts) if builder.labels else None

        def paths() -> Iterator[Trace]:
            for problems, window in flawed_paths(ctx, builder, stats):
                if labeller is not None:
                    labeller.label(window, problems)
                yield from window

        return Output(paths(), facts)

    def per_window(make: Callable[..., list[dict]], stage: str):
        """A stage that runs ``make`` (``critique_rows``, ``selfimprove_sft``) on each
        window of ``stage``'s traces, joined with their problems from disk."""

        def run(ctx: BuildContext, stats: StageStats) -> Iterator[dict]:
            for problems, runs in by_problem(ctx, stage):
                yield from make(
                    runs[stage],
                    {p.id: p for p in problems},
                    builder,
                    ctx.engines[builder.engine],
                    ctx.engines[builder.critic],
                    strategy=ctx.recipe.segmentation.strategy,
                    verify=ctx.recipe.verification.to_config(),
                    stats=stats,
                )

        return run

    critiques = per_window(critique_rows, "flawed")
    selfimprove = per_window(selfimprove_sft, "critique_samples")

    def critic(ctx: BuildContext, stats: StageStats) -> Iterator[dict]:
        return critic_sft(ctx.outputs["critiques"], builder, stats)

    def refine(ctx: BuildContext, stats: StageStats) -> Iterator[dict]:
        return refine_sft(ctx.outputs["critiques"], builder, stats)

    last = Stage(
        "selfimprove_sft",
        SftRow,
        ("source", "critique_samples"),
        params,
        selfimprove,
        description=SELFIMPROVE_SFT,
        figures=sft_figures,
    )
    loop = [last] if builder.selfimprove is None else selfimprove_stages(builder, params)
    return [
        Stage("critique_samples", SampleRow, ("source",), params, samples, publish=False),
        Stage(
            "flawed",
            TraceRow,
            ("source", "references", "critique_samples"),
            params,
            flawed,
            publish=False,
        ),
        Stage(
            "critiques",
            CritiqueRow,
            ("source", "flawed"),
            params,
            critiques,
            description=CRITIQUES,
            figures=critique_figures,
        ),
        Stage(
            "critic_sft",
            SftRow,
            ("critiques",),
            params,
            critic,
            description=CRITIC_SFT,
            figures=sft_figures,
        ),
        Stage(
            "refine_sft",
            SftRow,
            ("critiques",),
            params,
            refine,
            description=REFINE_SFT,
            figures=sft_figures,
        ),
        *loop,
    ]


def flawed_paths(
    ctx: BuildContext, builder: CritiqueBuilder, stats: StageStats
) -> Iterator[tuple[list[Problem], list[Trace]]]:
    """RG1, RG2 and RG3 paths, ``runner.window`` problems at a time (one engine batch per
    method and window): per window its problems and their paths, each problem's paths
    together in source order (RG1's, RG2's, RG3's), so later stages join them to the
    source from disk. RG1's balance is drawn over the whole stage first, from the status
    columns (``Rg1``)."""
    drawn, refs = ctx.outputs["critique_samples"], ctx.outputs["references"]
    methods = set(builder.methods)
    rg1 = (
        Rg1(drawn, refs, builder.rg1_correct_share, builder.seed, stats)
        if "rg1" in methods
        else None
    )
    actor = ctx.engines[builder.engine]
    strategy = ctx.recipe.segmentation.strategy
    config = ctx.recipe.verification.to_config()
    first = 0  # RG3 takes the mistake types in turn over every base of the stage
    for problems, runs in by_problem(ctx, "critique_samples", "references"):
        stats.n_in += len(problems)
        samples, references = runs["critique_samples"], runs["references"]
        paths = rg1.paths(samples, references) if rg1 is not None else []
        starts = bases(problems, references, samples, stats) if methods & {"rg2", "rg3"} else []
        jobs = []  # independent: at once in a flow build
        if "rg2" in methods:
            questions = {p.id: p.question for p in problems}
            answers = {p.id: p.reference_answer for p in problems}
            jobs.append(
                partial(
                    rg2,
                    starts,
                    questions,
                    answers,
                    builder,
                    actor,
                    strategy=strategy,
                    verify=config,
                )
            )
        if "rg3" in methods:
            jobs.append(partial(_rg3_verified, ctx, builder, problems, starts, first))
            first += len(starts)
        for made in ctx.together(stats, *jobs):
            paths += made
        order = {p.id: i for i, p in enumerate(problems)}
        paths.sort(key=lambda t: order[t.problem_id])  # stable: RG1, RG2, RG3 per problem
        for t in paths:
            stats.tally(f"method:{t.sampling['method']}")
        stats.n_out += len(paths)
        yield problems, paths


def _rg3_verified(
    ctx: BuildContext,
    builder: CritiqueBuilder,
    problems: list[Problem],
    starts: list[Trace],
    first: int,
    *,
    stats: StageStats,
) -> list[Trace]:
    """RG3 paths of one window, verified (``first``: the window's first base in the stage)."""
    rewriter = ctx.engines[builder.rewriter or builder.engine]
    actor = ctx.engines[builder.engine]
    strategy = ctx.recipe.segmentation.strategy
    questions = {p.id: p.question for p in problems}
    made = rg3(
        starts, questions, builder, actor, rewriter, strategy=strategy, stats=stats, first=first
    )
    part = stats.part("rg3 verify")
    paths = verify(ctx, made, part, "verify rg3", problems)
    stats.absorb(part)
    return paths


def selfimprove_stages(builder: CritiqueBuilder, params: dict) -> list[Stage]:
    """Per round: the actor's samples, the round's kept solutions, its export; then the
    triples of every round."""
    loop = builder.selfimprove
    assert loop is not None
    critic_name = loop.critic or builder.critic
    stages: list[Stage] = []
    for r in range(1, loop.rounds + 1):
        actor_name = loop.actor(r, builder.engine)
        drawn = builder.model_copy(  # the round's actor; labels: are for the samples config
            update={"engine": actor_name, "seed": loop.seed(r, builder.seed), "labels": []}
        )
        here = {**params, "round": r, "actor": actor_name, "critic": critic_name}
        earlier = tuple(f"selfimprove_round_r{q}" for q in range(1, r))

        def draw(ctx: BuildContext, stats: StageStats, drawn=drawn) -> Output:
            return Output(*sample(ctx, drawn, ctx.outputs["source"], stats))

        def run(
            ctx: BuildContext, stats: StageStats, r=r, actor_name=actor_name, earlier=earlier
        ) -> Output:
            yields: Counter[str] = Counter({key: 0 for key in YIELDS})

            def kept() -> Iterator[dict]:
                drawn = f"selfimprove_samples_r{r}"
                for problems, runs in by_problem(ctx, drawn, *earlier):
                    rows, counts = selfimprove_round(
                        r,
                        runs[drawn],
                        {p.id: p for p in problems},
                        builder,
                        actor=ctx.engines[actor_name],
                        critic=ctx.engines[critic_name],
                        earlier=[x for name in earlier for x in runs[name]],
                        strategy=ctx.recipe.segmentation.strategy,
                        verify=ctx.recipe.verification.to_config(),
                        stats=stats,
                    )
                    yields.update(counts)
                    yield from rows

            facts = {
                "round": r,
                "actor": actor_name,
                "actor_model": ctx.engines[actor_name].fingerprint,
                "critic": critic_name,
                "critic_model": ctx.engines[critic_name].fingerprint,
                "critic_sees_reference": loop.critic_sees_reference,
                "yields": yields,  # filled as the rows stream, read once they are down
            }
            return Output(kept(), facts)

        def export(ctx: BuildContext, stats: StageStats, r=r) -> Iterator[dict]:
            name = f"selfimprove_round_r{r}"
            for problems, runs in by_problem(ctx, name):
                stats.n_in += len(runs[name])
                stats.n_out += len(runs[name])
                yield from round_sft(runs[name], {p.id: p for p in problems}, builder)

        stages += [
            Stage(f"selfimprove_samples_r{r}", SampleRow, ("source",), here, draw, publish=False),
            Stage(
                f"selfimprove_round_r{r}",
                RoundRow,
                ("source", f"selfimprove_samples_r{r}", *earlier),
                here,
                run,
                publish=False,
            ),
            Stage(
                f"selfimprove_r{r}",
                SftRow,
                (f"selfimprove_round_r{r}",),
                here,
                export,
                description=SELFIMPROVE_ROUND.replace("round R", f"round {r}"),
                figures=round_figures,
            ),
        ]
    rounds = tuple(f"selfimprove_round_r{r}" for r in range(1, loop.rounds + 1))

    def collect(ctx: BuildContext, stats: StageStats) -> Iterator[dict]:
        for name in rounds:  # round by round, each joined to the source from disk
            for problems, runs in by_problem(ctx, name):
                out = triples([runs[name]], {p.id: p for p in problems}, builder)
                stats.n_in += len(out)
                stats.n_out += len(out)
                yield from out

    stages.append(
        Stage(
            "selfimprove_triples",
            TripleRow,
            ("source", *rounds),
            params,
            collect,
            description=SELFIMPROVE_TRIPLES,
            figures=triple_figures,
        )
    )
    return stages
