"""Per-frame ridge regression of a soft segmentation on the node features (the bias included and
regularised, as in the reference): w = (X^T X + lambda I)^-1 X^T y, r = X w, with X = [features, 1].

The float32 operations follow the reference's order, w = ((X^T X + lambda I)^-1 X^T) y: the
per-frame min-max normalisation that follows magnifies rounding differences, and another order
(in float64, say) drifts up to ~1e-4 away from the reference's numbers."""
import torch


def ridge_inverses(design: torch.Tensor, ridge_lambda: float) -> torch.Tensor:
    """(X^T X + lambda I)^-1 for each frame's N x (F+1) design matrix X: n x (F+1) x (F+1).

    The features never change across iterations, so this is computed once."""
    n, _, width = design.shape
    eye = torch.eye(width, dtype=design.dtype, device=design.device)
    inverses = torch.empty(n, width, width, dtype=design.dtype, device=design.device)
    for frame in range(n):
        x = design[frame]
        inverses[frame] = torch.linalg.inv(torch.mm(x.t(), x) + ridge_lambda * eye)
    return inverses


def ridge_predict(design: torch.Tensor, inverses: torch.Tensor, targets: torch.Tensor, out=None):
    """r = X ((X^T X + lambda I)^-1 X^T) y for every frame: design n x N x (F+1), targets n x N."""
    out = torch.empty_like(targets) if out is None else out
    for frame in range(targets.shape[0]):
        x = design[frame]
        w = torch.mm(torch.mm(inverses[frame], x.t()), targets[frame][:, None])
        torch.mm(x, w, out=out[frame][:, None])
    return out
