"""Privacy accounting with Google's `dp-accounting` (RDP accountant): the epsilon a DP-SGD run has
spent after some steps, each a Poisson-sampled Gaussian mechanism."""

from __future__ import annotations

import logging
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
    # The accountant logs a warning for each Renyi order whose series does not converge (it drops
    # that order, which only makes epsilon a little looser); dozens per call, so they are muted.
    previous = logging.root.manager.disable
    logging.disable(logging.WARNING)
    try:
        accountant.compose(event, steps)
        return float(accountant.get_epsilon(delta))
    finally:
        logging.disable(previous)


def noise_for_epsilon(target: float, sampling_rate: float, steps: int, delta: float, tolerance: float = 1e-3) -> float:
    """The smallest noise multiplier (to `tolerance`, relative) whose `steps` steps spend at most
    `target` epsilon: bisection on `epsilon_spent`, which falls as the noise grows."""
    if not target > 0 or steps < 1:
        raise ValueError(f"target={target}, steps={steps}: expected a positive epsilon and at least one step")
    low, high = 0.0, 1.0
    while epsilon_spent(high, sampling_rate, steps, delta) > target:
        low, high = high, 2 * high
        if high > 1e6:
            raise ValueError(f"no noise multiplier below 1e6 reaches epsilon {target} in {steps} steps")
    while high - low > tolerance * high:
        middle = (low + high) / 2
        if epsilon_spent(middle, sampling_rate, steps, delta) > target:
            low = middle
        else:
            high = middle
    return high
