"""`fpbench agreement STUDY|VOTES --results RESULTS`: which metric agrees with the A/B votes."""

from __future__ import annotations

import argparse
from pathlib import Path

from bench.cli._arg_types import seed


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "agreement", help="agreement of every metric and drift value with A/B votes (share of votes, Kendall's τ)",
        description="For every metric value of a grid's results (score, start-end Δ, VDE), the share of decisive "
                    "A/B votes whose winner the metric prefers (95 %% bootstrap interval) and Kendall's τ between "
                    "the metric's row order and the Bradley–Terry order. Writes agreement.md, agreement.parquet, "
                    "agreement.json and a figure. Simulated votes are labelled SIMULATED.")
    parser.add_argument("votes", metavar="STUDY|VOTES",
                        help="a study folder, or a votes file (.jsonl/.csv/.json FastChat/.parquet battles)")
    parser.add_argument("--results", required=True, metavar="RESULTS",
                        help="the results folder of the grid the votes compared (results/<grid>, with scores.parquet)")
    parser.add_argument("--bootstrap", type=int, default=1000, help="bootstrap rounds for the agreement interval")
    parser.add_argument("--seed", type=seed, default=0, help="bootstrap seed (default 0)")
    parser.add_argument("--out", default=None, help="output folder (default: RESULTS/agreement)")
    parser.add_argument("--no-figure", action="store_true", help="skip the figure")
    parser.set_defaults(func=main)


def main(args: argparse.Namespace) -> int:
    import io
    import json

    from bench.analysis.metric_agreement import agreement_markdown, metric_agreement
    from bench.analysis.results_folder import load_results
    from bench.atomic_files import atomic_write, atomic_write_text
    from bench.votes.exchange import read_battles, study_battles
    from bench.votes.study import STUDY_FILE

    if args.bootstrap < 0:
        raise ValueError(f"--bootstrap must be >= 0, got {args.bootstrap}")
    source = Path(args.votes)
    if source.is_dir():
        if not (source / STUDY_FILE).is_file():
            raise FileNotFoundError(f"{source} is a folder but not a study ({STUDY_FILE} missing)")
        battles = study_battles(source)
    elif source.suffix == ".parquet":
        if not source.is_file():
            raise FileNotFoundError(f"votes file {source} does not exist")
        import pandas as pd

        battles = pd.read_parquet(source)
    else:
        battles = read_battles(source)
    results = load_results(args.results)
    report = metric_agreement(battles, results.scores, results.directions, bootstrap=args.bootstrap, seed=args.seed,
                              drift_metrics=results.drift_metrics or None)
    out = Path(args.out) if args.out else Path(args.results) / "agreement"
    out.mkdir(parents=True, exist_ok=True)
    markdown = agreement_markdown(report)
    atomic_write_text(out / "agreement.md", markdown)
    atomic_write_text(out / "agreement.json", json.dumps(report.to_json(), indent=2) + "\n")
    buffer = io.BytesIO()
    report.table.assign(simulated=report.simulated).to_parquet(buffer, index=False)
    data = buffer.getvalue()
    atomic_write(out / "agreement.parquet", lambda stream: stream.write(data))
    if not args.no_figure:
        from bench.figures.metric_agreement import draw_metric_agreement
        from bench.figures.style import save_figure

        save_figure(draw_metric_agreement(report.table, report.simulated, results.name), out / "agreement")
    print(markdown)
    print(f"wrote {out}")
    return 0
