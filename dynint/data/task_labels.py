"""The labels of the multitask models, derived from CTR samples that carry ratings.

A sample is *engaged* when its target is the true next item (CTR label 1); only engaged samples
have a rating, so `like` (rating >= threshold) and `rating` are defined on them alone, as
conversion is defined only on clicks. `ctcvr` (engaged and liked) is defined on every sample.
Each function works on numpy and JAX arrays alike.
"""

from __future__ import annotations

from typing import Any


def engaged(labels: Any) -> Any:
    """Where the sample is engaged (its target is the true next item), as booleans."""
    return labels > 0


def like_labels(labels: Any, ratings: Any, threshold: float) -> Any:
    """1.0 for an engaged sample rated at least `threshold`, else 0.0 (non-engaged samples get 0,
    but their like label is undefined: every like loss and metric leaves them out)."""
    return (engaged(labels) & (ratings >= threshold)).astype(ratings.dtype)


def ctcvr_labels(labels: Any, ratings: Any, threshold: float) -> Any:
    """Engaged and liked (ESMM's click-and-convert label), defined on every sample."""
    return like_labels(labels, ratings, threshold)
