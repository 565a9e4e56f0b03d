"""`fpbench votes …`: build a blind A/B study, invite annotators, serve, export/import, simulate."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from bench.cli._arg_types import seed

DEFAULT_STUDIES_DIR = "studies"


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("votes", help="blind A/B human evaluation: studies, invites, server, export",
                                   description="Blind A/B human evaluation of a grid's videos.")
    commands = parser.add_subparsers(dest="votes_command", metavar="ACTION", required=True)

    create = commands.add_parser("create-study", help="build a balanced blind study from a grid's finished videos",
                                 description="Pairs videos of different rows on the same prompt, seed and length, until every row has --per-row assessments (or, with --pairing adaptive, picks each next pair from the votes so far); adds gold items (a broken copy, a swapped repeat) for quality control. Writes STUDY/ (default studies/NAME).")
    create.add_argument("grid", metavar="GRID", help="grid YAML (its finished runs), or a video list "
                        "(.csv/.jsonl/.parquet with row, prompt_id, seed, video[, prompt])")
    create.add_argument("--name", required=True, help="study name")
    create.add_argument("--per-row", type=int, default=100, help="minimum assessments per row (paper: 100); with "
                        "--pairing adaptive, each annotator answers as many items as a round-robin study of this "
                        "size holds")
    create.add_argument("--seed", type=seed, default=0, help="seed of pairs, sides and blind ids")
    create.add_argument("--out", default=None, help=f"study folder (default: {DEFAULT_STUDIES_DIR}/NAME)")
    create.add_argument("--gold-broken", type=int, default=None, help="broken-video gold items (default 5 %%)")
    create.add_argument("--gold-swap", type=int, default=None, help="swapped-repeat gold items (default 5 %%)")
    create.add_argument("--pairing", choices=("round-robin", "adaptive"), default="round-robin",
                        help="round-robin: balanced rounds of every row pair (the paper's protocol, default); "
                             "adaptive: each next pair is the one whose vote most reduces the ranking's "
                             "uncertainty, chosen from the votes so far")
    create.add_argument("--floor", type=int, default=None, metavar="N",
                        help="adaptive pairing: votes every row gets before adaptive choice starts "
                             "(default 10, or --per-row if smaller)")
    create.add_argument("--store", default=None, metavar="DIR", help="run store of the grid (default: the grid's)")
    create.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                        help="grid override, as for `fpbench run`")
    create.set_defaults(func=create_study)

    invite = commands.add_parser("invite", help="issue an annotator token and print the invite link",
                                 description="Issues a secret token for one annotator and prints the link to send them. Run it before or while `fpbench votes serve` runs.")
    invite.add_argument("study", metavar="STUDY", help="study folder")
    invite.add_argument("name", metavar="NAME", help="annotator name (unique in the study)")
    invite.add_argument("--base-url", default="http://127.0.0.1:8000", help="where the server will be reached")
    invite.set_defaults(func=invite_annotator)

    serve = commands.add_parser("serve", help="run the vote web app (SQLite WAL store)",
                                 description="Serves the vote page for a study: both videos side by side, votes unlocked after both played. Every acknowledged vote is stored in STUDY/votes.sqlite. Stop with Ctrl-C; serve again to resume.")
    serve.add_argument("study", metavar="STUDY", help="study folder")
    serve.add_argument("--host", default="127.0.0.1", help="bind address (default loopback only)")
    serve.add_argument("--port", type=int, default=8000, help="port (default 8000)")
    serve.set_defaults(func=serve_study)

    status = commands.add_parser("status", help="progress per annotator and per row, gold-item scores",
                                 description="Prints votes per annotator and per row and each annotator's gold-item accuracy, read from the study (the server may be running).")
    status.add_argument("study", metavar="STUDY", help="study folder")
    status.set_defaults(func=study_status)

    export = commands.add_parser("export", help="write the votes as jsonl, csv or FastChat battles",
                                 description="Writes the study's votes to a file that `fpbench rate` and `fpbench votes import` read.")
    export.add_argument("study", metavar="STUDY", help="study folder")
    export.add_argument("--format", choices=("jsonl", "csv", "fastchat"), default="jsonl",
                        help="jsonl (one vote a line), csv, or fastchat (FastChat battles .json); default jsonl")
    export.add_argument("--out", default=None, help="output file (default: STUDY/votes.<ext>)")
    export.set_defaults(func=export_votes)

    imp = commands.add_parser("import", help="import votes (jsonl / csv / FastChat json) into a study",
                                 description="Adds votes from an exported file to a study; importing the same file twice adds nothing.")
    imp.add_argument("study", metavar="STUDY", help="study folder")
    imp.add_argument("file", metavar="FILE", help="votes file")
    imp.set_defaults(func=import_votes)

    simulate = commands.add_parser("simulate", help="SIMULATED judges vote on a study (labelled simulated)",
                                 description="SIMULATED judges vote on a study from chosen true strengths (--strength) or metric scores (--scores); every such vote is stored and reported as simulated, never as a human vote.")
    simulate.add_argument("study", metavar="STUDY", help="study folder")
    simulate.add_argument("--strength", action="append", default=[], metavar="ROW=ELO",
                          help="true strength of a row (repeat for every row)")
    simulate.add_argument("--scores", default=None, metavar="FILE",
                          help="csv with columns row,score (e.g. a lab metric's means) instead of --strength")
    simulate.add_argument("--lower-is-better", action="store_true", help="the --scores metric improves downward")
    simulate.add_argument("--annotators", type=int, default=5, help="number of simulated judges (default 5)")
    simulate.add_argument("--votes-per-annotator", type=int, default=None, help="default: each judge's whole queue")
    simulate.add_argument("--tie-rate", type=float, default=0.05, help="share of votes that are ties (default 0.05)")
    simulate.add_argument("--both-bad-rate", type=float, default=0.02,
                          help="share of votes that are 'both bad' (default 0.02)")
    simulate.add_argument("--judge-noise", type=float, default=30.0, help="per-judge strength noise (points)")
    simulate.add_argument("--seed", type=seed, default=0, help="seed of the judges' choices (default 0)")
    simulate.set_defaults(func=simulate_votes)


def _study_dir(path: str) -> Path:
    from bench.votes.study import STUDY_FILE

    directory = Path(path)
    if not (directory / STUDY_FILE).is_file():
        raise FileNotFoundError(f"no study at {directory} ({STUDY_FILE} missing); create one with "
                                "`fpbench votes create-study`")
    return directory


def create_study(args: argparse.Namespace) -> int:
    from bench.votes.grid_videos import RECORD_SUFFIXES, grid_video_records, read_video_records
    from bench.votes.study import create_study_from_videos

    source = Path(args.grid)
    if source.suffix.lower() in RECORD_SUFFIXES:
        records = read_video_records(source)
    else:
        from bench.grid import load_and_resolve
        from bench.run_store import RunStore

        grid = load_and_resolve(args.grid, args.overrides)
        records = grid_video_records(grid, RunStore(args.store or grid.spec.store))
        if not records:
            raise FileNotFoundError(f"grid {args.grid} has no finished videos yet; run `fpbench run {args.grid}`")
    out = Path(args.out) if args.out else Path(DEFAULT_STUDIES_DIR) / args.name
    if (out / "study.json").exists():
        raise ValueError(f"a study already exists at {out}; choose another --name or --out")
    if args.floor is not None and args.pairing != "adaptive":
        raise ValueError(f"--floor {args.floor} applies to --pairing adaptive only; drop it or add --pairing adaptive")
    study = create_study_from_videos(records, args.name, per_row=args.per_row, seed=args.seed, directory=out,
                                     gold_broken=args.gold_broken, gold_swap=args.gold_swap,
                                     pairing=args.pairing, floor=args.floor)
    kinds = {k: sum(1 for i in study.items if i.kind == k) for k in ("regular", "gold_broken", "gold_swap")}
    if study.pairing == "adaptive":
        print(f"study {study.name} at {out} (adaptive pairing): {len(study.rows)} rows, {kinds['regular']} "
              f"pairs to choose from; each annotator answers {study.regular_per_annotator} chosen from the votes "
              f"so far (every row at least {study.floor} votes first), {kinds['gold_broken']} broken-video gold "
              f"and {study.swap_slots} swapped gold")
        return 0
    print(f"study {study.name} at {out}: {len(study.rows)} rows, {kinds['regular']} pairs, "
          f"{kinds['gold_broken']} broken-video gold, {kinds['gold_swap']} swapped gold")
    print("assessments per row: " + ", ".join(f"{r}={n}" for r, n in study.assessments_per_row().items()))
    return 0


def invite_annotator(args: argparse.Namespace) -> int:
    from bench.votes.store import VoteStore
    from bench.votes.study import DB_FILE

    directory = _study_dir(args.study)
    store = VoteStore(directory / DB_FILE)
    _, token = store.add_annotator(args.name)
    store.close()
    print(f"{args.base_url.rstrip('/')}/a/{token}")
    return 0


def serve_study(args: argparse.Namespace) -> int:
    from bench.votes.app import is_loopback, serve

    directory = _study_dir(args.study)
    if not is_loopback(args.host):
        print(f"warning: serving on {args.host}, reachable from other machines; use TLS in front of it",
              file=sys.stderr)
    print(f"serving study {directory} on http://{args.host}:{args.port} (Ctrl-C stops)", flush=True)
    serve(directory, host=args.host, port=args.port)
    return 0


def study_progress(study_dir: Path) -> tuple:
    """(per-annotator table, per-row table) of a study's collection progress and gold scores."""
    import pandas as pd

    from bench.ratings import gold_accuracy, normalize_battles
    from bench.votes.adaptive_queue import annotator_plan
    from bench.votes.store import VoteStore, votes_to_battles
    from bench.votes.study import DB_FILE, annotator_queue, load_study

    study = load_study(study_dir)
    store = VoteStore(study_dir / DB_FILE)
    try:
        votes = store.votes()
        annotators = store.annotators()
    finally:
        store.close()
    battles = votes_to_battles(votes)
    gold = gold_accuracy(normalize_battles(battles)).set_index("judge") if len(battles) else None
    rows = []
    for ann in annotators.itertuples():
        mine = votes[votes["annotator_id"] == ann.annotator_id]
        queue = len(annotator_plan(study, ann.annotator_id) if study.pairing == "adaptive"
                    else annotator_queue(study, ann.annotator_id))
        entry = {"annotator": ann.name, "simulated": bool(ann.simulated), "answered": len(mine),
                 "queue": queue, "skipped": int((mine["choice"] == "skip").sum()),
                 "broken_accuracy": float("nan"), "swap_consistency": float("nan")}
        if gold is not None and ann.name in gold.index:
            entry["broken_accuracy"] = gold.loc[ann.name, "broken_accuracy"]
            entry["swap_consistency"] = gold.loc[ann.name, "swap_consistency"]
        rows.append(entry)
    per_annotator = pd.DataFrame(rows, columns=["annotator", "simulated", "answered", "queue", "skipped",
                                                "broken_accuracy", "swap_consistency"])
    regular = battles[battles["kind"] == "regular"] if len(battles) else battles
    counts = pd.concat([regular["model_a"], regular["model_b"]]).value_counts() if len(regular) else pd.Series()
    per_row = pd.DataFrame({"row": study.rows,
                            "assessments": [int(counts.get(row, 0)) for row in study.rows],
                            "target": study.per_row if study.pairing == "round-robin" else study.floor})
    return per_annotator, per_row


