"""Random geometric augmentation of training batches ([Network Module] augment = true).

Every image of a batch gets its own random horizontal flip (probability 0.5) and random crop (a
fraction uniform in [min_crop, 1] of the working height and width, at a uniform position; min_crop
= [Network Module] augment_min_crop, 0.7 by default, 1 for flips only) resized back to the working
size. The frames and their labels move together: bilinear for frames and soft
targets, nearest for hard labels and the mask of valid pixels. All draws come from the given
generator, so a seeded run repeats exactly.
"""
import torch
import torch.nn.functional as F

FLIP_PROBABILITY = 0.5
DEFAULT_MIN_CROP = 0.7  # [Network Module] augment_min_crop when absent


def random_view(height: int, width: int, generator: torch.Generator, min_crop: float = DEFAULT_MIN_CROP):
    """One random view: (flip, top, left, crop height, crop width)."""
    flip = torch.rand((), generator=generator).item() < FLIP_PROBABILITY
    scale = min_crop + (1 - min_crop) * torch.rand((), generator=generator).item()
    crop_h, crop_w = max(1, round(scale * height)), max(1, round(scale * width))
    top = torch.randint(height - crop_h + 1, (), generator=generator).item()
    left = torch.randint(width - crop_w + 1, (), generator=generator).item()
    return flip, top, left, crop_h, crop_w


def apply_view(x: torch.Tensor, view, mode: str) -> torch.Tensor:
    """The view of one map, C x H x W (float), resized back to H x W with `mode`."""
    flip, top, left, crop_h, crop_w = view
    if flip:
        x = x.flip(-1)
    crop = x[None, :, top:top + crop_h, left:left + crop_w]
    kwargs = {'align_corners': False} if mode == 'bilinear' else {}
    return F.interpolate(crop, size=x.shape[-2:], mode=mode, **kwargs)[0]


def augment_batch(images, hard_labels, soft_labels, valid, generator: torch.Generator,
                  min_crop: float = DEFAULT_MIN_CROP):
    """images B x 3 x H x W, hard_labels B x H x W int64, soft_labels B x H x W float, valid None or
    B x H x W bool -> the same tensors, each image and its labels seen through one random view."""
    height, width = images.shape[-2:]
    out_images, out_hard, out_soft = (torch.empty_like(x) for x in (images, hard_labels, soft_labels))
    out_valid = None if valid is None else torch.empty_like(valid)
    for i in range(len(images)):
        view = random_view(height, width, generator, min_crop)
        out_images[i] = apply_view(images[i], view, 'bilinear')
        out_soft[i] = apply_view(soft_labels[i][None], view, 'bilinear')[0]
        out_hard[i] = apply_view(hard_labels[i][None].float(), view, 'nearest-exact')[0].round().long()
        if valid is not None:
            out_valid[i] = apply_view(valid[i][None].float(), view, 'nearest-exact')[0] > 0.5
    return out_images, out_hard, out_soft, out_valid
