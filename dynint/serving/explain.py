"""Why a run recommends what it does: per recommended item, the weight of each recent history item.

Methods (`method`; `auto` takes the model's own mechanism where it has one):
- `neighbours` (ItemKNN): each history event's exact share of the item's score, its recency
  weight times its similarity to the item (the shares sum to the score);
- `target-attention` (DIN, DIEN): the weight the model's attention gives each history item with
  the recommended item as the target, so each recommendation has its own reasons;
- `attention` / `attention-rollout` (SASRec, sparse SASRec, BERT4Rec): the attention the scored
  representation pays to each history item, last layer or rolled out through the layers
  (`dynint.serving.attention`); one weight per history item, the same for every recommendation,
  since these models encode the history without looking at the candidate;
- `occlusion` (every model and baseline; `auto` for the others, GRU4Rec, HSTU and BST among them):
  `score(item | history) - score(item | history without j)`, what the recommendation loses when
  event `j` is removed (positive: the event supports it).

Only the latest `window` events are weighed (a sequence model reads at most its `max_length`).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np

from dynint.data.ragged import Ragged
from dynint.errors import DynintError
from dynint.eval.scorer import score_items
from dynint.io import write_json_atomic, write_text_atomic
from dynint.serving.loading import LoadedRun, Recommendation

DEFAULT_WINDOW = 20
ExplainMethod = Literal["auto", "occlusion", "attention", "attention-rollout", "target-attention", "neighbours"]
METHODS: tuple[str, ...] = ("auto", "occlusion", "attention", "attention-rollout", "target-attention", "neighbours")
_MEANING = {
    "occlusion": "the score each loses without that item",
    "attention": "the last layer's attention on each item, mean over heads",
    "attention-rollout": "attention rolled out through every layer, mean over heads",
    "neighbours": "each item's recency weight times its similarity to the recommendation",
    "target-attention": "the model's attention on each item with the recommendation as its target",
}


class ExplanationUnavailable(DynintError, ValueError):
    """The method asked for cannot explain this run (its model lacks the mechanism) or this user."""


@dataclass(frozen=True)
class Explanation:
    """`weights[i, j]`: how much history item `history[j]` adds to recommendation `i`'s score."""

    user: str
    method: str
    history: list[str]
    history_titles: list[str | None]
    recommendations: list[Recommendation]
    weights: np.ndarray

    def top_reasons(self, count: int = 3) -> list[list[tuple[str, float]]]:
        """Per recommendation, its `count` most supporting history items (raw id, weight)."""
        order = np.argsort(-self.weights, axis=1, kind="stable")[:, :count]
        return [[(self.history[j], float(self.weights[i, j])) for j in row] for i, row in enumerate(order)]

    def to_json(self) -> dict[str, Any]:
        return {
            "user": self.user,
            "method": self.method,
            "history": self.history,
            "recommendations": [asdict(r) for r in self.recommendations],
            "weights": self.weights.round(6).tolist(),
        }

    def to_markdown(self, count: int = 3) -> str:
        lines = [
            f"Recommendations for user {self.user} and the history items behind them ({self.method}: "
            f"{_MEANING[self.method]}).",
            "",
            "| rank | item | score | strongest reasons (history item: weight) |",
            "| --- | --- | --- | --- |",
        ]
        titles = dict(zip(self.history, self.history_titles, strict=True))
        for rank, (recommendation, reasons) in enumerate(
            zip(self.recommendations, self.top_reasons(count), strict=True), 1
        ):
            name = recommendation.item + (f" {recommendation.title}" if recommendation.title else "")
            why = "; ".join(f"{item}{' ' + titles[item] if titles[item] else ''}: {w:+.3f}" for item, w in reasons)
            lines.append(f"| {rank} | {name} | {recommendation.score:.4f} | {why} |")
        return "\n".join(lines) + "\n"


