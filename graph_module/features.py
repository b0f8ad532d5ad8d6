"""Node features, declared as blocks of columns.

A FeatureBlock has a number of columns, a normalisation group (the blocks of a group are min-max
normalised together, over the whole video, as the reference does) and a function that fills its
columns for a block of consecutive pivot frames from their chains (chains.PivotChains), reading up
to `reach` frames along them. `feature_blocks` lists the blocks in column order: adding a feature
is declaring one more block there. The design matrix of a frame is the blocks' columns followed by
the regression's bias (ones): N x (F + 1), as in the reference.
"""
import warnings
from dataclasses import dataclass
from typing import Callable

import torch

from graph_module.chains import PivotChains


@dataclass(frozen=True)
class FeatureBlock:
    """`fill(chains, out)` writes the block's columns, out: rows x N x columns (rows: the pivots of
    chains.pivots), reading chains.at(offset) for |offset| <= reach only."""
    name: str
    columns: int
    group: str
    reach: int
    fill: Callable[[PivotChains, torch.Tensor], None]


def direction_blocks(half_chain: int):
    """The flow step that reached each of the frames p-h..p-1 and p+1..p+h: four blocks (u past,
    u future, v past, v future) of h columns, each its own normalisation group."""
    past, future = range(-half_chain, 0), range(1, half_chain + 1)

    def block(component, when, offsets):
        def fill(chains, out):
            for column, offset in enumerate(offsets):
                out[:, :, column] = getattr(chains.at(offset), component)
        name = f'{component} {when}'
        return FeatureBlock(name, half_chain, group=name, reach=half_chain, fill=fill)

    return [block('u', 'past', past), block('u', 'future', future),
            block('v', 'past', past), block('v', 'future', future)]


def cue_block(cues: torch.Tensor, half_chain: int) -> FeatureBlock:
    """The C cue channels (cues: n x C x H x W) of frames p-f..p+f read where the chain lands there
    (coordinates truncated toward zero, 0 outside the image): C (2f + 1) columns, frame by frame,
    one normalisation group."""
    n_frames, channels, height, width = cues.shape
    flat = cues.reshape(n_frames, channels, height * width)

    def fill(chains, out):
        for slot, offset in enumerate(range(-half_chain, half_chain + 1)):
            view = chains.at(offset)
            x = view.x.long()  # .long() truncates toward zero, so (-1, 0) still reads column 0
            y = view.y.long()
            inside = (x >= 0) & (x < width) & (y >= 0) & (y < height)
            index = y.clamp(0, height - 1) * width + x.clamp(0, width - 1)
            sampled = torch.gather(flat.index_select(0, view.frames), 2,
                                   index[:, None, :].expand(-1, channels, -1))
            out[:, :, slot * channels:(slot + 1) * channels] = (sampled * inside[:, None, :]).transpose(1, 2)

    return FeatureBlock('cues', channels * (2 * half_chain + 1), group='cues', reach=half_chain, fill=fill)


def feature_blocks(dir_half_chain: int, cue_half_chain: int, cues=None):
    """The node-feature blocks in column order: the reference's flow directions (-1: none), then
    the network's cues (n x C x H x W, or None) when cue_half_chain >= 0."""
    blocks = direction_blocks(dir_half_chain) if dir_half_chain > 0 else []
    if cues is not None and cue_half_chain >= 0:
        blocks.append(cue_block(cues, cue_half_chain))
    return blocks


class NodeFeatures:
    """The n x N x (F + 1) design of a video, filled a block of pivots at a time (`fill`), then
    normalised (`finish`)."""

    def __init__(self, blocks, n_frames: int, n_pixels: int, device):
        self.blocks = list(blocks)
        self.reach = max((block.reach for block in self.blocks), default=0)
        self.n_columns = sum(block.columns for block in self.blocks)
        self.design = torch.zeros(n_frames, n_pixels, self.n_columns + 1, device=device)
        self.design[:, :, self.n_columns] = 1

    def fill(self, chains: PivotChains):
        """Write every block's columns for the pivots of `chains`."""
        rows = slice(chains.pivots.start, chains.pivots.stop)
        start = 0
        for block in self.blocks:
            block.fill(chains, self.design[rows, :, start:start + block.columns])
            start += block.columns

    def finish(self) -> torch.Tensor:
        """Normalise and return the design."""
        normalise_groups(self.design, self.blocks)
        return self.design


def normalise_groups(design: torch.Tensor, blocks) -> int:
    """Min-max normalise, in place and over the whole video, each normalisation group of `blocks`
    (the columns of design n x N x (F+1), in order; the bias, last, is left alone).

    A group with zero range (no motion at all, say) becomes 0 instead of NaN; returns how many."""
    n_columns = design.shape[2] - 1
    groups = {}  # group -> column indices, in order of first appearance
    start = 0
    for block in blocks:
        groups.setdefault(block.group, []).extend(range(start, start + block.columns))
        start += block.columns
    if not groups:
        return 0
    column_low, column_high = torch.aminmax(design.view(-1, n_columns + 1), dim=0)  # one pass
    low = torch.zeros(n_columns, dtype=design.dtype, device=design.device)
    span = torch.ones_like(low)
    constant = 0
    for columns in groups.values():
        block_low, block_high = column_low[columns].min(), column_high[columns].max()
        low[columns] = block_low
        if block_high > block_low:
            span[columns] = block_high - block_low
        else:  # (x - low) / 1 = 0 everywhere
            constant += 1
    design[:, :, :n_columns].sub_(low).div_(span)
    if constant:
        warnings.warn(f'{constant} node-feature group(s) have zero range (e.g. no motion in the flow); '
                      f'they are set to 0 instead of NaN')
    return constant
