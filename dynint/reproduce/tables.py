"""Table specifications: the rows (model configs) and data sets each results table runs."""

from __future__ import annotations

import difflib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from dynint.provenance import REPO_ROOT
from dynint.reproduce import beyond_accuracy_report, figures
from dynint.temporal import report as temporal_report

EXPERIMENTS_DIR = REPO_ROOT / "experiments"


@dataclass(frozen=True)
class RowSpec:
    """One model row: its id in the table, its experiment config, and the published row it faces.

    `max_seeds` caps the row's seeds below the table's (for the costliest rows; the table's notes
    must say so), and `overrides` are dotted config overrides the table applies to the config
    (`"train.max_epochs=40"`), both recorded with the row. Either may be given per data set as a
    mapping; data sets it does not name get no cap and no overrides. `datasets` limits the row to
    those of the table's data sets it can run on (a text model needs item text); None: all."""

    model: str
    config: str
    published_model: str | None = None
    notes: str = ""
    max_seeds: int | Mapping[str, int] | None = None
    overrides: tuple[str, ...] | Mapping[str, tuple[str, ...]] = ()
    datasets: tuple[str, ...] | None = None

    def runs_on(self, dataset: str) -> bool:
        return self.datasets is None or dataset in self.datasets

    def seed_cap(self, dataset: str) -> int | None:
        return self.max_seeds.get(dataset) if isinstance(self.max_seeds, Mapping) else self.max_seeds

    def overrides_for(self, dataset: str) -> tuple[str, ...]:
        return tuple(self.overrides.get(dataset, ()) if isinstance(self.overrides, Mapping) else self.overrides)


@dataclass(frozen=True)
class TableSpec:
    name: str
    description: str
    datasets: tuple[str, ...]
    rows: tuple[RowSpec, ...]
    protocol: dict
    metrics: tuple[str, ...]
    default_seeds: int = 3
    notes: tuple[str, ...] = field(default_factory=tuple)
    published_models: tuple[str, ...] = ()
    """Published rows (S3-Rec's, TIGER's; `dynint.reproduce.published`) shown beside ours for every data
    set a paper reports them on, whether or not we run that model."""
    record_columns: tuple[str, ...] = ()
    """Values of each run's record (`extra`), such as `parameters` and `train_time_s`, shown after
    the metrics as mean ± std over seeds."""
    row_details: Callable[[list[dict]], dict] | None = None
    """What a row keeps of its seeds' records beyond the columns (per-window curves, say)."""
    figure: Callable[[dict, Path], bool] | None = None
    """Draws the table's figure (`results/NAME.png`) from its JSON document; False when it cannot."""

    def config_path(self, row: RowSpec, dataset: str) -> Path:
        """The row's experiment file; `{dataset}` in `row.config` selects a per-data-set file."""
        return EXPERIMENTS_DIR / row.config.format(dataset=dataset)


_STREAM = {
    "kind": "stream",
    "windows": "10 windows of about equal event counts (dynint.temporal.windows); items renumbered by first "
    "appearance, so each window ranks the catalogue known by its end",
    "rows": "every event of a window with an earlier event of its user, predicted from all of them",
    "candidates": "all items seen by the end of the window",
    "exclude_seen": True,
    "ties": "equal scores ordered by item id, lower first",
    "validation": "window 0's latest 10 % of events (epochs of neural models chosen there)",
}
_TEMPORAL_NEURAL_SEEDS = 3
_TEMPORAL_NOTES = (
    "Seeds: the baselines are deterministic (one run each); the neural rows ran 3 seeds. Neural settings are "
    "seq-full-ranking's (experiments/temporal/); the epoch count of retrain is the one early stopping chose on "
    "window 0, and finetune (2 passes over the new window's events plus as many replayed older users) was fixed "
    "before any stream ran, not tuned. Added after the finetune rows had been seen, each reported whatever it "
    "gave: finetune-carry (finetune continuing the previous fit's Adam state instead of a fresh one) and "
    "finetune-es (temporal.finetune_patience: each fine-tune holds out the new window's latest 10 % of events, "
    "stops after 2 passes without a better validation NDCG@10, at most 8, keeps its best pass; the held-out "
    "events are the next fine-tune's first targets; 8 and 2 were set before its first run). "
    "sasrec-ce-finetune-es-tuned is the best of four early-stopped settings on the fine-tunes' own validation "
    "events (mean over the 8 fine-tunes of each one's best validation NDCG@10, ml-100k, seeds 0-2; "
    "results/explorations/temporal-finetune-es-ml-100k): replay 1 / at most 8 passes / patience 2: 0.0718; "
    "replay 2 / 8 / 2: 0.0733; replay 1 / 16 / 3: 0.0734; replay 2 / 16 / 3: 0.0753, chosen. The test windows "
    "decided nothing.",
    "mean / AUC: the mean of a metric over windows 1-9 and the area under its accuracy-over-time curve "
    "(trapezoids, time rescaled to [0, 1]). update time: all updates of the stream (the first fit on window 0 "
    "included); later update time: without that first fit, which every strategy makes alike. Item tables are "
    "allocated in blocks of 1,024 rows (ml-100k's 1,682 items: one block after window 0) and every fit of a "
    "stream batches in its first fit's shapes and, since 4e2678a, reuses the train step the stream's first fit "
    "traced and compiled (dynint/train/step_reuse.py; before it each fit retraced and relowered its step, which "
    "cost a fine-tune more than its training). Times are wall times on 2 CPU cores; since fb133c1 each "
    "update's process CPU time (all threads) is recorded beside it (later update CPU time), which other jobs "
    "on the machine stretch far less than wall time. The ml-100k SASRec-CE rows ran at fb133c1 on a quiet "
    "machine (the one other job on it was paused, SIGSTOP, for their 25 minutes); the other rows' wall times "
    "were taken with one or two other jobs beside them and compare only roughly.",
    "switch lag (synthetic only): per interest switch (a user who then stays 6 events in the new cluster), "
    "the new-cluster events the model sees until half of its top 10 (seen items excluded) lies in the new "
    "cluster (6 when never); mean over users. DIN and DIEN are CTR models and do not run under the stream yet.",
    "ml-100k, SASRec-CE (3 seeds, rerun at fb133c1 on the quiet machine; accuracy equals the runs at 4e2678a "
    "to the last digit, only times moved): retrain 0.0651 +- 0.0083 mean NDCG@10 with 183.4 s of later "
    "updates per stream (wall; 289.2 s CPU); finetune 0.0591 (91 %) in 10.7 s (0.058 of retrain's wall time); "
    "finetune-es 0.0613 +- 0.0026 (94 %) in 24.0 s (0.131); finetune-es-tuned 0.0642 +- 0.0039 (0.0596, "
    "0.0660, 0.0668; 98.6 %) in 36.6 s (0.1995 of retrain's wall time, 0.197 of its CPU time; 1.11 M against "
    "5.68 M examples processed by all updates, window 0's fit included); static 0.0385 +- 0.0133; "
    "finetune-carry 0.0521 (80 %). The criterion (at least 97 % of retrain's mean NDCG@10 at no more than one "
    "fifth of its total update time) is met by finetune-es-tuned on the 3-seed means, by a hair on time. Seed "
    "by seed the time ratio is 0.42, 0.14 and 0.17: retrain's cost follows the epoch count window 0's early "
    "stopping chose (15, 40 and 34 epochs for seeds 0-2) while a fine-tune's stays near 36 s. The earlier "
    "figures for these rows (at 4e2678a: retrain 295.7 s, tuned 67.6 s, 0.23) were taken with other jobs "
    "beside them, which stretched retrain's runs unevenly (92 s quiet against 134 s loaded on seed 0, 249 s "
    "against 409 s on seed 1); the quiet rerun replaces them. The window-0 model is weak and varies with the "
    "seed: window 0 holds 10 % of the log.",
    "synthetic, SASRec-CE: finetune 0.3862 against retrain 0.3859 (100 %) with 30.6 s of later updates against "
    "398.0 s (0.077; runs before 4e2678a: each fit still retraced its step); finetune-es 0.3870 (at 4e2678a); "
    "static 0.3484. Its switch lag (1.1 events) is below ItemKNN's (1.3 updated, 1.5 static) and PopRec's (6: "
    "never). GRU4Rec's early stopping on window 0 (2,000 users with about 3 events each) stops after a few "
    "epochs, and with a fixed 2 passes per fine-tune its streams stay near popularity (switch lag 6; finetune "
    "0.0667); early-stopped fine-tunes let it follow the switches: gru4rec-finetune-es 0.1795 +- 0.0465, "
    "switch lag 4.7. On ml-100k GRU4Rec stays below PopRec (0.0367): finetune-es 0.0291, finetune 0.0273, "
    "retrain 0.0228, static 0.0214, finetune-carry 0.0237. An epoch count chosen on the small window 0 does "
    "not carry to the larger retrains.",
    "ItemKNN: the incremental update scores exactly as the refit (same per-window metrics; "
    "tests/baselines/test_itemknn_incremental.py) having read 90,000 instead of 449,989 events, but takes about "
    "as long (2.0 s against 2.2 s of later updates here; benchmarks/itemknn_incremental_speed.py: 0.9 to 1.3 "
    "times the refit over ml-100k's windows, results/itemknn_incremental_speed_cpu_ml-100k.*). Re-deriving the "
    "pruned similarity dominates, and every column whose item gained a user must be re-pruned: nearly all "
    "columns each window.",
)


def _temporal_rows() -> tuple[RowSpec, ...]:
    """Each model under each of its update strategies (`finetune-carry`: a fine-tune that
    continues the optimizer state; `finetune-es`: up to 8 passes, early stopping on the new
    window's latest events)."""
    strategies = {
        "poprec": ("static", "retrain"),
        "itemknn": ("static", "retrain", "incremental"),
        "gru4rec": ("static", "retrain", "finetune", "finetune-carry", "finetune-es"),
        "sasrec-ce": ("static", "retrain", "finetune", "finetune-carry", "finetune-es"),
    }
    neural = ("gru4rec", "sasrec-ce")
    overrides = {
        "finetune-carry": ("temporal.strategy=finetune", "temporal.carry_optimizer_state=true"),
        "finetune-es": ("temporal.strategy=finetune", "temporal.finetune_epochs=8", "temporal.finetune_patience=2"),
    }
    rows = tuple(
        RowSpec(
            f"{model}-{strategy}",
            f"temporal/{model}.yaml",
            overrides=overrides.get(strategy, (f"temporal.strategy={strategy}",)),
            max_seeds=_TEMPORAL_NEURAL_SEEDS if model in neural else 1,
        )
        for model, models in strategies.items()
        for strategy in models
    )
    # The early-stopped fine-tune whose settings scored best on the fine-tunes' own validation events
    # among four (replay 1 or 2, at most 8 passes with patience 2 or 16 with patience 3; ml-100k, 3 seeds).
    tuned = RowSpec(
        "sasrec-ce-finetune-es-tuned",
        "temporal/sasrec-ce.yaml",
        overrides=(
            "temporal.strategy=finetune",
            "temporal.finetune_epochs=16",
            "temporal.finetune_patience=3",
            "temporal.replay_fraction=2",
        ),
        datasets=("ml-100k",),
        max_seeds=_TEMPORAL_NEURAL_SEEDS,
    )
    return (*rows, tuned)


_FULL_RANKING = {
    "kind": "full",
    "split": "leave-one-out (last event test, second to last validation, rest training)",
    "candidates": "all items",
    "exclude_seen": True,
    "ties": "equal scores ordered by item id, lower first",
}
_RANKING_METRICS = ("HR@5", "NDCG@5", "HR@10", "NDCG@10", "HR@20", "NDCG@20", "MRR@10")

