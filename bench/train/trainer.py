"""The loop scaffolding every lab video-model recipe shares, so a recipe is its data, its model and its step.

A `Trainer` owns, in one place:

- the run log (`<out>.log`, written by rank 0 only);
- DDP: joins the gloo process group when launched with torchrun-style variables (`WORLD_SIZE`, ...);
  every rank draws the same global batch and keeps its shard, the loss is averaged over ranks, and
  every rank stops on rank 0's clock, so no rank waits for a step the others skip;
- the EMA of the weights (optional: a recipe without one exports the trained weights);
- the resumable state `run_dir/last.pt` (weights, EMA, optimiser, the random streams, step, clock,
  loss rows, the run's config), written atomically; a run resumes from it bit for bit, its minutes
  count across resumes, and it refuses to resume under a changed config (naming the keys);
- the loss rows, the periodic log line and checkpoint (every so many minutes, or steps), and (with
  `show_progress`) a progress bar of the budget used;
- the export: the weights (EMA if kept; float16 safetensors at `out` unless the recipe saves them),
  the loss log (`<out>_loss.parquet`), its curve (`<out>_loss.png`) and the report JSON, each
  written atomically.

A recipe reads top to bottom (`bench.train.codec`, `bench.train.base`, `bench.train.finetune`,
`bench.train.perceptor`):

    trainer = Trainer(config.out, config.run_dir, show_progress)
    trainer.start(model, optimiser, config.ema_decay, rng, generator, f"base config {...}")
    while trainer.running(config.max_steps, config.max_minutes):
        ... one optimiser step ...
        trainer.end_step(loss, lr=lr)
    trainer.export(report, "base model")
"""

from __future__ import annotations

import atexit
import math
import os
import random
import time
from collections.abc import Callable, Collection
from pathlib import Path

