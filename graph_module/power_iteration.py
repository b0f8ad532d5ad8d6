"""The power iteration of IKE's graph module, interleaved with the feature regression."""
import warnings

import torch

from graph_module.regression import ridge_predict


def minmax_per_frame_(maps: torch.Tensor) -> int:
    """Scale every frame's map (row of n x N) to [0, 1], in place. A constant map becomes 0 (the
    reference divides by zero there). Returns how many were constant."""
    low = maps.min(dim=1, keepdim=True).values
    span = maps.max(dim=1, keepdim=True).values - low
    constant = span <= 0
    maps.sub_(low).div_(torch.where(constant, torch.ones_like(span), span))
    return int(constant.sum())


def power_iterations(graph, design, inverses, seed: torch.Tensor, n_iterations: int, on_iteration=None):
    """Run `n_iterations` steps from `seed` (n x N, overwritten: it becomes the running maps);
    `design` is NodeFeatures (or a whole design tensor); `on_iteration(k, maps)` sees each result
    (a buffer that the next iteration overwrites). Every step: propagate along the graph,
    normalise per frame, regress on the features, keep the positive part, normalise again."""
    maps = seed
    propagated = torch.empty_like(maps)
    constant = 0
    for k in range(n_iterations):
        graph.propagate(maps, out=propagated)
        constant += minmax_per_frame_(propagated)
        ridge_predict(design, inverses, propagated, out=maps).clamp_(min=0)
        constant += minmax_per_frame_(maps)
        if on_iteration is not None:
            on_iteration(k, maps)
    if constant:
        warnings.warn(f'{constant} frame map(s) had zero range during the iterations (nothing to '
                      f'segment there); they were set to 0 instead of NaN')
    return maps
