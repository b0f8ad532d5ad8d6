"""The space-time graph and its one operation, x -> M x, without ever building M.

A chain position (x, y) in a destination frame links the pivot pixel to the four pixels around it,
floor/ceil of x and y, each with the same weight g(k) = exp(-0.5 (k / sigma)^2) for frames k apart
(the reference computes bilinear weights and then replaces them by 1). Corners outside the image get
no edge. So when x and y are both fractional, an edge reaches the 2x2 block whose top-left pixel is
(floor x, floor y), and we store it as one int32 "slot", that corner's index in a padded frame:
reading the four pixels is one read in a table of 2x2 block sums of the destination frame, and
writing to them one add into an accumulator of the same layout, spread back to pixels afterwards by
four shifted adds. Frames are padded by a ring of 2 zero pixels and corners clamped into it, so an
edge that leaves the image reads zeros and writes into the ring, which is cropped away.

When a coordinate is an integer, floor == ceil and the reference links the same pixel twice: such
an edge reaches a 1x2, 2x1 or 1x1 block counted 2, 2 or 4 times. These are rare with real optical
flow (a few in a million), so they are kept aside as "integer edges" with their two corner pixels
(equal for 1x1), each weighing 2 g(k); their slot in the main layout points into the zero ring.
"""
from concurrent.futures import ThreadPoolExecutor
from functools import lru_cache

import torch

CHUNK_ELEMENTS = 1 << 20  # edges handled per call: small temporaries, still long vector ops
PAD = 2  # a top-left corner clamped to -2 or W reaches only outside pixels


def _threads_for(device) -> int:
    return torch.get_num_threads() if torch.device(device).type == 'cpu' else 1


@lru_cache(maxsize=None)
def _pool(n_threads: int) -> ThreadPoolExecutor:
    return ThreadPoolExecutor(n_threads, thread_name_prefix='ike-scatter')


def temporal_weights(sigma: float, max_offset: int, device='cpu') -> torch.Tensor:
    """g(k) for k = 0..max_offset, in float32 as the reference computes it."""
    k = torch.arange(0, max_offset + 1, 1, dtype=torch.float32, device=device)
    return torch.exp((-0.5) * (k / sigma) ** 2)


def block_corners(x: torch.Tensor, y: torch.Tensor, height: int, width: int):
    """For chain positions x, y (rows x N): the padded index (row * (W + 4) + col) of each corner
    block's top-left pixel, clamped into the ring, and whether x and y are fractional."""
    left, top = torch.floor(x), torch.floor(y)
    fractional_x, fractional_y = x != left, y != top
    corner = top.clamp_(-PAD, height).add_(PAD).mul_(width + 2 * PAD)
    corner.add_(left.clamp_(-PAD, width).add_(PAD))
    return corner.int(), fractional_x, fractional_y  # exact: integers far below 2^24


