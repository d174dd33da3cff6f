"""Items per second encoding a catalogue's item texts with a pretrained text model, from scratch and from the cache.

The texts are `item_documents` (ml-100k: "Toy Story (1995). Genres: Animation, Children's, Comedy"),
what the content models encode. Three passes over the same texts:
  - from scratch: a fresh cache, tokenization and jit compilation of every length bucket included;
  - compiled: a fresh cache again, the compiled programs reused (steady-state throughput);
  - cached: the vectors read back from the cache of the first pass.

Run: python benchmarks/text_encoding_speed.py [--data-dir ../shared/data] [--model all-MiniLM-L6-v2] [--dtype bfloat16]
The same command runs on a GPU (JAX picks the accelerator); `--dtype bfloat16` suits one.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import jax
import numpy as np

from dynint.data.item_content import item_documents
from dynint.data.registry import load_dataset
from dynint.pretrained import encode_texts, load_text_embedder


def timed_encode(embedder, texts: list[str], cache_dir: Path, batch_size: int) -> tuple[np.ndarray, float]:
    started = time.perf_counter()
    vectors = encode_texts(embedder, texts, batch_size=batch_size, cache_dir=cache_dir, progress=False)
    return vectors, time.perf_counter() - started


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", default="../shared/data")
    parser.add_argument("--dataset", default="ml-100k")
    parser.add_argument("--model", default="all-MiniLM-L6-v2", help="a default model's name, a folder or a .gguf file")
    parser.add_argument("--dtype", default="float32", choices=("float32", "bfloat16"))
    parser.add_argument("--batch-size", type=int, default=64)
    args = parser.parse_args()

    texts = item_documents(load_dataset(args.dataset, args.data_dir))[1:]  # row 0 is the padding item
    started = time.perf_counter()
    embedder = load_text_embedder(args.model, dtype=args.dtype)
    load_s = time.perf_counter() - started
    lengths = [len(ids) for ids in embedder.tokenize(texts)]
    print(f"{args.dataset}: {len(texts)} item texts, {np.mean(lengths):.1f} tokens on average (max {max(lengths)})")
    print(f"{embedder.name} ({embedder.pooling}, {args.dtype}) loaded in {load_s:.1f} s on {jax.devices()[0]}")
    with tempfile.TemporaryDirectory() as scratch:
        first, scratch_s = timed_encode(embedder, texts, Path(scratch) / "first", args.batch_size)
        second, compiled_s = timed_encode(embedder, texts, Path(scratch) / "second", args.batch_size)
        cached, cached_s = timed_encode(embedder, texts, Path(scratch) / "first", args.batch_size)
    assert np.array_equal(first, cached), "the cache returned different vectors"
    print(f"largest difference between the two computed passes: {np.abs(first - second).max():.2e}")
    print(f"{'pass':28} {'seconds':>9} {'items/s':>10}")
    for name, seconds in (
        ("from scratch (with compile)", scratch_s),
        ("compiled, fresh cache", compiled_s),
        ("from cache", cached_s),
    ):
        print(f"{name:28} {seconds:9.2f} {len(texts) / seconds:10.0f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
