"""Using a finished run: load it (`load`) and ask it for recommendations."""

from dynint.serving.loading import LoadedRun, Recommendation, RunNotUsable, load

__all__ = ["LoadedRun", "Recommendation", "RunNotUsable", "load"]
