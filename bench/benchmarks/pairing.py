"""How many votes each pairing scheme needs: SIMULATED judges of known strengths.

    python -m bench.benchmarks.pairing                      # 4, 10, 20 rows × seeds 3-5 × 200 studies
    python -m bench.benchmarks.pairing --rows 4 --seeds 0 --studies 20   # a quick look

Seeds 0-2 were used to choose the adaptive rule's neighbour weight (docs/votes.md); the reported
table uses seeds 3-5, which played no part in that choice.

Every simulated study draws true strengths for its rows (neighbouring gaps uniform in
[``min_gap``, ``max_gap``] Elo points, rows in random order) and lets SIMULATED judges vote by
Bradley–Terry on those strengths, with ties at ``tie_rate``. Both schemes see the same strengths:

- round-robin: votes spread evenly over every row pair, in rounds of all pairs in random order
  (the study's default, the paper's protocol);
- adaptive: :func:`bench.ratings.adaptive_pairing.choose_pairs` with a floor of votes per row;
  it refits after every ``growth − 1`` share of the votes so far (as when many annotators vote
  between two refits) and places each batch in greedy steps.

At a geometric grid of vote counts, Bradley–Terry is fitted to each study's votes and two targets
are checked: the true ranking recovered exactly, and every pair of neighbours in the fitted ranking
separated by the 95 % interval of its difference (Laplace). "Votes needed" is the first grid point
where at least 90 % of the studies meet the target. Results go to results/bench/pairing.json and
pairing.md; everything is labelled SIMULATED.
"""

from __future__ import annotations

import argparse
import platform
import resource
import time
from dataclasses import asdict, dataclass

import numpy as np

from bench.ratings.adaptive_pairing import all_pairs, choose_pairs, neighbour_z, strength_covariance
from bench.ratings.bradley_terry import LOG_ODDS_PER_POINT, fit_log_strengths

SCHEMES = ("round-robin", "adaptive")
TARGETS = ("true_ranking", "neighbours_separated")
Z_95 = 1.959964
OUT_NAME = "pairing"


@dataclass(frozen=True)
class PairingBenchmarkConfig:
    """What the pairing benchmark simulates (see the module docstring)."""

    rows: tuple[int, ...] = (4, 10, 20)
    seeds: tuple[int, ...] = (3, 4, 5)
    studies: int = 200
    min_gap: float = 20.0
    max_gap: float = 80.0
    tie_rate: float = 0.05
    floor: int = 10
    growth: float = 1.05
    max_votes: int = 400_000
    share: float = 0.9

    def __post_init__(self) -> None:
        if not self.rows or min(self.rows) < 2:
            raise ValueError(f"rows must all be >= 2, got {self.rows}")
        if self.studies < 1 or not self.seeds:
            raise ValueError(f"need >= 1 study and >= 1 seed, got studies={self.studies}, seeds={self.seeds}")
        if not 0 < self.min_gap <= self.max_gap:
            raise ValueError(f"need 0 < min_gap <= max_gap, got {self.min_gap}, {self.max_gap}")
        if not 0 <= self.tie_rate < 1 or not 0 < self.share <= 1 or self.growth <= 1:
            raise ValueError(f"tie_rate in [0, 1), share in (0, 1], growth > 1; got {self.tie_rate}, "
                             f"{self.share}, {self.growth}")


def true_strengths(rng: np.random.Generator, studies: int, n_rows: int, min_gap: float, max_gap: float) -> np.ndarray:
    """(studies, rows) Elo-scale strengths: random neighbour gaps, rows in random order."""
    gaps = rng.uniform(min_gap, max_gap, size=(studies, n_rows - 1))
    ladder = np.concatenate([np.zeros((studies, 1)), np.cumsum(gaps, axis=1)], axis=1)
    ladder -= ladder.mean(axis=1, keepdims=True)
    return 1000.0 + rng.permuted(ladder, axis=1)


