"""Per-frame ridge regression of a soft segmentation on the node features (the bias included and
regularised, as in the reference): w = (X^T X + lambda I)^-1 X^T y, r = X w, with X = [features, 1].

The float32 operations follow the reference's order, w = ((X^T X + lambda I)^-1 X^T) y: the
per-frame min-max normalisation that follows magnifies rounding differences, and another order
(in float64, say) drifts up to ~1e-4 away from the reference's numbers."""
import torch

from graph_module.features import design_blocks
from graph_module.workers import run_all, worker_threads


def ridge_inverses(design, ridge_lambda: float) -> torch.Tensor:
    """(X^T X + lambda I)^-1 for each frame's N x (F+1) design matrix X: n x (F+1) x (F+1).
    `design`: NodeFeatures or an n x N x (F+1) tensor.

    The features never change across iterations, so this is computed once."""
    return torch.cat([_block_inverses(block, ridge_lambda) for _, block in design_blocks(design)])


def _block_inverses(design: torch.Tensor, ridge_lambda: float) -> torch.Tensor:
    n, _, width = design.shape
    eye = torch.eye(width, dtype=design.dtype, device=design.device)
    inverses = torch.empty(n, width, width, dtype=design.dtype, device=design.device)
    for frame in range(n):
        x = design[frame]
        inverses[frame] = torch.linalg.inv(torch.mm(x.t(), x) + ridge_lambda * eye)
    return inverses


def ridge_predict(design, inverses: torch.Tensor, targets: torch.Tensor, out=None):
    """r = X ((X^T X + lambda I)^-1 X^T) y for every frame: design (NodeFeatures or n x N x (F+1)),
    targets n x N."""
    out = torch.empty_like(targets) if out is None else out
    parts = worker_threads(targets.device)

    def predict(part):
        for pivots, block in design_blocks(design, part, parts):
            for row, frame in enumerate(pivots):
                x = block[row]
                w = torch.mm(torch.mm(inverses[frame], x.t()), targets[frame][:, None])
                torch.mm(x, w, out=out[frame][:, None])
    run_all(predict, range(parts), parts)
    return out