POPREC_LEAK_NOTE = (
    "poprec-leaky counts popularity over all interactions, validation and test targets included "
    "(`split.fit_on_all_interactions=true`). That leaks the test answers into the ranker, and it is "
    "how the published S3-Rec PopRec row was computed: only this variant matches it. dynint's "
    "default poprec counts training events for validation and training plus validation events for "
    "test, never the test targets."
)

# The neural rows of seq-full-ranking are sized to fit working sessions on 2 CPU cores (see
# NEURAL_BUDGET_NOTE): SASRec-CE with the table's seeds, the other neural rows with one; the SASRec
# rows trained to early stopping, GRU4Rec and BERT4Rec capped in epochs on the Amazon sets.
_NEURAL_SEEDS = {"ml-100k": 1, "amazon-beauty": 1, "amazon-sports": 1}
_CAPPED_ML100K = {"ml-100k": ("train.max_epochs=100",)}
# SASRec on amazon-sports: hidden 128, chosen on that set's validation (see SASREC_SETTINGS_NOTE).
_SASREC_RUNS = {**_CAPPED_ML100K, "amazon-sports": ("model.hidden_size=128",)}
# SASRec-BCE: hidden 128 on both Amazon sets, chosen on amazon-beauty's validation (see SASREC_SETTINGS_NOTE).
# On amazon-sports patience 20: with 10 its validation NDCG@10 was still rising when it stopped (see the notes).
_SASREC_BCE_RUNS = {
    **_SASREC_RUNS,
    "amazon-beauty": ("model.hidden_size=128",),
    "amazon-sports": ("model.hidden_size=128", "train.patience=20"),
}
_SHORT_NEURAL_RUNS = {
    "ml-100k": ("train.max_epochs=100",),
    "amazon-beauty": ("train.max_epochs=20",),
    "amazon-sports": ("train.max_epochs=20",),
}

# ctr-auc runs 5 seeds on amazon-beauty and for the cheaper rows on ml-100k; amazon-sports gets 3, and
# the DIEN rows on ml-100k (mostly full 50-item histories there, 160 to 250 s per epoch on shared cores) 1,
# to fit 2-core sessions (see its notes).
_CTR_SPORTS_SEEDS = {"amazon-sports": 3}
_CTR_SEED_CAPS = {
    "ctr-base": _CTR_SPORTS_SEEDS,
    "din": _CTR_SPORTS_SEEDS,
    "dien": {**_CTR_SPORTS_SEEDS, "ml-100k": 1},
    "dien-no-aux": {**_CTR_SPORTS_SEEDS, "ml-100k": 1},
    "dien-aigru": {**_CTR_SPORTS_SEEDS, "ml-100k": 1},
    "dien-agru": {**_CTR_SPORTS_SEEDS, "ml-100k": 1},
    "bst": {**_CTR_SPORTS_SEEDS, "ml-100k": 3},
}

NEURAL_BUDGET_NOTE = (
    "Budget: the table is built piece by piece on a 2-core CPU machine (`dynint reproduce` keeps a row while its "
    "config is unchanged; each row records its runs' commit, machine and date). sasrec-ce has 3 seeds on every data "
    "set; sasrec-bce, gru4rec and bert4rec have one seed (seed 0; std "
    "shows 0). The SASRec rows train to early stopping (patience 10, 20 for sasrec-bce on amazon-sports; at most 100 "
    "epochs on ml-100k); gru4rec and "
    "bert4rec (runs at edd612d) stop after at most 20 epochs on the Amazon sets and 100 on ml-100k, and a row whose "
    "best epoch is its last was still improving. sasrec-bce on amazon-sports (hidden 128, patience 20) trained "
    "to the 200-epoch cap (best validation epoch 187, NDCG@10 0.0219), then refit for 187 epochs. Its first 60 "
    "epochs are those of the earlier patience-10 run (at c2e62b0), which stopped there (best epoch 50, validation "
    "0.0176, test 0.0160); it was resumed from that run's epoch-60 checkpoint with patience 20 (at 4797055), which "
    "gives the run patience 20 would have given from the start (tests/train/test_loop.py). The resumed part took "
    "about 2.1 hours on the 2 cores shared with other runs."
)

REFIT_NOTE = (
    "Refit for test (sasrec-ce and sasrec-bce, `train.refit_for_test`): the baselines fit on training plus validation "
    "events before they rank the test targets, since those events are in the test histories. The SASRec rows now do "
    "the same: the best validation epoch E is chosen as before, a second model is trained from the same initial "
    "parameters for E epochs on the training plus validation events, and that model is tested; the test set chooses "
    "nothing. Each run also records the first model's test metrics. Mean test NDCG@10 before / after the refit: "
    "sasrec-ce amazon-beauty 0.0462 / 0.0561, amazon-sports 0.0260 / 0.0330, ml-100k "
    "0.0791 / 0.0858; sasrec-bce amazon-beauty 0.0251 / 0.0297, amazon-sports 0.0177 / 0.0214, ml-100k "
    "0.0661 / 0.0636. gru4rec and bert4rec are not refit (their runs predate it), so they keep the handicap the "
    "SASRec rows had before."
)

SASREC_SETTINGS_NOTE = (
    "SASRec settings, chosen on validation only (results/explorations/ keeps every compared run with its curve): "
    "item embeddings scaled by sqrt(d) as in the original SASRec, attention weights dropped at 0.2 (other dropout "
    "0.5), Adam 2e-3, hidden 64 on ml-100k and amazon-beauty. On amazon-sports the hidden-64 run reached validation "
    "NDCG@10 0.0322 (test 0.0314 after the refit); that test figure, short of the target, prompted a try of hidden "
    "128, which was ahead on validation at every epoch and peaked at 0.0332, so both SASRec rows use hidden 128 "
    "there. sasrec-bce shares every setting with sasrec-ce but its loss, and its hidden size on amazon-beauty: with "
    "hidden 64 it peaked at validation NDCG@10 0.0268 (epoch 58), hidden 128 was ahead at epoch 31 (0.0276 against "
    "0.0233) and its table run peaked at 0.0328 (epoch 56), so sasrec-bce uses hidden 128 on both Amazon sets. On "
    "amazon-beauty the two SASRec rows therefore differ in loss and width, not in loss alone. sasrec-bce on "
    "amazon-sports uses patience 20: with 10 it stopped at epoch 60 while its validation NDCG@10 was still rising "
    "(about 0.0001 per epoch under ± 0.0005 noise). That run's test figure (0.0160, short of the target) prompted "
    "the look; validation alone chose the change: it kept rising, to 0.0219 at epoch 187, and was still near its "
    "peak at the 200-epoch cap. With one sampled negative per position the model learns far more slowly than "
    "sasrec-ce, whose best epochs on this set are 7 and 8."
)

NEURAL_STANDING_NOTE = (
    "Where the neural rows stand (test NDCG@10, means over the row's seeds): amazon-beauty: sasrec-ce 0.0561 "
    "(± 0.0007) is above hybrid 0.0548 and itemknn 0.0497; sasrec-bce 0.0297, gru4rec 0.0296, bert4rec 0.0224. "
    "amazon-sports: hybrid 0.0353, sasrec-ce 0.0330 (± 0.0007), itemknn 0.0330 (0.03305 against 0.03296), sasrec-bce "
    "0.0214, gru4rec 0.0165, bert4rec 0.0136. ml-100k: itemknn 0.1014, hybrid 0.1003, sasrec-ce 0.0858, gru4rec "
    "0.0804, bert4rec 0.0699, sasrec-bce 0.0636. Against the published S3-Rec rows, sasrec-ce is far above SASRec "
    "(0.0318 / 0.0192), gru4rec above GRU4Rec (0.0137 / 0.0110) and bert4rec above BERT4Rec (0.0170 / 0.0099) on "
    "both Amazon sets. sasrec-bce (one sampled negative per position, as the original SASRec) reaches 0.0297 on "
    "amazon-beauty (one seed; 0.0251 before the refit), 93% of the published SASRec row (0.0318): below it, within "
    "10% of it. On amazon-sports it reaches 0.0214 (one seed; 0.0177 before the refit; validation 0.0219), 111% of "
    "the published 0.0192: above it."
)
SASREC_CE_NOTE = (
    "sasrec-ce against the targets set for it (test NDCG@10 >= 0.055 on amazon-beauty, >= 0.033 on amazon-sports): "
    "0.0561 ± 0.0007 over 3 seeds on amazon-beauty (0.0568, 0.0559, 0.0556: every seed above 0.055) and 0.0330 ± "
    "0.0007 on amazon-sports (0.0332, 0.0336, 0.0323: the mean 0.03305 meets 0.033, one seed of three is below it). "
    "Without the refit the same runs give 0.0462 and 0.0260, short of both targets, as the table's earlier sasrec-ce "
    "rows (0.0448 / 0.0226) were."
)
WALL_TIME_NOTE = (
    "Wall times are per run on the 2-core machine while other runs of this table shared it (up to five at once), "
    "so they are not speed measurements; `python benchmarks/sasrec_speed.py` measures SASRec's speed alone."
)


# text-enhanced: SASRec-CE with each item representation, warm (leave-one-out) and under item cold
# start, beside the content baselines; DIEN with and without item content under the CTR protocol.
_COLD = ("split.kind=cold-items",)
_TEXT_DATASETS = ("ml-100k",)  # the S3-Rec Beauty / Sports files carry attribute ids, no text
_SASREC_TEXT_RUNS = {"ml-100k": ("train.max_epochs=100",), "amazon-sports": ("model.hidden_size=128",)}


def _with_cold(overrides: Mapping[str, tuple[str, ...]], datasets: tuple[str, ...]) -> dict[str, tuple[str, ...]]:
    return {dataset: (*overrides.get(dataset, ()), *_COLD) for dataset in datasets}


_ALL_DATASETS = ("ml-100k", "amazon-beauty", "amazon-sports")
# HSTU on amazon-sports: SASRec-CE's width there (128) with dropout 0.5, chosen on that set's validation
# NDCG@10 (seed 0, no refit; results/explorations/hstu-amazon-sports): 0.0349 against 0.0326 with hstu.yaml's
# dropout 0.2 and 0.0325 at width 64.
_HSTU_RUNS = {
    **_CAPPED_ML100K,
    "amazon-sports": ("model.hidden_size=128", "model.dropout=0.5", "model.attention_dropout=0.5"),
}
# Seeds to fit 2-core sessions (the table's notes say so): the rows the criteria compare (text-adaptor
# and id under cold start, id and id+text warm on ml-100k, id and id+attributes warm on Amazon) have 3;
# rows that rank no cold item (id, id+text, text-init under cold start: their cold items' vectors are
# untrained) and the rest have 1 or 2.
_TEXT_ENHANCED_SEED_CAPS: dict[str, int | dict[str, int]] = {
    "sasrec-id+attributes-warm": {"ml-100k": 1},
    # seq-full-ranking's sasrec-ce row holds 3 seeds of this configuration on amazon-sports
    "sasrec-id-warm": {"amazon-sports": 1},
    "sasrec-text-init-warm": 1,
    "sasrec-text-adaptor-warm": 1,
    "sasrec-text-adaptor-smollm2-warm": 1,
    "sasrec-id-cold": 1,
    "sasrec-id+text-cold": 2,
    "sasrec-text-init-cold": 1,
    "sasrec-id+attributes-cold": 1,
    "sasrec-text-adaptor-smollm2-cold": 1,
    "dien-id+text-ctr": 1,
}


