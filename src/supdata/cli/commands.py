"""The ``supdata`` commands: each runs one subcommand (imported only when it runs)."""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from rich.console import Console
from rich.table import Table
from rich.text import Text

# No markup: paths, recipe values and model output print as they are (a "[/x]" in a
# path is text, not a style tag); styles are set with Text objects.
err = Console(stderr=True, soft_wrap=True, markup=False, highlight=False)
out = Console(soft_wrap=True, markup=False, highlight=False)


def cmd_sources(args: argparse.Namespace) -> int:
    from supdata.sources import NORMALIZERS, SOURCE_KINDS

    for kind, model in SOURCE_KINDS.items():
        table = Table(
            title=f"kind: {kind}  ({(model.__doc__ or '').strip()})", title_justify="left"
        )
        for col in ("field", "type", "default", "meaning"):
            table.add_column(col)
        for name, info in model.model_fields.items():
            if name == "kind":
                continue
            default = (
                "required"
                if info.is_required()
                else repr(info.get_default(call_default_factory=True))
            )
            annotation = getattr(info.annotation, "__name__", None) or str(info.annotation)
            table.add_row(name, annotation.replace("typing.", ""), default, info.description or "")
        out.print(table)
    out.print(Text.assemble(("normalizers", "bold"), " (the `normalizer:` field):"))
    for name, fn in NORMALIZERS.items():
        doc = (
            fn.__doc__ or "columns question/problem, solution, answer, id, level, subject"
        ).strip()
        out.print(Text.assemble("  ", (name, "cyan"), f": {doc.splitlines()[0]}"))
    return 0


def cmd_peek(args: argparse.Namespace) -> int:
    from itertools import islice

    from supdata.core.stats import StageStats
    from supdata.recipe import load_recipe
    from supdata.sources import load_problems

    recipe = load_recipe(args.recipe)
    stats = StageStats("source")
    problems = list(islice(load_problems(recipe.source, stats), args.n))
    if args.json:
        for p in problems:
            out.print_json(json.dumps(p.to_row(), ensure_ascii=False))
    else:
        for p in problems:
            table = Table(show_header=False, title=p.id, title_justify="left")
            table.add_column(style="bold")
            table.add_column(overflow="fold")
            table.add_row("question", p.question)
            table.add_row("answer", str(p.reference_answer))
            table.add_row("solution", p.reference_solution or Text("(none)", "dim"))
            table.add_row("level / subject", f"{p.level} / {p.subject}")
            if p.solutions:
                table.add_row("given solutions", str(len(p.solutions)))
            out.print(table)
    err.print(
        f"read {stats.n_in} rows, showed {len(problems)}; dropped: {dict(stats.dropped) or 'none'}"
    )
    return 0


def cmd_verify(args: argparse.Namespace) -> int:
    from supdata.sources.config import FileSource
    from supdata.verify import VerifyConfig, verify_many

    rows = list(FileSource(kind="file", path=args.file).raw_rows())
    for i, row in enumerate(rows):
        for col in (args.prediction_field, args.answer_field):
            if col not in row:
                raise ValueError(f"{args.file}: row {i} has no {col!r} column (has: {sorted(row)})")
    config = VerifyConfig(
        workers=args.workers, timeout_s=args.timeout, last_number_fallback=not args.no_last_number
    )
    pairs = ((str(r[args.prediction_field]), r[args.answer_field]) for r in rows)
    pairs = ((p, None if a is None else str(a)) for p, a in pairs)
    from tqdm import tqdm

    started = time.perf_counter()
    results = list(tqdm(verify_many(pairs, config), total=len(rows), unit="item", disable=None))
    seconds = time.perf_counter() - started
    counts: dict[str, int] = {}
    for j in results:
        counts[j.status] = counts.get(j.status, 0) + 1
    table = Table(
        title=f"{args.file}: {len(rows)} items in {seconds:.2f}s "
        f"({len(rows) / max(seconds, 1e-9):.0f} items/s)"
    )
    table.add_column("status")
    table.add_column("count", justify="right")
    table.add_column("share", justify="right")
    for status in ("correct", "incorrect", "no_answer", "bad_reference", "timeout"):
        n = counts.get(status, 0)
        table.add_row(status, str(n), f"{n / max(len(rows), 1):.1%}")
    out.print(table)
    if args.out:
        with Path(args.out).open("w", encoding="utf-8") as f:
            for row, j in zip(rows, results, strict=True):
                extra = {
                    "status": j.status,
                    "extracted": j.answer,
                    "method": j.method,
                    "detail": j.detail,
                }
                f.write(json.dumps({**row, **extra}, ensure_ascii=False) + "\n")
        err.print(f"wrote {args.out}")
    return 0


