"""Generator kinds for the paper's alternative architectures (baselines/).

The baselines package may not import bench, so it cannot register itself; this module
reads what baselines/ exposes and registers one generator kind per baseline. Until the
baselines land, it registers nothing and `baseline: NAME` rows fail validation with the
list of known kinds.
"""

from __future__ import annotations