def _text_enhanced_rows() -> tuple[RowSpec, ...]:
    """Warm and cold rows of every SASRec item representation and content baseline."""
    sasrec = (
        ("sasrec-id", "text-enhanced/sasrec-id.yaml", None),
        ("sasrec-text-init", "text-enhanced/sasrec-text-init.yaml", _TEXT_DATASETS),
        ("sasrec-text-adaptor", "text-enhanced/sasrec-text-adaptor.yaml", _TEXT_DATASETS),
        ("sasrec-text-adaptor-smollm2", "text-enhanced/sasrec-text-adaptor-smollm2.yaml", _TEXT_DATASETS),
        ("sasrec-id+text", "text-enhanced/sasrec-id-text.yaml", _TEXT_DATASETS),
        ("sasrec-id+attributes", "text-enhanced/sasrec-id-attributes.yaml", None),
    )
    rows = []
    for protocol in ("warm", "cold"):
        for name, config, datasets in sasrec:
            runs = datasets or _ALL_DATASETS
            overrides = _SASREC_TEXT_RUNS if protocol == "warm" else _with_cold(_SASREC_TEXT_RUNS, runs)
            row = f"{name}-{protocol}"
            cap = _TEXT_ENHANCED_SEED_CAPS.get(row)
            rows.append(RowSpec(row, config, overrides=overrides, datasets=datasets, max_seeds=cap))
        rows += [
            RowSpec(
                f"content-tfidf-{protocol}",
                "seq-full-ranking/content-{dataset}.yaml" if protocol == "warm" else "item-cold-start/content.yaml",
                notes="tuned on warm validation" if protocol == "warm" else "",
            ),
            RowSpec(
                f"content-pretrained-{protocol}",
                "item-cold-start/content-pretrained.yaml",
                overrides={"ml-100k": ("split.kind=leave-one-out",) if protocol == "warm" else ()},
                datasets=_TEXT_DATASETS,
            ),
        ]
    rows.append(RowSpec("poprec-cold", "item-cold-start/poprec.yaml"))
    rows.append(RowSpec("unseen-random-cold", "item-cold-start/unseen-random.yaml", notes="reference floor"))
    rows.append(RowSpec("dien-id-ctr", "text-enhanced/dien-id.yaml"))
    rows.append(
        RowSpec(
            "dien-id+text-ctr",
            "text-enhanced/dien-id-text.yaml",
            datasets=_TEXT_DATASETS,
            max_seeds=_TEXT_ENHANCED_SEED_CAPS.get("dien-id+text-ctr"),
        )
    )
    rows.append(
        RowSpec(
            "dien-id+attributes-ctr",
            "text-enhanced/dien-id-attributes.yaml",
            datasets=("amazon-beauty", "amazon-sports"),
        )
    )
    return tuple(rows)


# beyond-accuracy: the seq-full-ranking rows with list metrics, and ItemKNN re-ranked by MMR.
_BEYOND = ("eval.beyond_accuracy=[coverage,gini,novelty,popularity,diversity,activity]",)
_MMR_TRADE_OFFS = (0.9, 0.7, 0.5, 0.3)
BEYOND_ACCURACY_NOTES: tuple[str, ...] = (
    "Lists: each test row's top 10 items, seen items excluded, ties to the lower id. Coverage@10: share of the "
    "catalogue in any list; Gini@10: inequality of how often items are shown (0 equal, 1 one item); Novelty@10: "
    "mean -log2 of the share of users who saw a shown item; ARP@10: mean visible events of shown items; ILD@10: 1 "
    "minus the mean cosine of the shown items' genre (ml-100k) or category and brand (amazon-beauty) bags; "
    "NDCG@10 q1 ... q5: test rows in five equal groups by history length (q1 the least active), gap = best group "
    "minus worst (dynint/eval/beyond_accuracy.py).",
    "itemknn-mmr-L: the tuned ItemKNN's 100 best unseen items re-ranked by maximal marginal relevance (Carbonell "
    "and Goldstein 1998) with trade-off L between its rescaled score and the candidate's largest genre/category "
    "cosine to the items already chosen (dynint/eval/rerank.py); L = 1 is ItemKNN itself. Accuracy counts the "
    "target's place in the re-ranked top 10. The trade-offs are a fixed grid, not tuned.",
    "Models and settings are seq-full-ranking's (runs here are new runs of those configs with the extra "
    "metrics); sasrec-ce has 3 seeds on ml-100k (at most 100 epochs) and 1 on amazon-beauty (seed 0), to fit a "
    "2-core session; the baselines are deterministic. ml-100k runs at 96f1494, amazon-beauty runs at cb6d5c1 (the "
    "same model, metric and ranking code).",
    "ml-100k: ItemKNN shows 59% of the catalogue in someone's top 10 against SASRec-CE's 33% and PopRec's 5% "
    "(Gini 0.83, 0.87, 0.99), with similar novelty (2.51 and 2.57 bits) and diversity (ILD 0.676 and 0.670). "
    "Every model serves the least active fifth of users better than the most active fifth (NDCG@10 q1 against "
    "q5: ItemKNN 0.113 / 0.080, SASRec-CE 0.113 / 0.075): long histories hold more varied tastes. MMR raises "
    "ItemKNN's ILD@10 from 0.676 to 0.746 at trade-off 0.7 with NDCG@10 unchanged (0.1019 against 0.1014), to "
    "0.821 at 0.5 (NDCG@10 0.0935, -8%) and 0.880 at 0.3 (0.0793, -22%): see beyond-accuracy.png.",
    "amazon-beauty (SASRec-CE seed 0): ItemKNN shows 98% of the 12,101 items in someone's top 10 against "
    "SASRec-CE's 81% and PopRec's 0.1% (Gini 0.62, 0.78, 1.00), and slightly more novel items (9.84 against 9.55 "
    "bits); SASRec-CE's lists are a little more diverse (ILD 0.750 against 0.717). Here the order of the activity "
    "groups is the reverse of ml-100k's: the most active fifth is served far better than the least active (NDCG@10 "
    "q5 against q1: SASRec-CE 0.081 / 0.027, ItemKNN 0.058 / 0.031; PopRec, which ignores histories, 0.003 / "
    "0.006): in this 5-core file a third of the test histories hold the minimum of 4 events (the least active "
    "fifth all do); that they are too few to place a taste is a reading, not a tested cause. MMR costs more "
    "accuracy than "
    "on ml-100k: ILD 0.765 at trade-off 0.9 (NDCG@10 0.0490 against 0.0497, -1%), 0.858 at 0.7 (0.0457, -8%), "
    "0.925 at 0.5 (0.0396, -20%).",
)

# privacy: noise multipliers for epsilon 8, 4, 1 over the config's 600 steps (dynint.privacy.accounting).
_DP_NOISE = {8: 1.889, 4: 3.113, 1: 9.672}
# ... and in 50 full-batch steps (sampling rate 1; experiments/privacy/sasrec-ce-dp-full-{dataset}.yaml: delta
# 1/943 on ml-100k, 1/22,363 on amazon-beauty).
_DP_FULL_BATCH_NOISE = {8: 3.666, 4: 6.367, 1: 20.406}
# (epsilon 4 and 1 on amazon-beauty would take 7.646 and 26.19 here, 1.532 and 4.605 below; not run.)
_DP_FULL_BATCH_BEAUTY_NOISE = {8: 4.258}
# ... and on amazon-beauty in 700 steps of 1,024 users at rate 1024/22363 (delta 1/22,363).
_DP_BEAUTY_NOISE = {8: 1.018}
_ML100K, _BEAUTY = ("ml-100k",), ("amazon-beauty",)


def _private_rows(
    prefix: str,
    config: str,
    noise: Mapping[str, Mapping[int, float]],
    all_seeds: tuple[int, ...] = (),
    seed_caps: Mapping[str, int] | None = None,
) -> tuple[RowSpec, ...]:
    """One DP-SGD row per target epsilon (`PREFIX{epsilon}`) on the data sets whose entry in `noise`
    (data set -> epsilon -> noise multiplier) names it: one seed, or the table's seeds (capped at
    `seed_caps[dataset]` where given) for the epsilons in `all_seeds`."""
    epsilons = dict.fromkeys(epsilon for budgets in noise.values() for epsilon in budgets)
    rows = []
    for epsilon in epsilons:
        datasets = tuple(d for d, budgets in noise.items() if epsilon in budgets)
        rows.append(
            RowSpec(
                f"{prefix}{epsilon}",
                config,
                overrides={d: (f"train.privacy.noise_multiplier={noise[d][epsilon]}",) for d in datasets},
                max_seeds={d: (seed_caps or {}).get(d) if epsilon in all_seeds else 1 for d in datasets},
                datasets=datasets,
            )
        )
    return tuple(rows)