def cmd_build(args: argparse.Namespace) -> int:
    """Build one or several recipes; several share one process, so recipes that name
    the same engine settings load the model once."""
    from supdata.build import build, dry_run
    from supdata.engines.registry import BackendPool
    from supdata.publish.validate import validate_folder
    from supdata.recipe import load_recipe

    if len(args.recipe) > 1 and args.out:
        raise ValueError("--out names one folder: give one recipe, or none of --out")
    overrides = {"source.strict": True} if args.strict else None
    recipes = [load_recipe(path, overrides) for path in args.recipe]  # all checked first
    if args.dry_run:
        for recipe in recipes:
            _print_plan(dry_run(recipe, limit=args.limit))
        return 0
    for path, recipe in zip(args.recipe, recipes, strict=True):
        if args.push and not recipe.publish.repo:
            raise ValueError(f"{path}: --push needs publish.repo in the recipe")
    built = []
    with BackendPool() as backends:
        for recipe in recipes:
            target = Path(args.out or Path("build") / recipe.name)
            stats = build(
                recipe,
                target,
                limit=args.limit,
                use_cache=not args.no_cache,
                cache_path=args.cache,
                force=args.force,
                backends=backends,
                max_output_tokens=args.max_output_tokens,
            )
            _print_build(stats)
            out.print(f"wrote {target} in {stats['seconds']:.1f}s")
            counts = validate_folder(target) if args.validate else None
            for config, n in (counts or {}).items():
                out.print(f"ok  {config}: {n} rows")
            built.append((recipe, target, stats, counts))
    if args.push:
        from supdata.publish.push import push

        for recipe, target, _, _ in built:
            url = push(target, recipe.publish.repo, private=recipe.publish.private)
            out.print(f"pushed to {url}")
    if len(built) > 1 or args.validate:
        _print_summary(built)
    return 0


def _print_plan(plan: dict) -> None:
    """A dry run: the stages, and the engine calls known before any generation."""
    dropped = ", ".join(f"{k}: {v}" for k, v in plan["source_dropped"].items()) or "none"
    out.print(f"{plan['recipe']}: {plan['problems']} problems (source dropped: {dropped})")
    table = Table(title="stages, in order", title_justify="left")
    for col in ("stage", "after", "engines"):
        table.add_column(col)
    for s in plan["stages"]:
        table.add_row(s["stage"], ", ".join(s["needs"]) or "-", ", ".join(s["engines"]) or "-")
    out.print(table)
    known = Table(title="engine calls known before generation", title_justify="left")
    for col in ("builder", "call", "engine", "requests", "samples", "max output tokens", "cost"):
        known.add_column(col, justify="right" if col in ("requests", "samples") else "left")
    for c in plan["known_calls"]:
        cost = c.get("max_output_cost")
        known.add_row(
            c["builder"], c["call"], c["engine"], str(c["requests"]), str(c["samples"]),
            str(c["max_output_tokens"]), "-" if cost is None else f"<= {cost}",
        )  # fmt: skip
    out.print(known)
    out.print(
        f"known calls take at most {plan['known_max_output_tokens']} output tokens; the "
        "later calls (labels, pairs, critiques, rewrites) depend on generated text"
        + (f"; budget {plan['budget']}" if plan["budget"] else "")
    )


def _print_build(stats: dict) -> None:
    for name, s in stats["stages"].items():
        dropped = ", ".join(f"{k}: {v}" for k, v in s["dropped"].items()) or "none"
        err.print(f"  {name:<10} in {s['in']:>6}  out {s['out']:>6}  dropped: {dropped}")
    for config, figures in stats["measured"].items():
        shown = ", ".join(f"{k} {v}" for k, v in figures.items())
        err.print(f"  {config}: {shown}")