class SpaceTimeGraph:
    """Edges of the whole video, grouped by frame offset; `propagate` computes M x.

    For an offset k, pivots first .. first + n_k - 1 link to frames pivot + k; their edges are an
    n_k x N int32 tensor of slots into the flat table of all frames' 2x2 block sums, plus the
    integer edges as three int32 vectors: pivot pixel (flat over frames) and the two corners
    (flat over padded frames).
    """

    def __init__(self, n_frames: int, height: int, width: int, sigma: float, max_offset: int, device):
        self.n_frames, self.height, self.width = n_frames, height, width
        self.padded_shape = (n_frames, height + 2 * PAD, width + 2 * PAD)
        self.padded_size = self.padded_shape[1] * self.padded_shape[2]
        if n_frames * self.padded_size >= 2 ** 31:
            raise ValueError(f'{n_frames} frames of {width}x{height} are too many for int32 edge slots; '
                             f'split the video or lower the working size')
        self.weights = temporal_weights(sigma, max_offset, device).tolist()
        self.groups = {}  # offset -> (first pivot, n_k x N slots)
        self._integer_parts = {}  # offset -> list of (pivot, corner, second corner) chunks
        self.integer_edges = {}  # offset -> (pivot, corner, second corner)
        self._buffers = None
        self._gather_plan = None
        self._scatter_plan = None

    def add_edges(self, offset: int, first_pivot: int, x: torch.Tensor, y: torch.Tensor):
        """Add the edges from pivots first_pivot .. (rows of x, y) to frames pivot + offset."""
        n_rows, n_pixels = x.shape
        if offset not in self.groups:
            first = 0 if offset > 0 else -offset
            slots = torch.empty(self.n_frames - abs(offset), n_pixels, dtype=torch.int32, device=x.device)
            self.groups[offset] = (first, slots)
            self._integer_parts[offset] = []
        first, slots = self.groups[offset]
        corner, fractional_x, fractional_y = block_corners(x, y, self.height, self.width)
        square = fractional_x & fractional_y
        destination = torch.arange(n_rows, dtype=torch.int32, device=x.device) + first_pivot + offset
        corner.add_((destination * self.padded_size)[:, None])
        rows = slice(first_pivot - first, first_pivot - first + n_rows)
        # a slot of 0 in the destination frame is a block of the zero ring: integer edges use it
        torch.where(square, corner, (destination * self.padded_size)[:, None], out=slots[rows])
        if not bool(square.all()):
            row, pixel = torch.nonzero(~square, as_tuple=True)
            first_corner = corner[row, pixel]
            second_corner = (first_corner + fractional_x[row, pixel].int()
                             + fractional_y[row, pixel].int() * (self.width + 2 * PAD))
            pivot = (row.int() + first_pivot) * n_pixels + pixel.int()
            self._integer_parts[offset].append((pivot, first_corner, second_corner))

    def finish(self):
        """Gather the integer edges found while adding chunks."""
        for offset, parts in self._integer_parts.items():
            if parts:
                self.integer_edges[offset] = tuple(torch.cat(column) for column in zip(*parts))
        self._integer_parts = {}
        return self

    def propagate(self, x: torch.Tensor, out: torch.Tensor) -> torch.Tensor:
        """out = M x for maps x (n x N): x itself (self weight g(0) = 1), plus what every pivot
        pixel gathers from the pixels its chains reach, plus what it gives them (scatter).

        As in the reference, pixel 0 of every frame receives neither, only its own value."""
        n, height, width = self.n_frames, self.height, self.width
        if self._buffers is None:  # kept across iterations: no allocation churn
            chunk_rows = max(1, CHUNK_ELEMENTS // x.shape[1])
            self._buffers = (torch.zeros(self.padded_shape, device=x.device),
                             torch.empty(self.padded_shape, device=x.device),
                             torch.empty(chunk_rows * x.shape[1], device=x.device))
        padded, table, scratch = self._buffers
        interior = padded[:, PAD:PAD + height, PAD:PAD + width]
        padded.zero_()
        interior.copy_(x.view(n, height, width))
        # table[r, c] = sum of the 2x2 block with top-left padded pixel (r, c); last row/col unused
        torch.add(padded[:, :-1, :-1], padded[:, :-1, 1:], out=table[:, :-1, :-1])
        table[:, :-1, :-1].add_(padded[:, 1:, :-1]).add_(padded[:, 1:, 1:])
        flat_table, flat_padded, flat_out = table.view(-1), padded.view(-1), out.view(-1)
        out.copy_(x)
        if self._gather_plan is None:
            self._gather_plan = self._chunks(x.shape[1])
        for offset, rows, slots in self._gather_plan:  # gather
            values = scratch[:slots.numel()]
            torch.index_select(flat_table, 0, slots.view(-1), out=values)
            out[rows].add_(values.view_as(slots), alpha=self.weights[abs(offset)])
        for offset, (pivot, corner, second) in self.integer_edges.items():
            values = flat_padded[corner] + flat_padded[second]
            flat_out.index_add_(0, pivot, values, alpha=2 * self.weights[abs(offset)])
        table.zero_()  # the same memory now collects what the pivots give
        self._scatter(x, flat_table)
        padded.zero_()
        block = table[:, :-1, :-1]
        padded[:, :-1, :-1] += block
        padded[:, :-1, 1:] += block
        padded[:, 1:, :-1] += block
        padded[:, 1:, 1:] += block
        flat_x = x.reshape(-1)
        for offset, (pivot, corner, second) in self.integer_edges.items():
            values = flat_x[pivot] * (2 * self.weights[abs(offset)])
            flat_padded.index_add_(0, corner, values)
            flat_padded.index_add_(0, second, values)
        out.view(n, height, width).add_(interior)
        out[:, 0] = x[:, 0]
        return out

    def _scatter(self, x, flat_table):
        """flat_table[slot] += g * x[pivot pixel] for every edge. index_add_ runs on one core, so
        on the CPU the destination frames are split between threads (disjoint writes)."""
        if self._scatter_plan is None:
            self._scatter_plan = self._plan_by_destination(x.shape[1], _threads_for(x.device))
        def work(chunks):
            for weight, rows, slots in chunks:
                flat_table.index_add_(0, slots.view(-1), x[rows].reshape(-1), alpha=weight)
        if len(self._scatter_plan) == 1:
            work(self._scatter_plan[0])
        else:
            list(_pool(len(self._scatter_plan)).map(work, self._scatter_plan))

    def _plan_by_destination(self, n_pixels, n_parts):
        """The chunks of every group cut so that part k only writes destination frames of its own
        range: a list, per part, of (weight, pivot rows, slots)."""
        bounds = [round(k * self.n_frames / n_parts) for k in range(n_parts + 1)]
        plan = [[] for _ in range(n_parts)]
        for offset, rows, slots in self._chunks(n_pixels):
            for part in range(n_parts):
                # pivots whose destination pivot + offset lies in [bounds[part], bounds[part + 1])
                start = max(rows.start, bounds[part] - offset)
                stop = min(rows.stop, bounds[part + 1] - offset)
                if start < stop:
                    plan[part].append((self.weights[abs(offset)], slice(start, stop),
                                       slots[start - rows.start:stop - rows.start]))
        return plan

    def _chunks(self, n_pixels):
        """(offset, pivot rows, slots) for every group, split into chunks of about CHUNK_ELEMENTS,
        ordered by pivot frame then offset: consecutive chunks touch the same few dozen frames,
        which stay in the CPU cache however long the video is."""
        step = max(1, CHUNK_ELEMENTS // n_pixels)
        chunks = []
        for offset, (first, slots) in self.groups.items():
            for start in range(0, slots.shape[0], step):
                chunk = slots[start:start + step]
                chunks.append((offset, slice(first + start, first + start + chunk.shape[0]), chunk))
        return sorted(chunks, key=lambda chunk: chunk[1].start)  # stable: ties keep the offset order

    def memory_bytes(self) -> int:
        tensors = [s for _, s in self.groups.values()]
        tensors += [t for edges in self.integer_edges.values() for t in edges]
        return sum(t.numel() * t.element_size() for t in tensors)
