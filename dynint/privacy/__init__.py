"""Differentially private training: DP-SGD with user-level clipping and noise, and its accounting."""
