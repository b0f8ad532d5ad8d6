"""The space-time graph and its one operation, x -> M x, without ever building M.

A chain position (x, y) in a destination frame links the pivot pixel to the four pixels around it,
floor/ceil of x and y, each with the same weight g(k) = exp(-0.5 (k / sigma)^2) for frames k apart
(the reference computes bilinear weights and then replaces them by 1). Corners outside the image get
no edge. So when x and y are both fractional, an edge reaches the 2x2 block whose top-left pixel is
(floor x, floor y), its "slot" in a padded frame: reading the four pixels is one read in a table of
2x2 block sums of the destination frame, and writing to them one add into an accumulator of the
same layout, spread back to pixels afterwards by four shifted adds. Frames are padded by a ring of 2
zero pixels and corners clamped into it, so an edge that leaves the image reads zeros and writes
into the ring, which is cropped away.

Edges are stored in one byte each: along a chain, the corner moves by the rounded flow from one
frame to the next, so each edge keeps (dx, dy) from the previous edge of its chain (the pivot pixel
for the first), 4 bits each; the rare larger moves keep the rest aside as "jumps". `propagate`
decodes them chain by chain, a block of pivot frames at a time.

When a coordinate is an integer, floor == ceil and the reference links the same pixel twice: such
an edge reaches a 1x2, 2x1 or 1x1 block counted 2, 2 or 4 times. These are rare with real optical
flow (a few in a million), so they are kept aside as "integer edges", pairs of (pivot pixel, corner
pixel) weighing 2 g(k) each, and their slot in the main pass points into the zero ring.

The block sums and the accumulator never hold the whole video: the pivots are taken a segment of
up to SEGMENT_FRAMES frames at a time, and both cover only the frames that segment's chains reach
(15 more on each side). Once no later chain can reach a frame, its accumulated sums are spread into
the output and the window moves on, so the memory of an iteration's buffers does not grow with
the video. Every output sum is added in the same order as with one window over the whole video.
"""
from dataclasses import dataclass

import torch

from graph_module.workers import run_all, worker_threads

PAD = 2  # a top-left corner clamped to -2 or W reaches only outside pixels
SEGMENT_FRAMES = 64  # pivot frames whose chains one window of block sums serves


@dataclass
class Segment:
    """Consecutive pivot blocks whose chains reach the frames low .. high - 1; once they are
    followed, the frames low .. done - 1 are complete (no later chain reaches them), and
    `integer_edges` [(target pixel, source pixel, weight)] are those that add to them."""
    blocks: list
    low: int
    high: int
    done: int
    integer_edges: list


def temporal_weights(sigma: float, max_offset: int, device='cpu') -> torch.Tensor:
    """g(k) for k = 0..max_offset, in float32 as the reference computes it."""
    k = torch.arange(0, max_offset + 1, 1, dtype=torch.float32, device=device)
    return torch.exp((-0.5) * (k / sigma) ** 2)


def block_corners(x: torch.Tensor, y: torch.Tensor, height: int, width: int):
    """For chain positions x, y (rows x N): the column and row (int32) of each corner block's
    top-left pixel, clamped into the ring, and whether x and y are fractional."""
    left, top = torch.floor(x), torch.floor(y)
    fractional_x, fractional_y = x != left, y != top
    return (left.clamp_(-PAD, width).int(), top.clamp_(-PAD, height).int(), fractional_x, fractional_y)


