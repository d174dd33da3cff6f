"""Privacy accounting with Google's `dp-accounting` (RDP accountant): the epsilon a DP-SGD run has
spent after some steps, each a Poisson-sampled Gaussian mechanism."""

from __future__ import annotations

import math


def epsilon_spent(noise_multiplier: float, sampling_rate: float, steps: int, delta: float) -> float:
    """Epsilon at `delta` after `steps` steps of sampling rate `sampling_rate` (batch / users)
    with Gaussian noise `noise_multiplier`; inf without noise, 0 before any step."""
    if steps == 0:
        return 0.0
    if noise_multiplier == 0:
        return math.inf
    import dp_accounting
    from dp_accounting import rdp

    accountant = rdp.RdpAccountant()
    event = dp_accounting.PoissonSampledDpEvent(
        min(sampling_rate, 1.0), dp_accounting.GaussianDpEvent(noise_multiplier)
    )
    accountant.compose(event, steps)
    # The accountant logs each Renyi order whose series does not converge (it drops that order); quiet.
    from absl import logging as absl_logging

    verbosity = absl_logging.get_verbosity()
    absl_logging.set_verbosity(absl_logging.ERROR)
    try:
        return float(accountant.get_epsilon(delta))
    finally:
        absl_logging.set_verbosity(verbosity)
