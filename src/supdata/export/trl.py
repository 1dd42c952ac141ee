"""TRL dataset types: prompt-completion (SFT), preference (DPO), prompt-only (GRPO) and
stepwise supervision (PRM), all conversational except stepwise (TRL's PRM data is standard).

Row adapters take one source row and a Context and return one output row, or raise Skip.
The public ``to_*`` functions run them over a ``datasets.Dataset``.
"""

from __future__ import annotations

from typing import Any

from datasets import Dataset, Features, List, Value

from supdata.export.common import Context, Skip, assistant
from supdata.export.prm import judged_prefix, trace_labels
from supdata.ops.verdict import verdict_word

Row = dict[str, Any]


# trl-sft: {"prompt": [messages], "completion": [assistant message]}


def sft_from_sft(row: Row, ctx: Context) -> Row:
    """critic_sft / refine_sft / selfimprove_sft rows are TRL rows already."""
    return {"id": row["id"], "prompt": row["prompt"], "completion": row["completion"]}


def sft_from_mixture(row: Row, ctx: Context) -> Row:
    """hard_erXX / sub_erXX / rephrased_erXX / mix_*: the question in the sampling prompt,
    the taken solution (right or wrong: the mixture's error rate is the point)."""
    return {
        "id": row["id"],
        "prompt": ctx.question_messages(row["prompt"]),
        "completion": assistant(row["completion"]),
    }


def sft_from_problem(row: Row, ctx: Context) -> Row:
    """problems / subtasks: the question to its reference solution."""
    if not (row.get("reference_solution") or "").strip():
        raise Skip("no reference solution")
    return {
        "id": row["id"],
        "prompt": ctx.question_messages(row["question"]),
        "completion": assistant(row["reference_solution"]),
    }


def sft_from_distill(row: Row, ctx: Context) -> Row:
    """stv distill: the student prompt to the informed verifier's feedback (offline STV)."""
    return {"id": row["id"], "prompt": row["prompt"], "completion": row["completion"]}


# trl-dpo: {"prompt": [messages], "chosen": [assistant], "rejected": [assistant]}


def dpo_from_pair(row: Row, ctx: Context) -> Row:
    """pairs / sub_pairs / rephrased."""
    return {
        "id": row["id"],
        "prompt": ctx.question_messages(row["prompt"]),
        "chosen": assistant(row["chosen"]),
        "rejected": assistant(row["rejected"]),
    }


# trl-grpo: {"prompt": [messages], "answer": str}; extra columns reach reward functions.


def _answer(value: Any) -> str:
    if value is None or not str(value).strip():
        raise Skip("no reference answer")
    return str(value)


def grpo_from_problem(row: Row, ctx: Context) -> Row:
    """problems / subtasks: one prompt per problem."""
    return {
        "id": row["id"],
        "prompt": ctx.question_messages(row["question"]),
        "answer": _answer(row.get("reference_answer")),
    }


def grpo_from_trace(row: Row, ctx: Context) -> Row:
    """samples / sub_samples / references: one prompt per problem (its other traces are
    counted as repeats), in the prompt the samples were drawn with."""
    problem = ctx.problem(row["problem_id"])
    return {
        "id": row["problem_id"],
        "prompt": ctx.question_messages(problem["question"], row),
        "answer": _answer(problem.get("reference_answer")),
    }


def grpo_from_vil(row: Row, ctx: Context) -> Row:
    """stv vil: [problem, attempt, feedback + revise] prompts; reward on the final answer."""
    return {"id": row["id"], "prompt": row["prompt"], "answer": _answer(row["answer"])}


def grpo_from_verifier_rl(row: Row, ctx: Context) -> Row:
    """stv verifier_rl: the student verifier prompt; the answer is the true verdict word,
    for ``rewards.verdict_reward`` (not math-verify)."""
    return {
        "id": row["id"],
        "prompt": row["prompt"],
        "answer": verdict_word(row["truth"]),
    }


