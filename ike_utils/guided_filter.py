"""Edge-aware smoothing of soft maps: the colour guided filter of He, Sun and Tang (ECCV 2010).

Within every (2r+1) x (2r+1) window the output is a linear function of the guide's colour, fitted to
the input map by ridge regression (strength eps), and the fits of all windows that cover a pixel are
averaged. A soft map whose edge lies a few pixels off the object's colour edge is pulled onto it,
while flat regions stay flat. IKE+ ([Graph Module] and [Network Module] guided_filter_radius) runs it
on each stage's output maps before they become labels, node features or masks.
"""
import torch
import torch.nn.functional as F

from ike_utils.frames import load_frames

FRAMES_PER_CHUNK = 16  # bounds the 3 x 3 covariance images (9 floats per pixel) to a few frames


def box_mean(images: torch.Tensor, radius: int) -> torch.Tensor:
    """Mean over the (2r+1)^2 window of every pixel, counting only pixels inside the image.

    images: (N, C, H, W); returns the same shape. Separable (a row pass, then a column pass): the
    window's valid pixels are a rectangle, so the mean of row means is the window's mean."""
    size = 2 * radius + 1
    rows = F.avg_pool2d(images, (1, size), stride=1, padding=(0, radius), count_include_pad=False)
    return F.avg_pool2d(rows, (size, 1), stride=1, padding=(radius, 0), count_include_pad=False)


def _solve_symmetric_3x3(matrix: torch.Tensor, eps: float, vector: torch.Tensor) -> torch.Tensor:
    """(matrix + eps I)^-1 vector at every pixel, by the adjugate (a batched LAPACK solve of 3 x 3
    systems is ~20x slower). matrix: (N, 3, 3, H, W) symmetric; vector: (N, 3, H, W)."""
    a, b, c = matrix[:, 0, 0] + eps, matrix[:, 0, 1], matrix[:, 0, 2]
    d, e, f = matrix[:, 1, 1] + eps, matrix[:, 1, 2], matrix[:, 2, 2] + eps
    cofactors = (d * f - e * e, c * e - b * f, b * e - c * d,  # row 0 of the adjugate
                 a * f - c * c, b * c - a * e,  # row 1 (the first entry is row 0's second)
                 a * d - b * b)
    a00, a01, a02, a11, a12, a22 = cofactors
    determinant = a * a00 + b * a01 + c * a02
    x, y, z = vector[:, 0], vector[:, 1], vector[:, 2]
    return torch.stack([a00 * x + a01 * y + a02 * z,
                        a01 * x + a11 * y + a12 * z,
                        a02 * x + a12 * y + a22 * z], dim=1) / determinant[:, None]


def _guided_filter_chunk(guide: torch.Tensor, maps: torch.Tensor, radius: int, eps: float) -> torch.Tensor:
    n, channels, height, width = guide.shape
    source = maps[:, None]
    mean_guide = box_mean(guide, radius)  # N x 3 x H x W
    mean_source = box_mean(source, radius)  # N x 1 x H x W
    covariance = box_mean(guide * source, radius) - mean_guide * mean_source  # N x 3 x H x W
    outer = (guide[:, :, None] * guide[:, None]).reshape(n, channels * channels, height, width)
    variance = box_mean(outer, radius).reshape(n, channels, channels, height, width)
    variance = variance - mean_guide[:, :, None] * mean_guide[:, None]
    slopes = _solve_symmetric_3x3(variance, eps, covariance)  # per pixel: (Sigma + eps I)^-1 cov
    offsets = mean_source - (slopes * mean_guide).sum(1, keepdim=True)
    return (box_mean(slopes, radius) * guide).sum(1) + box_mean(offsets, radius)[:, 0]


def guided_filter(guide: torch.Tensor, maps: torch.Tensor, radius: int, eps: float) -> torch.Tensor:
    """Smooth maps along the guide's colour edges.

    guide: (N, H, W, 3) float in [0, 1] (any colour order); maps: (N, H, W) float.
    Returns (N, H, W), in float32 and on the maps' device; not clipped (it may leave [0, 1] slightly)."""
    if guide.shape[:3] != maps.shape:
        raise ValueError(f'guide {tuple(guide.shape)} and maps {tuple(maps.shape)} differ in size')
    guide = guide.to(maps.device, torch.float32).permute(0, 3, 1, 2)
    maps = maps.float()
    return torch.cat([_guided_filter_chunk(guide[i:i + FRAMES_PER_CHUNK], maps[i:i + FRAMES_PER_CHUNK],
                                           radius, eps)
                      for i in range(0, maps.shape[0], FRAMES_PER_CHUNK)])


def refine_maps(frame_files, maps: torch.Tensor, radius: int, eps: float) -> torch.Tensor:
    """maps: (n, H, W) soft maps of the n frames at working size; returns them guided-filtered with each
    frame (RGB / 255, bicubic to H x W, as the stages read it) as the guide, clipped to [0, 1].
    Frames are read a chunk at a time, so the guides of a long video never all sit in memory."""
    height, width = maps.shape[1:]
    refined = torch.empty_like(maps)
    for start in range(0, len(frame_files), FRAMES_PER_CHUNK):
        stop = start + FRAMES_PER_CHUNK
        guide = load_frames(frame_files[start:stop], height, width, rgb=True)[0]
        refined[start:stop] = guided_filter(guide, maps[start:stop], radius, eps).clamp_(0, 1)
    return refined
