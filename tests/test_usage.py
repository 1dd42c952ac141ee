"""What a build spends: usage per stage and engine, prices, the output-token budget and
its clean stop and resume, the dry run, and prompts longer than the engine's context.

The budget arithmetic is asserted on the scripted engine (every sample 5 output tokens);
prompts too long for the context run on the real vLLM engine (CPU build) and on the
real transformers backend."""

from __future__ import annotations

import json
import textwrap

import pytest

from supdata.engines import PROMPT_TOO_LONG, Engine, Request, RequestCache, SamplingParams
from supdata.engines.budget import BudgetExceeded
from supdata.recipe import RecipeError, load_recipe

from conftest import read_jsonl, write_jsonl


def _recipe(tmp_path, shared_data, extra: str = "", problems: int = 6):
    rows = read_jsonl(shared_data / "gsm8k" / "test.jsonl")[:problems]
    write_jsonl(tmp_path / "gsm8k.jsonl", rows)
    path = tmp_path / "recipe.yaml"
    path.write_text(
        textwrap.dedent(
            f"""\
            name: usage
            source: {{kind: file, path: {tmp_path / "gsm8k.jsonl"}, normalizer: gsm8k}}
            engines:
              actor: {{kind: vllm}}
            builders:
              - {{kind: sample, n: 2, max_tokens: 10}}
            verification: {{workers: 1}}
            """
        )
        + extra
    )
    return path


def _answer(request, k):
    return f"Step 1: think.\nThe answer is {k}."


def test_budget_stops_cleanly_and_a_larger_one_resumes_without_regenerating(
    shared_data, fake_engine, tmp_path
):
    """Worst case per request 2 x 10 tokens: a budget of 50 admits 2 of 6 requests
    (40), generates and caches them, then stops with nothing published. The re-run counts
    them at their real cost (2 x 5) and the third fits; a budget of 1000 finishes, and
    across the three runs no request is sent twice."""
    from supdata.build import build

    backend = fake_engine(_answer)
    # one stage after the other: the request positions in the messages are exact (a flow
    # build cuts windows where the source has landed; see the test below)
    extra = "budget: {max_output_tokens: 50}\nrunner: {flow: false}\n"
    recipe = load_recipe(_recipe(tmp_path, shared_data, extra))
    out, cache = tmp_path / "out", tmp_path / "cache.sqlite"
    with pytest.raises(BudgetExceeded, match=r"before request 3 of 6.*max_output_tokens \(50"):
        build(recipe, out, cache_path=cache)
    assert not out.exists(), "nothing published"
    assert len(backend.requests) == 2
    # the two cached cost 10 each (their real tokens), so 30 are left: request 3 fits
    with pytest.raises(BudgetExceeded, match="before request 4 of 6"):
        build(recipe, out, cache_path=cache)
    sent = [r.id for r in backend.requests]
    assert len(sent) == 3 and len(set(sent)) == 3
    stats = build(recipe, out, cache_path=cache, max_output_tokens=1000)
    sent = [r.id for r in backend.requests]
    assert len(sent) == 6 and len(set(sent)) == 6, "no request generated twice"
    usage = stats["usage"]["stages"]["samples"]["actor"]
    assert usage["requests"] == 6 and usage["samples"] == 12
    assert usage["output_tokens"] == 12 * 5
    assert usage["generated"] + usage["cached"] == 12 and usage["cached"] >= 4
    assert stats["usage"]["total"]["output_tokens"] == 60


def test_a_flow_build_never_passes_the_budget(shared_data, fake_engine, tmp_path):
    """In a flow build the sample stage's windows end where the source has landed, so how
    many requests fit depends on the windows (each call is admitted at its worst case,
    2 x 10, and charged at its real cost, 2 x 5); what does not: requests go in source
    order, none twice, and what was generated never passes the budget of 50."""
    from supdata.build import build

    backend = fake_engine(_answer)
    recipe = load_recipe(
        _recipe(tmp_path, shared_data, "budget: {max_output_tokens: 50}\nrunner: {window: 1}\n")
    )
    with pytest.raises(BudgetExceeded, match=r"max_output_tokens \(50"):
        build(recipe, tmp_path / "out", cache_path=tmp_path / "cache.sqlite")
    rows = read_jsonl(tmp_path / "gsm8k.jsonl")
    asked = [r.messages[-1]["content"] for r in backend.requests]
    assert 2 <= len(asked) < len(rows)
    assert all(row["question"] in q for row, q in zip(rows, asked, strict=False))
    assert len(asked) * 2 * 5 <= 50


def test_usage_and_cost_on_the_card_and_in_stats(shared_data, fake_engine, tmp_path):
    from supdata.build import build

    fake_engine(_answer)
    extra = "cost:\n  actor: {input_per_mtok: 2.0, output_per_mtok: 8.0}\n"
    recipe = load_recipe(_recipe(tmp_path, shared_data, extra))
    stats = build(recipe, tmp_path / "out", use_cache=False)
    actor = stats["usage"]["engines"]["actor"]
    # the scripted engine reports 10 prompt tokens per request, 5 output tokens per sample
    assert (actor["requests"], actor["prompt_tokens"], actor["output_tokens"]) == (6, 60, 60)
    assert actor["cost"] == pytest.approx(60 / 1e6 * 2.0 + 60 / 1e6 * 8.0)
    assert stats["usage"]["total"]["cost"] == actor["cost"]
    on_disk = json.loads((tmp_path / "out" / "stats.json").read_text())
    assert on_disk["stages"]["samples"]["usage"]["actor"]["samples"] == 12
    card = (tmp_path / "out" / "README.md").read_text()
    assert "### Engine usage" in card
    assert "| samples | actor | 6 | 12 | 0 | 60 | 60 |" in card