# stepwise: {"prompt": str, "completions": [step, ...], "labels": [bool, ...]}


def stepwise_from_critique(row: Row, ctx: Context) -> Row:
    """critiques: the critic's per-step labels, or a label set's (``label_set``)."""
    if ctx.options.get("label_set"):
        steps, labels = trace_labels(row, ctx)
    else:
        steps, labels = judged_prefix(row["steps"], row["labels"])
    return {
        "id": row["id"],
        "prompt": row["question"],
        **_stepwise(steps, labels, ctx.options.get("soft")),
    }


def stepwise_from_trace(row: Row, ctx: Context) -> Row:
    """samples / perturbed / sub_samples / labelled: the annotation's labels, or a label
    set's (``label_set``), hard or (``soft``) its Monte-Carlo values as floats; rows
    without labels are skipped and counted."""
    steps, labels = trace_labels(row, ctx)
    prompt = ctx.problem(row["problem_id"])["question"]
    return {"id": row["id"], "prompt": prompt, **_stepwise(steps, labels, ctx.options.get("soft"))}


def _stepwise(steps: list[str], labels: list, soft: bool = False) -> Row:
    return {"completions": steps, "labels": labels if soft else [bool(x) for x in labels]}


# ``Dataset.map`` keeps an existing column's type: pass these so ``labels`` become ints.
PRM_FEATURES = Features(
    {
        "input_ids": List(Value("int32")),
        "attention_mask": List(Value("int8")),
        "labels": List(Value("int64")),
    }
)


def tokenize_stepwise(
    row: Row, tokenizer: Any, *, separator: str = "\n", max_length: int | None = None
) -> Row:
    """Token-classification inputs for a PRM from one stepwise row, as TRL's PRMTrainer
    tokenized them (TRL 1.x dropped that trainer): prompt, then each step followed by
    ``separator``; the step's label (0/1) sits on the separator's last token, -100
    everywhere else. With ``DataCollatorForTokenClassification``::

        ds.map(tokenize_stepwise, fn_kwargs={"tokenizer": tok}, features=PRM_FEATURES,
               remove_columns=ds.column_names)
    """
    prompt_ids = tokenizer(row["prompt"], add_special_tokens=False)["input_ids"]
    if tokenizer.bos_token_id is not None:
        prompt_ids = [tokenizer.bos_token_id, *prompt_ids]
    sep_ids = tokenizer(separator, add_special_tokens=False)["input_ids"]
    input_ids, labels = list(prompt_ids), [-100] * len(prompt_ids)
    for step, label in zip(row["completions"], row["labels"], strict=True):
        ids = tokenizer(step, add_special_tokens=False)["input_ids"] + sep_ids
        input_ids += ids
        labels += [-100] * (len(ids) - 1) + [int(label)]
    if max_length is not None:
        input_ids, labels = input_ids[:max_length], labels[:max_length]
    return {"input_ids": input_ids, "attention_mask": [1] * len(input_ids), "labels": labels}


# Public functions: one per format.


def to_trl_sft(
    ds: Dataset, *, config: str | None = None, problems: Any = None, prompt: str | None = None
) -> Dataset:
    """Conversational prompt-completion rows for ``trl.SFTTrainer``.

    Sources: critic_sft, refine_sft, selfimprove_sft, hard_erXX, sub_erXX, rephrased_erXX,
    mix_*, subtasks, problems, stv distill. A bare question is wrapped in the prompt the
    builders sample with (``solve@1``), or ``prompt``.

    >>> row = {"id": "p1", "problem_id": "p1", "prompt": "2+3?", "completion": "2+3=5\\n#### 5",
    ...        "correct": True, "taken": "chosen", "er_target": 0.0, "reference_answer": "5",
    ...        "part": "hard"}
    >>> to_trl_sft(Dataset.from_list([row]), config="hard_er00", prompt=None)[0]
    {'id': 'p1', 'prompt': [{'role': 'system', 'content': 'You are a careful math tutor.
    Solve the problem step by step. Put each step on its own line. End with the final
    answer as \\\\boxed{ANSWER}.'}, {'role': 'user', 'content': '2+3?'}], 'completion':
    [{'role': 'assistant', 'content': '2+3=5\\n#### 5'}]}
    """
    from supdata.export.convert import convert

    return convert(ds, "trl-sft", config=config, problems=problems, prompt=prompt).dataset


