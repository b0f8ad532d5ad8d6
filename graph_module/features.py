"""Node features, declared as blocks of columns.

A FeatureBlock has a number of columns, a normalisation group (the blocks of a group are min-max
normalised together, over the whole video, as the reference does) and a function that fills its
columns for a block of consecutive pivot frames from their chains (chains.PivotChains), reading up
to `reach` frames along them. `feature_blocks` lists the blocks in column order: adding a feature
is declaring one more block there. The design matrix of a frame is the blocks' columns followed by
the regression's bias (ones): N x (F + 1), as in the reference.

The design is never all in memory: the fills run once while the graph is built (for the
normalisation ranges), then again for every iteration, a block of pivot frames at a time. So a
fill must give the same numbers each time, and what it reads (cues, frames) stays in memory for
the whole run: keep that compact (a video's frames as uint8, say).
"""
import warnings
from dataclasses import dataclass
from typing import Callable

import torch

from graph_module.chains import Flows, PivotChains, pivot_blocks, walk_chains
from ike_utils.memory import release_free_memory

TRIM_EVERY = 8  # blocks of pivot frames between two releases of free memory (each costs page faults)


@dataclass(frozen=True)
class FeatureBlock:
    """`fill(chains, out)` writes the block's columns, out: rows x N x columns (rows: the pivots of
    chains.pivots), reading chains.at(offset) for |offset| <= reach only, and their x and y only
    if `positions` (without, the walks that make the block skip them)."""
    name: str
    columns: int
    group: str
    reach: int
    fill: Callable[[PivotChains, torch.Tensor], None]
    positions: bool = True