def explain_user(
    run: LoadedRun, user: Any, k: int = 10, window: int = DEFAULT_WINDOW, method: ExplainMethod = "auto"
) -> Explanation:
    """Weights of the last `window` history items (a sequence model: at most its `max_length`)
    for each of the user's top-`k` recommendations, by `method` (see the module notes)."""
    if method not in METHODS:
        raise ExplanationUnavailable(f"method={method!r}: expected one of {', '.join(METHODS)}")
    recommendations = run.recommend_user(user, k)
    history = run.history_of(user)
    width = min(len(history), window, run.config.train.max_length)
    if width == 0:
        raise ExplanationUnavailable(f"user {user!r} has no events to explain recommendations with")
    chosen = _own_mechanism(run) if method == "auto" else method
    items = np.array([run.item_index(r.item) for r in recommendations])
    if chosen == "occlusion":
        weights = _occlusion(run, run.user_index(user), history, items, width)
    elif chosen == "neighbours":
        if not hasattr(run.scorer, "contributions"):
            raise ExplanationUnavailable(
                f"method 'neighbours' explains ItemKNN runs; this run's model is {run.config.model.name!r}"
            )
        weights = run.scorer.contributions(run.user_index(user), history, items)[:, -width:]
    elif chosen == "target-attention":
        if not getattr(run.scorer, "has_target_attention", lambda: False)():
            raise ExplanationUnavailable(
                f"method 'target-attention' explains DIN and DIEN runs; this run's model is {run.config.model.name!r}"
            )
        weights = run.scorer.target_attention(history, items)[:, -width:]
    else:
        weights = _attention(run, history, width, "rollout" if chosen == "attention-rollout" else "last-layer")
        weights = np.repeat(weights[None, :], len(items), axis=0)
    kept = history[len(history) - width :]
    raw, titles = run.data.interactions.item_ids, run.item_titles()
    return Explanation(
        user=str(user),
        method=chosen,
        history=[str(raw[i]) for i in kept],
        history_titles=[titles[i] if titles else None for i in kept],
        recommendations=recommendations,
        weights=np.asarray(weights, dtype=np.float64),
    )


def _own_mechanism(run: LoadedRun) -> str:
    """The method that reads the run's model itself: its neighbours, its attention, else occlusion."""
    if hasattr(run.scorer, "contributions"):
        return "neighbours"
    if getattr(run.scorer, "has_target_attention", lambda: False)():
        return "target-attention"
    from dynint.train.scoring import SequenceScorer

    if isinstance(run.scorer, SequenceScorer):
        from flax import nnx

        from dynint.serving.attention import attention_layers

        if attention_layers(nnx.merge(run.scorer.graphdef, run.scorer.params)) is not None:
            return "attention"
    return "occlusion"


def _occlusion(run: LoadedRun, user: int, history: np.ndarray, items: np.ndarray, width: int) -> np.ndarray:
    start = len(history) - width
    variants = [history] + [np.delete(history, start + j) for j in range(width)]
    users = np.full(len(variants), user, dtype=np.int64)
    scores = score_items(run.scorer, users, Ragged.from_rows(variants), items)  # (1 + width, k)
    return (scores[0][None, :] - scores[1:]).T  # (k, width)


def _attention(run: LoadedRun, history: np.ndarray, width: int, mode: str) -> np.ndarray:
    from dynint.serving.attention import AttentionUnavailable, history_attention
    from dynint.train.scoring import SequenceScorer

    scorer = run.scorer
    if not isinstance(scorer, SequenceScorer):
        raise ExplanationUnavailable(
            f"attention explains neural sequence models; this run's model is {run.config.model.name!r}"
        )
    try:
        weights = history_attention(scorer.graphdef, scorer.params, scorer.objective, scorer.max_length, history, mode)
    except AttentionUnavailable as error:
        raise ExplanationUnavailable(f"{error}; method 'occlusion' explains any model") from None
    return weights[-width:]


def write_explanation(explanation: Explanation, out_dir: str | Path) -> list[Path]:
    """`explanation.{md,json}` and, with matplotlib, `explanation.png` (a heat map) in `out_dir`."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    written = [out / "explanation.md", out / "explanation.json"]
    write_text_atomic(written[0], explanation.to_markdown())
    write_json_atomic(written[1], explanation.to_json())
    if _heat_map(explanation, out / "explanation.png"):
        written.append(out / "explanation.png")
    return written


def _heat_map(explanation: Explanation, path: Path) -> bool:
    from dynint.plotting import pyplot_or_none, save_figure

    plt = pyplot_or_none()
    if plt is None:
        return False
    weights = explanation.weights
    figure, axis = plt.subplots(figsize=(1.2 + 0.35 * weights.shape[1], 1.2 + 0.35 * weights.shape[0]))
    bound = float(np.abs(weights).max()) or 1.0
    image = axis.imshow(weights, cmap="RdBu_r", vmin=-bound, vmax=bound, aspect="auto")
    axis.set_xticks(range(weights.shape[1]), explanation.history, rotation=90, fontsize=7)
    axis.set_yticks(range(weights.shape[0]), [r.item for r in explanation.recommendations], fontsize=7)
    axis.set_xlabel("history item (oldest to newest)")
    axis.set_ylabel("recommended item")
    axis.set_title(f"user {explanation.user}: {_MEANING[explanation.method]}", fontsize=9)
    figure.colorbar(image, ax=axis, fraction=0.03)
    figure.tight_layout()
    save_figure(figure, path, dpi=120)
    return True
