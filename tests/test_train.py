"""Each export format feeds its trainer for real optimizer steps (CPU, the embedded
SmolLM2-135M-Instruct, tiny lengths): the adapters are proven by training, not by
column checks alone. Rows come from real built folders (see conftest)."""

from __future__ import annotations

import math

import pytest
import torch
from datasets import concatenate_datasets
from transformers import (
    AutoModelForCausalLM,
    AutoModelForTokenClassification,
    AutoTokenizer,
    DataCollatorForTokenClassification,
    Trainer,
    TrainingArguments,
)
from trl import DPOConfig, DPOTrainer, GRPOConfig, GRPOTrainer, SFTConfig, SFTTrainer

from supdata.engines.default_model import materialize
from supdata.export import (
    read_config,
    to_distill,
    to_stepwise,
    to_trl_dpo,
    to_trl_grpo,
    to_trl_sft,
)
from supdata.export.distill import tokenize_distill
from supdata.export.rewards import math_verify_reward
from supdata.export.trl import PRM_FEATURES, tokenize_stepwise

MAX_LENGTH = 256
LOSSES: dict[str, list[float]] = {}  # printed at the end of the module (-s) for the record


@pytest.fixture(scope="module")
def model_dir():
    return str(materialize()[0])


@pytest.fixture(scope="module")
def tokenizer(model_dir):
    return AutoTokenizer.from_pretrained(model_dir)