def _print_summary(built: list) -> None:
    """What was built, and what to try next."""
    table = Table(title="built", title_justify="left")
    for col in ("folder", "configs (rows)", "empty", "seconds", "validated"):
        table.add_column(col)
    for _, target, stats, counts in built:
        stages = stats["stages"]  # the stats build() returned: no re-read of stats.json
        shown = counts or {
            c: stages.get("source" if c == "problems" else c, {}).get("out")
            for c in _configs_of(target)
        }
        table.add_row(
            str(target),
            ", ".join(f"{c} ({n})" for c, n in shown.items()),
            ", ".join(stats["empty_configs"]) or "none",
            f"{stats['seconds']:.0f}",
            "yes" if counts is not None else "no",
        )
    out.print(table)
    first, config = built[0][1], next(iter(_configs_of(built[0][1])), "problems")
    out.print("next:")
    out.print(f"  supdata inspect {first} --config {config} -n 2")
    out.print(
        f'  python -c "from datasets import load_dataset; '
        f"print(load_dataset('{first}', '{config}', split='train'))\""
    )
    out.print(f"  supdata push {first} --repo YOUR_ORG/{first.name}   (needs HF_TOKEN)")


def _configs_of(folder: Path) -> list[str]:
    import yaml

    text = (folder / "README.md").read_text(encoding="utf-8")
    meta = yaml.safe_load(text[4 : text.index("\n---\n", 4)])
    return [c["config_name"] for c in meta.get("configs", [])]


