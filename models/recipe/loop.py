"""The training loop's pieces every stage uses: bf16 autocast, the learning-rate schedule, one optimiser step,
metric rows and checkpoints, and legs (which runs of a stage already finished)."""

from __future__ import annotations

import math
from pathlib import Path

import torch

from common import Clock, MetricLog, device, load_ckpt, save_ckpt


def resume(ck: dict | None, opt: torch.optim.Optimizer, **modules: torch.nn.Module) -> tuple[int, Clock]:
    """A leg's checkpoint back into its modules (keyword = the checkpoint's key) and optimiser: the step and
    the wall clock to continue from, or (0, a new clock) when there is no checkpoint."""
    if not ck:
        return 0, Clock()
    for key, module in modules.items():
        module.load_state_dict(ck[key])
    opt.load_state_dict(ck["opt"])
    return ck["step"], Clock(ck["wall_s"])


def amp(a):
    """bf16 autocast for training steps (~1.7x faster on this CPU with avx512_bf16; also right for CUDA).
    Evaluation and export stay float32."""
    return torch.autocast(device().type, dtype=torch.bfloat16, enabled=a.bf16)


def optimize(opt: torch.optim.Optimizer, loss: torch.Tensor, params, clip: float = 1.0) -> None:
    """One optimiser step with gradient clipping (every stage)."""
    opt.zero_grad(set_to_none=True)
    loss.backward()
    torch.nn.utils.clip_grad_norm_(params, clip)
    opt.step()


def lr_at(step: int, total: int, peak: float, warmup: int) -> float:
    return lr_at_fraction(step, (step - warmup) / max(1, total - warmup), peak, warmup)


def lr_at_fraction(step: int, frac: float, peak: float, warmup: int) -> float:
    """Linear warmup over `warmup` steps, then cosine to a tenth of the peak as `frac` (of steps or of a time
    budget) goes from 0 to 1."""
    if step < warmup:
        return peak * (step + 1) / warmup
    frac = min(1.0, max(0.0, frac))
    return peak * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * frac)))


class Leg:
    """One run of a stage with given settings (its key: train.py's leg_key). The default run trains instruct as
    three legs into one checkpoint, and rerunning it must continue where it stopped: the checkpoint records
    the leg in progress (and where its --minutes began on the stage clock) and the legs that finished. So an interrupted leg resumes within
    what is left of its own time cap, and a finished leg (by steps or by minutes) is skipped; asking for more
    (a larger --steps or --minutes) is a new leg."""

    def __init__(self, a, ck: dict | None, clock: Clock):
        self.key = a.leg_key
        self.done: list[str] = list(ck.get("legs_done", [])) if ck else []
        cur = ck.get("leg") if ck else None
        same = bool(cur and cur.get("key") == self.key)
        self.start_s = cur["start_s"] if same else clock.elapsed()
        # the step the leg began at (for schedules over the leg rather than the stage: --prose-files)
        self.start_step = cur.get("start_step", ck["step"]) if same else (ck["step"] if ck else 0)
        self.deadline = self.start_s + a.minutes * 60 if a.minutes else float("inf")

    def record(self, finished: bool = False) -> dict:
        return {
            "legs_done": self.done + ([self.key] if finished and self.key not in self.done else []),
            "leg": {"key": self.key, "start_s": self.start_s, "start_step": self.start_step},
        }


def log_and_save(
    a,
    log: MetricLog,
    stage: str,
    step: int,
    total: int,
    clock: Clock,
    loss: torch.Tensor,
    evaluate,
    path: Path,
    state,
    extra=None,
    eval_every: int = 5,
) -> None:
    """Every --log-every steps (and the last): a metrics row, held-out metrics every `eval_every` rows, and a
    checkpoint. `state` and `extra` are callables, evaluated only when a row is written."""
    if step % a.log_every != 0 and step != total:
        return
    row = {
        "stage": stage,
        "step": step,
        "wall_s": round(clock.elapsed(), 1),
        "train_loss": round(loss.item(), 4),
        **(extra() if extra else {}),
    }
    if step % (a.log_every * eval_every) == 0 or step == total:
        row.update(evaluate())
    log.write(row)
    save_ckpt(path, {**state(), "step": step, "wall_s": clock.elapsed()})


def finish_stage(log: MetricLog, stage: str, step: int, clock: Clock, evaluate, path: Path, state, leg: Leg) -> None:
    """The stage's final checkpoint (recording the leg as finished) and a closing metrics row."""
    save_ckpt(path, {**state(), **leg.record(finished=True), "step": step, "wall_s": clock.elapsed()})
    log.write({"stage": stage, "step": step, "wall_s": round(clock.elapsed(), 1), "event": "stop", **evaluate()})


def leg_finished(a, path: Path) -> bool:
    """Whether this stage's checkpoint says this exact leg already finished (then the stage does nothing)."""
    ck = load_ckpt(path)
    if ck and a.leg_key in ck.get("legs_done", []):
        print(
            f"{a.stage_name}: this leg finished earlier (step {ck['step']}, {ck['wall_s'] / 60:.1f} min on the stage clock); "
            "nothing to do (a larger --steps or --minutes continues it)",
            flush=True,
        )
        return True
    return False
