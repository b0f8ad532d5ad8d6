"""The power iteration of IKE's graph module, interleaved with the feature regression."""
import warnings

import torch

from graph_module.regression import ridge_predict


def minmax_per_frame(maps: torch.Tensor):
    """Scale every frame's map (row of n x N) to [0, 1]. A constant map becomes 0 (the reference
    divides by zero there). Returns the maps and how many were constant."""
    low = maps.min(dim=1, keepdim=True).values
    span = maps.max(dim=1, keepdim=True).values - low
    constant = span <= 0
    scaled = (maps - low) / torch.where(constant, torch.ones_like(span), span)
    return scaled, int(constant.sum())


def iteration_step(graph, design, inverses, maps: torch.Tensor):
    """One iteration: propagate along the graph, normalise per frame, regress on the features, keep
    the positive part and normalise again. Returns the new maps and the count of constant maps met."""
    propagated, constant_a = minmax_per_frame(graph.propagate(maps))
    regressed = ridge_predict(design, inverses, propagated).clamp_(min=0)
    result, constant_b = minmax_per_frame(regressed)
    return result, constant_a + constant_b


def power_iterations(graph, design, inverses, seed: torch.Tensor, n_iterations: int, on_iteration=None):
    """Run `n_iterations` steps from `seed` (n x N); `on_iteration(k, maps)` sees each result."""
    maps = seed
    constant = 0
    for k in range(n_iterations):
        maps, met = iteration_step(graph, design, inverses, maps)
        constant += met
        if on_iteration is not None:
            on_iteration(k, maps)
    if constant:
        warnings.warn(f'{constant} frame map(s) had zero range during the iterations (nothing to '
                      f'segment there); they were set to 0 instead of NaN')
    return maps