def to_trl_dpo(ds: Dataset, *, config: str | None = None, prompt: str | None = None) -> Dataset:
    """Conversational preference rows for ``trl.DPOTrainer``, from pairs / sub_pairs /
    rephrased.

    >>> row = {"id": "p1", "problem_id": "p1", "prompt": "2+3?", "chosen": "#### 5",
    ...        "rejected": "#### 6", "chosen_origin": "sampled", "chosen_trace_id": "p1/s0",
    ...        "rejected_trace_id": "p1/s1", "reference_answer": "5"}
    >>> out = to_trl_dpo(Dataset.from_list([row]), config="pairs")[0]
    >>> out["prompt"][-1], out["chosen"], out["rejected"]
    ({'role': 'user', 'content': '2+3?'}, [{'role': 'assistant', 'content': '#### 5'}],
    [{'role': 'assistant', 'content': '#### 6'}])
    """
    from supdata.export.convert import convert

    return convert(ds, "trl-dpo", config=config, prompt=prompt).dataset


def to_trl_grpo(
    ds: Dataset, *, config: str | None = None, problems: Any = None, prompt: str | None = None
) -> Dataset:
    """Prompt-only rows with an ``answer`` column for ``trl.GRPOTrainer`` and the reward
    ``supdata.export.rewards.math_verify_reward`` (``verdict_reward`` for verifier_rl).

    Sources: samples (one prompt per problem; pass ``problems``), problems, subtasks, stv
    vil, stv verifier_rl.

    >>> vil = {"id": "a1", "problem_id": "p1", "prompt": [{"role": "user", "content": "2+3?"},
    ...        {"role": "assistant", "content": "#### 6"}, {"role": "user", "content": "Revise."}],
    ...        "answer": "5", "bin": "hard", "pass_rate": 0.25, "feedback_verdict": False,
    ...        "attempt_correct": False}
    >>> to_trl_grpo(Dataset.from_list([vil]), config="vil")[0]
    {'id': 'a1', 'prompt': [{'role': 'user', 'content': '2+3?'}, {'role': 'assistant',
    'content': '#### 6'}, {'role': 'user', 'content': 'Revise.'}], 'answer': '5'}
    """
    from supdata.export.convert import convert

    return convert(ds, "trl-grpo", config=config, problems=problems, prompt=prompt).dataset


def to_stepwise(ds: Dataset, *, config: str | None = None, problems: Any = None) -> Dataset:
    """TRL stepwise supervision rows (Math-Shepherd style, for a process reward model):
    ``prompt`` (the question), ``completions`` (the steps, stripped: the PRM collator
    adds its own separator after each) and ``labels`` (one bool per step).

    Sources: critiques; samples / perturbed / sub_samples with step labels (pass
    ``problems``; rows without labels are skipped and counted). Labels after the first
    unjudged (None) step are cut with their steps.

    >>> row = {"id": "p1/perturbed", "problem_id": "p1", "text": "2+3=6\\n#### 6",
    ...        "steps": ["2+3=6\\n", "#### 6"], "origin": "perturbed", "annotation":
    ...        {"labels": [False, False], "first_error_step": 0, "error_types": None,
    ...         "source": "construction"}}
    >>> problems = {"p1": {"question": "2+3?", "reference_answer": "5"}}
    >>> to_stepwise(Dataset.from_list([row]), config="perturbed", problems=problems)[0]
    {'id': 'p1/perturbed', 'prompt': '2+3?', 'completions': ['2+3=6', '#### 6'],
    'labels': [False, False]}
    """
    from supdata.export.convert import convert

    return convert(ds, "stepwise", config=config, problems=problems).dataset
