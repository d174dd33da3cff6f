"""Pretrained text models for item and user texts: load one, encode texts (cached on disk).

embedder = load_text_embedder("all-MiniLM-L6-v2")   # or a checkpoint folder, or a .gguf file
vectors = encode_texts(embedder, ["Toy Story (1995) | Animation, Children's, Comedy"])
"""

from dynint.pretrained.defaults import DEFAULT_TEXT_MODEL
from dynint.pretrained.encoding import encode_texts, load_text_embedder
from dynint.pretrained.text_model import TextEmbedder

__all__ = ["DEFAULT_TEXT_MODEL", "TextEmbedder", "encode_texts", "load_text_embedder"]
