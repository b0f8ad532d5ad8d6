"""Initial soft segmentations (iteration -1), exactly as the reference draws them."""
import numpy as np
import torch

RANDOM, UNIFORM, GAUSSIAN = 0, 1, 2


def seed_map(seed_type: int, height: int, width: int, sigma_percent: float = 0.3) -> torch.Tensor:
    """The seed of one frame, H x W float32; the reference gives every frame the same one.

    RANDOM reseeds numpy with 115 before drawing, so the noise is the same for every frame and run.
    """
    if seed_type == RANDOM:
        np.random.seed(115)
        values = np.random.rand(height, width)
    elif seed_type == UNIFORM:
        values = np.ones((height, width))
    elif seed_type == GAUSSIAN:
        sigma = min(height, width) * sigma_percent
        xx, yy = np.meshgrid(np.arange(width), np.arange(height))
        dx, dy = xx - int(width * 0.5), yy - int(height * 0.5)
        values = np.exp(-(dx * dx + dy * dy) * (1 / (2 * sigma * sigma)))
        values = (values - values.min()) / (values.max() - values.min())
    else:
        raise ValueError(f'unknown seed type {seed_type}')
    return torch.tensor(values, dtype=torch.float32)
