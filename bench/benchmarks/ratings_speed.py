"""How fast the ratings are on a large (simulated) study.

    python -m bench.benchmarks.ratings_speed --votes 100000 --models 10 --bootstrap 1000 --permutations 1000

Times each stage on SIMULATED votes: aggregation to pair counts, Bradley–Terry MLE with its
bootstrap (multinomial resampling of the pair-count cells, batched Newton), online ELO-K32 in
logged order, and ELO over permuted orders (all permutations advance together as vectors).
"""

from __future__ import annotations

import argparse
import json
import platform
import resource
import time


def measure(votes: int = 100_000, models: int = 10, bootstrap: int = 1000, permutations: int = 1000,
            seed: int = 0) -> dict:
    """Time each rating stage on ``votes`` simulated battles; returns seconds per stage and the setup."""
    from bench.ratings import (
        count_pairs,
        elo_over_permutations,
        fit_bradley_terry,
        normalize_battles,
        online_elo,
    )
    from bench.votes.simulate import simulate_battles

    strengths = {f"model-{i:02d}": 1000.0 + 25.0 * i for i in range(models)}
    battles = normalize_battles(simulate_battles(strengths, votes, seed=seed, tie_rate=0.08, both_bad_rate=0.02))
    seconds = {}
    start = time.perf_counter()
    counts = count_pairs(battles)
    seconds["aggregate_pair_counts"] = time.perf_counter() - start
    start = time.perf_counter()
    fit_bradley_terry(counts, bootstrap=bootstrap, seed=seed)
    seconds[f"bradley_terry_with_{bootstrap}_bootstrap"] = time.perf_counter() - start
    start = time.perf_counter()
    online_elo(battles)
    seconds["elo_k32_logged_order"] = time.perf_counter() - start
    if permutations:
        start = time.perf_counter()
        elo_over_permutations(battles, permutations=permutations, seed=seed)
        seconds[f"elo_over_{permutations}_permutations"] = time.perf_counter() - start
    # Peak resident memory of the whole process (simulated votes included), for the permutation chunks' bound.
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {"simulated": True, "votes": votes, "models": models, "seconds": seconds, "peak_memory_mb": peak_mb,
            "machine": f"{platform.machine()} {platform.processor() or ''}".strip()}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--votes", type=int, default=100_000)
    parser.add_argument("--models", type=int, default=10)
    parser.add_argument("--bootstrap", type=int, default=1000)
    parser.add_argument("--permutations", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", action="store_true", help="print the result as JSON")
    args = parser.parse_args(argv)
    result = measure(args.votes, args.models, args.bootstrap, args.permutations, args.seed)
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        print(f"{args.votes} SIMULATED votes, {args.models} models:")
        for stage, value in result["seconds"].items():
            print(f"  {stage:<40} {value:8.2f} s")
        print(f"  {'peak memory of the process':<40} {result['peak_memory_mb']:8.0f} MB")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
