"""supdata: build datasets that supervise LLM reasoning from YAML recipes.

Builders: steperror (weak-to-strong step-error corpora), critique (AutoMathCritique
step-level critiques), stv (self-trained verification targets). Every row is checked
against its row model, lands in a Hub-ready folder with a dataset card, and loads with
datasets.load_dataset. Exit codes: 0 ok, 1 a failure while running, 2 bad input
(usage, recipe or input file).
"""

from __future__ import annotations

import argparse
import contextlib
import sys
from collections.abc import Iterator, Sequence

EXPORT_FORMATS = (
    "trl-sft",
    "trl-dpo",
    "trl-grpo",
    "stepwise",
    "math-shepherd",
    "prm800k",
    "distill",
    "verl",
    "llamafactory",
    "w2s-nested",
    "stv-oracle",
    "mathcritique",
)


# commands that start engines outside a build (a build logs into its work folder)
_ENGINE_COMMANDS = ("generate", "eval-critic", "eval-labels", "eval-vr", "eval-refine")


@contextlib.contextmanager
def _engine_log(args: argparse.Namespace) -> Iterator[None]:
    """Engine start-up output of a command outside a build goes to a log file under the
    cache folder (a build logs into its work folder), for this command only."""
    import os
    import time
    from pathlib import Path

    if args.verbose or args.command not in _ENGINE_COMMANDS or os.environ.get("SUPDATA_ENGINE_LOG"):
        yield
        return
    root = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    stamp = time.strftime("%Y%m%d-%H%M%S")
    name = f"{args.command}-{stamp}-{os.getpid()}.log"
    os.environ["SUPDATA_ENGINE_LOG"] = str(root / "supdata" / "logs" / name)
    try:
        yield
    finally:
        del os.environ["SUPDATA_ENGINE_LOG"]


class UsageError(ValueError):
    """A command line that cannot run (exit 2)."""


