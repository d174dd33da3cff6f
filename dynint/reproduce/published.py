"""Published reference numbers, each cited with its paper and table."""

from __future__ import annotations

S3REC_SOURCE = "S3-Rec (Zhou et al., CIKM 2020), Table 3: full ranking, leave-one-out"
TIGER_SOURCE = (
    "TIGER (Rajput et al., NeurIPS 2023): generative retrieval by beam search over semantic ids, "
    "leave-one-out on the 5-core Amazon 2014 files; its Recall@K is HR@K here"
)

# Keys: (dataset, model id). Values: metric -> published number for these exact files.
_S3REC = {
    ("amazon-beauty", "poprec"): (0.0080, 0.0044, 0.0152, 0.0068, 0.0217, 0.0084),
    ("amazon-beauty", "gru4rec"): (0.0164, 0.0099, 0.0283, 0.0137, 0.0479, 0.0187),
    ("amazon-beauty", "sasrec"): (0.0387, 0.0249, 0.0605, 0.0318, 0.0902, 0.0394),
    ("amazon-beauty", "bert4rec"): (0.0203, 0.0124, 0.0347, 0.0170, 0.0599, 0.0233),
    ("amazon-beauty", "s3rec"): (0.0387, 0.0244, 0.0647, 0.0327, 0.0994, 0.0414),
    ("amazon-sports", "poprec"): (0.0056, 0.0041, 0.0094, 0.0053, 0.0192, 0.0078),
    ("amazon-sports", "gru4rec"): (0.0129, 0.0086, 0.0204, 0.0110, 0.0333, 0.0142),
    ("amazon-sports", "sasrec"): (0.0233, 0.0154, 0.0350, 0.0192, 0.0507, 0.0231),
    ("amazon-sports", "bert4rec"): (0.0115, 0.0075, 0.0191, 0.0099, 0.0315, 0.0130),
    ("amazon-sports", "s3rec"): (0.0251, 0.0161, 0.0385, 0.0204, 0.0607, 0.0260),
}
_S3REC_METRICS = ("HR@5", "NDCG@5", "HR@10", "NDCG@10", "HR@20", "NDCG@20")


def s3rec_published(dataset: str, published_model: str) -> dict[str, float | str] | None:
    """The S3-Rec paper's row for `published_model` on `dataset`, or None if it has none."""
    values = _S3REC.get((dataset, published_model))
    if values is None:
        return None
    return {**dict(zip(_S3REC_METRICS, values, strict=True)), "source": S3REC_SOURCE}


# The TIGER paper's sequential-recommendation results (Recall@5, NDCG@5, Recall@10, NDCG@10).
_TIGER = {
    ("amazon-beauty", "tiger"): (0.0454, 0.0321, 0.0648, 0.0384),
    ("amazon-sports", "tiger"): (0.0264, 0.0181, 0.0400, 0.0225),
}
_TIGER_METRICS = ("HR@5", "NDCG@5", "HR@10", "NDCG@10")


def published_numbers(dataset: str, published_model: str) -> dict[str, float | str] | None:
    """The published row for `published_model` on `dataset` (S3-Rec's table, else TIGER's paper)
    with its source, or None if no paper reports it."""
    s3rec = s3rec_published(dataset, published_model)
    if s3rec is not None:
        return s3rec
    values = _TIGER.get((dataset, published_model))
    if values is None:
        return None
    return {**dict(zip(_TIGER_METRICS, values, strict=True)), "source": TIGER_SOURCE}
