"""Data layer: readers -> Interactions -> preprocessing -> splits."""

from dynint.data.interactions import Interactions, ItemFeatures
from dynint.data.ragged import Ragged

__all__ = ["Interactions", "ItemFeatures", "Ragged"]
