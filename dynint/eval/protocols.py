"""Typed evaluation protocol configs; the config system embeds them and `evaluate_ranking` runs them."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from dynint.errors import ConfigError
from dynint.eval.beyond_accuracy import check_metric_names
from dynint.eval.rerank import RerankConfig


@dataclass(frozen=True)
class RankingProtocol:
    """How to rank each evaluation row's target: against all items (`full`) or against
    `num_negatives` sampled items (`sampled`, uniformly or by popularity), reporting
    metrics at each K in `ks`. `batch_size` and `item_chunk_size` bound memory only; they never
    change results. `kind="ctr"` (baselines only) evaluates instead under the CTR protocol of the
    config's `ctr` section, scoring each CTR sample's target (see `dynint.runner`).
    `beyond_accuracy` names metrics of the top-k lists themselves (`coverage`, `gini`, `novelty`,
    `popularity`, `diversity`, `activity`; see `dynint.eval.beyond_accuracy`), reported at each K
    beside the accuracy metrics; the lists cost one more pass over the catalogue, so none by
    default. `rerank` (full ranking only) re-ranks each row's best items before anything is
    measured (`dynint.eval.rerank`, MMR): accuracy then counts the target's place in the
    re-ranked top `max(ks)`."""

    kind: Literal["full", "sampled", "ctr"] = "full"
    ks: tuple[int, ...] = (5, 10, 20)
    exclude_seen: bool = True
    num_negatives: int = 100
    negative_sampling: Literal["uniform", "popularity"] = "uniform"
    batch_size: int = 256
    item_chunk_size: int | None = None
    seed: int = 0
    beyond_accuracy: tuple[str, ...] = ()
    rerank: RerankConfig = field(default_factory=RerankConfig)

    def __post_init__(self) -> None:
        if self.kind not in ("full", "sampled", "ctr"):
            raise ConfigError(f"kind={self.kind!r}: expected 'full', 'sampled' or 'ctr'")
        if self.negative_sampling not in ("uniform", "popularity"):
            raise ConfigError(f"negative_sampling={self.negative_sampling!r}: expected 'uniform' or 'popularity'")
        # YAML gives lists; keep the frozen config hashable.
        object.__setattr__(self, "ks", tuple(self.ks))
        object.__setattr__(self, "beyond_accuracy", tuple(self.beyond_accuracy))
        check_metric_names(self.beyond_accuracy)
        if self.rerank.kind != "none" and self.kind != "full":
            raise ConfigError(
                f"eval.rerank.kind={self.rerank.kind!r} re-ranks full rankings; eval.kind is {self.kind!r}"
            )
        if not self.ks or any(not isinstance(k, int) or isinstance(k, bool) or k < 1 for k in self.ks):
            raise ConfigError(f"ks={self.ks!r}: expected a non-empty list of positive integers")
        for key in ("num_negatives", "batch_size"):
            if getattr(self, key) < 1:
                raise ConfigError(f"{key}={getattr(self, key)!r}: expected a positive integer")
        if self.item_chunk_size is not None and self.item_chunk_size < 1:
            raise ConfigError(f"item_chunk_size={self.item_chunk_size!r}: expected a positive integer or null")