def _write_report(path: str, report: dict) -> None:
    """A command's JSON report, written whole or not at all."""
    target = Path(path)
    tmp = target.with_name(f".{target.name}.tmp")
    tmp.write_text(json.dumps(report, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    tmp.replace(target)
    out.print(f"wrote {target}")


def _engine_config(args: argparse.Namespace):
    from supdata.engines import EngineConfig

    if args.recipe:
        from supdata.recipe import load_recipe

        recipe = load_recipe(args.recipe, check_inputs=False)
        if args.engine not in recipe.engines:
            raise ValueError(
                f"{args.recipe}: no engine named {args.engine!r} (has: {sorted(recipe.engines)})"
            )
        return recipe.engines[args.engine]
    return EngineConfig(kind=args.kind, model=args.model, base_url=args.base_url)


def _read_requests(path: str, defaults: dict):
    from supdata.engines import Request, SamplingParams
    from supdata.sources.config import FileSource

    requests = []
    for i, row in enumerate(FileSource(kind="file", path=path).raw_rows()):
        where = f"{path}: row {i}"
        if "messages" in row:
            messages = row["messages"]
        elif isinstance(row.get("prompt"), str):
            messages = [{"role": "user", "content": row["prompt"]}]
        else:
            raise ValueError(f"{where}: needs 'messages' (chat) or 'prompt' (text)")
        try:
            sampling = SamplingParams(**{**defaults, **(row.get("sampling") or {})})
            requests.append(
                Request(
                    messages=tuple(messages),
                    sampling=sampling,
                    continue_final=bool(row.get("continue_final", False)),
                    id=str(row.get("id", i)),
                )
            )
        except (TypeError, ValueError) as exc:
            raise ValueError(f"{where}: {exc}") from None
    return requests


def cmd_generate(args: argparse.Namespace) -> int:
    from supdata.engines import RequestCache, create_engine

    defaults = {
        "n": args.n,
        "temperature": args.temperature,
        "top_p": args.top_p,
        "top_k": args.top_k,
        "max_tokens": args.max_tokens,
        "seed": args.seed,
    }
    requests = _read_requests(args.prompts, defaults)  # bad input fails before any model loads
    config = _engine_config(args)
    cache = None if args.no_cache else RequestCache(args.cache)
    engine = create_engine(config, cache, name=args.engine or config.kind)
    try:
        completions = engine.generate(requests, desc="generate")
    finally:
        engine.close()
    target = Path(args.out)
    tmp = target.with_name(f".{target.name}.tmp")
    with tmp.open("w", encoding="utf-8") as f:
        for c in completions:
            row = {
                "id": c.request_id,
                "texts": c.texts,
                "finish_reasons": c.finish_reasons,
                "prompt_tokens": c.prompt_tokens,
                "output_tokens": c.output_tokens,
                "cached": c.cached,
            }
            f.write(json.dumps(row, ensure_ascii=False) + "\n")
    tmp.replace(target)
    err.print(engine.last_run.summary("generate"))
    out.print(f"wrote {target}")
    return 0


def cmd_eval_critic(args: argparse.Namespace) -> int:

    from supdata.engines import RequestCache, create_engine
    from supdata.eval.critic import average_f1, evaluate, load_items

    for path in args.data:  # bad input fails before any model loads
        load_items(path, args.limit, sample=args.sample, seed=args.seed)
    config = _engine_config(args)
    cache = None if args.no_cache else RequestCache(args.cache)
    engine = create_engine(config, cache, name=args.engine or config.kind)
    try:
        scores, predictions = evaluate(
            engine,
            args.data,
            limit=args.limit,
            sample=args.sample,
            seed=args.seed,
            prompt=args.prompt,
        )
    finally:
        engine.close()
    table = Table(title=f"ProcessBench-style critic evaluation: {engine.fingerprint}")
    for column in ("split", "items", "error acc", "correct acc", "F1", "unparsed"):
        table.add_column(column, justify="left" if column == "split" else "right")
    for s in scores:
        d = s.to_dict()
        figures = [d[k] for k in ("error_acc", "correct_acc", "f1")]
        shown = ["n/a" if x is None else f"{x:.3f}" for x in figures]
        table.add_row(s.split, str(d["items"]), *shown, str(d["unparsed"]))
    average = average_f1(scores)
    if len(scores) > 1:
        table.add_row("average F1", "", "", "", "n/a" if average is None else f"{average:.3f}", "")
    out.print(table)
    if args.out:
        report = {
            "model": engine.fingerprint,
            "prompt": args.prompt,
            "splits": [s.to_dict() for s in scores],
            "average_f1": average,
            "predictions": predictions,
        }
        _write_report(args.out, report)
    return 0


def _label_sources(args: argparse.Namespace) -> list:
    from supdata.ops.labels import (
        AnnotatorSource,
        BinarySearchSource,
        ConsensusSource,
        McSource,
        source_errors,
    )

    rollout = {
        "engine": "actor",
        "temperature": args.temperature,
        "max_tokens": args.max_tokens,
        "prompt": args.rollout_prompt,
        "seed": args.seed,
    }
    make = {
        "mc": lambda: McSource(kind="mc", completions=args.rollouts, **rollout),
        "binary_search": lambda: BinarySearchSource(
            kind="binary_search", rollouts=args.rollouts, **rollout
        ),
        "annotator": lambda: AnnotatorSource(kind="annotator", engine="actor"),
        "consensus": lambda: ConsensusSource(kind="consensus"),
    }
    kinds = list(dict.fromkeys(args.source or ["mc"]))
    kinds.sort(key=lambda k: k == "consensus")  # after the sources it combines
    sources = [make[k]() for k in kinds]
    errors = source_errors(sources)
    if errors:
        raise ValueError("; ".join(f"--source {kinds[path[0]]}: {msg}" for path, msg in errors))
    return sources


def cmd_eval_labels(args: argparse.Namespace) -> int:
    from supdata.engines import RequestCache, create_engine
    from supdata.eval.labels import evaluate_labels, label_pairs
    from supdata.ops.labels import BinarySearchSource, McSource
    from supdata.sources.match import reference_index
    from supdata.verify import VerifyConfig

    sources = _label_sources(args)
    references = None
    if args.references:
        references = reference_index(args.references, args.references_normalizer)
    elif any(isinstance(s, McSource | BinarySearchSource) for s in sources):
        raise ValueError(
            "mc and binary_search check rollouts against reference answers, which "
            "ProcessBench does not ship: give --references FILE (e.g. GSM8K's test.jsonl)"
        )
    for path in args.data:  # bad input fails before any model loads
        label_pairs(path, references, limit=args.limit, sample=args.sample, seed=args.seed)
    config = _engine_config(args)
    cache = None if args.no_cache else RequestCache(args.cache)
    engine = create_engine(config, cache, name=args.engine or config.kind)
    try:
        report = evaluate_labels(
            {"actor": engine},
            args.data,
            sources,
            references=references,
            verify=VerifyConfig(),
            limit=args.limit,
            sample=args.sample,
            seed=args.seed,
        )
    finally:
        engine.close()
    report = {"model": engine.fingerprint, "settings": [s.model_dump() for s in sources], **report}
    table = Table(
        title=f"step-label sources on ProcessBench-format data: {engine.fingerprint}",
        caption="err / ok: accuracy on erroneous / correct items; undec: no first error "
        "decided; agree: first error as the human label; kappa: per step, with the human "
        "labels; rollouts: per solution",
    )
    columns = ("source", "split", "items", "err", "ok", "F1", "undec",
               "agree", "kappa", "rollouts")  # fmt: skip
    for column in columns:
        left = column in ("source", "split")
        width = len("binary_search") if column == "source" else None
        table.add_column(column, justify="left" if left else "right", min_width=width)
    for name, entry in report["sources"].items():
        for d in entry["splits"]:
            human = d["agreement_with_human"]
            cost = entry["cost"].get(d["split"], {})
            figures = [d["error_acc"], d["correct_acc"], d["f1"],
                       human["first_error_agreement"], human["step_kappa"]]  # fmt: skip
            shown = ["n/a" if x is None else f"{x:.3f}" for x in figures]
            table.add_row(
                name, d["split"], str(d["items"]), *shown[:3], str(d["unparsed"]), *shown[3:],
                str(cost.get("rollouts_per_solution", "")),
            )  # fmt: skip
    out.print(table)
    if args.out:
        _write_report(args.out, report)
    return 0


def cmd_eval_vr(args: argparse.Namespace) -> int:
    from supdata.builders.stv import StvBuilder
    from supdata.eval.vr import run_vr

    def run(recipe, params, engines, names, problems):
        generator, verifier = names
        trajectories = run_vr(
            problems,
            engines[generator],
            engines[verifier],
            params,
            rounds=args.rounds,
            samples=args.samples,
            verify=recipe.verification.to_config(),
            revise_accepted=args.revise_accepted,
        )
        setup = {"samples": args.samples, "revise_accepted": args.revise_accepted,
                 "prompts": {"solve": params.prompt, "verify": params.student_prompt,
                             "revise": params.vil.prompt}}  # fmt: skip
        return trajectories, setup

    roles = {
        "generator": lambda stv: stv.engine if stv else None,
        "verifier": lambda stv: stv.vil_engine if stv else None,
    }
    return _run_loop_command(
        args, kind="stv", params_cls=StvBuilder, roles=roles, run=run, title="V-R loop",
        reviewer="verifier",
    )  # fmt: skip


def cmd_eval_refine(args: argparse.Namespace) -> int:
    from supdata.builders.critique import CritiqueBuilder
    from supdata.eval.refine import run_refine

    def run(recipe, params, engines, names, problems):
        actor, critic = names
        trajectories = run_refine(
            problems,
            engines[actor],
            engines[critic],
            params,
            rounds=args.rounds,
            votes=args.votes,
            verify=recipe.verification.to_config(),
            strategy=recipe.segmentation.strategy,
            know_answer=args.know_answer,
        )
        setup = {"votes": args.votes, "know_answer": args.know_answer,
                 "prompts": {"solve": params.prompt, "critique": params.critic_prompt,
                             "refine": params.refine_prompt}}  # fmt: skip
        return trajectories, setup

    roles = {
        "actor": lambda b: b.engine if b else None,
        "critic": lambda b: b.critic if b else None,
    }
    return _run_loop_command(
        args, kind="critique", params_cls=CritiqueBuilder, roles=roles, run=run,
        title="critique-refine", reviewer="critic",
    )  # fmt: skip


def _run_loop_command(args, *, kind, params_cls, roles, run, title: str, reviewer: str) -> int:
    """eval-vr / eval-refine: settings from the recipe's ``kind`` builder (defaults
    without one), engines by flag or from that builder, the source's problems with a
    reference answer; everything checked before a model loads."""
    from supdata.engines import RequestCache
    from supdata.engines.registry import Engines
    from supdata.eval.loop import report
    from supdata.recipe import load_recipe
    from supdata.sources import load_problems

    recipe = load_recipe(args.recipe)
    builder = next((b for b in recipe.builders if b.kind == kind), None)
    # without the builder: the engine named actor (the recipes' default), or the only one
    only = next(iter(recipe.engines)) if len(recipe.engines) == 1 else None
    only = "actor" if "actor" in recipe.engines else only
    names = []
    for role, default in roles.items():
        name = getattr(args, role) or default(builder) or (names[0] if names else only)
        flag = f"--{role}"
        if name is None:
            raise ValueError(
                f"{args.recipe}: name the engine with {flag} (engines: {sorted(recipe.engines)})"
            )
        if name not in recipe.engines:
            raise ValueError(
                f"{args.recipe}: {flag} {name!r} is not an engine of the recipe "
                f"(engines: {sorted(recipe.engines)})"
            )
        names.append(name)
    params = builder if builder is not None else params_cls(kind=kind, engine=names[0])
    source = recipe.source.model_copy(update={"limit": args.limit or recipe.source.limit})
    problems, without = [], 0
    for p in load_problems(source):
        if p.reference_answer:
            problems.append(p)
        else:
            without += 1
    if not problems:
        raise ValueError(
            f"{args.recipe}: source: no problem has a reference answer (the answer field), "
            "and the loop judges answers against it"
        )
    if without:
        err.print(f"{without} problem(s) without a reference answer left out")
    cache = None if args.no_cache else RequestCache(args.cache)
    with Engines(recipe.engines, cache, recipe.runner) as engines:
        trajectories, setup = run(recipe, params, engines, names, problems)
        engines_used = {role: {"engine": n, "model": engines[n].fingerprint}
                        for role, n in zip(roles, names, strict=True)}  # fmt: skip
    setup = {"recipe": str(args.recipe), **engines_used, "problems": len(problems),
             "rounds": args.rounds, **setup}  # fmt: skip
    result = report(trajectories, setup)
    out.print(_loop_table(f"{title}: all problems", result["rounds"], reviewer))
    for name, rounds in result["by_bin"].items():
        out.print(_loop_table(f"bin {name}", rounds, reviewer))
    if args.out:
        _write_report(args.out, result)
    return 0


def _loop_table(title: str, rounds: list[dict], reviewer: str) -> Table:
    """Figures as rows, rounds as columns: stays readable at any terminal width."""
    figures = {"trajectories": "trajectories", "pass@1": "pass@1",
               "majority": "majority vote accuracy",
               "claimed_correct": f"{reviewer} says correct", "precision": "  precision",
               "recall": "  recall", "inflation": "  inflation (says correct - pass@1)",
               "verdict_accuracy": f"{reviewer} verdict accuracy (fresh answers)",
               "no_verdict": "no verdict", "revised": "revised this round",
               "right_to_wrong": "  right -> wrong",
               "wrong_to_right": "  wrong -> right"}  # fmt: skip
    table = Table(title=title)
    table.add_column("")
    for r in rounds:
        table.add_column(f"round {r['round']}", justify="right")
    for key, label in figures.items():
        cells = [r[key] for r in rounds]
        table.add_row(label, *("n/a" if c is None else f"{c:.3f}" if isinstance(c, float)
                               else str(c) for c in cells))  # fmt: skip
    return table


def cmd_cache(args: argparse.Namespace) -> int:
    from supdata.engines import RequestCache

    cache = RequestCache(args.cache)
    if args.action == "clear":
        out.print(f"removed {cache.clear()} samples from {cache.path}")
    else:
        s = cache.stats()
        out.print(f"cache: {s['path']}")
        out.print(
            f"samples: {s['samples']}  output tokens: {s['output_tokens']}  "
            f"size: {s['bytes'] / 1e6:.1f} MB"
        )
        for engine, n in s["engines"].items():
            out.print(f"  {n:>8}  {engine}")
    cache.close()
    return 0


def cmd_validate(args: argparse.Namespace) -> int:
    from supdata.publish.validate import validate_folder

    counts = validate_folder(args.dir)
    for config, n in counts.items():
        out.print(f"ok  {config}: {n} rows")
    return 0


def cmd_push(args: argparse.Namespace) -> int:
    from supdata.publish.push import push

    url = push(args.dir, args.repo, private=args.private, revision=args.revision)
    out.print(f"pushed {args.dir} to {url}")
    return 0


def cmd_inspect(args: argparse.Namespace) -> int:
    from supdata.inspect_rows import inspect

    inspect(args.dir, args.config, n=args.n, row_id=args.id)
    return 0


def _benchmarks(args: argparse.Namespace):
    """--against NAME or NAME=PATH, plus --file PATH --field F pairs, as a config."""
    from pydantic import ValidationError

    from supdata.hygiene import Decontaminate

    specs: list[dict] = []
    for entry in args.against or []:
        name, _, path = entry.partition("=")
        specs.append({"name": name, "file": path} if path else {"name": name})
    files, fields = args.file or [], args.field or []
    if len(files) != len(fields):
        raise ValueError("give one --field per --file (the column with the problem text)")
    specs += [{"file": f, "field": c} for f, c in zip(files, fields, strict=True)]
    if not specs:
        raise ValueError("nothing to check against: give --against NAME... or --file/--field")
    try:
        return Decontaminate(
            against=specs, ngram=args.ngram, threshold=args.threshold, min_words=args.min_words
        )
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or 'benchmarks'}: {e['msg']}"
            for e in exc.errors(include_url=False)
        )
        raise ValueError(f"bad benchmark options: {problems}") from None


