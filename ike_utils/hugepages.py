"""Ask PyTorch's CPU allocator for transparent huge pages. Import this before torch.

The graph's power iteration reads and writes hundreds of MB at scattered places; with 2 MB pages
instead of 4 kB ones the TLB misses mostly vanish and an iteration takes about a quarter less time
(0.58 s -> 0.44 s on blackswan at 224x416). PyTorch does this for tensors of 2 MB and more when
THP_MEM_ALLOC_ENABLE=1 is set before it loads. The numbers do not change; a user's own setting wins.
"""
import os

os.environ.setdefault('THP_MEM_ALLOC_ENABLE', '1')
