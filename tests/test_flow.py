"""Flow builds: every stage at once, each reading its inputs while they are written.

The parts (a stage read while it is written, windows that end where the landed records
end, watermarks, the one vLLM driver, the OpenAI client's shared limit) are tested on
their own; the builds that compare a flow build with a stage-by-stage one, row for row,
are the ``builds_by_window`` tests of each builder (steperror, critique, perturb, label
sources), and here a scripted build proves problems really flow: a later stage's request
arrives while the first stage still holds a problem.
"""

from __future__ import annotations

import threading
import time

import pytest

from supdata.core.records import Trace
from supdata.core.records.models import ReferenceRow
from supdata.core.store import LiveStage, ShardWriter, StageData, StageFailed
from supdata.engines import Request, SamplingParams
from supdata.ops.joins import Follow, join_windows, windows

from conftest import FakeBackend, read_jsonl, write_jsonl


def _trace(pid: str, k: int) -> Trace:
    return Trace(
        id=f"{pid}/{k}",
        problem_id=pid,
        text=f"step {k}",
        steps=[f"step {k}"],
        origin="reference",
        final_answer=str(k),
        status="correct",
    )


def _live(tmp_path, shard_rows: int = 3) -> tuple[ShardWriter, LiveStage, threading.Event]:
    stop = threading.Event()
    writer = ShardWriter(tmp_path / "refs", ReferenceRow, shard_rows)
    return writer, LiveStage(writer, stop), stop


def test_a_stage_is_read_while_it_is_written_exactly_as_after(tmp_path):
    """A reader started before the first record gets every record, in order, across
    shards on disk and the writer's buffer, equal to reading the finished stage; ``len``
    waits for the end."""
    writer, live, _ = _live(tmp_path)
    records = [_trace(f"p{i // 2}", i) for i in range(11)]
    got: list[Trace] = []
    reader = threading.Thread(target=lambda: got.extend(live))
    reader.start()
    for r in records:
        writer.add(r)
        time.sleep(0.01)
    counted: list[int] = []
    counting = threading.Thread(target=lambda: counted.append(len(live)))
    counting.start()
    time.sleep(0.2)
    assert not counted, "len() must wait for the stage to finish"
    live.finish(writer.close())
    reader.join(10)
    counting.join(10)
    assert counted == [11]
    assert got == list(StageData(tmp_path / "refs", ReferenceRow))
    assert [t.id for t in got] == [r.id for r in records]


def test_a_reader_of_a_failed_stage_raises(tmp_path):
    writer, live, _stop = _live(tmp_path)
    writer.add(_trace("p0", 0))
    it = iter(live)
    assert next(it).id == "p0/0"
    live.fail(ValueError("boom"))
    with pytest.raises(StageFailed, match="'refs' failed: boom"):
        next(it)
    _writer2, live2, stop2 = _live(tmp_path / "b")
    stop2.set()
    with pytest.raises(StageFailed, match="the build stopped"):
        len(live2)


def test_windows_end_where_the_landed_records_end(tmp_path):
    """Over a stage being written, a window goes with what has landed (after a short
    linger), not waiting to fill up; then moves the running stage's watermark."""
    writer, live, _ = _live(tmp_path, shard_rows=100)
    for i in range(3):
        writer.add(_trace(f"p{i}", i))
    chunks = windows(live, 100)
    assert [t.id for t in next(chunks)] == ["p0/0", "p1/1", "p2/2"]
    writer.add(_trace("p3", 3))
    live.finish(writer.close())
    assert [t.id for t in next(chunks)] == ["p3/3"]
    assert next(chunks, None) is None