def vote_grid(n_rows: int, floor: int, growth: float, max_votes: int) -> np.ndarray:
    """Vote counts at which the targets are checked: from one floor's worth, growing by ``growth``."""
    start = max(n_rows * (n_rows - 1) // 2, -(-n_rows * floor // 2))
    grid = [start]
    while grid[-1] < max_votes:
        grid.append(max(grid[-1] + 1, int(round(grid[-1] * growth))))
    return np.array(grid)


def round_robin_counts(n: int, studies: int, n_pairs: int, round_order) -> np.ndarray:
    """(S, Q) votes per pair after ``n`` round-robin votes; ``round_order(r)`` (S, Q) ranks pairs in round r."""
    full, partial = divmod(n, n_pairs)
    counts = np.full((studies, n_pairs), full, dtype=np.int64)
    if partial:
        counts += round_order(full) < partial
    return counts


def simulate_scheme(scheme: str, strengths: np.ndarray, config: PairingBenchmarkConfig,
                    rng: np.random.Generator) -> dict[str, np.ndarray]:
    """Run ``scheme`` on every study at once; the share of studies meeting each target per grid point."""
    s, m = strengths.shape
    i, j = all_pairs(m)
    q = len(i)
    grid = vote_grid(m, config.floor, config.growth, config.max_votes)
    p_true = 1.0 / (1.0 + np.exp(-LOG_ODDS_PER_POINT * (strengths[:, i] - strengths[:, j])))
    true_order = np.argsort(-strengths, axis=1)
    round_seed = int(rng.integers(2**63))

    def round_order(r: int) -> np.ndarray:  # each round's random pair order, drawn from its own stream
        return np.argsort(np.random.default_rng([round_seed, r]).random((s, q)), axis=1).argsort(axis=1)
    wins = np.zeros((s, q))
    totals = np.zeros((s, q), dtype=np.int64)
    met = {target: [] for target in TARGETS}
    for n in grid:
        if scheme == "round-robin":
            add = round_robin_counts(int(n), s, q, round_order) - totals
        else:
            add = choose_pairs(wins, totals, m, votes=int(n - totals[0].sum()), floor=config.floor, steps=8)
        ties = rng.binomial(add, config.tie_rate)
        wins += rng.binomial(add - ties, p_true) + 0.5 * ties
        totals += add
        theta = fit_log_strengths(i, j, wins, totals.astype(float), m, ridge=0.01)
        _, _, z = neighbour_z(theta, strength_covariance(theta, totals.astype(float), i, j))
        met["true_ranking"].append((np.argsort(-theta, axis=1) == true_order).all(axis=1).mean())
        met["neighbours_separated"].append((z > Z_95).all(axis=1).mean())
        if min(met[t][-1] for t in TARGETS) >= config.share and len(met["true_ranking"]) > 3:
            break
    done = len(met["true_ranking"])
    return {"votes": grid[:done], **{t: np.array(v) for t, v in met.items()}}


def votes_needed(curve: dict[str, np.ndarray], target: str, share: float) -> int | None:
    """First grid point where at least ``share`` of the studies meet ``target`` (None: never within the grid)."""
    hit = np.flatnonzero(curve[target] >= share)
    return int(curve["votes"][hit[0]]) if len(hit) else None


def run(config: PairingBenchmarkConfig, progress=None) -> list[dict]:
    """One result row per (rows, seed, scheme): votes needed for each target, and the seconds it took."""
    results = []
    for n_rows in config.rows:
        for seed in config.seeds:
            rng = np.random.default_rng([seed, n_rows])
            strengths = true_strengths(rng, config.studies, n_rows, config.min_gap, config.max_gap)
            for scheme in SCHEMES:
                start = time.process_time()
                curve = simulate_scheme(scheme, strengths, config, np.random.default_rng([seed, n_rows, 1]))
                results.append({
                    "rows": n_rows, "seed": seed, "scheme": scheme,
                    **{f"votes_{t}": votes_needed(curve, t, config.share) for t in TARGETS},
                    "cpu_seconds": round(time.process_time() - start, 2),
                })
                if progress is not None:
                    progress()
    return results


def summary_table(results: list[dict], config: PairingBenchmarkConfig) -> list[dict]:
    """Per (rows, target): median votes needed by each scheme over the seeds, and their ratio."""
    table = []
    for n_rows in config.rows:
        for target in TARGETS:
            entry: dict = {"rows": n_rows, "target": target}
            per_seed = {}
            for scheme in SCHEMES:
                values = [r[f"votes_{target}"] for r in results if r["rows"] == n_rows and r["scheme"] == scheme]
                per_seed[scheme] = values
                finite = [v for v in values if v is not None]
                entry[scheme] = float(np.median(finite)) if len(finite) == len(values) else None
            ratios = [a / b for a, b in zip(per_seed["adaptive"], per_seed["round-robin"], strict=True)
                      if a is not None and b is not None]
            entry["adaptive_over_round_robin"] = float(np.median(ratios)) if ratios else None
            entry["ratio_range"] = [float(min(ratios)), float(max(ratios))] if ratios else None
            table.append(entry)
    return table


TARGET_WORDS = {
    "true_ranking": "true ranking recovered",
    "neighbours_separated": "every neighbour pair separated (95 %)",
}


def markdown(report: dict) -> str:
    """The benchmark's table as markdown, titled SIMULATED."""
    cfg = report["config"]
    lines = [
        "**SIMULATED judges — not human votes.**",
        "",
        f"Votes needed until {cfg['share']:.0%} of {cfg['studies']} simulated studies meet the target "
        f"(median over seeds {list(cfg['seeds'])}; neighbour gaps uniform in [{cfg['min_gap']:g}, "
        f"{cfg['max_gap']:g}] Elo points, tie rate {cfg['tie_rate']:g}, adaptive floor {cfg['floor']} votes per row).",
        "",
        "| rows | target | round-robin | adaptive | adaptive / round-robin [range over seeds] |",
        "|---:|---|---:|---:|---:|",
    ]
    fmt = lambda v: "not reached" if v is None else f"{v:,.0f}"  # noqa: E731
    for row in report["table"]:
        ratio = "–" if row["adaptive_over_round_robin"] is None else (
            f"{row['adaptive_over_round_robin']:.2f} [{row['ratio_range'][0]:.2f}, {row['ratio_range'][1]:.2f}]")
        lines.append(f"| {row['rows']} | {TARGET_WORDS[row['target']]} | {fmt(row['round-robin'])} "
                     f"| {fmt(row['adaptive'])} | {ratio} |")
    lines += ["", f"Command: `{report['command']}`; {report['cpu_seconds']:.0f} s of CPU, "
              f"peak memory {report['peak_memory_mb']:.0f} MB ({report['machine']})."]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    from pathlib import Path

    from rich.progress import Progress

    from bench.atomic_files import atomic_write_json, atomic_write_text

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, nargs="+", default=[4, 10, 20], help="study sizes (rows) to simulate")
    parser.add_argument("--seeds", type=int, nargs="+", default=[3, 4, 5],
                        help="seeds; each draws its own studies (0-2 chose the rule's weight, so 3-5 report)")
    parser.add_argument("--studies", type=int, default=200, help="simulated studies per seed (the 90 %% is over these)")
    parser.add_argument("--out", default="results/bench", help="folder for pairing.json and pairing.md")
    args = parser.parse_args(argv)
    config = PairingBenchmarkConfig(rows=tuple(args.rows), seeds=tuple(args.seeds), studies=args.studies)
    start = time.process_time()
    with Progress() as progress:
        task = progress.add_task("SIMULATED pairing studies", total=len(config.rows) * len(config.seeds) * len(SCHEMES))
        results = run(config, progress=lambda: progress.advance(task))
    report = {
        "title": "SIMULATED judges — votes needed per pairing scheme",
        "simulated": True,
        "command": "python -m bench.benchmarks.pairing " + " ".join(argv if argv is not None else __import__("sys").argv[1:]),
        "config": asdict(config),
        "table": summary_table(results, config),
        "runs": results,
        "cpu_seconds": time.process_time() - start,
        "peak_memory_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "machine": f"{platform.machine()}, {platform.python_implementation()} {platform.python_version()}",
    }
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    atomic_write_json(out / f"{OUT_NAME}.json", report)
    text = markdown(report)
    atomic_write_text(out / f"{OUT_NAME}.md", text)
    print(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