def study_status(args: argparse.Namespace) -> int:
    from rich.console import Console
    from rich.markup import escape  # annotator and row names are plain text, never markup
    from rich.table import Table

    directory = _study_dir(args.study)
    per_annotator, per_row = study_progress(directory)
    console = Console()
    table = Table(title=escape(f"study {directory}: annotators"))
    table.add_column("annotator", no_wrap=True)
    table.add_column("judge", no_wrap=True)
    for column in ("answered", "skipped", "broken ok", "swap same"):
        table.add_column(column, justify="right")
    fmt = lambda v: "–" if v != v else f"{v:.0%}"  # noqa: E731 (NaN check)
    for r in per_annotator.itertuples():
        table.add_row(escape(r.annotator), "SIMULATED" if r.simulated else "human", f"{r.answered} / {r.queue}", str(r.skipped), fmt(r.broken_accuracy),
                      fmt(r.swap_consistency))
    console.print(table)
    rows = Table(title="assessments per row (non-skip regular votes)")
    for column in ("row", "assessments", "target"):
        rows.add_column(column, justify="left" if column == "row" else "right")
    for r in per_row.itertuples():
        style = "green" if r.assessments >= r.target else None
        rows.add_row(escape(r.row), str(r.assessments), str(r.target), style=style)
    console.print(rows)
    return 0