def test_a_watermark_ends_a_problem_without_its_next_record(tmp_path):
    """A joined stream still being written: without a watermark, the run of p0 is only
    known complete when p1's first record lands; with the writer's mark past p0 on the
    driving stage, the join takes p0's run at once."""
    writer, live, _ = _live(tmp_path)
    writer.add(_trace("p0", 0))
    writer.add(_trace("p0", 1))
    follow = Follow(live, lambda t: t.problem_id, "refs")
    done = ("source", 0)
    waiting = threading.Thread(target=lambda: follow.take("p0", done))
    live.marks["source"] = 0
    waiting.start()
    waiting.join(0.3)
    assert waiting.is_alive(), "no mark: the run of p0 waits for the next record"
    writer.add(_trace("p1", 2))  # let it go
    waiting.join(5)
    assert not waiting.is_alive()

    writer2, live2, _ = _live(tmp_path / "b")
    writer2.add(_trace("p0", 0))
    writer2.add(_trace("p0", 1))
    live2.mark("source", 1)  # the writer is done with the first source problem
    follow2 = Follow(live2, lambda t: t.problem_id, "refs")
    assert [t.id for t in follow2.take("p0", ("source", 0))] == ["p0/0", "p0/1"]
    writer2.add(_trace("p1", 2))
    live2.finish(writer2.close())
    assert [t.id for t in follow2.take("p1", ("source", 1))] == ["p1/2"]
    follow2.finish()


def test_a_join_over_a_stage_being_written_gives_the_same_groups_joined(tmp_path):
    """join_windows over a live stream: windows end where records landed, and the
    joined runs, concatenated, are those of the finished stage."""
    problems = [type("P", (), {"id": f"p{i}"})() for i in range(5)]
    writer, live, _ = _live(tmp_path)
    records = [_trace(f"p{i}", k) for i in range(5) for k in range(i % 3)]

    def write():
        for r in records:
            writer.add(r)
            time.sleep(0.02)
        live.finish(writer.close())

    threading.Thread(target=write).start()
    groups = list(join_windows(problems, lambda p: p.id, 100, refs=(live, lambda t: t.problem_id)))
    joined = [(g.item.id, [t.id for t in g["refs"]]) for group in groups for g in group]
    expected = [(p.id, [r.id for r in records if r.problem_id == p.id]) for p in problems]
    assert joined == expected


class _ConcurrentFake(FakeBackend):
    """The scripted engine, taking calls from several threads at once (as vLLM's driver
    and the OpenAI client do), so a test can hold one call while another arrives."""

    concurrent = True


@pytest.mark.shared_data
def test_problems_flow_through_the_stages(shared_data, tmp_path, monkeypatch):
    """The last problem's samples are held until a decomposition request (a stage two
    steps downstream: samples -> pairs -> subtasks) arrives. Only a flow build can get
    there: the first problems' pairs are made and decomposed while the last problem
    still samples. Its rows equal the stage-by-stage build's."""
    from supdata import engines
    from supdata.build import build
    from supdata.export import read_config
    from supdata.recipe import load_recipe
    from test_negatives_composed import ELIZA, JOSH, KYLAR, _script

    gsm = read_jsonl(shared_data / "gsm8k" / "test.jsonl")
    rows = [gsm[KYLAR], gsm[ELIZA], gsm[JOSH]]
    source = write_jsonl(tmp_path / "source.jsonl", rows)
    script = _script(rows)
    decomposing = threading.Event()
    order: list[str] = []

    def respond(request, k):
        text = "\n".join(m["content"] for m in request.messages)
        if "You turn one hard math problem" in text:
            order.append("decomposition asked")
            decomposing.set()
        elif rows[2]["question"] in text and "/sub-" not in request.id and k == 0:
            if not decomposing.wait(30):
                raise AssertionError("no decomposition arrived while the last problem sampled")
            order.append("last problem sampled")
        return script(request, k)

    recipe = (
        f"name: flow\nsource: {{kind: file, path: {source}, normalizer: gsm8k}}\n"
        "engines:\n  actor: {kind: vllm, model: o/actor}\n"
        "builders:\n  - kind: steperror\n    n: 2\n    er_grid: [0.5]\n"
        "    decompose: {reproduce_samples: 2, er_grid: [0.5]}\n"
    )
    built = {}
    for mode, runner in (("flow", "{window: 1}"), ("stages", "{flow: false}")):
        backend = _ConcurrentFake(respond if mode == "flow" else script)
        monkeypatch.setitem(engines.BACKENDS, "vllm", lambda config, b=backend: b)
        path = tmp_path / f"{mode}.yaml"
        path.write_text(recipe + f"runner: {runner}\n")
        out = tmp_path / mode
        build(load_recipe(path), out, cache_path=tmp_path / f"{mode}.sqlite")
        configs = sorted(p.name for p in out.iterdir() if list(p.glob("train-*.parquet")))
        built[mode] = {name: read_config(out, name).to_list() for name in configs}
    assert order.index("decomposition asked") < order.index("last problem sampled")
    assert built["flow"] == built["stages"]
    assert {"pairs", "subtasks", "hard_er50", "samples"} <= set(built["flow"])


