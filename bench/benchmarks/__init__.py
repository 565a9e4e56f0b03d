"""Timing benchmarks of the suite (run as modules, e.g. `python -m bench.benchmarks.ratings_speed`)."""