def direction_blocks(half_chain: int):
    """The flow step that reached each of the frames p-h..p-1 and p+1..p+h: four blocks (u past,
    u future, v past, v future) of h columns, each its own normalisation group."""
    past, future = range(-half_chain, 0), range(1, half_chain + 1)

    def block(component, when, offsets):
        def fill(chains, out):
            for column, offset in enumerate(offsets):
                out[:, :, column] = getattr(chains.at(offset), component)
        name = f'{component} {when}'
        return FeatureBlock(name, half_chain, group=name, reach=half_chain, fill=fill, positions=False)

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
    """The node features of a video, made a block of pivot frames at a time from the chains each
    time they are needed, so that they are never all in memory: while the graph is built, `observe`
    each block's chains (for the normalisation ranges); then `finish`; then `design_blocks` as often
    as needed. Making them costs a walk of `reach` frames along the chains, so the first blocks whose
    designs fit in `cache_bytes` are kept once made (the same numbers, made once); when all fit,
    the flows are let go."""

    def __init__(self, blocks, n_frames: int, height: int, width: int, device, cache_bytes: int = 0):
        self.blocks = list(blocks)
        self.n_frames, self.height, self.width, self.device = n_frames, height, width, device
        self.reach = min(max((block.reach for block in self.blocks), default=0), n_frames - 1)
        self.n_columns = sum(block.columns for block in self.blocks)
        self.positions = any(block.positions for block in self.blocks)
        self._column_low = self._column_high = None
        self.low = self.span = None
        self._flows = None
        self._buffers = {}  # part -> buffer
        self._pivot_blocks = pivot_blocks(n_frames, height * width)
        self._cached = {}  # index of a pivot block -> its normalised design, column-major like the buffer
        self._cacheable = 0  # how many of the first pivot blocks are kept
        for pivots in self._pivot_blocks:
            cache_bytes -= len(pivots) * (self.n_columns + 1) * height * width * 4
            if cache_bytes < 0:
                break
            self._cacheable += 1

    def _fill(self, chains: PivotChains, part: int = 0) -> torch.Tensor:
        """The raw rows x N x (F + 1) design of the pivots of `chains` (bias included), in the
        buffer of `part` (the next call for that part overwrites it). The buffer is column-major
        within a frame (each column is contiguous), so that the blocks write whole columns."""
        rows = len(chains.pivots)
        buffer = self._buffers.get(part)
        if buffer is None or buffer.shape[0] < rows:
            buffer = torch.empty(rows, self.n_columns + 1, self.height * self.width, device=self.device)
            buffer[:, self.n_columns] = 1
            self._buffers[part] = buffer
        design = buffer[:rows].transpose(1, 2)
        start = 0
        for block in self.blocks:
            block.fill(chains, design[:, :, start:start + block.columns])
            start += block.columns
        return design

    def observe(self, chains: PivotChains):
        """Take the range of every column over the pivots of `chains`."""
        if not self.n_columns:
            return
        columns = self._fill(chains).transpose(1, 2)[:, :self.n_columns]  # rows x F x N
        low, high = torch.aminmax(columns.transpose(0, 1).reshape(self.n_columns, -1), dim=1)
        if self._column_low is None:
            self._column_low, self._column_high = low, high
        else:
            torch.minimum(self._column_low, low, out=self._column_low)
            torch.maximum(self._column_high, high, out=self._column_high)

    def finish(self, fwd_flows: Flows, bwd_flows: Flows):
        """Fix the normalisation (see normalisation_ranges) and keep the flows to walk again."""
        if self.n_columns:
            self.low, self.span = normalisation_ranges(self._column_low, self._column_high, self.blocks)
        self._flows = (fwd_flows, bwd_flows)
        return self

    def design_blocks(self, part: int = 0, parts: int = 1):
        """Yield (pivots, design): the normalised rows x N x (F + 1) design of each block of pivot
        frames (the bias, ones, last), in a buffer that the next block overwrites; only every
        parts-th block from the part-th on, so that parts can run at once. A kept design is yielded
        itself: read it, do not change it."""
        for count, (index, pivots) in enumerate(list(enumerate(self._pivot_blocks))[part::parts]):
            if index in self._cached:
                yield pivots, self._cached[index].transpose(1, 2)
                continue
            if count % TRIM_EVERY == TRIM_EVERY - 1:
                release_free_memory()  # the walks' temporaries would otherwise pile up in the C heap
            chains = PivotChains(pivots, self.n_frames, self.height, self.width, self.reach, self.device)
            if self.reach:
                for flows, forward in zip(self._flows, (True, False)):
                    for step in walk_chains(flows, self.reach, forward, pivots, self.positions):
                        chains.keep(step)
            design = self._fill(chains, part)
            if self.n_columns:
                columns = design.transpose(1, 2)[:, :self.n_columns]  # rows x F x N, contiguous rows
                columns.sub_(self.low[:, None]).div_(self.span[:, None])
            if index < self._cacheable:
                self._cached[index] = design.transpose(1, 2).clone()
                design = self._cached[index].transpose(1, 2)
                if len(self._cached) == len(self._pivot_blocks):  # nothing is walked any more
                    self._flows, self._buffers = None, {}
            yield pivots, design

    def memory_bytes(self) -> int:
        """What the features keep: the flows they walk, one block's buffer and the kept designs."""
        tensors = [t for flows in self._flows or () for t in (flows.u, flows.v)]
        tensors += list(self._buffers.values()) + list(self._cached.values())
        return sum(t.numel() * t.element_size() for t in tensors)

    def design(self) -> torch.Tensor:
        """The whole n x N x (F + 1) design at once (small videos, tests)."""
        return torch.cat([design.clone() for _, design in self.design_blocks()])


def design_blocks(design, part: int = 0, parts: int = 1):
    """(pivots, design block) pairs of `design`: NodeFeatures, or a whole n x N x (F+1) tensor
    (then one block, in part 0)."""
    if isinstance(design, torch.Tensor):
        return [(range(design.shape[0]), design)] if part == 0 else []
    return design.design_blocks(part, parts)


def normalisation_ranges(column_low: torch.Tensor, column_high: torch.Tensor, blocks):
    """(low, span), F values each, from every column's range over the whole video: each
    normalisation group of `blocks` (in column order) is min-max normalised as a whole, x -> (x -
    low) / span. A group with zero range (no motion at all, say) becomes 0 instead of NaN, with a
    warning."""
    groups = {}  # group -> column indices, in order of first appearance
    start = 0
    for block in blocks:
        groups.setdefault(block.group, []).extend(range(start, start + block.columns))
        start += block.columns
    low = torch.zeros_like(column_low)
    span = torch.ones_like(column_low)
    constant = 0
    for columns in groups.values():
        group_low, group_high = column_low[columns].min(), column_high[columns].max()
        low[columns] = group_low
        if group_high > group_low:
            span[columns] = group_high - group_low
        else:  # (x - low) / 1 = 0 everywhere
            constant += 1
    if constant:
        warnings.warn(f'{constant} node-feature group(s) have zero range (e.g. no motion in the flow); '
                      f'they are set to 0 instead of NaN')
    return low, span