def test_vllm_takes_calls_from_several_threads_into_one_batch(vllm_backend):
    """Two threads call the real engine at once: the driver has both calls' requests in
    the engine together, and each call gets its own answers."""
    from supdata.engines.base import Engine

    engine = Engine(vllm_backend, cache=None, seed=0)

    def requests(tag: str) -> list[Request]:
        return [
            Request(
                ({"role": "user", "content": f"Count to {i + 3} ({tag})."},),
                SamplingParams(max_tokens=48, temperature=0.0, seed=i),
                id=f"{tag}-{i}",
            )
            for i in range(4)
        ]

    got: dict[str, list] = {}

    def call(tag: str) -> None:
        got[tag] = engine.generate(requests(tag), progress=False)

    threads = [threading.Thread(target=call, args=(tag,)) for tag in ("a", "b")]
    for t in threads:
        t.start()
    for t in threads:
        t.join(300)
    assert [c.request_id for c in got["a"]] == [f"a-{i}" for i in range(4)]
    assert [c.request_id for c in got["b"]] == [f"b-{i}" for i in range(4)]
    assert all(c.texts[0] and c.output_tokens[0] > 0 for c in got["a"] + got["b"])
    assert vllm_backend._driver.most_calls == 2


def test_the_progress_board_lists_every_active_stage_with_its_step():
    """In a flow build, a stage's bar is a task on the board's one line, not a tqdm bar
    of its own; finished stages leave the line."""
    from supdata.core import progress
    from supdata.core.stats import StageStats

    rows = {"samples": 23, "perturbed": 4, "source": 12}
    done = {"source"}
    with progress.board(list(rows), rows.__getitem__, done.__contains__) as board:
        with StageStats("samples"):
            bar = progress.bar("actor", total=48, unit="req")
            bar.update(31)
            bar.set_postfix_str("out 180 tok/s")
        with StageStats("perturbed"):
            progress.bar("verify perturbed", unit="trace").update(12)
        assert board.line() == (
            "samples 23 rows, actor 31/48 req out 180 tok/s | "
            "perturbed 4 rows, verify perturbed 12 trace"
        )
        assert board.finished() == 1
        bar.close()
        assert board.line().startswith("samples 23 rows | ")
    assert not isinstance(progress.bar("x", total=1, disable=True), progress.Task)


def _gated(release: threading.Event, calls: list[str], fail: bool = False):
    """A concurrent scripted backend whose requests with "shared" in their id wait for
    ``release``; it records every request it is sent."""

    def respond(request, k):
        calls.append(request.id)
        if "shared" in request.id:
            assert release.wait(30), "never released"
            if fail:
                raise RuntimeError("backend broke")
        else:
            release.set()  # the other call got as far as sending its own requests
        return f"answer to {request.messages[0]['content']} #{request.sampling.seed + k}"

    return _ConcurrentFake(respond)


def _ask(*ids: str) -> list[Request]:
    return [
        Request(
            ({"role": "user", "content": i.split(":")[-1]},),
            SamplingParams(max_tokens=8, seed=1, n=2),
            id=i,
        )
        for i in ids
    ]