PRIVACY_NOTES: tuple[str, ...] = (
    "User-level DP-SGD (dynint/privacy): one example is one user's whole training sequence; per-user gradients "
    "clipped to norm 1, summed, Gaussian noise of std noise_multiplier added, divided by the users in the batch. "
    "The bucketed rows (non-private, clip-only, sasrec-ce-dp-eps*) train exactly 50 epochs of seq-full-ranking's "
    "SASRec-CE settings without the refit (600 steps), the "
    "best epoch chosen on validation; noise multipliers 1.889, 3.113, 9.672 spend epsilon 8, 4, 1 at delta 1/943 "
    "(noise_for_epsilon); clip-only clips without noise (epsilon infinite); non-private is the same run without "
    "DP-SGD.",
    "Accounting: dp-accounting's RDP accountant with each step a Poisson-sampled Gaussian mechanism of rate "
    "128/943 (batch size over users). dynint's batches are a shuffle cut by length bucket (12 per epoch, each "
    "user once per epoch), which that analysis only approximates; the nominal rate counts 1.6 expected "
    "participations per user and epoch against the actual 1. Noise covers every parameter, the item table included.",
    "Seeds: 3 for the ml-100k full-batch non-private, epsilon 8 and epsilon 4 rows of SASRec-CE and GRU4Rec "
    "(the criterion's budgets), 1 (seed 0) for every other row and for every amazon-beauty row, to fit 2-core "
    "sessions. Bucketed non-private and epsilon 8 ran at 96f1494, clip-only, epsilon 4 and epsilon 1 at d2fdeed "
    "(the same DP code). The GRU4Rec rows ran in one job started at 2d2cebf; their provenance reads "
    "2d2cebf-dirty or 22feebc because the working tree was edited and committed while the job ran (it had "
    "imported 2d2cebf's code; the edits added train.privacy.chunk_size, which these rows do not use).",
    "Clipping alone (norm 1, no noise) costs nothing: test NDCG@10 0.0826 against the non-private 0.0801 "
    "(validation 0.0982 against 0.0977), so the losses below are the noise's. Epsilon 4: test 0.0024 "
    "(validation best 0.0047), and epsilon 1: 0.0022, as untrained as epsilon 8; the three private rows share HR@10 "
    "0.0053 (5 of 943 users).",
    "Epsilon 8 (delta 1/943 = 0.00106; 7.99 spent): the model does not learn. Its training loss stays at "
    "7.44 to 7.50 over the 50 epochs (the non-private run falls from 7.28 to 5.57) and its validation NDCG@10 "
    "stays between 0.0015 and 0.0051 (best 0.0051, test 0.0030), where the non-private run reaches 0.0977 "
    "(test 0.0801): 4% of it, so the criterion (half the non-private NDCG@10 at epsilon 8) is not met. Why: "
    "943 users give about 79 per batch, so the noise added to the mean clipped gradient has std 1.889 / 79 = "
    "0.024 per coordinate, a norm near 11 over SASRec's 211,008 parameters, against a signal of norm at most 1; "
    "Adam then follows the noise. What helped: larger batches (all users per step, the full-batch rows below); "
    "an adaptor over frozen pretrained item vectors in place of the item table did not beat the table there "
    "(0.0349 against 0.0391 on validation). Not tried: an optimizer suited to DP (DP-SGD with momentum).",
    "Full-batch rows (sasrec-ce-full-*, experiments/privacy/sasrec-ce-dp-full-ml-100k.yaml; seed 0 at 07b297e, seeds 1 "
    "and 2 at 44434a5, the same code for these rows): every step "
    "takes all 943 users (sampling rate 1, so the accounting is exact for these batches: no sampling assumption), "
    "50 steps, Adam 0.01; noise multipliers 3.666, 6.367, 20.406 spend epsilon 8, 4, 1. The noise on the mean "
    "clipped gradient is then 3.666 / 943 = 0.0039 per coordinate at epsilon 8, six times less than the bucketed "
    "rows'. The learning rate was chosen on validation at epsilon 8 (results/explorations/sasrec-ce-dp-full-ml-100k: "
    "0.01 reached 0.0391, 0.002 0.0363; items as an adaptor over frozen all-MiniLM-L6-v2 vectors 0.0349).",
    "Full-batch result (3 seeds): epsilon 8 keeps test NDCG@10 0.0433 +- 0.0030 (0.0466, 0.0410, 0.0422; "
    "validation 0.0405) against the full-batch non-private 0.0841 +- 0.0058 (0.0808, 0.0908, 0.0808; validation "
    "0.0938), 51%, and 54% of the bucketed non-private row (0.0801): the criterion (at least half the non-private "
    "NDCG@10 at epsilon 8) is met on the 3-seed means, narrowly (seed 1 alone: 0.0410 against 0.0908, 45%). "
    "Epsilon 4 keeps 0.0439 +- 0.0023 (52%), level with epsilon 8 within the seeds' spread; at epsilon 1 (noise "
    "multiplier 20.4; seed 0) the model does not learn (0.0029). So on ml-100k the remedy was the batch: with "
    "only 943 users, spending the budget on few large steps beats many small ones.",
    "GRU4Rec rows (experiments/privacy/gru4rec-dp-full.yaml): seq-full-ranking's GRU4Rec (embedding 64, GRU 128, "
    "dropout 0.3, full-softmax CE) in SASRec-CE's full-batch steps (50 steps, Adam 0.01, clip norm 1, the same "
    "noise multipliers); nothing was tuned for GRU4Rec. Test NDCG@10 over 3 seeds: non-private 0.0765 +- 0.0070 "
    "(0.0846, 0.0724, 0.0724; validation 0.0924), epsilon 8 0.0442 +- 0.0020 (0.0463, 0.0441, 0.0423; validation "
    "0.0381), 58% of it, epsilon 4 0.0430 +- 0.0035 (56%); at epsilon 1 (seed 0) 0.0081. Private GRU4Rec is level "
    "with private SASRec-CE (0.0433 at epsilon 8), and keeps more than half of its non-private accuracy too.",
    "Full-batch clip-only (sasrec-ce-full-clip-only, seed 0): the same 50 steps clipped to norm 1 without noise "
    "reach test NDCG@10 0.0833 on ml-100k (validation 0.0974; the full-batch non-private seed 0: 0.0808), so "
    "there too the loss is the noise's.",
    "amazon-beauty (22,363 users, 12,101 items; delta 1/22,363; seed 0 only; epsilon 4 and 1 not run, for the "
    "2-core budget). Batches of 1,024 users (sasrec-ce-b1024-*, "
    "experiments/privacy/sasrec-ce-dp-beauty.yaml: "
    "20 epochs = 700 steps at sampling rate 0.046, Adam 0.002, fixed before any run; non-private at "
    "dc38603, epsilon 8 at 5dbe68f): non-private test NDCG@10 0.0500 (validation 0.0626); epsilon 8 "
    "(noise multiplier 1.018) 0.0042 "
    "(validation best 0.0057 at epoch 9), 8% of it: the training loss stays at ln(12,101) = 9.40 for 5 epochs, "
    "then falls slowly to 9.05 while validation drifts down after epoch 9. That run was paused in its second "
    "epoch and resumed from its epoch-5 checkpoint; its wall time counts only the resumed process. "
    "Full-batch steps (sasrec-ce-full-*, experiments/privacy/sasrec-ce-dp-full-amazon-beauty.yaml: ml-100k's "
    "full-batch settings carried over untuned, 50 steps over all 22,363 users, their gradients clipped in "
    "chunks of 512 (train.privacy.chunk_size) and noised once; epsilon 8 at b57e1dc, clip-only at 3f060db, "
    "whose ml-100k run reads 3f060db-dirty: the row list was edited while it ran): epsilon 8 (noise "
    "multiplier 4.258, 0.00019 per coordinate on the mean gradient) reaches 0.0071 (validation 0.0100 at step "
    "44), 1.7 times the batched epsilon 8 but 14% of the batched non-private row; the same steps clipped "
    "without noise reach 0.0412 (validation 0.0548, still rising at step 50), 82% of it. So clipping and the 50 "
    "steps cost little and the noise costs most: 17% of clip-only is kept at epsilon 8, against 52% on ml-100k. "
    "A reading, not a tested cause: the item table is 775k of SASRec's 877k parameters here, and each item's "
    "row hears from the few users who touched it (16 events per item on Beauty, 59 on ml-100k) while the noise "
    "covers every row alike. The full-batch non-private row does not run on amazon-beauty: one step over all "
    "users without chunks ran out of memory (16 GB); clip-only is its full-batch reference.",
    "Example level (sasrec-ce-example-dp-eps8, experiments/privacy/sasrec-ce-dp-example.yaml, seed 0 at bb96a26; "
    "settings fixed before the run): every next-item prediction is one example (97,171 on ml-100k; delta "
    "1/97,171), batches of 1,024 predictions, 10 epochs (970 steps), noise multiplier 0.622 for epsilon 8. Test "
    "NDCG@10 0.0644 (validation 0.0841 at epoch 10 of 10, still improving), 80% of the bucketed non-private row "
    "(0.0801). The guarantee is far weaker than the user-level rows': it covers one prediction; an event is an "
    "input of up to 50 later predictions, so per event it holds only as group privacy over up to 51 examples, and "
    "per user not at all. Its non-private reference is the user-level table's (no example-level clip-only run).",
    "FedAvg rows (experiments/privacy/sasrec-ce-fedavg.yaml, dynint/privacy/federated.py; settings fixed before any "
    "run): every user a client, each round all 943 clients take 2 local SGD steps (rate 0.5) and the server applies "
    "their position-weighted mean change with Adam 0.01 (FedAdam), 50 rounds. Federated averaging costs little: "
    "test NDCG@10 0.0763 (validation 0.0917) against centralised full-batch training's 0.0808 (0.0941) on seed 0. "
    "DP-FedAvg at epsilon 8 (each client's change clipped to norm 1, noise multiplier 3.666 on their sum, "
    "sampling rate 1): test NDCG@10 0.0379 (validation 0.0385), half of FedAvg's 0.0763 (50%) and 47% of the "
    "bucketed non-private row: just short of the criterion's half for the federated setting, on one seed.",
)

# generative: what the table's runs showed is added here as each lands.
GENERATIVE_NOTES: tuple[str, ...] = (
    "hstu shares every training setting with sasrec-ce (cross-entropy over the catalogue, Adam 2e-3, batch "
    "128, histories of 50, early stopping on validation NDCG@10 with patience 10, refit on training plus "
    "validation events for the chosen epoch count); only the encoder differs (and its dropout, chosen on "
    "validation: see the notes on ml-100k and amazon-sports). The encoder is the paper's "
    "HSTU layer (pointwise SiLU attention normalised by the length, U gating, LayerNorm of the attended "
    "values) with a learned relative-position bias; hstu-time adds the paper's time bias (model.time_buckets=48: "
    "a learned value per log-spaced bucket of the gap between the query's event time and each earlier event's).",
    "Seeds: 3 on ml-100k (at most 100 epochs, as in seq-full-ranking); on amazon-beauty hstu has 3 and sasrec-ce 1 "
    "(seed 0; std shows 0), to fit 2-core sessions: its seeds 1 and 2 are in seq-full-ranking, whose sasrec-ce row "
    "has this same config and the same seed-0 result to the last digit (0.056840), so runs are deterministic and "
    "the 3-seed sasrec-ce figure on Beauty is seq-full-ranking's 0.0561 +- 0.0007. On amazon-sports likewise: "
    "hstu 3 seeds, sasrec-ce seed 0, whose 3-seed figure is seq-full-ranking's 0.0330 +- 0.0007 (0.0332, 0.0336, "
    "0.0323; hidden 128 there, chosen on that set's validation).",
    "amazon-sports (hstu 3 seeds, runs at 7e03c24; sasrec-ce seed 0 is the text-enhanced table's "
    "sasrec-id-warm run at 2bb4775, whose resolved config is this row's, so it was reused, not rerun): hstu takes "
    "sasrec-ce's width there (hidden 128) and dropout 0.5 on every sub-layer, chosen on Sports validation "
    "NDCG@10 at seed 0 (results/explorations/hstu-amazon-sports): hstu.yaml's dropout 0.2 peaked at epoch 5 "
    "(0.0326) and fell while the training loss kept dropping, width 64 reached 0.0325, dropout 0.5 0.0349 "
    "(sasrec-ce: 0.0332). Test NDCG@10 hstu 0.0347 +- 0.0001 (0.0348, 0.0347, 0.0346) against sasrec-ce's 3-seed "
    "0.0330 +- 0.0007, 5% higher and well outside both spreads; validation 0.0347 (0.0349, 0.0343, 0.0349) against "
    "0.0332 (seed 0); HR@10 0.0599 against 0.0580 (seed 0). Best epochs 8, 9, 10 against sasrec-ce's 8. So HSTU is "
    "at or above dynint's SASRec-CE on both Amazon sets: level on Beauty (0.0563 against 0.0561), ahead on Sports; "
    "the three hstu runs shared the 2 cores with each other and a benchmark, so their wall times say little.",
    "hstu's dropout (0.2) was chosen on ml-100k validation NDCG@10 against SASRec-CE's 0.5 (seed 0, at most 100 "
    "epochs): 0.0976 against 0.0969, within noise; nothing else was tuned for it.",
    "ml-100k (3 seeds, runs at 1f00cbb): test NDCG@10 hstu 0.0928 (0.0982, 0.0891, 0.0910) against sasrec-ce "
    "0.0858 (0.0837, 0.0930, 0.0807), 8% higher, about one seed std apart; validation NDCG@10 0.1011 against "
    "0.0970, HR@10 0.1810 against 0.1679. hstu has 152,996 trainable parameters against sasrec-ce's 211,008: "
    "its layers have no feed-forward block (the gate U takes its place). sasrec-ce's rerun reproduces "
    "seq-full-ranking's row to the fourth decimal (0.0858).",
    "amazon-beauty (hstu seeds 0 at 1f00cbb, 1 and 2 at 8e72c04; sasrec-ce seed 0 at 1f00cbb): test NDCG@10 hstu "
    "0.0563 +- 0.0004 (0.0562, 0.0568, 0.0559) against sasrec-ce's 3-seed 0.0561 +- 0.0007 (seq-full-ranking), "
    "level, at it by a hair; validation 0.0590 (3 seeds) against 0.0592 (seed 0); before the refit 0.0481 against "
    "0.0466 on seed 0. HR@10 0.0906 against 0.0947 (seed 0). hstu's best epochs came earlier (10, 12, 7 against 18) "
    "and its epochs were about three times faster here (no feed-forward block; wall time 482 s against 1,920 s, "
    "with other runs sharing the machine). The re-implementations' report of HSTU about 10% above their SASRec "
    "is not seen against this stronger SASRec-CE on Beauty; on ml-100k HSTU is 8% ahead.",
    "hstu-time (ml-100k, 3 seeds, runs at d2376e6; the S3-Rec Amazon files have no timestamps): test NDCG@10 "
    "0.0958 (0.1023, 0.0915, 0.0936) against hstu's 0.0928, +3%, inside one seed std (0.0057); validation "
    "0.1030 against 0.1011 and HR@10 0.1873 against 0.1810 move the same way, and seed by seed the timed model "
    "is ahead on test in all three. On ml-100k 51% of a user's consecutive events share their second, 86% "
    "are under a minute apart and 1.3% more than a day, so the bias mostly separates a rating session from "
    "earlier ones. Nothing was tuned for it (48 buckets, the "
    "hstu row's settings).",
    "tiger (ml-100k, seed 0 only, runs at 1fdcfd3): an RQ-VAE (3 levels of 256 codes, latent 32, 2,000 steps) "
    "turns each item's all-MiniLM-L6-v2 text vector into a semantic id; every code of every level is used "
    "(perplexity 215, 222, 229), 36 items share their three codes with another and are told apart by a fourth "
    "token (vocabulary 771). A 2-layer causal Transformer over the token streams is trained on every item of "
    "every history and generates the next item with a beam of 20 constrained to real, unseen items; metrics "
    "come from the beam (a target outside it is a miss), so columns at K <= 20 are exact. Test NDCG@10 0.0895 "
    "against sasrec-ce's 0.0837 and hstu's 0.0982 on the same seed (validation 0.1010 against 0.0943 and "
    "0.0976; before the refit 0.0844 against 0.0776 and 0.0878); HR@10 0.1676 against 0.1665 and 0.1824. One "
    "seed: the difference to sasrec-ce is inside its seed std (0.0064). Nothing was tuned for tiger beyond "
    "the sizes above (hidden 128, dropout 0.2, Adam 1e-3, chosen before the run, not on test). Its wall time "
    "(7,096 s for 66 epochs) is dominated by beam-search validation (about 40-60 s an epoch against 14-30 s "
    "of training), with other runs sharing the machine.",
    "tiger (published) is the TIGER paper's row on amazon-beauty (Rajput et al., NeurIPS 2023; same 5-core "
    "files, leave-one-out, its Recall@10 read as HR@10): NDCG@10 0.0384. dynint's sasrec-ce (0.0568) and hstu "
    "(0.0562) are about 46-48% above it there; dynint's own tiger has not run on amazon-beauty yet (its item "
    "content there would be attribute bags: model.semantic_ids.content=attributes).",
)

