"""`fpbench schedule NOTATION`: read a packing schedule and report its layout, token counts and bound."""

from __future__ import annotations

import argparse


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "schedule",
        help="parse a packing schedule (e.g. td_f16k4f4k2f1k1_g9) and show its token counts",
        description="Reads the paper's notation, prints it back, and lists the context tokens for several "
        "history lengths next to the closed-form bound (S + λ/(λ−1))·L_f.",
    )
    parser.add_argument("notation", help="schedule in the paper's notation, e.g. f1k1_x_g9_f1k1f2k2f16k4_td")
    parser.add_argument("--latent", nargs=2, type=int, default=(8, 8), metavar=("H", "W"), help="latent size (default 8 8)")
    parser.add_argument(
        "--history", nargs="+", type=int, default=(0, 1, 4, 19, 64, 512), help="history lengths in latent frames"
    )
    parser.add_argument("--lam", type=float, default=2.0, help="λ of the bound (default 2, as in the paper)")
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    parser.set_defaults(func=main)


def main(args: argparse.Namespace) -> int:
    import json

    from rich.console import Console
    from rich.table import Table

    from framepack.schedule import Schedule

    schedule = Schedule.parse(args.notation)
    latent = (int(args.latent[0]), int(args.latent[1]))
    report = {
        "schedule": str(schedule),
        "form": schedule.form,
        "frames_per_section": schedule.frames_per_section,
        "tail_mode": schedule.tail_mode,
        "discrete_history": schedule.discrete_history,
        "pieces": [type(piece).__name__ + ":" + str(piece) for piece in schedule.pieces],
        "latent_hw": list(latent),
        "bound": schedule.bound(latent, args.lam),
        "lam": args.lam,
        "token_counts": {str(h): schedule.token_count(h, latent) for h in args.history},
    }
    if args.json:
        print(json.dumps(report, indent=2))
        return 0
    console = Console()
    console.print(f"[bold]{report['schedule']}[/]  form={report['form']}  S={report['frames_per_section']}  "
                  f"tail={report['tail_mode']}  +D={report['discrete_history']}", highlight=False)
    console.print("pieces: " + "  ".join(report["pieces"]), highlight=False)
    console.print(f"closed-form bound (S + λ/(λ−1))·L_f = {report['bound']:.1f} tokens at λ={args.lam:g}, "
                  f"latent {latent[0]}×{latent[1]}", highlight=False)
    table = Table()
    table.add_column("history frames", justify="right")
    table.add_column("tokens", justify="right")
    table.add_column("of bound", justify="right")
    for history, count in report["token_counts"].items():
        table.add_row(history, str(count), f"{count / report['bound']:.2f}")
    console.print(table)
    most = max(report["token_counts"].values(), default=0)
    if most > report["bound"]:
        console.print(over_bound_note(schedule, most, report["bound"]), style="yellow", highlight=False)
    return 0


def over_bound_note(schedule, tokens: int, bound: float) -> str:
    """Why a schedule's tokens may exceed the closed-form bound (it is a bound for one layout only)."""
    full_detail = sum(group.frames for group in schedule.groups if group.kernel.compression == 1)
    reasons = []
    if full_detail > 1:
        reasons.append(f"this schedule keeps {full_detail} frames at full detail (k1), e.g. a start frame or an "
                       "endpoint beyond a gap `x`, where the bound allows one")
    reasons.append("kernels are rounded up to whole tokens, which costs most on small latents")
    return (f"{tokens} tokens exceed the bound by {tokens / bound - 1:.0%}. The bound holds when the i-th most "
            "important frame gets at most L_f/λ^i tokens; " + "; ".join(reasons) + ".")