def test_a_request_another_call_is_generating_is_not_sent_twice(tmp_path):
    """Two stages ask the same request at once: the later call waits for the first
    call's samples (as if it had found them in the cache) instead of sending it again;
    both get the same answers, and the later call counts them as cached."""
    from supdata.engines.base import Engine
    from supdata.engines.cache import RequestCache

    release, calls = threading.Event(), []
    engine = Engine(_gated(release, calls), RequestCache(tmp_path / "c.sqlite"), seed=0)
    got = {}

    def first() -> None:
        got["first"] = engine.generate(_ask("shared:q1", "shared:q2"), progress=False)

    t = threading.Thread(target=first)
    t.start()
    while "shared:q1" not in calls:  # the first call is generating q1 (held)
        time.sleep(0.01)
    # the same prompts, seeds and n under other ids: the same samples (ids are not keys)
    got["second"] = engine.generate(_ask("other:q2", "mine:q3", "again:q1"), progress=False)
    t.join(30)
    # n = 2: the backend answers each request's two samples; q1 and q2 once each
    assert sorted(calls) == ["mine:q3"] * 2 + ["shared:q1"] * 2 + ["shared:q2"] * 2
    first_texts = {c.request_id.split(":")[1]: c.texts for c in got["first"]}
    second = {c.request_id.split(":")[1]: c for c in got["second"]}
    assert second["q1"].texts == first_texts["q1"] and second["q2"].texts == first_texts["q2"]
    assert second["q1"].cached == [True, True] and second["q3"].cached == [False, False]
    assert engine.last_run.generated == 2 and engine.last_run.cached == 4
    assert engine._claims == {}


def test_a_call_waiting_for_a_failed_call_raises(tmp_path):
    from supdata.engines.base import Engine, EngineStopped

    release, calls = threading.Event(), []
    engine = Engine(_gated(release, calls, fail=True), None, seed=0)
    errors = []

    def first() -> None:
        try:
            engine.generate(_ask("shared:q1"), progress=False)
        except RuntimeError as exc:
            errors.append(exc)

    t = threading.Thread(target=first)
    t.start()
    while "shared:q1" not in calls:
        time.sleep(0.01)
    with pytest.raises(EngineStopped, match="the call generating it stopped"):
        engine.generate(_ask("mine:q0", "again:q1"), progress=False)
    t.join(30)
    assert [str(e) for e in errors] == ["backend broke"]
    assert engine._claims == {}


def test_a_stage_runs_its_independent_steps_at_once_in_a_flow_build():
    """``BuildContext.together``: in a flow build the second job runs while the first
    waits for it (stage by stage that would hang: they run in order there); each job's
    counters are added to the stage's in job order; a job's error is raised."""
    from supdata.core.runner import BuildContext
    from supdata.core.stats import StageStats, running_stage

    seen = threading.Event()

    def waits(stats):
        assert seen.wait(10), "the second job did not run beside the first"
        stats.drop("too short", "a/1")
        stats.tally("made", 2)
        return running_stage() is stats

    def signals(stats):
        seen.set()
        stats.drop("too short", "b/1")
        stats.tally("made", 3)
        return running_stage() is stats

    ctx = BuildContext(recipe=None, engines=None, flow=True)  # type: ignore[arg-type]
    stats = StageStats("flawed")
    with stats:
        assert ctx.together(stats, waits, signals) == [True, True]
    assert stats.dropped == {"too short": 2} and stats.examples == {"too short": "a/1"}
    assert stats.counts == {"made": 5}

    ctx.flow = False
    order = []
    assert ctx.together(stats, lambda stats: order.append(1), lambda stats: order.append(2))
    assert order == [1, 2]

    def broken(stats):
        raise ValueError("bad step")

    ctx.flow = True
    with pytest.raises(ValueError, match="bad step"):
        ctx.together(stats, signals, broken)


