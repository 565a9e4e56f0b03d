"""Rating figures (matplotlib, Agg): intervals per model and the win-rate matrix."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from bench.ratings.report import SIMULATED_TITLE, RatingReport  # noqa: E402


def _title(report: RatingReport, text: str) -> str:
    return f"{text}\n{SIMULATED_TITLE}" if report.simulated else f"{text} (human votes)"


def _save(fig: plt.Figure, path: Path) -> Path:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.stem}.", suffix=path.suffix)
    os.close(fd)
    fig.savefig(tmp, dpi=120, bbox_inches="tight")
    plt.close(fig)
    os.replace(tmp, path)
    return path


def plot_ratings(report: RatingReport, path: str | Path) -> Path:
    """ELO-K32 (logged order), its permutation 95 % range and Bradley–Terry 95 % CIs per model."""
    board = report.leaderboard.iloc[::-1]
    y = np.arange(len(board))
    fig, ax = plt.subplots(figsize=(7, 0.5 * len(board) + 1.6))
    bt_err = np.vstack([board["bt"] - board["bt_lower"], board["bt_upper"] - board["bt"]])
    ax.errorbar(board["bt"], y + 0.15, xerr=np.nan_to_num(bt_err), fmt="o", color="tab:blue",
                capsize=3, label="Bradley–Terry, bootstrap 95 % CI")
    perm_err = np.vstack([board["elo_perm_median"] - board["elo_perm_lower"],
                          board["elo_perm_upper"] - board["elo_perm_median"]])
    ax.errorbar(board["elo_perm_median"], y - 0.15, xerr=np.nan_to_num(perm_err), fmt="s",
                color="tab:orange", capsize=3, label="ELO over permuted orders, median and 95 %")
    ax.plot(board["elo"], y - 0.15, "kx", label=f"ELO-K{report.config.k:g}, logged order")
    ax.set_yticks(y, board["model"])
    ax.set_xlabel("rating")
    ax.grid(axis="x", alpha=0.3)
    axes_height_in = fig.get_figheight() * ax.get_position().height
    ax.legend(fontsize=7, loc="upper center", bbox_to_anchor=(0.5, -0.5 / axes_height_in), ncol=1)
    ax.set_title(_title(report, "Ratings"), fontsize=9)
    return _save(fig, Path(path))


def plot_win_rates(report: RatingReport, path: str | Path) -> Path:
    """Heatmap of the row model's win rate against the column model, battle counts annotated."""
    order = list(report.leaderboard["model"])
    rate = report.pairs.pivot(index="model", columns="opponent", values="win_rate").reindex(index=order, columns=order)
    count = report.pairs.pivot(index="model", columns="opponent", values="battles").reindex(index=order, columns=order)
    n = len(order)
    fig, ax = plt.subplots(figsize=(1.0 + 0.7 * n, 0.8 + 0.6 * n))
    image = ax.imshow(rate.to_numpy(dtype=float), cmap="RdBu", vmin=0, vmax=1)
    for r in range(n):
        for c in range(n):
            value = rate.iat[r, c]
            if not np.isnan(value):
                ax.text(c, r, f"{value:.2f}\n({int(count.iat[r, c])})", ha="center", va="center", fontsize=6)
    ax.set_xticks(range(n), order, rotation=45, ha="right", fontsize=7)
    ax.set_yticks(range(n), order, fontsize=7)
    fig.colorbar(image, ax=ax, label="row's win rate (ties 0.5)")
    ax.set_title(_title(report, "Win rate (battles)"), fontsize=9)
    return _save(fig, Path(path))
