"""`fpbench rate VOTES`: ELO-K32, permutation spread, Bradley–Terry with bootstrap, ranks, QC tables."""

from __future__ import annotations

import argparse
from pathlib import Path

from bench.cli._arg_types import seed


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "rate", help="ratings (ELO-K32, Bradley–Terry) from a study or an exported votes file",
        description="Read a study folder or a votes file (.jsonl/.csv/.json FastChat/.parquet) and write "
                    "ratings.parquet, pairs/annotators/gold parquet, ratings.md, summary.json and figures.")
    parser.add_argument("votes", metavar="VOTES", help="study folder or votes file")
    parser.add_argument("--k", type=float, default=32.0, help="online Elo step (paper: 32)")
    parser.add_argument("--permutations", type=int, default=1000, help="shuffled vote orders for the Elo spread")
    parser.add_argument("--bootstrap", type=int, default=1000, help="Bradley–Terry bootstrap rounds")
    parser.add_argument("--seed", type=seed, default=0, help="seed of the permutations and bootstrap (default 0)")
    parser.add_argument("--tie-band", type=float, default=16.0, help="ratings this close share a rank (paper: 16)")
    parser.add_argument("--min-votes", type=int, default=10, metavar="N",
                        help="fewest votes a row needs for a Bradley–Terry interval; rows with fewer (or whose "
                             "votes all went one way) get no interval and a note saying why (default 10)")
    parser.add_argument("--out", default=None, help="output folder (default: STUDY/ratings or FILE_ratings/)")
    parser.add_argument("--no-figures", action="store_true", help="skip ratings.png and win_rate.png")
    parser.set_defaults(func=main)


def print_leaderboard(console, report, markdown: str) -> None:
    """The leaderboard drawn for a terminal (ratings.md keeps the markdown), rows named in words and
    in the notation, then the report's notes (ranks, battles, agreement)."""
    import math

    import pandas as pd
    from rich.table import Table
    from rich.text import Text

    from bench.cli._table_output import row_text

    board = report.leaderboard
    split = board["component"].nunique() > 1  # rows never compared across groups: say which group
    title = "ratings" + (" — SIMULATED judges, not human votes" if report.simulated else "")
    table = Table(title=title, title_justify="left")
    for column in (("component",) if split else ()) + ("rank", "rank (UB)", "model", f"ELO-K{report.config.k:g}",
                                                       "ELO, shuffled orders [95 %]", "Bradley–Terry [95 %]",
                                                       "W / T / L"):
        table.add_column(column, justify="left" if column == "model" else "right", overflow="fold")

    def interval(centre: float, low: float, high: float) -> Text:  # Text: brackets are not rich markup
        if math.isnan(centre):
            return Text("–")
        return Text(f"{centre:.0f} [no interval†]" if math.isnan(low) or math.isnan(high) else
                    f"{centre:.0f} [{low:.0f}, {high:.0f}]")

    for row in board.itertuples():
        table.add_row(*((str(row.component),) if split else ()), str(row.rank),
                      "–" if pd.isna(row.rank_ub) else str(int(row.rank_ub)),
                      row_text(str(row.model)), f"{row.elo:.0f}",
                      interval(row.elo_perm_median, row.elo_perm_lower, row.elo_perm_upper),
                      interval(row.bt, row.bt_lower, row.bt_upper), f"{row.wins} / {row.ties} / {row.losses}")
    console.print(table)
    notes = [line for line in markdown.splitlines() if line.strip() and not line.startswith(("|", "**"))]
    console.print("\n".join(notes), markup=False, highlight=False)


def main(args: argparse.Namespace) -> int:
    import time

    from rich.console import Console

    from bench.ratings import RatingConfig, compute_ratings, markdown_table, write_report
    from bench.votes.exchange import read_battles, study_battles
    from bench.votes.study import STUDY_FILE

    source = Path(args.votes)
    if source.is_dir():
        if not (source / STUDY_FILE).is_file():
            raise FileNotFoundError(f"{source} is a folder but not a study ({STUDY_FILE} missing)")
        battles = study_battles(source)
        out = Path(args.out) if args.out else source / "ratings"
    else:
        battles = read_battles(source)
        out = Path(args.out) if args.out else source.with_name(source.stem + "_ratings")
    config = RatingConfig(k=args.k, permutations=args.permutations, bootstrap=args.bootstrap, seed=args.seed,
                          tie_band=args.tie_band, min_battles=args.min_votes)
    console = Console()
    start = time.perf_counter()
    with console.status(f"rating {len(battles)} votes ({args.permutations} orders, {args.bootstrap} bootstrap)"):
        report = compute_ratings(battles, config)
        written = write_report(report, out, figures=not args.no_figures)
    elapsed = time.perf_counter() - start
    print_leaderboard(console, report, markdown_table(report))
    seconds = ", ".join(f"{k} {v:.2f} s" for k, v in report.summary["seconds"].items())
    console.print(f"wrote {len(written)} files to {out} in {elapsed:.1f} s ({seconds})", markup=False)
    return 0