def test_together_raises_a_steps_own_error_before_the_stop_it_caused():
    """Job 0 waited on job 1's claim and was stopped by its failure: the real cause (job
    1's error) is raised, not the stop."""
    from supdata.core.runner import BuildContext
    from supdata.core.stats import StageStats
    from supdata.engines.base import EngineStopped

    def stopped(stats):
        raise EngineStopped("request 'q': the call generating it stopped")

    def broken(stats):
        raise RuntimeError("backend broke")

    ctx = BuildContext(recipe=None, engines=None, flow=True)  # type: ignore[arg-type]
    with pytest.raises(RuntimeError, match="backend broke"):
        ctx.together(StageStats("flawed"), stopped, broken)


def test_a_steps_engine_calls_charge_its_stage_while_it_runs():
    """The budget sums the stages' usage: a step running in a thread of its own charges
    the stage at once (not when the steps are merged), and merging does not count it
    twice."""
    from supdata.core.stats import StageStats, charge

    stage = StageStats("flawed")
    step = stage.step()
    with step:
        charge("actor", {"output_tokens": 7, "requests": 1})
    assert stage.output_tokens() == 7  # seen by the budget before the merge
    stage.merge(step)
    assert stage.output_tokens() == 7 and stage.to_dict()["usage"]["actor"]["requests"] == 1


def test_a_join_reads_records_that_land_as_the_mark_moves():
    """The writer lands a problem's record and moves its watermark past it between the
    reader's two looks: reading the mark first, then whether a record has landed, the
    reader takes the record (the other order took none, and the join then failed)."""

    class Racing:
        """A stage being written: asking for its mark is when the writer catches up."""

        def __init__(self) -> None:
            self.records: list[dict] = []
            self.caught_up = False

        def __iter__(self):
            return self

        def __next__(self):
            if not self.records:
                raise StopIteration
            return self.records.pop(0)

        def ready(self, wait_s: float = 0.0) -> bool:
            return bool(self.records)

        def marked(self, driver: str) -> int:
            if not self.caught_up:
                self.caught_up = True
                self.records.append({"problem_id": "p0"})
            return 1

    follow = Follow(Racing(), lambda r: r["problem_id"], "samples")
    assert follow.take("p0", ("source", 0)) == [{"problem_id": "p0"}]


def test_a_sample_landed_between_lookup_and_claim_is_not_generated_again(tmp_path):
    """Another call lands a sample (cache first, then its claim let go) after this call
    looked in the cache but before it claimed: this call takes it from the cache."""
    from supdata.engines.base import Engine
    from supdata.engines.cache import RequestCache

    cache = RequestCache(tmp_path / "c.sqlite")
    backend = _ConcurrentFake(lambda request, k: f"mine {k}")
    engine = Engine(backend, cache, seed=0)
    other = Engine(_ConcurrentFake(lambda request, k: f"other {k}"), cache, seed=0)
    admit = engine._admit

    def landing(requests, samples):  # between this call's lookup and its claims
        other.generate(requests, progress=False)
        return admit(requests, samples)

    engine._admit = landing
    (got,) = engine.generate(_ask("q1"), progress=False)
    assert backend.requests == []
    assert got.texts == ["other 0", "other 1"] and got.cached == [True, True]
    assert engine._claims == {}


def test_a_stopped_engine_takes_no_new_call_and_gives_its_reservation_back(tmp_path):
    """After a failed flow build stops the engines, a stage that calls one next raises at
    once instead of generating a whole call; a call that fails after its budget
    reservation gives the reservation back."""
    from supdata.engines.base import Engine, EngineStopped
    from supdata.engines.budget import Budget

    class Silent(_ConcurrentFake):
        def stream(self, requests):  # answers nothing: the call cannot assemble
            self.requests.extend(requests)
            return iter(())

    engine = Engine(Silent(lambda request, k: "x"), None, seed=0)
    engine.budget = Budget(1000, lambda: 0)
    with pytest.raises(RuntimeError, match="no answer"):
        engine.generate(_ask("q1"), progress=False)
    assert engine.budget.reserved == 0 and engine._claims == {}
    engine.stop()
    with pytest.raises(EngineStopped, match="stopped"):
        engine.generate(_ask("q2"), progress=False)
    assert [r.id for r in engine.backend.requests] == ["q1"]