# Model sizes of the scaling study, (width, depth, heads), from about 0.1 M non-embedding parameters up.
# The first five ran on the 2-core CPU; the last two are for an accelerator (the same command, all rows).
SCALING_SIZES: tuple[tuple[int, int, int], ...] = (
    (64, 2, 2),
    (128, 2, 2),
    (192, 3, 3),
    (256, 4, 4),
    (384, 6, 6),
    (512, 8, 8),
    (768, 8, 12),
)
# One budget for every size: 1 seed, at most 50 epochs with patience 10 (as in the other tables), tested
# with the best validation epoch's parameters (no refit), so the whole study fits a 2-core session.
_SCALING_BUDGET = ("train.max_epochs=50", "train.patience=10", "train.refit_for_test=false")


def _scaling_rows() -> tuple[RowSpec, ...]:
    rows = []
    for width, depth, heads in SCALING_SIZES:
        shape = (f"model.hidden_size={width}", f"model.num_layers={depth}", f"model.num_heads={heads}")
        rows.append(
            RowSpec(
                f"sasrec-ce-{width}x{depth}",
                "seq-full-ranking/sasrec-ce.yaml",
                overrides=(*shape, f"model.inner_size={4 * width}", *_SCALING_BUDGET),
                max_seeds=1,
            )
        )
        hstu_shape = (*shape, *_SCALING_BUDGET)
        rows.append(RowSpec(f"hstu-{width}x{depth}", "generative/hstu.yaml", overrides=hstu_shape, max_seeds=1))
    return tuple(rows)


SCALING_NOTES: tuple[str, ...] = (
    "Each row is a model at one size, named MODEL-WIDTHxDEPTH (heads of 64, 2 of 32 at width 64); SASRec-CE's "
    "feed-forward is 4 x width wide, HSTU has none. Every other setting is the row's table config (seq-full-ranking's "
    "sasrec-ce, generative's hstu): dropout, learning rate and batch size are not re-tuned per size.",
    "Budget: 1 seed (seed 0), at most 50 epochs with patience 10, tested with the best validation epoch's "
    "parameters (no refit on training plus validation, unlike the other tables), so the study fits a 2-core "
    "session. The figure's trend is a least-squares line of NDCG@10 on log10(non-embedding parameters) per "
    "model, with its 90% confidence band (t distribution).",
    "Training FLOPs (train_flops_to_best_epoch): forward and backward operations of the epochs up to the "
    "chosen one, estimated as in Kaplan et al. (2020): 6 per body weight per supervised position, plus "
    "attention over the 50 positions and the full-catalogue output layer (dynint/train/compute_cost.py); "
    "checked against XLA's count of the compiled training step within 25% (tests/train/test_compute_cost.py).",
    "ml-100k (seed 0, runs at dad3dba; the first five sizes, the two largest need an accelerator): validation "
    "NDCG@10 peaks at sasrec-ce-128x2 (0.0986, 0.40 M body parameters; test 0.0895) and at hstu-64x2 (0.0976, "
    "0.04 M; test 0.0878), then falls with size: sasrec-ce 0.0869, 0.0843, 0.0842 and hstu 0.0967, 0.0910, "
    "0.0941, 0.0879 at the larger sizes; the largest rows test at 0.0655 (10.6 M) and 0.0708 (4.4 M). Larger "
    "models reach their best epoch sooner (hstu 9-12 epochs from 0.17 M on, against 28 at 0.04 M) and then "
    "overfit: with 943 users, and dropout and learning rate held at the small models' values, quality on these "
    "data stops improving at about 0.04-0.4 M body parameters. sasrec-ce-128x2 stopped at the 50-epoch cap (best "
    "epoch 41), so its peak may be a little higher. The least-squares trend of test NDCG@10 on log10(size) falls "
    "by 0.0078 per tenfold for sasrec-ce and 0.0069 for hstu (the figure's lines and bands).",
    "amazon-beauty (seed 0, runs at 36a0d75; the sizes that fit the session: sasrec-ce up to 192x3, hstu up to "
    "256x4): validation NDCG@10 is highest at the smallest sizes, sasrec-ce-64x2 0.0592 (0.0589 at 128x2, 0.0536 "
    "at 192x3) and hstu-64x2 0.0596 (0.0577, 0.0571, 0.0554 at 128x2, 192x3, 256x4); test 0.0466, 0.0472, 0.0420 "
    "and 0.0481, 0.0467, 0.0452, 0.0437. sasrec-ce-64x2's test value equals the generative table's 'before the "
    "refit' figure for the same config and seed (0.0466): the runs are deterministic. With 22,363 users Beauty "
    "too stops improving at the smallest sizes under these fixed settings; larger models peak within 5-10 epochs.",
)

