"""From a source section to a stream of Problems, with every skipped row counted."""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator
from itertools import islice

from supdata.core.records import Problem
from supdata.core.stats import StageStats
from supdata.sources.config import Filters, _Source
from supdata.sources.normalize import NORMALIZERS, SkipRow
from supdata.sources.prefilter import prefilter_reason
from supdata.sources.rows import SourceError
from supdata.sources.tokens import token_counter


def _filter_reason(problem: Problem, filters: Filters) -> str | None:
    level = problem.level
    if filters.levels is not None and level not in filters.levels:
        return "level not selected"
    if filters.min_level is not None and (level is None or level < filters.min_level):
        return "level below min_level"
    if filters.max_level is not None and (level is None or level > filters.max_level):
        return "level above max_level"
    if filters.min_solution_tokens is not None or filters.max_solution_tokens is not None:
        n = token_counter(filters.tokenizer)(problem.reference_solution)
        if filters.min_solution_tokens is not None and n < filters.min_solution_tokens:
            return "reference solution too short"
        if filters.max_solution_tokens is not None and n > filters.max_solution_tokens:
            return "reference solution too long"
    return prefilter_reason(
        problem.question,
        figures=filters.no_figures,
        multi_part=filters.single_part,
        english=filters.english_only,
    )


def _normalized(source: _Source, stats: StageStats, strict: bool) -> Iterator[Problem]:
    normalize = NORMALIZERS[source.normalizer]
    renames = source.fields
    label = source.label
    seen: dict[str, str] = {}  # problem id -> where its row is
    for index, item in enumerate(source.rows()):
        stats.n_in += 1
        if item.data is None:
            if strict:
                raise SourceError(f"{item.message} (strict: true aborts at a bad row)")
            stats.drop(f"bad row: {item.reason}", item.message)
            continue
        raw = item.data
        row = dict(raw)
        for expected, column in renames.items():
            if column in raw:
                row[expected] = raw[column]
        try:
            problem = normalize(row, index, label)
        except (SkipRow, ValueError) as exc:
            if strict:
                raise SourceError(
                    f"{item.where}: {exc} (strict: true aborts at a bad row)"
                ) from None
            stats.drop(str(exc), item.where)
            continue
        first = seen.setdefault(problem.id, item.where)
        if first != item.where:
            raise SourceError(
                f"duplicate problem id {problem.id!r}: {first} and {item.where}; "
                "ids must be unique (answers are looked up by id): fix the source, or map "
                "another column to the id with `fields: {id: COLUMN}`"
            )
        if source.needs_answer and problem.reference_answer is None:
            stats.drop("no reference answer", problem.id)
            continue
        reason = _filter_reason(problem, source.filters)
        if reason is not None:
            stats.drop(reason, problem.id)
            continue
        yield problem


def _screened(
    problems: Iterator[Problem], screen: Callable[[Problem], str | None], stats: StageStats
) -> Iterator[Problem]:
    for problem in problems:
        reason = screen(problem)
        if reason is None:
            yield problem
        else:
            stats.drop(reason, problem.id)


def load_problems(
    source: _Source,
    stats: StageStats | None = None,
    screen: Callable[[Problem], str | None] | None = None,
    *,
    strict: bool | None = None,
) -> Iterator[Problem]:
    """Normalize, filter, shuffle (seeded), screen and limit the source's rows.

    ``screen`` gives a drop reason or None (hygiene: contamination, duplicates). It runs
    after the shuffle, so a screen that drops nothing leaves the selection as it was, and
    before the limit, so ``limit`` counts clean problems. Without a shuffle the stream
    stays lazy, so ``limit`` stops reading early.

    A row that cannot be read or normalized is counted with its reason and skipped, or,
    with ``strict`` (default: the source's ``strict:``), raises ``SourceError`` naming its
    file:line. Two rows with the same problem id always raise ``SourceError`` naming both.
    """
    stats = stats if stats is not None else StageStats("source")
    strict = source.strict if strict is None else strict
    problems: Iterator[Problem] = _normalized(source, stats, strict)
    if source.shuffle_seed is not None:
        kept = list(problems)
        random.Random(source.shuffle_seed).shuffle(kept)
        problems = iter(kept)
    if screen is not None:
        problems = _screened(problems, screen, stats)
    if source.limit is not None:
        problems = islice(problems, source.limit)
    for problem in problems:
        stats.n_out += 1
        yield problem
