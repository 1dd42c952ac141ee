"""Entry points that run inside verification workers (preloaded by the forkserver)."""

from __future__ import annotations

from supdata.verify.compare import Judgement, judge


def judge_item(prediction: str, reference: str | None, fallback: bool, timeout_s: int) -> Judgement:
    return judge(prediction, reference, last_number_fallback=fallback, timeout_s=timeout_s)


def timed_out(args: tuple, detail: str) -> Judgement:
    return Judgement("timeout", None, None, detail)