def _at_least_one(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


class _Lazy:
    """A subcommand's function, imported from cli.commands only when it runs."""

    def __init__(self, name: str) -> None:
        self.name = name

    def __call__(self, args: argparse.Namespace) -> int:
        recipes = getattr(args, "recipe", None)
        if self.name in ("cmd_build", "cmd_peek", "cmd_eval_vr", "cmd_eval_refine") and recipes:
            from pathlib import Path

            for recipe in [recipes] if isinstance(recipes, str) else recipes:
                if not Path(recipe).is_file():  # before the heavy imports: answer at once
                    raise UsageError(f"{recipe}: recipe file not found")
        from supdata.cli import commands

        return getattr(commands, self.name)(args)


def _cmd(name: str) -> _Lazy:
    return _Lazy(name)


def _engine_flags(p: argparse.ArgumentParser) -> None:
    p.add_argument("--recipe", help="take the engine from this recipe's engines: section")
    p.add_argument("--engine", default="", help="engine name in the recipe")
    p.add_argument("--kind", default="vllm", choices=["vllm", "openai", "transformers"])
    p.add_argument("--model", default="default")
    p.add_argument("--base-url", help="openai: server URL")
    p.add_argument("--no-cache", action="store_true", help="neither read nor write the cache")
    p.add_argument("--cache", help="cache file (default $SUPDATA_CACHE or ~/.cache/supdata)")


def _loop_flags(
    p: argparse.ArgumentParser, *, roles: dict[str, str], rounds: str, samples: tuple[str, str]
) -> None:
    """The flags eval-vr and eval-refine share: a recipe, two engines, rounds, samples."""
    p.add_argument("recipe", help="a recipe: its source (problems), engines and verification")
    for flag, text in roles.items():
        p.add_argument(flag, help=text)
    p.add_argument("--rounds", type=_at_least_one, default=3, help=rounds)
    p.add_argument(samples[0], type=_at_least_one, default=4, help=samples[1])
    p.add_argument("--limit", type=_at_least_one, help="first N problems of the source")
    p.add_argument("--out", help="write the report (figures and every turn) to this JSON file")
    p.add_argument("--no-cache", action="store_true", help="neither read nor write the cache")
    p.add_argument("--cache", help="cache file (default $SUPDATA_CACHE or ~/.cache/supdata)")


def _add_engine_commands(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("generate", help="sample an engine over a jsonl of prompts (cached)")
    p.add_argument("prompts", help="jsonl/json/parquet rows with 'messages' or 'prompt'")
    p.add_argument("--out", required=True, help="output jsonl, one row per prompt")
    _engine_flags(p)
    p.add_argument("--n", type=int, default=1)
    p.add_argument("--temperature", type=float, default=1.0)
    p.add_argument("--top-p", type=float, default=1.0)
    p.add_argument("--top-k", type=int, default=-1)
    p.add_argument("--max-tokens", type=int, default=256)
    p.add_argument("--seed", type=int, default=0)
    p.set_defaults(fn=_cmd("cmd_generate"))

    p = sub.add_parser(
        "eval-critic",
        help="run an engine as a step critic over ProcessBench-format data; report its F1",
    )
    p.add_argument(
        "data", nargs="+", help="ProcessBench files (JSON array or jsonl), one per split"
    )
    p.add_argument("--limit", type=int, help="first N items of each file")
    p.add_argument("--sample", type=int, help="a seeded random N items of each file")
    p.add_argument("--seed", type=int, default=0, help="seed of --sample")
    p.add_argument("--prompt", default="critique@1", help="critic prompt id@version")
    p.add_argument("--out", help="write scores and every prediction to this JSON file")
    _engine_flags(p)
    p.set_defaults(fn=_cmd("cmd_eval_critic"))

    p = sub.add_parser(
        "eval-labels",
        help="run step-label sources (mc, binary_search, annotator, consensus) over "
        "ProcessBench-format data; score their first errors against the human labels",
    )
    p.add_argument(
        "data", nargs="+", help="ProcessBench files (JSON array or jsonl), one per split"
    )
    p.add_argument(
        "--source",
        action="append",
        choices=["mc", "binary_search", "annotator", "consensus"],
        help="label source (repeat for several; consensus needs mc and annotator); default mc",
    )
    p.add_argument(
        "--references",
        action="append",
        default=[],
        help="file(s) with the problems' reference answers (GSM8K/MATH jsonl), matched "
        "by problem text; needed by mc and binary_search",
    )
    p.add_argument(
        "--references-normalizer",
        default="auto",
        help="row shape of the reference files: auto (gsm8k when answers hold '####', "
        "else math), or a source normalizer name",
    )
    p.add_argument("--rollouts", type=_at_least_one, default=8, help="rollouts per prefix (N)")
    p.add_argument("--temperature", type=float, default=0.7, help="rollout temperature")
    p.add_argument("--max-tokens", type=_at_least_one, default=512, help="tokens per rollout")
    p.add_argument("--rollout-prompt", default="solve@1", help="solve prompt the prefix continues")
    p.add_argument("--limit", type=_at_least_one, help="first N items of each file")
    p.add_argument("--sample", type=_at_least_one, help="a seeded random N items of each file")
    p.add_argument("--seed", type=int, default=0, help="seed of --sample and of the rollouts")
    p.add_argument("--out", help="write figures and every item's label sets to this JSON file")
    _engine_flags(p)
    p.set_defaults(fn=_cmd("cmd_eval_labels"))

    p = sub.add_parser(
        "eval-vr",
        help="the verification-refinement loop: generator answers, verifier judges, "
        "generator revises, for R rounds; pass@1 and verifier inflation per round",
    )
    _loop_flags(
        p,
        roles={
            "--generator": "engine that answers (default: the stv builder's engine)",
            "--verifier": "engine that verifies (default: the stv builder's vil.engine)",
        },
        rounds="revision rounds R (>= 1)",
        samples=("--samples", "trajectories per problem"),
    )
    p.add_argument(
        "--revise-accepted",
        action="store_true",
        help="revise every answer each round, also those the verifier called Correct",
    )
    p.set_defaults(fn=_cmd("cmd_eval_vr"))

    p = sub.add_parser(
        "eval-refine",
        help="AutoMathCritique's test-time loop: actor answers, critic critiques, actor "
        "refines, for R rounds; accuracy and majority vote per round",
    )
    _loop_flags(
        p,
        roles={
            "--actor": "engine that answers (default: the critique builder's engine)",
            "--critic": "engine that critiques (default: the builder's critic)",
        },
        rounds="refinement rounds R (>= 1)",
        samples=("--votes", "K samples per problem (majority vote)"),
    )
    p.add_argument(
        "--know-answer",
        action="store_true",
        help="the paper's oracle setting: answers math-verify finds right are final",
    )
    p.set_defaults(fn=_cmd("cmd_eval_refine"))

    p = sub.add_parser("cache", help="request cache: stats or clear")
    p.add_argument("action", choices=["stats", "clear"])
    p.add_argument("--cache", help="cache file (default $SUPDATA_CACHE or ~/.cache/supdata)")
    p.set_defaults(fn=_cmd("cmd_cache"))


def _add_hygiene_commands(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "check-contamination",
        help="audit a built or downloaded dataset against evaluation benchmarks "
        "(exit 1 when contamination is found)",
    )
    p.add_argument("dir", help="dataset folder (parquet configs) or one parquet/jsonl file")
    p.add_argument(
        "--against",
        nargs="+",
        metavar="NAME[=PATH]",
        help="registry benchmarks (math500, math_test, gsm8k_test, aime24, aime25, amc23, "
        "aimo_aime, aimo_amc); NAME=PATH reads a local copy instead of the Hub",
    )
    p.add_argument("--file", action="append", help="a local benchmark file (with --field)")
    p.add_argument("--field", action="append", help="its problem column, one per --file")
    p.add_argument("--ngram", type=int, default=13, help="words per n-gram (default 13)")
    p.add_argument(
        "--threshold", type=float, default=1, help="n-grams needed (>= 1) or share (< 1)"
    )
    p.add_argument("--min-words", type=int, default=8, help="short benchmark items: see README")
    p.add_argument("--configs", nargs="+", help="only these configs")
    p.add_argument("--columns", nargs="+", help="text columns to check (default: problem-like)")
    p.add_argument("--show", type=int, default=5, help="matches shown per config and benchmark")
    p.add_argument("--json", help="write the full report to this JSON file")
    p.set_defaults(fn=_cmd("cmd_check_contamination"))


def _add_export_command(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "export",
        help="write one config of a built folder in a trainer's format (TRL, verl, LLaMA-Factory)",
    )
    p.add_argument("dir", help="a built dataset folder")
    p.add_argument("--config", required=True, help="the config to export, e.g. hard_er30")
    p.add_argument("--to", required=True, choices=EXPORT_FORMATS, help="the format")
    p.add_argument(
        "--out",
        required=True,
        help="a .parquet file; for llamafactory the data folder (jsonl + dataset_info.json)",
    )
    p.add_argument("--split", default="train", help="the split to read (default train)")
    p.add_argument(
        "--prompt", help="prompt id@version for bare questions (default: the sampling prompt)"
    )
    p.add_argument(
        "--style",
        choices=["sharegpt", "alpaca"],
        help="llamafactory file style; mathcritique: alpaca (base models, the default) or "
        "sharegpt (instruct models)",
    )
    p.add_argument("--name", help="llamafactory dataset name (default <folder>_<config>)")
    p.add_argument("--data-source", help="verl data_source (default supdata/<config>)")
    p.add_argument(
        "--label-set",
        help="stepwise / math-shepherd / prm800k: take the step labels from this label set "
        "(a row's label_sets, by name) instead of its annotation",
    )
    p.add_argument(
        "--soft",
        action="store_true",
        help="stepwise: the label set's soft labels (Monte-Carlo values, floats)",
    )
    p.set_defaults(fn=_cmd("cmd_export"))


def _add_schemas_command(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("schemas", help="check (or --write) schemas/*.json against the row models")
    mode = p.add_mutually_exclusive_group()
    mode.add_argument("--write", action="store_true", help="rewrite the files from the models")
    mode.add_argument(
        "--check", action="store_true", help="exit 1 when a file is out of date (the default)"
    )
    p.add_argument("--dir", help="schema folder (default: the package's schemas/)")
    p.set_defaults(fn=_cmd("cmd_schemas"))


def _add_build_command(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "build", help="build recipes into dataset folders (one process: engines load once)"
    )
    p.add_argument("recipe", nargs="+", help="recipe files, built in order")
    p.add_argument("--limit", type=int, help="use at most N problems")
    p.add_argument("--out", help="output folder, one recipe only (default build/<recipe name>)")
    p.add_argument("--validate", action="store_true", help="validate each folder after it is built")
    p.add_argument("--no-cache", action="store_true", help="neither read nor write the cache")
    p.add_argument("--cache", help="cache file (default $SUPDATA_CACHE or ~/.cache/supdata)")
    p.add_argument("--push", action="store_true", help="then push to the recipe's publish.repo")
    p.add_argument(
        "--strict", action="store_true", help="abort on the first bad source row (file:line)"
    )
    p.add_argument(
        "--dry-run",
        action="store_true",
        help="plan without a model: stages, known request counts, an output-token bound",
    )
    p.add_argument(
        "--max-output-tokens",
        type=_at_least_one,
        help="stop cleanly before a request that could pass this many output tokens "
        "(overrides the recipe's budget; a re-run with more resumes from the cache)",
    )
    p.add_argument(
        "--force",
        action="store_true",
        help="replace --out even if supdata did not make it (never the current folder "
        "or one holding an input file)",
    )
    p.set_defaults(fn=_cmd("cmd_build"))


def build_parser() -> argparse.ArgumentParser:
    from supdata import __version__

    parser = argparse.ArgumentParser(
        prog="supdata",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"supdata {__version__}")
    parser.add_argument("--debug", action="store_true", help="show tracebacks of errors")
    parser.add_argument(
        "--verbose",
        action="store_true",
        help="engine logs (vLLM, torch, transformers) on the terminal, not in the log file",
    )
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("sources", help="list the source kinds and their fields")
    p.set_defaults(fn=_cmd("cmd_sources"))

    p = sub.add_parser("peek", help="show the first normalized problems of a recipe")
    p.add_argument("recipe")
    p.add_argument("-n", type=int, default=3, help="how many problems (default 3)")
    p.add_argument("--json", action="store_true", help="print rows as JSON")
    p.set_defaults(fn=_cmd("cmd_peek"))

    p = sub.add_parser(
        "verify", help="judge predictions against answers in a jsonl/json/parquet file"
    )
    p.add_argument("file")
    p.add_argument("--prediction-field", default="prediction")
    p.add_argument("--answer-field", default="answer")
    p.add_argument("--workers", type=int, default=2, help="worker processes (0 = in process)")
    p.add_argument("--timeout", type=float, default=10.0, help="hard seconds per item")
    p.add_argument(
        "--no-last-number",
        action="store_true",
        help="do not fall back to the last number when no final answer is marked",
    )
    p.add_argument("--out", help="write each row with its status to this jsonl file")
    p.set_defaults(fn=_cmd("cmd_verify"))

    _add_build_command(sub)

    _add_engine_commands(sub)

    p = sub.add_parser("validate", help="check every row of a dataset folder against its schema")
    p.add_argument("dir")
    p.set_defaults(fn=_cmd("cmd_validate"))

    p = sub.add_parser("inspect", help="show rows: steps coloured by label, first error marked")
    p.add_argument("dir")
    p.add_argument("--config", required=True)
    p.add_argument("-n", type=int, default=3, help="rows to show (default 3)")
    p.add_argument("--id", help="only the row with this id or problem_id")
    p.set_defaults(fn=_cmd("cmd_inspect"))

    _add_hygiene_commands(sub)
    _add_export_command(sub)

    _add_schemas_command(sub)
    p = sub.add_parser("push", help="upload a built folder to the Hugging Face Hub")
    p.add_argument("dir")
    p.add_argument("--repo", required=True, help="ORG/NAME of the dataset repo")
    p.add_argument("--private", action="store_true", help="create the repo private")
    p.add_argument("--revision", help="branch to push to")
    p.set_defaults(fn=_cmd("cmd_push"))
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    import logging
    import os

    args = build_parser().parse_args(argv)
    # supdata's own lines at INFO; other libraries only from WARNING up (matplotlib's
    # "generated new fontManager" and the like are not the user's business) unless
    # --verbose.
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING, format="%(message)s"
    )
    logging.getLogger("supdata").setLevel(logging.INFO)
    if args.verbose:
        os.environ["SUPDATA_VERBOSE"] = "1"
    try:
        with _engine_log(args):
            return args.fn(args)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except Exception as exc:  # every error is a message; --debug shows the traceback
        if args.debug:
            raise
        if type(exc).__name__ == "BudgetExceeded":  # a clean stop at the budget: exit 3
            print(f"stopped: {exc}", file=sys.stderr)
            return 3
        # bad input (command line, recipe, input files) is 2; a failure while running is 1
        bad_input = isinstance(exc, ValueError | FileNotFoundError)
        print(f"error: {exc}", file=sys.stderr)
        return 2 if bad_input else 1


if __name__ == "__main__":
    sys.exit(main())
