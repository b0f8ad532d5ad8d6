"""The reference's training loss: cross-entropy on hard labels plus soft Dice on soft targets, both
optionally restricted to a mask of valid pixels ([Network Module] label_band)."""
import torch
import torch.nn.functional as F

CLASS_WEIGHTS = (0.5, 0.5)  # the reference's; equal weights make it the plain mean
IGNORED = -100  # the label cross-entropy skips


def two_channel_targets(soft_foreground: torch.Tensor) -> torch.Tensor:
    """The reference's soft target: background 1 - s and foreground s. B x H x W -> B x 2 x H x W."""
    return torch.stack((1 - soft_foreground, soft_foreground), dim=1)


def weighted_cross_entropy(logits: torch.Tensor, hard_labels: torch.Tensor, valid=None) -> torch.Tensor:
    """Cross-entropy with the reference's class weights (0.5, 0.5): the weighted mean over pixels, or
    over the valid ones only (0 when there is none).

    logits: B x 2 x H x W; hard_labels: B x H x W int64 in {0, 1}; valid: None or B x H x W bool."""
    weight = torch.tensor(CLASS_WEIGHTS, device=logits.device, dtype=logits.dtype)
    if valid is None:
        return F.cross_entropy(logits, hard_labels, weight=weight)
    per_pixel = F.cross_entropy(logits, hard_labels.masked_fill(~valid, IGNORED), weight=weight,
                                ignore_index=IGNORED, reduction='none')
    total_weight = (weight[hard_labels] * valid).sum()
    return per_pixel.sum() / total_weight.clamp(min=torch.finfo(total_weight.dtype).tiny)


def soft_dice_loss(logits: torch.Tensor, soft_foreground: torch.Tensor, valid=None) -> torch.Tensor:
    """1 - (2 |P.T| + 1) / (|P| + |T| + 1) per image, for the foreground (target s) and the background
    (target 1 - s) channel, averaged over the two and over the batch. With a valid mask, the sums
    run over the valid pixels only (probabilities and targets are both masked).

    logits: B x 2 x H x W; soft_foreground: B x H x W in [0, 1]; valid: None or B x H x W bool."""
    probs = torch.softmax(logits, dim=1)
    targets = two_channel_targets(soft_foreground)
    if valid is not None:
        keep = valid[:, None].to(probs.dtype)
        probs, targets = probs * keep, targets * keep
    overlap = (probs * targets).sum(dim=(2, 3))
    dice = 1 - (2 * overlap + 1) / (probs.sum(dim=(2, 3)) + targets.sum(dim=(2, 3)) + 1)
    return dice.mean(dim=1).mean()


def segmentation_loss(logits: torch.Tensor, hard_labels: torch.Tensor, soft_foreground: torch.Tensor,
                      valid=None) -> torch.Tensor:
    """Cross-entropy (class weights 0.5, 0.5) + soft Dice, computed in float32; with a valid mask
    (B x H x W bool), both over the valid pixels only."""
    logits = logits.float()
    return weighted_cross_entropy(logits, hard_labels, valid) + soft_dice_loss(logits, soft_foreground, valid)
