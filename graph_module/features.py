"""Node features: the flow directions along each chain and, from the second cycle on, the network's
cues sampled along it. Stored, as in the reference, as one N x (F + 1) design matrix per frame whose
last column is the regression's bias (ones)."""
import warnings

import torch


def n_features(dir_half_chain: int, cue_half_chain: int, cue_channels: int) -> int:
    n = 4 * dir_half_chain if dir_half_chain >= 0 else 0
    if cue_half_chain >= 0:
        n += cue_channels * (2 * cue_half_chain + 1)
    return n


class NodeFeatureBuilder:
    """Fills the feature matrix while the chains are walked, then fixes up the ends of the video.

    Direction columns (h = dir_half_chain): [u of frames p-h..p-1, u of p+1..p+h, v of p-h..p-1,
    v of p+1..p+h], the flow step that reached each frame. Cue columns (f = cue_half_chain): the
    C cue channels of frames p-f..p+f, read where the chain lands (coordinates truncated toward
    zero, 0 outside the image). Frames beyond the video are clamped to its first or last frame
    (the pivot itself gives zero directions), as in the reference.
    """

    def __init__(self, n_frames, height, width, dir_half_chain, cue_half_chain, cues=None, device='cpu'):
        self.n_frames, self.height, self.width = n_frames, height, width
        self.h = max(dir_half_chain, 0)
        self.f = cue_half_chain
        self.cues = cues  # n x C x H x W or None
        self.cue_channels = 0 if cues is None or cue_half_chain < 0 else cues.shape[1]
        self.cue_base = 4 * self.h
        total = n_features(dir_half_chain, cue_half_chain, self.cue_channels)
        self.design = torch.zeros(n_frames, height * width, total + 1, device=device)
        self.design[:, :, total] = 1
        self.features = self.design[:, :, :total]
        if self.cue_channels:
            flat_cues = cues.reshape(n_frames, self.cue_channels, height * width)
            self._cue_slot(self.f)[:] = flat_cues.transpose(1, 2)  # the pivot's own cues, at its own pixels

    def _cue_slot(self, slot):
        """The n x N x C view of the cue columns of frame slot `slot` (offset slot - f)."""
        start = self.cue_base + slot * self.cue_channels
        return self.features[:, :, start:start + self.cue_channels]

    def add_step(self, step):
        """Record one ChainStep (all pivots reaching frame pivot + step.offset)."""
        s, h = abs(step.offset), self.h
        pivots = slice(step.first_pivot, step.first_pivot + step.x.shape[0])
        if s <= h:
            u_col = h + s - 1 if step.offset > 0 else h - s
            self.features[pivots, :, u_col] = step.u
            self.features[pivots, :, u_col + 2 * h] = step.v
        if self.cue_channels and s <= self.f:
            self._cue_slot(self.f + step.offset)[pivots] = self._sample_cues(step)

    def _sample_cues(self, step):
        """Cues of the destination frames read at the chain positions (truncation toward zero)."""
        x = step.x.long()  # .long() truncates toward zero, so (-1, 0) still reads column 0
        y = step.y.long()
        inside = (x >= 0) & (x < self.width) & (y >= 0) & (y < self.height)
        index = (y.clamp(0, self.height - 1) * self.width + x.clamp(0, self.width - 1))
        first = step.first_destination
        cues = self.cues[first:first + x.shape[0]].reshape(x.shape[0], self.cue_channels, -1)
        sampled = torch.gather(cues, 2, index[:, None, :].expand(-1, self.cue_channels, -1))
        return (sampled * inside[:, None, :]).transpose(1, 2)

    def finish(self) -> torch.Tensor:
        """Fill the clamped columns near the ends of the video; returns the n x N x (F+1) design."""
        n, h, f = self.n_frames, self.h, self.f
        reach = max(h, f if self.cue_channels else 0)
        for p in sorted(set(range(min(reach, n))) | set(range(max(n - reach, 0), n))):
            for j in range(h):
                past = max(p - h + j, 0) - p  # offset of the clamped past frame (<= 0)
                if p - h + j < 0 and past != 0:
                    self._copy_columns(p, h + past, j)
                future = min(p + 1 + j, n - 1) - p
                if p + 1 + j > n - 1 and future != 0:
                    self._copy_columns(p, h + future - 1, h + j)
            if self.cue_channels:
                for slot in range(2 * f + 1):
                    target = p + slot - f
                    if target < 0 or target > n - 1:
                        source = f + min(max(target, 0), n - 1) - p
                        self._cue_slot(slot)[p] = self._cue_slot(source)[p]
        return self.design

    def _copy_columns(self, pivot, source, target):
        """Copy a u column and its v twin (2h columns later) within one pivot's features."""
        for shift in (0, 2 * self.h):
            self.features[pivot, :, target + shift] = self.features[pivot, :, source + shift]


def normalise_blocks(design: torch.Tensor, dir_half_chain: int) -> int:
    """Min-max normalise, in place and over the whole video, the feature blocks the reference
    normalises: u past, u future, v past, v future (h columns each), then all cue columns together.
    The bias (last column of the n x N x (F+1) design) is left alone.

    A block with zero range (no motion at all, say) becomes 0 instead of NaN; returns how many."""
    h = max(dir_half_chain, 0)
    n_feat = design.shape[2] - 1
    bounds = [(k * h, (k + 1) * h) for k in range(4)] if dir_half_chain > 0 else []
    if n_feat > 4 * h:
        bounds.append((4 * h, n_feat))
    if not bounds:
        return 0
    column_low, column_high = torch.aminmax(design.view(-1, n_feat + 1), dim=0)  # one pass
    low = torch.zeros(n_feat, dtype=design.dtype, device=design.device)
    span = torch.ones_like(low)
    constant = 0
    for start, stop in bounds:
        block_low, block_high = column_low[start:stop].min(), column_high[start:stop].max()
        low[start:stop] = block_low
        if block_high > block_low:
            span[start:stop] = block_high - block_low
        else:  # (x - low) / 1 = 0 everywhere
            constant += 1
    design[:, :, :n_feat].sub_(low).div_(span)
    if constant:
        warnings.warn(f'{constant} node-feature block(s) have zero range (e.g. no motion in the flow); '
                      f'they are set to 0 instead of NaN')
    return constant