@pytest.fixture(scope="module", autouse=True)
def _one_thread_and_report():
    """One torch thread: on a shared 2-core machine two threads spin-wait on each other
    (a 300-token forward pass measured 6-9 s with 2 threads, ~1 s with 1)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
    for name, losses in LOSSES.items():
        print(f"\n{name}: losses {[round(x, 4) for x in losses]}")


def _lm(model_dir):
    return AutoModelForCausalLM.from_pretrained(model_dir, dtype=torch.float32)


def _common(tmp_path, **kw):
    return {
        "output_dir": str(tmp_path / "out"),
        "per_device_train_batch_size": 2,
        "learning_rate": 1e-5,
        "logging_steps": 1,
        "use_cpu": True,
        "report_to": [],
        "save_strategy": "no",
        "bf16": False,
        "fp16": False,
        "dataloader_num_workers": 0,
        "seed": 0,
        **kw,
    }


def _losses(trainer, name: str, steps: int) -> list[float]:
    assert trainer.state.global_step == steps
    losses = [h["loss"] for h in trainer.state.log_history if "loss" in h]
    assert len(losses) == steps
    assert all(math.isfinite(x) for x in losses), losses
    LOSSES[name] = losses
    return losses


def test_sft_trainer_on_trl_sft_exports(model_build, stv_rows, model_dir, tokenizer, tmp_path):
    parts = [
        to_trl_sft(read_config(model_build, config), config=config)
        for config in ("hard_er50", "mix_hard50_sub10", "critic_sft", "refine_sft")
    ]
    parts.append(to_trl_sft(stv_rows["distill"], config="distill"))
    ds = concatenate_datasets(parts).shuffle(seed=0)
    args = SFTConfig(**_common(tmp_path, max_steps=2, max_length=MAX_LENGTH))
    trainer = SFTTrainer(
        model=_lm(model_dir), args=args, train_dataset=ds, processing_class=tokenizer
    )
    trainer.train()
    _losses(trainer, "SFTTrainer (trl-sft)", 2)


def test_dpo_trainer_on_trl_dpo_export(model_build, model_dir, tokenizer, tmp_path):
    ds = to_trl_dpo(read_config(model_build, "pairs"), config="pairs")
    args = DPOConfig(**_common(tmp_path, max_steps=2, max_length=MAX_LENGTH))
    trainer = DPOTrainer(
        model=_lm(model_dir), args=args, train_dataset=ds, processing_class=tokenizer
    )
    trainer.train()
    _losses(trainer, "DPOTrainer (trl-dpo)", 2)


def test_grpo_trainer_on_trl_grpo_export(model_build, stv_rows, model_dir, tokenizer, tmp_path):
    samples = to_trl_grpo(
        read_config(model_build, "samples"),
        config="samples",
        problems=read_config(model_build, "problems"),
    )
    ds = concatenate_datasets([samples, to_trl_grpo(stv_rows["vil"], config="vil")])
    args = GRPOConfig(
        **_common(tmp_path, max_steps=1, learning_rate=1e-6),
        num_generations=2,
        max_completion_length=16,
        temperature=1.0,
        beta=0.0,
    )
    calls = []

    def reward(completions, answer, **kw):
        scores = math_verify_reward(completions, answer, **kw)
        calls.append((answer, scores))
        return scores

    trainer = GRPOTrainer(
        model=_lm(model_dir),
        reward_funcs=reward,
        args=args,
        train_dataset=ds,
        processing_class=tokenizer,
    )
    trainer.train()
    _losses(trainer, "GRPOTrainer (trl-grpo, math-verify reward)", 1)
    assert calls, "the reward function ran"
    for answers, scores in calls:  # the answer column reaches the reward, one per completion
        assert set(answers) <= set(ds["answer"]) and len(scores) == len(answers)
        assert all(s in (0.0, 1.0) for s in scores)


def test_token_classification_prm_on_stepwise(
    model_build, tiny_build, model_dir, tokenizer, tmp_path
):
    perturbed = to_stepwise(
        read_config(tiny_build, "perturbed"),
        config="perturbed",
        problems=read_config(tiny_build, "problems"),
    )
    critiques = to_stepwise(read_config(model_build, "critiques"), config="critiques")
    ds = concatenate_datasets([perturbed, critiques])
    features = ds.map(
        tokenize_stepwise,
        fn_kwargs={"tokenizer": tokenizer, "max_length": MAX_LENGTH},
        remove_columns=ds.column_names,
        features=PRM_FEATURES,
    )
    sep = tokenizer("\n", add_special_tokens=False)["input_ids"][-1]
    for row in features:  # a label on every separator, nowhere else
        at = [i for i, label in enumerate(row["labels"]) if label != -100]
        assert at and all(row["input_ids"][i] == sep for i in at)
    model = AutoModelForTokenClassification.from_pretrained(
        model_dir, num_labels=2, dtype=torch.float32
    )
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    model.config.pad_token_id = tokenizer.pad_token_id
    trainer = Trainer(
        model=model,
        args=TrainingArguments(**_common(tmp_path, max_steps=2, learning_rate=1e-4)),
        train_dataset=features,
        data_collator=DataCollatorForTokenClassification(tokenizer),
    )
    trainer.train()
    _losses(trainer, "PRM token classification (stepwise)", 2)


def _target_logprobs(model, ids: list[int], n: int) -> torch.Tensor:
    """Log-probabilities at the ``n`` positions that predict the target (the LM head runs
    on those positions only)."""
    hidden = model.model(torch.tensor([ids])).last_hidden_state[0, -n - 1 : -1]
    return model.lm_head(hidden).log_softmax(-1)


def test_teacher_student_distillation_step(stv_rows, model_dir, tokenizer):
    rows = to_distill(stv_rows["distill"], config="distill").select(range(2))
    batch = [tokenize_distill(r, tokenizer, max_target=32) for r in rows]
    for b, r in zip(batch, rows, strict=True):
        target = b["student_ids"][-b["n_target"] :]
        assert target == b["teacher_ids"][-b["n_target"] :]
        assert len(b["teacher_ids"]) > len(b["student_ids"]), "the teacher sees the reference"
        assert r["completion"][0]["content"].startswith(tokenizer.decode(target[:4]))
    teacher = _lm(model_dir).eval()
    with torch.no_grad():  # the teacher scores the target under the teacher prompt, once
        teacher_lp = [_target_logprobs(teacher, b["teacher_ids"], b["n_target"]) for b in batch]
    del teacher
    student = _lm(model_dir).train()
    optimizer = torch.optim.AdamW(student.parameters(), lr=5e-5)

    def loss_fn() -> torch.Tensor:
        """KL(teacher || student) on the target tokens, the student under its own prompt."""
        kl = [
            torch.nn.functional.kl_div(
                _target_logprobs(student, b["student_ids"], b["n_target"]),
                t,
                log_target=True,
                reduction="batchmean",
            )
            for b, t in zip(batch, teacher_lp, strict=True)
        ]
        return torch.stack(kl).mean()

    losses = []
    for _ in range(3):  # the same batch each step
        loss = loss_fn()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    with torch.no_grad():
        losses.append(loss_fn().item())
    LOSSES["distillation KL (distill)"] = losses
    assert all(math.isfinite(x) for x in losses), losses
    assert losses[0] > 0
    assert losses[-1] < losses[0], losses