def export_votes(args: argparse.Namespace) -> int:
    from bench.votes.exchange import export_battles, study_battles

    directory = _study_dir(args.study)
    battles = study_battles(directory)
    ext = {"jsonl": "jsonl", "csv": "csv", "fastchat": "json"}[args.format]
    out = Path(args.out) if args.out else directory / f"votes.{ext}"
    export_battles(battles, out, args.format)
    simulated = int(battles["simulated"].sum())
    note = f" ({simulated} SIMULATED)" if simulated else ""
    print(f"wrote {len(battles)} votes{note} to {out}")
    return 0


def import_votes(args: argparse.Namespace) -> int:
    from bench.votes.exchange import import_battles

    stored, present = import_battles(_study_dir(args.study), args.file)
    print(f"imported {stored} votes from {args.file} ({present} already present)")
    return 0


def _parse_strengths(items: list[str]) -> dict[str, float]:
    strengths = {}
    for item in items:
        name, sep, value = item.rpartition("=")
        try:
            strengths[name] = float(value)
        except ValueError:
            sep = ""
        if not sep or not name:
            raise ValueError(f"--strength expects ROW=ELO (e.g. vanilla=1050), got {item!r}")
    return strengths


def simulate_votes(args: argparse.Namespace) -> int:
    from bench.votes.simulate import simulate_study_votes, strengths_from_scores

    directory = _study_dir(args.study)
    if args.scores:
        import pandas as pd

        table = pd.read_csv(args.scores)
        if not {"row", "score"} <= set(table.columns):
            raise ValueError(f"{args.scores} needs columns row,score; has {list(table.columns)}")
        strengths = strengths_from_scores(dict(zip(table["row"].astype(str), table["score"], strict=True)),
                                          higher_is_better=not args.lower_is_better)
    elif args.strength:
        strengths = _parse_strengths(args.strength)
    else:
        raise ValueError("give the simulated judges true strengths: --strength ROW=ELO … or --scores FILE")
    stored = simulate_study_votes(directory, strengths, annotators=args.annotators,
                                  votes_per_annotator=args.votes_per_annotator, seed=args.seed,
                                  tie_rate=args.tie_rate, both_bad_rate=args.both_bad_rate,
                                  judge_noise=args.judge_noise)
    print(f"stored {stored} SIMULATED votes from {args.annotators} simulated judges in {directory}")
    return 0