def test_dry_run_counts_the_known_calls_without_a_model(shared_data, fake_engine, tmp_path):
    from supdata.build import dry_run

    fake_engine(lambda request, k: pytest.fail("a dry run asked the model"))
    extra = "cost:\n  actor: {input_per_mtok: 1.0, output_per_mtok: 4.0}\n"
    plan = dry_run(load_recipe(_recipe(tmp_path, shared_data, extra, problems=9)), limit=7)
    assert plan["problems"] == 7
    assert [s["stage"] for s in plan["stages"]] == ["source", "references", "samples"]
    (call,) = plan["known_calls"]
    assert (call["requests"], call["samples"], call["max_output_tokens"]) == (7, 14, 140)
    assert call["max_output_cost"] == pytest.approx(140 / 1e6 * 4.0)


def test_dry_run_from_the_command_line(shared_data, tmp_path, capsys):
    from supdata.cli import main

    assert main(["build", str(_recipe(tmp_path, shared_data)), "--dry-run"]) == 0
    printed = capsys.readouterr().out
    assert "usage: 6 problems" in printed
    assert "known calls take at most 120 output tokens" in printed


@pytest.mark.parametrize(
    ("extra", "expected"),
    [
        ("budget: {max_output_tokens: 0}\n", r"recipe\.yaml:8.*budget\.max_output_tokens"),
        ("cost:\n  critic: {input_per_mtok: 1, output_per_mtok: 1}\n", r"cost\.critic.*critic"),
        ("cost:\n  actor: {input_per_mtok: -1, output_per_mtok: 1}\n", r"input_per_mtok"),
    ],
)
def test_bad_budget_and_price_settings_fail_at_load(shared_data, tmp_path, extra, expected):
    with pytest.raises(RecipeError, match=expected):
        load_recipe(_recipe(tmp_path, shared_data, extra))


# -- prompts longer than the context: answered unsent, counted, never cached ----------


def _long_and_short(n: int = 2):
    long = "Add these numbers: " + " + ".join(str(i) for i in range(1500))
    sampling = SamplingParams(n=n, temperature=0.7, max_tokens=4, seed=0)
    return [
        Request([{"role": "user", "content": "What is 2 + 2?"}], sampling, id="short"),
        Request([{"role": "user", "content": long}], sampling, id="long"),
    ]


def _check_too_long(engine: Engine, cache: RequestCache) -> None:
    short, long = engine.generate(_long_and_short())
    assert short.finish_reasons[0] in ("stop", "length") and short.output_tokens[0] > 0
    assert long.too_long and long.finish_reasons == [PROMPT_TOO_LONG] * 2
    assert long.texts == ["", ""] and long.output_tokens == [0, 0]
    assert engine.last_run.too_long == 1
    again = engine.generate(_long_and_short())
    assert again[0].cached == [True, True], "the answered request was cached"
    assert again[1].cached == [False, False], "the unanswered one was not"


def test_vllm_answers_the_rest_when_one_prompt_is_longer_than_the_context(vllm_backend, tmp_path):
    """max_model_len 2048: a ~4,500-token prompt used to make vLLM refuse the whole call."""
    cache = RequestCache(tmp_path / "c.sqlite")
    _check_too_long(Engine(vllm_backend, cache), cache)


def test_transformers_backend_leaves_a_too_long_prompt_unanswered(
    hf_backend, tmp_path, monkeypatch
):
    monkeypatch.setattr(hf_backend, "max_model_len", 512)
    cache = RequestCache(tmp_path / "c.sqlite")
    _check_too_long(Engine(hf_backend, cache), cache)


def test_a_too_long_prompt_is_a_drop_with_its_reason_in_a_build(shared_data, fake_engine, tmp_path):
    """A stage sees the unanswered request as a drop named for its cause."""
    from supdata.build import build

    def respond(request, k):
        text = request.messages[-1]["content"]
        if "Janet" in text:  # the first GSM8K test problem
            return "", PROMPT_TOO_LONG
        return _answer(request, k)

    fake_engine(respond)
    stats = build(load_recipe(_recipe(tmp_path, shared_data)), tmp_path / "out", use_cache=False)
    dropped = stats["stages"]["samples"]["dropped"]
    assert dropped == {"prompt longer than the engine's context": 2}


def test_a_budget_holds_what_calls_in_flight_may_still_spend():
    """Stages of a flow build admit at once: a call's worst case is held until it is
    charged, so a second call sees only what is left after it."""
    from supdata.engines.budget import Budget

    spent = [0]
    budget = Budget(50, lambda: spent[0])
    assert budget.reserve([20, 20, 20]) == (2, 40)
    assert budget.reserve([20]) == (0, 0)  # 10 left while the first call runs
    spent[0] += 20  # the first call is charged at its real cost...
    budget.release(40)  # ...and lets go of its worst case
    assert budget.reserve([20, 20]) == (1, 20)
    assert budget.left() == 10