import torch
import torch.distributed as dist
from rich.progress import (
    BarColumn,
    Progress,
    TaskProgressColumn,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

from bench.atomic_files import atomic_write_json
from bench.train.common import (
    EMA,
    plot_loss_curve,
    restore_training_state,
    save_training_state,
    write_loss_log,
)

LOG_EVERY_STEPS = 25


def distributed() -> tuple[int, int]:
    """(rank, world size); joins the process group when launched with torchrun-style env vars."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world > 1 and not dist.is_initialized():
        dist.init_process_group("gloo")
    if dist.is_initialized():
        return dist.get_rank(), dist.get_world_size()
    return 0, 1


class Trainer:
    """Log, DDP, EMA, resumable state, step clock, checkpoints and export of one training run.

    Args:
        out: the exported checkpoint; the log, loss log and curve go beside it.
        run_dir: where the resumable state `last.pt` lives.
        show_progress: also print the log lines.
        checkpoint_every_minutes: period of the resumable state.
        checkpoint_every_steps: also write the resumable state every this many steps.
        on_checkpoint: called after each periodic state (e.g. the base also exports its EMA weights
            then, so an interrupted run leaves a usable checkpoint).
    """

    def __init__(self, out: str | os.PathLike, run_dir: str | os.PathLike, show_progress: bool = True,
                 checkpoint_every_minutes: float = 3.0, on_checkpoint: Callable[[], None] | None = None,
                 checkpoint_every_steps: int | None = None) -> None:
        self.rank, self.world = distributed()
        self.out, self.run_dir = Path(out), Path(run_dir)
        self.show_progress = show_progress
        self.checkpoint_every_minutes = checkpoint_every_minutes
        self.checkpoint_every_steps = checkpoint_every_steps
        self.on_checkpoint = on_checkpoint
        if self.rank == 0:
            self.run_dir.mkdir(parents=True, exist_ok=True)
            self.out.parent.mkdir(parents=True, exist_ok=True)
        self.state_path = self.run_dir / "last.pt"
        self.step, self.elapsed, self.rows = 0, 0.0, []

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    def log(self, message: str) -> None:
        """A time-stamped line in `<out>.log` (rank 0), printed too with `show_progress`."""
        if not self.is_main:
            return
        line = f"{time.strftime('%H:%M:%S')} {message}"
        if self.show_progress:
            print(line, flush=True)
        with open(self.out.with_suffix(".log"), "a") as handle:
            handle.write(line + "\n")

    def start(self, model: torch.nn.Module, optimiser: torch.optim.Optimizer, ema_decay: float | None,
              rng: random.Random | None, generator: torch.Generator | None, config_line: str,
              config: dict | None = None, may_change: Collection[str] = ()) -> None:
        """Attach what is trained; resume from `run_dir/last.pt` when it exists, else log the config.

        `ema_decay` None keeps no EMA; `rng` / `generator` None: the recipe draws from neither (its
        data is keyed by the step). `config` (the run's settings) is stored with the state; a resume
        under a config that differs in any key but `may_change` (keys that do not change the weights
        a step produces, e.g. the output path or the time budget) is refused with a ValueError."""
        self.model, self.optimiser, self.rng, self.generator = model, optimiser, rng, generator
        self.ema = None if ema_decay is None else EMA(model, ema_decay)
        self.config = config
        if self.state_path.is_file():
            state = torch.load(self.state_path, weights_only=False)
            self._refuse_changed_config(state.get("config"), may_change)
            self.step, self.elapsed, self.rows = restore_training_state(
                state, model=model, ema=self.ema, optimiser=optimiser, rng=rng, generator=generator)
            self.log(f"resumed from {self.state_path} at step {self.step} ({self.elapsed / 60:.1f} min done)")
        else:
            self.log(config_line)

    def _refuse_changed_config(self, saved: dict | None, may_change: Collection[str]) -> None:
        if saved is None or self.config is None:  # a state written before configs were stored
            return
        changed = sorted(k for k in set(saved) | set(self.config)
                         if k not in may_change and saved.get(k, "<absent>") != self.config.get(k, "<absent>"))
        if changed:
            differences = ", ".join(f"{k}: {saved.get(k, '<absent>')!r} -> {self.config.get(k, '<absent>')!r}"
                                    for k in changed)
            raise ValueError(f"{self.state_path} was written by a run with another config ({differences}); "
                             f"resume with the values it had, or delete {self.run_dir} to start over")

    @property
    def weights(self) -> torch.nn.Module:
        """What the run exports: the EMA of the weights when one is kept, else the trained model."""
        return self.model if self.ema is None else self.ema.shadow

    def running(self, max_steps: int, max_minutes: float) -> bool:
        """Whether to take another step; the first call starts the clock (minutes count across resumes)
        and, with `show_progress`, a progress bar of the budget used (steps or minutes, whichever leads)."""
        if not hasattr(self, "_clock_start"):
            self._clock_start = time.time() - self.elapsed
            self._last_checkpoint = time.time()
            self.model.train()
            self._bar = self._start_bar()
        going = self.step < max_steps and self.elapsed < max_minutes * 60
        if self._bar is not None:
            used = max(self.step / max_steps, self.elapsed / (max_minutes * 60))
            loss = self.rows[-1]["loss"] if self.rows else math.nan
            self._bar.update(self._bar.task_ids[0], completed=min(used, 1.0), step=self.step, loss=loss)
            if not going:
                self._bar.stop()
        return going

    def _start_bar(self) -> Progress | None:
        if not (self.show_progress and self.is_main):
            return None
        bar = Progress(TextColumn(f"training {self.out.stem}"), BarColumn(), TaskProgressColumn(),
                       TextColumn("step {task.fields[step]} loss {task.fields[loss]:.4f}"), TimeElapsedColumn(),
                       TimeRemainingColumn())
        bar.add_task("budget", total=1.0, step=self.step, loss=math.nan)
        bar.start()
        atexit.register(bar.stop)  # a run stopped by an error still gives the terminal back its cursor
        return bar

    def end_step(self, loss: torch.Tensor, **fields) -> dict:
        """After the optimiser step: the EMA, the step count, rank 0's clock, the loss row (the loss
        averaged over ranks, with `fields`), the periodic log line and state. Returns the row."""
        if self.ema is not None:
            self.ema.update(self.model, self.step)
        self.step += 1
        global_loss = loss.detach().clone()
        clock = torch.tensor([time.time() - self._clock_start])
        if self.world > 1:
            dist.all_reduce(global_loss)
            global_loss /= self.world
            dist.broadcast(clock, 0)
        self.elapsed = float(clock)
        row = {"step": self.step, "loss": global_loss.item(), "time_s": self.elapsed, **fields}
        self.rows.append(row)
        if self.step % LOG_EVERY_STEPS == 0:
            recent = [r["loss"] for r in self.rows[-LOG_EVERY_STEPS:] if not math.isnan(r["loss"])]
            lr = f" lr {fields['lr']:.2e}" if "lr" in fields else ""
            self.log(f"step {self.step} loss {sum(recent) / len(recent):.4f}{lr} "
                     f"({self.step / max(self.elapsed, 1e-9):.2f} steps/s)")
        steps_due = self.checkpoint_every_steps is not None and self.step % self.checkpoint_every_steps == 0
        if steps_due or time.time() - self._last_checkpoint > self.checkpoint_every_minutes * 60:
            self.save_state()
            if self.on_checkpoint is not None and self.is_main:
                self.on_checkpoint()
            self._last_checkpoint = time.time()
        return row

    def save_state(self) -> None:
        """The resumable state, atomically (rank 0)."""
        if self.is_main:
            save_training_state(self.state_path, model=self.model, ema=self.ema, optimiser=self.optimiser,
                                rng=self.rng, generator=self.generator, step=self.step, elapsed=self.elapsed,
                                rows=self.rows, config=self.config)

    def export_weights(self) -> None:
        """The exported weights at `out` (float16) and the loss log so far (rank 0)."""
        if self.is_main:
            self.weights.save(self.out, dtype=torch.float16)
            write_loss_log(self.rows, self.out.with_name(self.out.stem + "_loss.parquet"))

    def export(self, report: dict, title: str, report_path: str | os.PathLike | None = None,
               save: Callable[[], None] | None = None) -> dict:
        """The end of a run (rank 0): the state, the exported weights (`save`, default float16 safetensors
        at `out`), the loss log and curve, and `report` with the checkpoint's size (`checkpoint_bytes`,
        in its place when `report` names it) at `report_path` (default `<out>_report.json`), every
        file atomically; then all ranks meet. Returns the report as written."""
        if self.is_main:
            self.save_state()
            if save is None:
                self.export_weights()
            else:
                save()
                write_loss_log(self.rows, self.out.with_name(self.out.stem + "_loss.parquet"))
            plot_loss_curve(self.rows, self.out.with_name(self.out.stem + "_loss.png"), title)
            report = {**report, "checkpoint_bytes": self.out.stat().st_size}
            path = Path(report_path) if report_path else self.out.with_name(self.out.stem + "_report.json")
            atomic_write_json(path, report)
        if self.world > 1:
            dist.barrier()
        return report
