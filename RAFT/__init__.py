"""RAFT weights for torchvision's RAFT model: checkpoint loading (the model code is torchvision's)."""
from RAFT.checkpoint import DOWNLOAD_HINT, load_raft, to_torchvision_names

__all__ = ['DOWNLOAD_HINT', 'load_raft', 'to_torchvision_names']
