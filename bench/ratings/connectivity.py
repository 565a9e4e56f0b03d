"""Is the comparison graph connected? Ratings of separate components are not comparable."""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from bench.ratings.battles import model_names


def comparison_components(battles: pd.DataFrame, models: list[str] | None = None) -> list[list[str]]:
    """Connected components of the graph whose edges are compared model pairs, largest first."""
    models = list(models) if models is not None else model_names(battles)
    idx = {m: k for k, m in enumerate(models)}
    a = battles["model_a"].map(idx).to_numpy()
    b = battles["model_b"].map(idx).to_numpy()
    graph = coo_matrix((np.ones(len(a)), (a, b)), shape=(len(models), len(models)))
    n, labels = connected_components(graph, directed=False)
    groups = [[models[k] for k in np.flatnonzero(labels == c)] for c in range(n)]
    return sorted(groups, key=lambda g: (-len(g), g))


def is_connected(battles: pd.DataFrame, models: list[str] | None = None) -> bool:
    """True when every model is linked to every other by a chain of compared pairs."""
    return len(comparison_components(battles, models)) <= 1