def cmd_check_contamination(args: argparse.Namespace) -> int:
    from supdata.hygiene.audit import TEXT_COLUMNS, audit
    from supdata.hygiene.screen import Decontaminator

    config = _benchmarks(args)
    decon = Decontaminator(config)
    columns = args.columns or TEXT_COLUMNS
    report = audit(Path(args.dir), decon.index, configs=args.configs, columns=columns)
    summary = decon.summary()
    title = (
        f"{args.dir}: contamination against {len(summary['benchmarks'])} benchmark(s), "
        f"exact + {config.ngram}-gram overlap (threshold {config.threshold:g})"
    )
    table = Table(title=title, title_justify="left")
    for column in ("config", "benchmark", "rows checked", "contaminated", "share"):
        table.add_column(column, justify="left" if column in ("config", "benchmark") else "right")
    total = 0
    for name, r in report.items():
        if not r["rows"]:
            table.add_row(name, Text("no text column", "dim"), "0", "", "")
            continue
        for bench, n in r["contaminated"].items():
            total += n
            style = "red" if n else ""
            share = f"{n / r['rows']:.2%}"
            table.add_row(name, bench, str(r["rows"]), Text(str(n), style) if n else "0", share)
    out.print(table)
    for name, r in report.items():
        for bench, matches in r["matches"].items():
            out.print(
                Text.assemble((name, "bold"), " vs ", (bench, "bold"), f" (first {args.show}):")
            )
            for m in matches[: args.show]:
                out.print(
                    f"  {m['id']} ({m['column']}) = {bench} {m['benchmark_id']} "
                    f"[{m['kind']}]: {m['ngram'][:100]}",
                    highlight=False,
                    markup=False,
                )
    if args.json:
        target = Path(args.json)
        tmp = target.with_name(f".{target.name}.tmp")
        payload = {"checked_against": summary, "configs": report, "contaminated_rows": total}
        tmp.write_text(json.dumps(payload, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
        tmp.replace(target)
        err.print(f"wrote {target}")
    err.print("contamination found" if total else "no contamination found")
    return 1 if total else 0


def cmd_export(args: argparse.Namespace) -> int:
    from supdata.export import export_dir

    options = {}
    if args.style:
        options["style"] = args.style
    if args.data_source:
        options["data_source"] = args.data_source
    if args.label_set:
        options["label_set"] = args.label_set
    if args.soft:
        options["soft"] = True
    done = export_dir(
        args.dir,
        args.config,
        args.to,
        args.out,
        split=args.split,
        prompt=args.prompt,
        name=args.name,
        **options,
    )
    c = done.converted
    skipped = ", ".join(f"{k}: {v}" for k, v in c.skipped.items()) or "none"
    err.print(f"  {args.config} ({c.kind} rows): in {c.rows_in}  out {len(c.dataset)}")
    err.print(f"  skipped: {skipped}")
    out.print(f"wrote {', '.join(str(p) for p in done.written)}")
    return 0


def cmd_schemas(args: argparse.Namespace) -> int:
    from supdata.assets import asset_dir
    from supdata.publish.schemas import stale_schemas, write_schemas

    folder = Path(args.dir) if args.dir else asset_dir("schemas")
    if args.write:
        changed = write_schemas(folder)
        out.print(f"wrote {len(changed)} changed schema file(s) in {folder}: {changed or 'none'}")
        return 0
    stale = stale_schemas(folder)
    if stale:
        err.print(
            f"out of date with the row models: {stale}; run `supdata schemas --write`",
            markup=False,
        )
        return 1
    out.print(f"{folder}: every schema file matches its row model")
    return 0
