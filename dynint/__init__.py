"""dynint: a JAX research framework for dynamic interest modeling in recommender systems."""

__version__ = "0.1.0"