TABLES: dict[str, TableSpec] = {
    "seq-full-ranking": TableSpec(
        name="seq-full-ranking",
        figure=figures.model_bars(("NDCG@10",)),
        description="Next-item full ranking on real data, leave-one-out, seen items excluded.",
        datasets=("ml-100k", "amazon-beauty", "amazon-sports"),
        rows=(
            RowSpec("poprec", "seq-full-ranking/poprec.yaml", published_model="poprec"),
            RowSpec("poprec-leaky", "seq-full-ranking/poprec-leaky.yaml", published_model="poprec", notes="leaks test"),
            RowSpec("itemknn", "seq-full-ranking/itemknn-{dataset}.yaml", notes="tuned on validation"),
            RowSpec("content", "seq-full-ranking/content-{dataset}.yaml", notes="tuned on validation"),
            RowSpec("hybrid", "seq-full-ranking/hybrid-{dataset}.yaml", notes="tuned on validation"),
            RowSpec(
                "gru4rec",
                "seq-full-ranking/gru4rec.yaml",
                published_model="gru4rec",
                max_seeds=_NEURAL_SEEDS,
                overrides=_SHORT_NEURAL_RUNS,
            ),
            RowSpec(
                "sasrec-bce",
                "seq-full-ranking/sasrec-bce.yaml",
                published_model="sasrec",
                max_seeds=_NEURAL_SEEDS,
                overrides=_SASREC_BCE_RUNS,
            ),
            RowSpec(
                "sasrec-ce",
                "seq-full-ranking/sasrec-ce.yaml",
                published_model="sasrec",
                overrides=_SASREC_RUNS,
            ),
            RowSpec(
                "bert4rec",
                "seq-full-ranking/bert4rec.yaml",
                published_model="bert4rec",
                max_seeds=_NEURAL_SEEDS,
                overrides=_SHORT_NEURAL_RUNS,
            ),
        ),
        protocol=_FULL_RANKING,
        metrics=_RANKING_METRICS,
        published_models=("poprec", "gru4rec", "sasrec", "bert4rec", "s3rec"),
        notes=(
            POPREC_LEAK_NOTE,
            "Ties: PopRec gives many items equal counts; the protocol orders equal scores by item id "
            "(lower first), so the numbers are deterministic and independent of evaluation batch size.",
            "itemknn, content and hybrid: hyper-parameters chosen by `dynint tune` on the validation split only, "
            "one config per data set (the command is in each file's header; every trial is in results/tuning/). "
            "The S3-Rec paper has no item-CF or content row; compare them with its SASRec row "
            "(NDCG@10 0.0318 on Beauty, 0.0192 on Sports). These baselines are deterministic, so their std over "
            "seeds is 0.",
            NEURAL_BUDGET_NOTE,
            REFIT_NOTE,
            SASREC_SETTINGS_NOTE,
            NEURAL_STANDING_NOTE,
            SASREC_CE_NOTE,
            WALL_TIME_NOTE,
        ),
    ),
    "ctr-auc": TableSpec(
        name="ctr-auc",
        figure=figures.model_bars(("AUC",)),
        description="Click-through-rate prediction (the DIEN paper's protocol) on real data.",
        datasets=("amazon-beauty", "amazon-sports", "ml-100k"),
        rows=(
            *(
                RowSpec(name, f"ctr-auc/{name}.yaml", max_seeds=_CTR_SEED_CAPS.get(name))
                for name in ("ctr-base", "din", "dien", "dien-no-aux", "dien-aigru", "dien-agru", "bst")
            ),
            RowSpec("itemknn", "ctr-auc/itemknn-{dataset}.yaml", notes="ranking-tuned settings, calibrated on valid"),
        ),
        protocol={
            "kind": "ctr",
            "split": "leave-one-out (last event test, second to last validation, rest training)",
            "samples": "every training prefix; per positive one sampled item the user never interacted with",
            "negatives": "drawn with a fixed seed, identical for every model",
        },
        metrics=("AUC", "GAUC", "logloss"),
        default_seeds=5,
        notes=(
            "The DIEN paper (Zhou et al., AAAI 2019, Table 2) reports AUC on Amazon Electronics / Books: "
            "BaseModel 0.7435 / 0.7686, DIN 0.7603 / 0.7880, DIEN 0.7792 / 0.8453. Different data, so cited for the "
            "ordering it claims (DIEN > DIN > BaseModel, the auxiliary loss helping), not for its values.",
            "itemknn is the item-CF baseline as a CTR scorer, on the same validation and test samples: the "
            "hyper-parameters tuned on validation for seq-full-ranking, its score of each sample's target given "
            "the user's whole visible history (the CTR models see its last 50 items), and for the log loss "
            "sigmoid(scale * score + bias) with (scale, bias) fitted on the validation samples only, which leaves "
            "AUC and GAUC unchanged. It is deterministic, so its std over seeds is 0.",
            "Seeds: 5 on amazon-beauty and for ctr-base, din and itemknn on ml-100k; 3 on amazon-sports (itemknn "
            "5) and for bst on ml-100k; 1 (seed 0, so std shows 0) for the four DIEN rows on ml-100k, to fit the "
            "table into 2-core sessions. Most of ml-100k's histories fill all 50 positions (Beauty's and Sports' "
            "average about 8 items), so a DIEN epoch there took 160 to 250 s beside another run and 9 to 13 "
            "epochs to early stopping, 30 to 45 minutes per seed. Seeds change initialisation and batch order; "
            "the CTR negatives (ctr.seed 0) are the same for every seed and every model. Runs were made two or "
            "three at a time on the 2-core machine; each run's commit, machine and date are in results/ctr-"
            "auc.json (amazon-beauty and the ml-100k ctr-base, din and itemknn rows at b4e6bbd, 974d161 and "
            "65b5ef5; amazon-sports and the other ml-100k rows at 5b1661a and cc35594; bst on ml-100k seeds 0 and"
            " 1 resumed there from epoch-2 checkpoints written in the previous session, between a90c17e and "
            "d616d10, whose changes since touch only resume bookkeeping and a shared training forward).",
            "BST is the best row on both Amazon sets (test AUC 0.7959 ± 0.0053 on amazon-beauty, 0.8177 ± 0.0020 "
            "on amazon-sports: 0.010 and 0.011 above the best DIEN row, two and five of BST's std) and second on "
            "ml-100k (0.9104 ± 0.0029). The item-CF scorer is far below every neural row (test AUC 0.6953 on "
            "amazon-beauty, 0.5901 on amazon-sports, 0.8415 on ml-100k): unlike in full ranking, the CTR models "
            "are trained to tell the true next item from a random unseen one; item-CF is not.",
            "Does the paper's ordering hold? Test AUC, mean ± std over the seeds above. DIEN > DIN > BaseModel, "
            "with DIEN's architecture (no auxiliary loss): on amazon-beauty 0.7858 ± 0.0008 > 0.7797 ± 0.0026 > "
            "0.7727 ± 0.0028, gaps 0.0061 and 0.0070, two to three std, GAUC in the same order: holds. On amazon-"
            "sports 0.8065 ± 0.0017 > 0.8008 ± 0.0002 > 0.7974 ± 0.0026: DIEN over DIN by 0.0057 (three std) "
            "holds; DIN over BaseModel by 0.0034 is about one of BaseModel's std (GAUC 0.7942 ± 0.0015 against "
            "0.7902 ± 0.0025), so weak. On ml-100k DIN (0.8907 ± 0.0049) is not above BaseModel (0.8923 ± 0.0027;"
            " within one std), while DIEN is far above both: 0.9221 with the auxiliary loss and 0.9148 without it"
            " (one seed each), 0.022 to 0.031 above them, five to eleven of their seeds' std (DIEN's own seed "
            "spread is not measured there; on the Amazon sets it is 0.001 to 0.003). The auxiliary loss (weight "
            "1, as in the paper's code): on the two Amazon sets it hurts. With it DIEN reaches 0.7675 ± 0.0033 on"
            " amazon-beauty, below BaseModel and 0.018 (over five std) below DIEN without it, and 0.8002 ± 0.0021"
            " on amazon-sports, 0.0063 (three std) below, level with DIN; validation says the same (0.7959 "
            "against 0.8116, 0.8267 against 0.8327), so no test-set choice is involved. On ml-100k it helps: "
            "0.9221 against 0.9148, and the same on validation (0.9344 against 0.9296) and test GAUC (0.9205 "
            "against 0.9088); with one seed per row that gap is about two of the other ml-100k rows' seed std, "
            "suggestive rather than settled. The gate: with the auxiliary loss, AIGRU and AGRU are level with "
            "AUGRU on both Amazon sets (amazon-beauty 0.7696 ± 0.0039 and 0.7697 ± 0.0024 against 0.7675 ± "
            "0.0033; amazon-sports 0.7972 ± 0.0021 and 0.7992 ± 0.0017 against 0.8002 ± 0.0021), so the paper's "
            "AUGRU > AGRU > AIGRU is not resolved beyond one std there. On ml-100k (one seed each) AIGRU (0.9154)"
            " and AGRU (0.9144) are both below AUGRU (0.9221), and so on validation (0.9297 and 0.9274 against "
            "0.9344): AUGRU first, as in the paper, but AGRU and AIGRU are level.",
            "Why the auxiliary loss behaves so differently: on the Amazon sets validation AUC peaks after 2 to 4 "
            "epochs, while the auxiliary term (log loss on the clicked and on the sampled item, 2 ln 2 = 1.39 at "
            "chance) is still falling (DIEN's training loss on amazon-sports seed 0: 1.61, 1.31, 1.15, 0.99, 0.87"
            " over epochs 1 to 5; without the auxiliary loss 0.55 to 0.37), so with short histories it mostly "
            "competes with the click loss for the shared 18-wide embeddings. On ml-100k, where it helps, most "
            "prefixes have 49 supervised next-behaviour steps and DIEN trains 10 epochs to its best (training "
            "loss 1.43 to 0.78 over them; without the auxiliary loss 0.49 to 0.25). This is a reading of our "
            "logs, not a tested cause; the weight was not tuned, and a smaller weight chosen on validation is the"
            " next experiment.",
        ),
    ),
    "multitask": TableSpec(
        name="multitask",
        figure=figures.several(
            ("", figures.model_bars(("engagement_AUC", "like_AUC", "CTCVR_AUC", "rating_RMSE"))),
            ("-experts", figures.expert_utilisation),
        ),
        description="Multitask interest models (engagement, like, rating) on one shared DIN behaviour encoder.",
        datasets=("ml-100k",),
        rows=tuple(
            RowSpec(name, f"multitask/{name}.yaml")
            for name in (
                "single-engagement",
                "single-like",
                "single-rating",
                "shared-bottom",
                "mmoe",
                "mmoe-uncertainty",
                "ple",
                "esmm",
            )
        ),
        protocol={
            "kind": "multitask",
            "split": "leave-one-out (last event test, second to last validation, rest training)",
            "samples": "as ctr-auc: every training prefix; per positive one sampled item the user never saw",
            "engagement": "the true next item (1) vs the sampled item (0); AUC on every sample",
            "like": "rating >= 4, defined on engaged samples only; AUC on the engaged samples",
            "CTCVR": "engaged and liked, scored by pCTR x pLike (ESMM: pCTR x pCVR); AUC on every sample",
            "rating": "regression on engaged samples; RMSE",
        },
        metrics=("engagement_AUC", "like_AUC", "CTCVR_AUC", "rating_RMSE"),
        record_columns=("parameters", "train_time_s"),
        default_seeds=5,
        notes=(
            "Rows train the tasks their name says (single-*: one task; esmm: engagement and like; the others all "
            "three); a metric a row does not train is shown as –. Early stopping uses validation only: the single "
            "task's own metric, else the mean of the engagement and like AUCs.",
            "Expert utilisation (each gate's mean weight per expert on the test samples, mean over seeds) is written "
            "below the table; PLE's task gates weigh the task's own expert first, then the shared ones.",
            "Budget: every row has 5 seeds (runs at c2e62b0, about 1.5 to 3.5 minutes each on 2 cores shared with "
            "another table's runs). Training stops after at most 10 epochs; most multitask runs had their best "
            "validation epoch at 9 or 10, so they were still improving when the cap stopped them, while the "
            "single-task runs mostly stopped early. The cap is the same for every row.",
            "Does multitask learning help? (test, mean ± std over 5 seeds; nothing was tuned on test, and where "
            "validation disagrees it is said.) Engagement: no. The single-task model has 0.8892 ± 0.0026; MMoE with "
            "uncertainty weights is level (0.8889 ± 0.0015), MMoE (0.8869 ± 0.0042), PLE (0.8856 ± 0.0036) and "
            "ESMM (0.8845 ± 0.0037) are within one to two std below it, and Shared-Bottom is clearly below "
            "(0.8779 ± 0.0045, 0.011 or about three std): the hard-shared bottom shows negative transfer that "
            "per-task gates mostly avoid. Validation puts the single-task model above every multitask one "
            "(0.9127 against 0.8956 to 0.9058). Like: yes. Every model that shares a bottom or experts beats the "
            "single-task model (0.7486 ± 0.0087): MMoE 0.7632 ± 0.0037, Shared-Bottom 0.7632 ± 0.0097, PLE "
            "0.7615 ± 0.0027, MMoE with uncertainty weights 0.7576 ± 0.0050, gains of 1 to 1.7 times the single "
            "model's std, and validation agrees (0.7606 against 0.7633 to 0.7714). Like is defined on engaged "
            "samples only, so it gains from the engagement task's far larger training signal. ESMM's like (pCVR) "
            "AUC is lower (0.7321 ± 0.0024; validation 0.7345): its CVR tower learns only through pCTR x pCVR on "
            "all samples. Rating: not shown. On test MMoE's RMSE (1.0566 ± 0.0065) is about two std below the "
            "single-task model's (1.0777 ± 0.0109), and Shared-Bottom (1.0754), PLE (1.0737) and MMoE with "
            "uncertainty weights (1.0704) are within one std of it; but on validation the single-task model is "
            "best (1.0370 against 1.0407 to 1.0518), though it also early-stops on that RMSE while the multitask "
            "models stop on the mean AUC, so the two readings cannot settle it.",
            "Which model is best: MMoE and PLE, level. On validation mean AUC, the stopping metric, they tie (0.8356 "
            "and 0.8357); on test they tie on CTCVR AUC (0.8356 ± 0.0026 and 0.8355 ± 0.0038) and like AUC (0.7632 "
            "and 0.7615, within one std). MMoE does it with 61% of PLE's parameters and 25% less training time, so "
            "it is the one to pick here. Learned uncertainty weights trade like, CTCVR and rating for a steadier "
            "engagement AUC; ESMM is last on CTCVR (0.8214 ± 0.0040) here, where the entire-space formulation has "
            "no sample selection bias to remove (like is observed on every engaged sample).",
            "Do the experts specialise? Partly. MMoE's engagement gate puts 0.38 and 0.30 on experts 2 and 3, its "
            "rating gate 0.37 and 0.33 on experts 1 and 4, and its like gate spreads evenly (0.21 to 0.28): the "
            "two tasks with the most different targets use different experts, and like draws on both. In PLE's "
            "second level the engagement and like gates give their own task expert 0.87 and 0.76 of their weight, "
            "the rating gate only 0.44 (the rest to the shared experts); the first level's gates are closer to "
            "uniform.",
        ),
    ),
    "beyond-accuracy": TableSpec(
        name="beyond-accuracy",
        description="What the seq-full-ranking models show users: coverage, exposure Gini, novelty, popularity "
        "and diversity of the top-10 lists beside their accuracy, accuracy per activity group, and MMR "
        "re-ranking's accuracy-diversity trade-off.",
        datasets=("ml-100k", "amazon-beauty"),
        rows=(
            RowSpec("poprec", "seq-full-ranking/poprec.yaml", overrides=_BEYOND),
            RowSpec(
                "itemknn", "seq-full-ranking/itemknn-{dataset}.yaml", overrides=_BEYOND, notes="tuned on validation"
            ),
            RowSpec(
                "sasrec-ce",
                "seq-full-ranking/sasrec-ce.yaml",
                overrides={"ml-100k": (*_CAPPED_ML100K["ml-100k"], *_BEYOND), "amazon-beauty": _BEYOND},
                max_seeds={"amazon-beauty": 1},
            ),
            *(
                RowSpec(
                    f"itemknn-mmr-{trade_off}",
                    "seq-full-ranking/itemknn-{dataset}.yaml",
                    overrides=(*_BEYOND, "eval.rerank.kind=mmr", f"eval.rerank.trade_off={trade_off}"),
                )
                for trade_off in _MMR_TRADE_OFFS
            ),
        ),
        protocol=_FULL_RANKING,
        metrics=(
            "NDCG@10",
            "HR@10",
            "Coverage@10",
            "Gini@10",
            "Novelty@10",
            "ARP@10",
            "ILD@10",
            "NDCG@10 q1",
            "NDCG@10 q5",
            "NDCG@10 gap",
        ),
        notes=BEYOND_ACCURACY_NOTES,
        figure=beyond_accuracy_report.plot_table,
    ),
    "privacy": TableSpec(
        name="privacy",
        figure=figures.several(
            ("", figures.model_bars(("NDCG@10",))),
            (
                "-epsilon",
                figures.accuracy_against_budget(
                    "NDCG@10",
                    (
                        ("DP-SGD, bucketed batches", "sasrec-ce-dp-eps"),
                        ("DP-SGD, full-batch steps", "sasrec-ce-full-dp-eps"),
                        ("DP-FedAvg", "sasrec-ce-dp-fedavg-eps"),
                        ("DP-SGD, batches of 1,024 users", "sasrec-ce-b1024-dp-eps"),
                        ("GRU4Rec, DP-SGD, full-batch steps", "gru4rec-full-dp-eps"),
                        ("DP-SGD, example level (one prediction)", "sasrec-ce-example-dp-eps"),
                    ),
                    (
                        "sasrec-ce-non-private",
                        "sasrec-ce-full-non-private",
                        "sasrec-ce-fedavg",
                        "sasrec-ce-b1024-non-private",
                        "gru4rec-full-non-private",
                        "sasrec-ce-full-clip-only",
                    ),
                ),
            ),
        ),
        description="SASRec-CE and GRU4Rec under user-level DP-SGD, and SASRec-CE under federated averaging: "
        "accuracy against the privacy budget epsilon at delta.",
        datasets=("ml-100k", "amazon-beauty"),
        rows=(
            RowSpec(
                "sasrec-ce-non-private",
                "privacy/sasrec-ce-dp.yaml",
                overrides=("train.privacy.enabled=false",),
                max_seeds=1,
                datasets=_ML100K,
            ),
            RowSpec(
                "sasrec-ce-clip-only",
                "privacy/sasrec-ce-dp.yaml",
                overrides=("train.privacy.noise_multiplier=0",),
                max_seeds=1,
                datasets=_ML100K,
            ),
            *_private_rows("sasrec-ce-dp-eps", "privacy/sasrec-ce-dp.yaml", {"ml-100k": _DP_NOISE}),
            RowSpec(
                "sasrec-ce-full-non-private",
                "privacy/sasrec-ce-dp-full-{dataset}.yaml",
                overrides=("train.privacy.enabled=false",),
                datasets=_ML100K,  # amazon-beauty's 22,363 users in one non-private step need 16 GB and more
            ),
            RowSpec(
                "sasrec-ce-full-clip-only",
                "privacy/sasrec-ce-dp-full-{dataset}.yaml",
                overrides=("train.privacy.noise_multiplier=0",),
                max_seeds=1,
            ),
            *_private_rows(
                "sasrec-ce-full-dp-eps",
                "privacy/sasrec-ce-dp-full-{dataset}.yaml",
                {"ml-100k": _DP_FULL_BATCH_NOISE, "amazon-beauty": _DP_FULL_BATCH_BEAUTY_NOISE},
                all_seeds=(8, 4),  # the criterion's budgets
                seed_caps={"amazon-beauty": 1},
            ),
            # GRU4Rec in the same full-batch steps (experiments/privacy/gru4rec-dp-full.yaml).
            RowSpec(
                "gru4rec-full-non-private",
                "privacy/gru4rec-dp-full.yaml",
                overrides=("train.privacy.enabled=false",),
                datasets=_ML100K,
            ),
            *_private_rows(
                "gru4rec-full-dp-eps",
                "privacy/gru4rec-dp-full.yaml",
                {"ml-100k": _DP_FULL_BATCH_NOISE},
                all_seeds=(8, 4),
            ),
            # Example level: every next-item prediction one example (experiments/privacy/sasrec-ce-dp-example.yaml).
            RowSpec(
                "sasrec-ce-example-dp-eps8",
                "privacy/sasrec-ce-dp-example.yaml",
                overrides=("train.privacy.noise_multiplier=0.622",),
                max_seeds=1,
                datasets=_ML100K,
            ),
            RowSpec("sasrec-ce-fedavg", "privacy/sasrec-ce-fedavg.yaml", max_seeds=1, datasets=_ML100K),
            RowSpec(
                "sasrec-ce-dp-fedavg-eps8",
                "privacy/sasrec-ce-fedavg.yaml",
                overrides=("train.privacy.enabled=true", "train.privacy.noise_multiplier=3.666"),
                max_seeds=1,
                datasets=_ML100K,
            ),
            # amazon-beauty: batches of 1,024 users (experiments/privacy/sasrec-ce-dp-beauty.yaml).
            RowSpec(
                "sasrec-ce-b1024-non-private",
                "privacy/sasrec-ce-dp-beauty.yaml",
                overrides=("train.privacy.enabled=false",),
                max_seeds=1,
                datasets=_BEAUTY,
            ),
            *_private_rows(
                "sasrec-ce-b1024-dp-eps", "privacy/sasrec-ce-dp-beauty.yaml", {"amazon-beauty": _DP_BEAUTY_NOISE}
            ),
        ),
        protocol=_FULL_RANKING,
        metrics=("HR@10", "NDCG@10"),
        record_columns=("epsilon", "delta"),
        default_seeds=3,
        notes=PRIVACY_NOTES,
    ),
    "generative": TableSpec(
        name="generative",
        figure=figures.model_bars(("NDCG@10",)),
        description="Generative recommenders against dynint's SASRec-CE: HSTU (Zhai et al., ICML 2024) and "
        "TIGER-style semantic-id retrieval (Rajput et al., NeurIPS 2023), next-item full ranking.",
        datasets=("ml-100k", "amazon-beauty", "amazon-sports"),
        rows=(
            RowSpec(
                "sasrec-ce",
                "seq-full-ranking/sasrec-ce.yaml",
                overrides=_SASREC_RUNS,
                max_seeds={"amazon-beauty": 1, "amazon-sports": 1},
            ),
            RowSpec("hstu", "generative/hstu.yaml", overrides=_HSTU_RUNS),
            RowSpec(
                "hstu-time",
                "generative/hstu.yaml",
                overrides={"ml-100k": (*_CAPPED_ML100K["ml-100k"], "model.time_buckets=48")},
                datasets=("ml-100k",),  # the S3-Rec Amazon files give event order only
                notes="with the time bias",
            ),
            RowSpec(
                "tiger",
                "generative/tiger.yaml",
                overrides=_CAPPED_ML100K,
                max_seeds=1,
                datasets=("ml-100k",),
                notes="generation: beam of 20, metrics from the beam",
            ),
        ),
        protocol=_FULL_RANKING,
        metrics=("HR@10", "NDCG@10", "NDCG@20"),
        record_columns=("parameters",),
        published_models=("tiger",),
        notes=GENERATIVE_NOTES,
    ),
    "scaling": TableSpec(
        name="scaling",
        figure=figures.scaling_curves("NDCG@10", "non_embedding_parameters", "train_flops_to_best_epoch"),
        description="Quality against model size: SASRec-CE and HSTU from about 0.1 M non-embedding parameters "
        "up, next-item full ranking.",
        datasets=("ml-100k", "amazon-beauty"),
        rows=_scaling_rows(),
        protocol=_FULL_RANKING,
        metrics=("HR@10", "NDCG@10"),
        record_columns=("parameters", "non_embedding_parameters", "train_flops_to_best_epoch"),
        default_seeds=1,
        notes=SCALING_NOTES,
    ),
    "long-sequence": TableSpec(
        name="long-sequence",
        figure=figures.history_length_curves("NDCG@10"),
        description="Dense versus sparse-attention SASRec on long histories (200 and 500 items), full ranking.",
        datasets=("ml-100k", "amazon-beauty"),
        rows=tuple(
            RowSpec(f"{model}-{history}", f"long-sequence/{model}-{history}.yaml", max_seeds={"amazon-beauty": 1})
            for history in (200, 500)
            for model in ("sasrec", "sparse-sasrec")
        ),
        protocol=_FULL_RANKING,
        metrics=("HR@10", "NDCG@10"),
        notes=(
            "sparse-sasrec attends, per query, to a window of the last 64 items, every 16th earlier item (strided, "
            "Child et al. 2019) and the 4 oldest items, computed blockwise without an L x L score matrix; every other "
            "setting equals the dense row's. Target: on ml-100k with history 200, sparse NDCG@10 within 3% (relative) "
            "of dense, or better.",
            "Seeds: 3 on ml-100k, 1 (seed 0; std shows 0) on amazon-beauty, to fit a 2-core session: Beauty's "
            "histories are short (mean 8.9 items; 153 of 22,363 users above 50, one above 200), so there the rows "
            "test that the sparse pattern "
            "costs nothing where it is not needed, not long-history behaviour.",
            "ml-100k, history 200 (3 seeds, runs at 47d7af6): test NDCG@10 sparse 0.1025 ± 0.0118 (0.1152, 0.1006, "
            "0.0918) against dense 0.0988 ± 0.0118 (0.1100, 0.1000, 0.0864): the sparse model is 3.7% higher, so it "
            "meets the target (within 3% or better), though the gap is a third of the seeds' std, so the two are "
            "indistinguishable here. Seed by seed the order of the seeds is the same for both models, which share "
            "their initial embeddings and data order.",
            "Speed at history 200: the sparse rows took 14-16 s per training epoch against 8-10 s for dense (two "
            "or three runs sharing the 2 cores, so a rough ratio). At this length the stride-16 and global keys add "
            "work dense attention does not save: most ml-100k histories are far shorter than 200, and length "
            "buckets already trim dense attention's padding. The benchmark (window only) puts the crossing below "
            "L = 128 and the 4x gain near L = 2048.",
            "ml-100k, history 500 (3 seeds, runs at c2e62b0): test NDCG@10 sparse 0.1041 ± 0.0112 (0.0912, 0.1098, "
            "0.1112) against dense 0.1051 ± 0.0076 (0.0975, 0.1050, 0.1127), 1% lower, a tenth of the seeds' std; "
            "HR@10 0.1930 against 0.1944. Validation NDCG@10 puts sparse slightly ahead (0.1143 against 0.1096). "
            "Keeping 500 items instead of 200 changes neither model measurably (dense 0.0988 -> 0.1051, sparse "
            "0.1025 -> 0.1041, all within one std). Per epoch both took 13 to 18 s (two runs sharing the 2 cores): "
            "length buckets keep most batches far below 500, so dense attention's quadratic cost seldom bites on "
            "ml-100k. The dense seed-1 run was interrupted once and resumed from its checkpoint, so its wall time "
            "counts only the part after the resume.",
            "amazon-beauty (1 seed; sasrec-200 run at c2e62b0, the other three at a90c17e): test NDCG@10 / HR@10 "
            "sasrec-200 0.0580 / 0.0965, sparse-sasrec-200 0.0583 / 0.0959, sasrec-500 0.0585 / 0.0969, "
            "sparse-sasrec-500 0.0587 / 0.0962. The four lie within 0.0007 of each other, about the seeds' std of "
            "sasrec-ce on this set in seq-full-ranking (± 0.0007), so on Beauty's short histories neither the sparse "
            "pattern nor the longer history changes quality; validation agrees (0.0606 to 0.0609). Best epochs 21 "
            "(24 for sparse-sasrec-500), then the refit. Per epoch 29 to 34 s, each run sharing the 2 cores with "
            "another job: length buckets make history 200 and 500 cost the same here.",
            "Time per epoch: each run's mean_epoch_train_time_s in the per-run records of the JSON; "
            "`python benchmarks/sparse_attention_speed.py` measures the train step alone, dense against sparse.",
        ),
    ),
    "text-enhanced": TableSpec(
        name="text-enhanced",
        figure=figures.model_bars(("NDCG@10", "AUC")),
        description=(
            "Pretrained item text and attributes in interest models: SASRec-CE with each item representation, "
            "warm and under item cold start, beside the content baselines; DIEN with item content (CTR)."
        ),
        datasets=_ALL_DATASETS,
        rows=_text_enhanced_rows(),
        protocol={
            "warm": "leave-one-out full ranking over all items, seen items excluded (rows ending in -warm)",
            "cold": (
                "item cold start (rows ending in -cold): a seeded 10% of the items are validation-cold and another "
                "10% test-cold; no event on a cold item is in any training input or target; each user's first event "
                "on a validation-cold (test-cold) item is their validation (test) target, ranked against all items"
            ),
            "ctr": "rows ending in -ctr: the ctr-auc protocol (true next item against one sampled unseen item)",
            "ties": "equal scores ordered by item id, lower first",
        },
        metrics=("HR@10", "NDCG@10", "NDCG@20", "AUC", "GAUC"),
        notes=(
            "Encoders: all-MiniLM-L6-v2 (sentence-transformers, 22.7M parameters, mean pooling, normalised) for "
            "every text row, SmolLM2-135M-Instruct (decoder LLM, GGUF Q4_1 de-quantised to float32, mean of the final "
            "hidden states) for sasrec-text-adaptor-smollm2; both run natively in JAX (dynint/pretrained) and match "
            "their reference implementations (tests/pretrained). Item documents: ml-100k 'title (year). Genres: ...'; "
            "the S3-Rec Beauty / Sports files have attribute ids only, so only id+attributes rows run there.",
            "Hyper-parameters: every SASRec row uses seq-full-ranking's sasrec-ce settings (chosen there on "
            "validation), with the same per-data-set overrides; only model.items differs. content-tfidf-warm is "
            "seq-full-ranking's tuned content row; the cold content rows use untuned defaults.",
            "Training catalogue under item cold start: the losses draw their softmax terms and negatives only from "
            "the items visible at that stage (Split.training_catalogue), so a held-out item is not even a negative. "
            "Before this rule text-adaptor learned to push every item that never appeared as a target down, and its "
            "validation NDCG@10 fell from 0.018 at epoch 3 to 0 by epoch 10 (one exploratory run, not in the table).",
            "Seeds (2-core session budgets): 3 for the rows the criteria compare on ml-100k (sasrec-id-warm, "
            "sasrec-id+text-warm, sasrec-text-adaptor-cold), the deterministic baselines (std 0) and the DIEN rows "
            "except dien-id+text-ctr (1), and the amazon-beauty id and id+attributes rows; 1 or 2 for the others "
            "(RowSpec.max_seeds), among them the amazon-sports id row (1). ml-100k SASRec "
            "rows stop after at most 100 epochs (patience 10), as in seq-full-ranking. "
            "SASRec runs on ml-100k at 9adcd5e (sasrec-id-warm seed 0 at 4a3b4d9; the id path is "
            "the same code at both); Amazon and DIEN runs at 71a47e3 and later (each run's commit is in the JSON). "
            "The warm text-init, text-adaptor and SmolLM2 rows on ml-100k and the amazon-sports SASRec rows ran "
            "at 2bb4775; the amazon-beauty id and id+attributes rows at ae9c59c (id, and id+attributes seed 0) and "
            "b03bb26 (id+attributes seeds 1 and 2, and amazon-sports id+attributes seed 1; amazon-sports seed 2 at "
            "071f0cf with only this seed cap changed; the training code is the same). Not run here: seeds 1 and 2 "
            "of the amazon-sports id row "
            "(seq-full-ranking's sasrec-ce row holds 3 seeds of sasrec-id-warm's configuration: beauty 0.0561 ± "
            "0.0007, sports 0.0330 ± 0.0007).",
            "Warm text rows on ml-100k (seed 0, test NDCG@10, validation in brackets): text-init 0.0986 (0.1094), "
            "text-adaptor 0.0885 (0.1031), text-adaptor with SmolLM2-135M 0.0490 (0.0643), against id 0.0858 ± "
            "0.0064 over 3 seeds (seed 0: 0.0837, validation 0.0943). Starting the id table from the text vectors' "
            "principal directions helps most here; an adaptor over frozen text alone is level with ids; the "
            "decoder LLM's mean hidden state makes a weaker item vector than MiniLM's sentence embedding.",
            "Warm on amazon-beauty (3 seeds, test NDCG@10): id+attributes 0.0565 +- 0.0009 (0.0566, 0.0556, "
            "0.0573) against id 0.0561 +- 0.0006 (0.0568, 0.0559, 0.0556), +0.7 %, within the seeds' spread; on "
            "validation the two are level: 0.0588 (0.0591, 0.0595, 0.0577) against 0.0588 (0.0592, 0.0587, 0.0586), "
            "best epochs 22/18/18 against 18/17/18. The attribute bag (brand and category ids) adds nothing "
            "measurable to SASRec-CE here, so the 3 % criterion is not met. In this 5-core file every item has at "
            "least 5 training events, and the id vectors learn what the coarse attributes say. Under the CTR "
            "protocol the same attributes help DIEN markedly (see the dien rows): its one sampled negative per "
            "positive is often told apart by category alone. On amazon-sports (hidden 128, 3 seeds): "
            "id+attributes 0.0326 (0.0320, 0.0327, 0.0330) against id 0.0330 +- 0.0007 test NDCG@10 "
            "(seq-full-ranking's sasrec-ce row: 3 seeds of the same id configuration, 0.0332, 0.0336, 0.0323; this "
            "table's id row is its seed 0), -1 %; on validation 0.0332 (0.0335, 0.0334, 0.0328) "
            "against 0.0331 (0.0332, 0.0327, 0.0333), best epochs 8, 8, 7. The same picture as on "
            "amazon-beauty: below the 3 % criterion, level on validation.",
            "Item cold start on ml-100k (168 validation-cold and 168 test-cold items; 913 validation and 923 test "
            "rows; test NDCG@10, mean ± std): sasrec-text-adaptor 0.0725 ± 0.0140 (3 seeds: 0.0848, 0.0573, "
            "0.0755; validation 0.0511 to 0.0650) is 3.5 times the TF-IDF content baseline (0.0207; 0.0281 with "
            "seq-full-ranking's warm-tuned content settings, a run outside the table) and 3.8 times the pretrained-"
            "embedding content baseline (0.0190), and 2.8 times the unseen-random floor (0.0261), which ranks the "
            "items without visible events first at random: every cold target is such an item. With SmolLM2-135M "
            "in place of MiniLM the adaptor reaches 0.0601 (1 seed; its validation NDCG@10 peaked at only 0.0028, "
            "so its early stopping chose epoch 5 on a nearly flat curve). The id-only model cannot rank cold items "
            "(0.0000: their vectors never trained), and neither can the rows that keep an id table: text-init "
            "(0.0000), id+text (0.0015 over 2 seeds) and id+attributes (0.0000) learn warm items whose id vectors "
            "outgrow the untrained cold ones. PopRec scores 0 by construction.",
            "Warm on ml-100k (test NDCG@10): id+text 0.0907 ± 0.0138 against id 0.0858 ± 0.0064 (3 seeds each; "
            "validation 0.0947 against 0.0970): level within the seeds' std, as the criterion asks; id+attributes "
            "(genres) 0.0991 on one seed. The content baselines are far below (TF-IDF 0.0352, pretrained 0.0254).",
            "DIEN (CTR protocol, AUGRU without the auxiliary loss, ctr-auc's settings; test AUC, mean of 3 seeds): "
            "the attribute bag raises DIEN's AUC from 0.7317 to 0.7811 on amazon-beauty (GAUC 0.7066 to 0.7543) and "
            "from 0.7591 to 0.8028 on amazon-sports (GAUC 0.7555 to 0.7973), a gain the validation runs show as "
            "well (0.7658 to 0.8082 and 0.7956 to 0.8290). On ml-100k the item text does not help DIEN: id+text "
            "0.8985 (1 seed; validation 0.9184) against id 0.9082 (3 seeds; validation 0.9164).",
            "Encoding cost (benchmarks/text_encoding_speed.py, benchmarks/llm_encoding_speed.py, 2 shared CPU "
            "cores): the 1,682 ml-100k item documents take 13.8 to 31.7 s with all-MiniLM-L6-v2 and 141 s with "
            "SmolLM2-135M from scratch, and 0.01 to 0.03 s from the embedding cache.",
        ),
    ),
    "temporal": TableSpec(
        name="temporal",
        description=(
            "The streaming temporal protocol: the time line cut into 10 windows of equal event counts; each "
            "model fits window 0, then before every later window is updated by its strategy and ranks each of "
            "the window's events from the user's whole earlier history."
        ),
        datasets=("ml-100k", "synthetic"),
        rows=_temporal_rows(),
        protocol=_STREAM,
        metrics=("mean NDCG@10", "mean HR@10", "AUC NDCG@10"),
        record_columns=(
            "update time (s)",
            "later update time (s)",
            "later update CPU time (s)",
            "update examples",
            "switch lag (events)",
        ),
        notes=_TEMPORAL_NOTES,
        row_details=temporal_report.row_details,
        figure=temporal_report.plot_table,
    ),
    "quickstart": TableSpec(
        name="quickstart",
        figure=figures.model_bars(("NDCG@10",)),
        description="The bundled synthetic drifting-interest data set (no download needed).",
        datasets=("synthetic",),
        rows=(
            RowSpec("poprec", "quickstart/poprec.yaml"),
            RowSpec("gru4rec", "quickstart/gru4rec.yaml"),
            RowSpec("sasrec-ce", "quickstart/sasrec.yaml"),
            RowSpec("sasrec-text-init", "quickstart/sasrec-text-init.yaml"),
        ),
        protocol=_FULL_RANKING,
        metrics=_RANKING_METRICS,
        notes=(
            "Synthetic users drift between item clusters over time; popularity ignores the drift, while the "
            "sequence models (small, few epochs, so the table runs in minutes on 2 CPU cores) follow it.",
            "sasrec-text-init starts its item table from all-MiniLM-L6-v2 vectors of the items' descriptions "
            "(dynint/pretrained, run natively in JAX), whose words half come from the item's cluster vocabulary: "
            "the text knows the clusters before any interaction does.",
        ),
    ),
}


def get_table(name: str) -> TableSpec:
    if name not in TABLES:
        nearest = difflib.get_close_matches(name, list(TABLES), n=1)
        hint = f"did you mean '{nearest[0]}'?" if nearest else f"available: {', '.join(sorted(TABLES))}"
        raise KeyError(f"unknown table '{name}'; {hint}")
    return TABLES[name]
