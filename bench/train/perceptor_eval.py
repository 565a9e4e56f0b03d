"""Held-out accuracy of the lab perceptor, on frames and clips it was never trained on.

Two kinds of held-out data, both from streams disjoint from training:
- random labelled frames (present or not, broken or intact, clean or degraded), like training;
- clean clips from VALIDATION_SEEDS, the frames the metrics will mostly see;
- frames of no world at all (junk), where no subject should be seen.
"""

from __future__ import annotations

import numpy as np
from scipy.stats import pearsonr, rankdata, spearmanr

from bench.world import (
    COLOURS,
    JUNK_KINDS,
    SHAPES,
    VALIDATION_SEEDS,
    junk_frame,
    sample_clip,
    sample_labelled_frame,
)
from metrics.lab.perceptor import LabPerceptor

EVAL_STREAM = 8_000  # entropy word of evaluation streams (training uses another)
MILD_LEVEL = 0.3  # identity is compared on frames no more degraded than this


def roc_auc(scores: np.ndarray, labels: np.ndarray) -> float:
    """Area under the ROC curve (Mann–Whitney form, ties counted half)."""
    scores, labels = np.asarray(scores, float), np.asarray(labels, bool)
    positives, negatives = labels.sum(), (~labels).sum()
    if positives == 0 or negatives == 0:
        raise ValueError("roc_auc needs both positive and negative examples")
    ranks = rankdata(scores)
    return float((ranks[labels].sum() - positives * (positives + 1) / 2) / (positives * negatives))


def verification_auc(embeddings: np.ndarray, identities: np.ndarray, rng: np.random.Generator,
                     max_pairs: int = 20_000) -> float:
    """AUC of cosine similarity for telling same-identity pairs from different-identity pairs."""
    n = len(embeddings)
    i, j = rng.integers(n, size=max_pairs), rng.integers(n, size=max_pairs)
    keep = i != j
    i, j = i[keep], j[keep]
    cosine = np.einsum("nd,nd->n", embeddings[i], embeddings[j])
    return roc_auc(cosine, identities[i] == identities[j])


def _frame_report(perceptor: LabPerceptor, num_frames: int) -> dict[str, float]:
    rng = np.random.default_rng([EVAL_STREAM, VALIDATION_SEEDS.start, 1])
    samples = [sample_labelled_frame(rng) for _ in range(num_frames)]
    p = perceptor.perceive(np.stack([s.frame for s in samples]))
    states = [s.state for s in samples]
    present = np.array([s.present for s in states])
    level = np.array([s.degradation.level for s in samples])
    colour_shift = np.array([s.degradation.colour_shift for s in samples])
    structure = np.array([s.structure for s in states])
    truth_xy = np.array([(s.x, s.y) for s in states])
    error = np.linalg.norm(p.position - truth_xy, axis=1)[present]
    shape_true = np.array([SHAPES.index(s.shape) for s in states])
    colour_true = np.array([COLOURS.index(s.colour) for s in states])
    identity_true = np.array([s.identity for s in states])
    face_readable = present & np.isin(structure, ("intact", "extra_eye", "torn")) & (level <= MILD_LEVEL)
    colour_mask = present & (colour_shift < 0.25)
    clean = present & (level == 0)
    return {
        "frames": int(num_frames),
        "presence_accuracy": float(np.mean((p.present > 0.5) == present)),
        "position_error_px_mean": float(error.mean()),
        "position_error_px_median": float(np.median(error)),
        "position_error_px_p95": float(np.percentile(error, 95)),
        "shape_accuracy": float(np.mean(p.shape_probs.argmax(1)[present] == shape_true[present])),
        "shape_accuracy_clean": float(np.mean(p.shape_probs.argmax(1)[clean] == shape_true[clean])),
        "colour_accuracy": float(np.mean(p.colour_probs.argmax(1)[colour_mask] == colour_true[colour_mask])),
        "identity_accuracy_mild": float(np.mean(p.identity_probs.argmax(1)[face_readable]
                                                == identity_true[face_readable])),
        "identity_verification_auc_mild": verification_auc(
            p.identity[face_readable], identity_true[face_readable], np.random.default_rng(0)
        ),
        "structure_auc": roc_auc(p.structure_intact[present], structure[present] == "intact"),
        "structure_auc_clean": roc_auc(p.structure_intact[clean], structure[clean] == "intact"),
        "degradation_spearman": float(spearmanr(p.degradation, level).statistic),
        "degradation_pearson": float(pearsonr(p.degradation, level).statistic),
        "degradation_mae": float(np.mean(np.abs(p.degradation - level))),
    }


def _clip_report(perceptor: LabPerceptor, num_clips: int) -> dict[str, float]:
    frames, states = [], []
    for k in range(num_clips):
        clip = sample_clip(VALIDATION_SEEDS.start + 1_000 + k, 16)
        frames.append(clip.frames[::2])
        states.extend(clip.states[::2])
    p = perceptor.perceive(np.concatenate(frames))
    truth_xy = np.array([(s.x, s.y) for s in states])
    identity_true = np.array([s.identity for s in states])
    error = np.linalg.norm(p.position - truth_xy, axis=1)
    return {
        "clips": int(num_clips),
        "clip_frames": len(states),
        "clip_presence_rate": float(np.mean(p.present > 0.5)),
        "clip_position_error_px_mean": float(error.mean()),
        "clip_position_error_px_p95": float(np.percentile(error, 95)),
        "clip_shape_accuracy": float(np.mean(np.array(p.shape) == np.array([s.shape for s in states]))),
        "clip_colour_accuracy": float(np.mean(np.array(p.colour) == np.array([s.colour for s in states]))),
        "clip_identity_accuracy": float(np.mean(p.identity_probs.argmax(1) == identity_true)),
        "clip_identity_verification_auc": verification_auc(p.identity, identity_true, np.random.default_rng(1)),
        "clip_structure_intact_mean": float(np.mean(p.structure_intact)),
        "clip_degradation_mean": float(np.mean(p.degradation)),
    }


def _junk_report(perceptor: LabPerceptor, per_kind: int) -> dict[str, float]:
    rng = np.random.default_rng([EVAL_STREAM, VALIDATION_SEEDS.start, 2])
    report = {}
    for kind in JUNK_KINDS:
        p = perceptor.perceive(np.stack([junk_frame(rng, kind) for _ in range(per_kind)]))
        report[f"junk_{kind}_present_rate"] = float(np.mean(p.present > 0.5))
        report[f"junk_{kind}_degradation_mean"] = float(np.mean(p.degradation))
    return report


def evaluate_perceptor(perceptor: LabPerceptor, num_frames: int = 2000, num_clips: int = 48,
                       junk_per_kind: int = 100) -> dict[str, float]:
    """Held-out accuracies of `perceptor` (see the module docstring); a flat JSON-able dict.

    Args:
        num_frames: random labelled frames (mixed presence, structure, degradation).
        num_clips: clean validation clips (8 frames each).
        junk_per_kind: frames of each junk kind (no world): how often a subject is wrongly seen.
    """
    return {**_frame_report(perceptor, num_frames), **_clip_report(perceptor, num_clips),
            **_junk_report(perceptor, junk_per_kind)}
