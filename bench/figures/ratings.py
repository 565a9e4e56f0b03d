"""ELO plots from the saved rating files: ratings with intervals, and the win-rate matrix.

Inputs are ratings/ratings.parquet (elo, elo_perm_median/lower/upper, bt, bt_lower/upper, simulated)
and ratings/pairs.parquet (model, opponent, win_rate, battles) as `fpbench rate` / `fpbench demo`
write them. Simulated votes are named in every title.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from bench.figures.style import figure_style
from bench.ratings.labels import SIMULATED_TITLE
from bench.row_labels import plain_name, row_label


def _source(board: pd.DataFrame) -> str:
    simulated = "simulated" in board and bool(board["simulated"].any())
    return SIMULATED_TITLE if simulated else "human votes"


def draw_rating_intervals(board: pd.DataFrame, k: float = 32.0, title: str = "") -> Figure:
    """Per model: ELO-K32 in logged order, its median and 95 % range over permuted vote orders,
    and the Bradley–Terry estimate with its bootstrap 95 % interval."""
    if board.empty:
        raise ValueError("the ratings table is empty: nothing to plot")
    board = board.sort_values("elo").reset_index(drop=True)
    y = np.arange(len(board))
    with figure_style():
        figure = Figure(figsize=(6.0, 0.42 * len(board) + 1.5))
        axis = figure.subplots()
        bt_error = np.vstack([board["bt"] - board["bt_lower"], board["bt_upper"] - board["bt"]])
        axis.errorbar(board["bt"], y + 0.15, xerr=np.nan_to_num(bt_error), fmt="o", color="#0072B2", capsize=3,
                      ms=4, label="Bradley–Terry, bootstrap 95 % CI")
        if board["elo_perm_median"].notna().any():
            perm_error = np.vstack([board["elo_perm_median"] - board["elo_perm_lower"],
                                    board["elo_perm_upper"] - board["elo_perm_median"]])
            axis.errorbar(board["elo_perm_median"], y - 0.15, xerr=np.nan_to_num(perm_error), fmt="s",
                          color="#E69F00", capsize=3, ms=4, label="ELO over permuted vote orders: median, 95 %")
        axis.plot(board["elo"], y - 0.15, "x", color="black", label=f"ELO-K{k:g}, logged order")
        axis.set_yticks(y, [row_label(str(model)) for model in board["model"]])
        axis.set_xlabel("rating (Elo scale)")
        axis.grid(axis="x")
        axis_height = figure.get_figheight() * axis.get_position().height  # inches
        axis.legend(loc="upper center", bbox_to_anchor=(0.5, -0.5 / axis_height), ncol=2, frameon=False)
        axis.set_title(f"{title}{': ' if title else ''}ratings — {_source(board)}")
    return figure


def draw_win_rate_matrix(pairs: pd.DataFrame, order: list[str], title: str = "", simulated: bool = False) -> Figure:
    """Heatmap: the row model's win rate against the column model (ties count 0.5), battles annotated."""
    if pairs.empty:
        raise ValueError("the pairs table is empty: nothing to plot")
    rate = pairs.pivot(index="model", columns="opponent", values="win_rate").reindex(index=order, columns=order)
    count = pairs.pivot(index="model", columns="opponent", values="battles").reindex(index=order, columns=order)
    n = len(order)
    with figure_style():
        figure = Figure(figsize=(1.6 + 0.75 * n, 1.0 + 0.6 * n))
        axis = figure.subplots()
        image = axis.imshow(rate.to_numpy(dtype=float), cmap="RdBu", vmin=0, vmax=1)
        for r in range(n):
            for c in range(n):
                value = rate.iat[r, c]
                if not np.isnan(value):
                    axis.text(c, r, f"{value:.2f}\n({int(count.iat[r, c])})", ha="center", va="center", fontsize=6)
        axis.set_xticks(range(n), [plain_name(str(model)) for model in order], rotation=40, ha="right")
        axis.set_yticks(range(n), [row_label(str(model)) for model in order])
        axis.spines[:].set_visible(False)
        figure.colorbar(image, ax=axis, label="row's win rate (ties 0.5)", shrink=0.8)
        source = SIMULATED_TITLE if simulated else "human votes"
        axis.set_title(f"{title}{': ' if title else ''}win rate (battles) — {source}")
    return figure