class SpaceTimeGraph:
    """Edges of the whole video; `add_edges` takes the chain steps of a block of pivots, `finish`
    ends the building, `propagate` computes M x.

    For an offset k, pivots first .. first + n_k - 1 link to frames pivot + k; their edges are an
    n_k x N uint8 tensor of moves. Jumps and integer edges are kept per (pivot block, offset), as
    positions in that step's rows x N.
    """

    def __init__(self, n_frames: int, height: int, width: int, sigma: float, max_offset: int, device,
                 segment_frames: int = SEGMENT_FRAMES):
        self.n_frames, self.height, self.width = n_frames, height, width
        self.max_offset, self.segment_frames = max_offset, segment_frames
        self.padded_width = width + 2 * PAD
        self.padded_size = (height + 2 * PAD) * self.padded_width
        if n_frames * self.padded_size >= 2 ** 31:
            raise ValueError(f'{n_frames} frames of {width}x{height} are too many for int32 edge slots; '
                             f'split the video or lower the working size')
        self.weights = temporal_weights(sigma, max_offset, device).tolist()
        self.blocks = []  # the pivot blocks, in the order they were added
        self.moves = {}  # offset -> (first pivot, n_k x N uint8)
        self.jumps = {}  # (block start, offset) -> (positions, the rest of the slot move, int32)
        self.masked = {}  # (block start, offset) -> (positions of integer edges, their zero-ring slot)
        self._integer_parts = {}  # offset -> list of (pivot pixel, corner pixel) chunks, flat over frames
        self.integer_edges = {}  # offset -> (pivot pixel, corner pixel), int32
        self._previous = None  # corner column and row where the chains being added last were
        # the slot move of a code is dy * padded_width + dx + (one frame on), with dx = (code & 15) - 8
        # and dy = (code >> 4) - 8; the constant part, per direction:
        move = -8 * self.padded_width - 8
        self._move_offset = {True: move + self.padded_size, False: move - self.padded_size}
        self._buffers = None
        self._segments = None

    def add_edges(self, pivots: range, offset: int, first_pivot: int, x: torch.Tensor, y: torch.Tensor):
        """Add the edges from pivots first_pivot .. (rows of x, y, within the block `pivots`) to
        frames pivot + offset. Blocks come in order, each block's steps in order of offset, forward
        (1, 2, ..) then backward (-1, -2, ..)."""
        n_rows, n_pixels = x.shape
        forward = offset > 0
        if not self.blocks or self.blocks[-1] != pivots:
            self.blocks.append(pivots)
        if abs(offset) == 1:  # new chains: they start at the pivot pixels
            col = torch.arange(self.width, dtype=torch.int32, device=x.device).repeat(self.height)
            row = torch.arange(self.height, dtype=torch.int32, device=x.device).repeat_interleave(self.width)
            self._previous = (col.repeat(len(pivots), 1), row.repeat(len(pivots), 1))
        previous_col, previous_row = self._previous
        rows = slice(first_pivot - pivots.start, first_pivot - pivots.start + n_rows)
        col, row, fractional_x, fractional_y = block_corners(x, y, self.height, self.width)
        dx, dy = col - previous_col[rows], row - previous_row[rows]
        previous_col[rows], previous_row[rows] = col, row
        small_dx, small_dy = dx.clamp(-8, 7), dy.clamp(-8, 7)
        if offset not in self.moves:
            first = 0 if forward else -offset
            self.moves[offset] = (first, torch.empty(self.n_frames - abs(offset), n_pixels, dtype=torch.uint8,
                                                     device=x.device))
            self._integer_parts[offset] = []
        first, moves = self.moves[offset]
        moves[first_pivot - first:first_pivot - first + n_rows] = ((small_dx + 8) | ((small_dy + 8) << 4)).to(torch.uint8)
        key = (pivots.start, offset)
        extra = ((dy - small_dy) * self.padded_width + (dx - small_dx)).view(-1)
        jumped = torch.nonzero(extra).view(-1)
        if jumped.numel():
            self.jumps[key] = (jumped, extra[jumped])
        square = fractional_x & fractional_y
        if not bool(square.all()):
            row_index, pixel = torch.nonzero(~square, as_tuple=True)
            destination = row_index + first_pivot + offset
            self.masked[key] = (row_index * n_pixels + pixel, (destination * self.padded_size).int())
            pivot_pixel = (row_index + first_pivot) * n_pixels + pixel
            corner_col, corner_row = col[row_index, pixel], row[row_index, pixel]
            for second in (False, True):  # the two corners (the same pixel when both are integers)
                c = corner_col + fractional_x[row_index, pixel].int() if second else corner_col
                r = corner_row + fractional_y[row_index, pixel].int() if second else corner_row
                inside = (c >= 0) & (c < self.width) & (r >= 0) & (r < self.height)
                corner_pixel = destination * n_pixels + r * self.width + c
                self._integer_parts[offset].append((pivot_pixel[inside].int(), corner_pixel[inside].int()))

    def finish(self):
        """Gather the integer edges found while adding steps."""
        for offset, parts in self._integer_parts.items():
            if parts:
                self.integer_edges[offset] = tuple(torch.cat(column) for column in zip(*parts))
        self._integer_parts = {}
        self._previous = None
        return self

    def use_segments_of(self, frames: int):
        """Take the pivots `frames` at a time from now on (the same outputs, other buffers)."""
        self.segment_frames, self._segments, self._buffers = frames, None, None
        return self

    def segments(self):
        """The pivot blocks in runs of at most segment_frames frames (at least one block each), as
        Segments, made once."""
        if self._segments is None:
            runs = []
            for pivots in self.blocks:
                if runs and pivots.stop - runs[-1][0].start <= self.segment_frames:
                    runs[-1].append(pivots)
                else:
                    runs.append([pivots])
            lows = [max(0, run[0].start - self.max_offset) for run in runs]
            self._segments = []
            for index, run in enumerate(runs):
                high = min(self.n_frames, run[-1].stop + self.max_offset)
                done = lows[index + 1] if index + 1 < len(runs) else high
                self._segments.append(Segment(run, lows[index], high, done,
                                              self._integer_edges_into(lows[index], done)))
        return self._segments

    def _integer_edges_into(self, first: int, stop: int):
        """[(target pixel, source pixel, weight)] of the integer edges, both ways, that add to the
        frames first .. stop - 1, in the order they are added."""
        n_pixels = self.height * self.width
        edges = []
        for offset, (pivot, corner) in self.integer_edges.items():
            for target, source in ((pivot, corner), (corner, pivot)):
                inside = (target >= first * n_pixels) & (target < stop * n_pixels)
                edges.append((target[inside], source[inside], 2 * self.weights[abs(offset)]))
        return edges

    def propagate(self, x: torch.Tensor, out: torch.Tensor) -> torch.Tensor:
        """out = M x for maps x (n x N): x itself (self weight g(0) = 1), plus what every pivot
        pixel gathers from the pixels its chains reach, plus what it gives them (scatter).

        As in the reference, pixel 0 of every frame receives neither, only its own value."""
        n, height, width = self.n_frames, self.height, self.width
        segments = self.segments()
        if self._buffers is None:  # kept across iterations: no allocation churn
            window = (max(segment.high - segment.low for segment in segments), height + 2 * PAD, self.padded_width)
            self._buffers = (torch.empty(window, device=x.device), torch.empty(window, device=x.device))
        table, given = self._buffers
        frames = x.view(n, height, width)
        out.copy_(x)
        given.zero_()
        for segment in segments:
            low, high = segment.low, segment.high
            # table[f, r, c] = sum of the 2x2 block with top-left padded pixel (r, c) of frame low + f,
            # zero outside the image
            sums = table[:high - low].zero_()
            for dr, dc in ((0, 0), (0, 1), (1, 0), (1, 1)):
                sums[:, PAD - dr:PAD - dr + height, PAD - dc:PAD - dc + width] += frames[low:high]
            if worker_threads(x.device) > 1:  # one thread gathers, the other scatters: no write is shared
                run_all(lambda role: self._along_chains(segment.blocks, low, x, out, table, given, *role),
                        ((True, False), (False, True)), 2)
            else:
                self._along_chains(segment.blocks, low, x, out, table, given, True, True)
            self._finish_frames(segment, x, out, given[:segment.done - low])
            carried = given[segment.done - low:high - low].clone()  # the next window starts at `done`
            given[:carried.shape[0]] = carried
            given[carried.shape[0]:].zero_()
        out[:, 0] = x[:, 0]
        return out

    def _finish_frames(self, segment, x, out, given):
        """Add to the frames segment.low .. segment.done - 1 of out (those of `given`) their integer
        edges and what their blocks were given (spread to each block's four pixels)."""
        height, width, first = self.height, self.width, segment.low
        flat_x, flat_out = x.reshape(-1), out.view(-1)
        for target, source, weight in segment.integer_edges:
            flat_out.index_add_(0, target, flat_x[source], alpha=weight)
        frames_out = out.view(-1, height, width)
        for start in range(0, given.shape[0], 8):  # each block gives to its four pixels
            chunk = given[start:start + 8]
            spread = chunk[:, PAD:PAD + height, PAD:PAD + width].clone()
            for dr, dc in ((0, 1), (1, 0), (1, 1)):
                spread += chunk[:, PAD - dr:PAD - dr + height, PAD - dc:PAD - dc + width]
            frames_out[first + start:first + start + chunk.shape[0]] += spread

    def _along_chains(self, blocks, low, x, out, table, given, gather: bool, scatter: bool):
        """Decode the chains of the pivot `blocks`, a block at a time, and gather (out += g * table
        at the slots) and/or scatter (given at the slots += g * x of the pivots); table and given
        hold the frames from `low` on. The work buffers are made once per call: a long video would
        otherwise fragment the C heap."""
        flat_table, flat_given = table.view(-1), given.view(-1)
        window_start = low * self.padded_size
        size = max(len(pivots) for pivots in blocks) * x.shape[1]
        slots_buffer, codes_buffer, work_buffer = (
            torch.empty(size, dtype=dtype, device=x.device) for dtype in (torch.int32, torch.int32, torch.float32))
        for pivots in blocks:
            start = self._pivot_slots(pivots, low, x.device)
            for forward in (True, False):
                slots = slots_buffer[:start.numel()].view_as(start).copy_(start)
                for k in range(1, len(self.weights)):
                    offset = k if forward else -k
                    if offset not in self.moves:
                        break
                    first_row, moves = self.moves[offset]
                    first = max(pivots.start, first_row)
                    stop = min(pivots.stop, first_row + moves.shape[0])
                    if first >= stop:
                        break
                    step = slots[first - pivots.start:stop - pivots.start]
                    flat_step = step.view(-1)
                    n = flat_step.numel()
                    # decode: a few passes of integer arithmetic beat a lookup table (index_select)
                    code, part = moves[first - first_row:stop - first_row].view(-1), codes_buffer[:n]
                    flat_step.add_(torch.bitwise_right_shift(code, 4, out=part), alpha=self.padded_width)
                    flat_step.add_(torch.bitwise_and(code, 15, out=part)).add_(self._move_offset[forward])
                    key = (pivots.start, offset)
                    if key in self.jumps:
                        positions, rest = self.jumps[key]
                        flat_step[positions] += rest
                    masked = self.masked.get(key)
                    if masked is not None:  # integer edges: read and write the zero ring instead
                        kept = flat_step[masked[0]]
                        flat_step[masked[0]] = masked[1] - window_start
                    weight = self.weights[k]
                    if gather:
                        values = torch.index_select(flat_table, 0, flat_step, out=work_buffer[:n])
                        out[first:stop].add_(values.view_as(step), alpha=weight)
                    if scatter:
                        flat_given.index_add_(0, flat_step, x[first:stop].reshape(-1), alpha=weight)
                    if masked is not None:
                        flat_step[masked[0]] = kept

    def _pivot_slots(self, pivots: range, low: int, device) -> torch.Tensor:
        """The slot of every pivot pixel itself (rows x N int32), in a window whose first frame is
        `low`: where its chains start."""
        rows = torch.arange(self.height, dtype=torch.int32, device=device) + PAD
        cols = torch.arange(self.width, dtype=torch.int32, device=device) + PAD
        own = (rows[:, None] * self.padded_width + cols[None, :]).view(1, -1)
        frames = torch.arange(pivots.start - low, pivots.stop - low, dtype=torch.int32, device=device)
        return own + (frames * self.padded_size)[:, None]

    def memory_bytes(self) -> int:
        tensors = [moves for _, moves in self.moves.values()]
        tensors += [t for edges in self.integer_edges.values() for t in edges]
        tensors += [t for pair in list(self.jumps.values()) + list(self.masked.values()) for t in pair]
        return sum(t.numel() * t.element_size() for t in tensors)
