"""dynint: a JAX research framework for dynamic interest modeling in recommender systems."""

__version__ = "0.1.0"


def load(run_dir, data_dir=None):
    """A finished run's model, ready to recommend (see `dynint.serving.load`)."""
    from dynint.serving import load as load_run  # JAX is imported on first use, not with the package

    return load_run(run_dir, data_dir)
