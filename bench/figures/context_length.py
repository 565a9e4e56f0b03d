"""Context length: tokens versus history length for each schedule, against the closed-form bound.

The counts are `Schedule.token_count` (what the packer produces); the bound is `Schedule.bound`,
(S + λ/(λ−1))·L_f; the paper's length function summed over T history frames,
S·L_f + L_f·(1 − λ^−T)/(1 − λ^−1), is drawn for reference.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from bench.figures.style import figure_style, row_colours
from framepack.schedule import Schedule, closed_form_tokens


def context_length_table(schedules: Sequence[Schedule | str], latent_hw: tuple[int, int] = (8, 8),
                         max_history: int = 64, lam: float = 2.0) -> pd.DataFrame:
    """Tokens for every history length 0..max_history of every schedule.

    Returns:
        schedule, history, tokens (Schedule.token_count), bound (Schedule.bound), closed_form
        (the paper's length function with the schedule's S).
    """
    if max_history < 0:
        raise ValueError(f"max_history must be >= 0, got {max_history}")
    records = []
    for schedule in schedules:
        parsed = Schedule.parse(schedule) if isinstance(schedule, str) else schedule
        bound = parsed.bound(latent_hw, lam)
        for history in range(max_history + 1):
            records.append({"schedule": str(parsed), "history": history,
                            "tokens": parsed.token_count(history, latent_hw), "bound": bound,
                            "closed_form": closed_form_tokens(history, parsed.frames_per_section, latent_hw, lam)})
    return pd.DataFrame(records, columns=["schedule", "history", "tokens", "bound", "closed_form"])


def draw_context_length(schedules: Sequence[Schedule | str], latent_hw: tuple[int, int] = (8, 8),
                        max_history: int = 64, lam: float = 2.0) -> Figure:
    """Step lines of tokens per history length, one per schedule, with each schedule's bound dashed."""
    table = context_length_table(schedules, latent_hw, max_history, lam)
    names = list(dict.fromkeys(table["schedule"]))
    colours = row_colours(names)
    with figure_style():
        figure = Figure(figsize=(6.4, 3.6))
        axis = figure.subplots()
        drawn_bounds: dict[float, str] = {}
        for position, name in enumerate(names):
            part = table[table["schedule"] == name]
            # Later lines are thinner, so schedules with equal counts (e.g. X and X+D) stay visible.
            width = max(0.9, 2.8 - 0.5 * position)
            axis.step(part["history"], part["tokens"], where="post", color=colours[name], lw=width, label=name)
            bound = float(part["bound"].iloc[0])
            axis.axhline(bound, color=colours[name], ls="--", lw=0.8, alpha=0.8)
            drawn_bounds.setdefault(bound, name)
        for bound in drawn_bounds:
            axis.text(max_history, bound, f" bound {bound:g}", va="bottom", ha="right", fontsize=6, color="0.3")
        frames_per_section = sorted({Schedule.parse(n).frames_per_section for n in names})
        for s in frames_per_section:
            history = np.arange(max_history + 1)
            curve = [closed_form_tokens(int(h), s, latent_hw, lam) for h in history]
            axis.plot(history, curve, color="0.45", ls=":", lw=1.0,
                      label=f"length function, S={s}, λ={lam:g}" if len(frames_per_section) > 1
                      else f"length function S·L_f + L_f·(1−λ^−T)/(1−λ^−1), λ={lam:g}")
        axis.set_xlabel("history length T (latent frames)")
        axis.set_ylabel("tokens per section (generated + context)")
        axis.set_xlim(0, max_history)
        axis.grid(axis="y")
        axis.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=6, frameon=False)
        axis.set_title(f"Context length vs history (latent {latent_hw[0]}×{latent_hw[1]}); dashed: (S + λ/(λ−1))·L_f")
    return figure
