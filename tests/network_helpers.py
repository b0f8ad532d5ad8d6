"""Synthetic clips for the network-module tests (frames with a moving square and its mask), and
hooks that record what the network is given during a run."""
import contextlib
from pathlib import Path

import cv2
import numpy as np
import torch
from torch import nn
from torch.nn.modules.module import register_module_forward_hook, register_module_forward_pre_hook

from network_module.model import ResNet_UNet


def make_clip(root, n_frames=6, height=32, width=64, frame_size=None, seed=0):
    """Write frames (a bright square on textured background, moving right) to root/frames and the
    exact masks as pseudo labels to root/pseudo (H x W x 1 float32). Returns (frames, pseudo, masks)."""
    root = Path(root)
    rng = np.random.default_rng(seed)
    frames_dir, pseudo_dir = root / 'frames', root / 'pseudo'
    frames_dir.mkdir(parents=True, exist_ok=True)
    pseudo_dir.mkdir(parents=True, exist_ok=True)
    fh, fw = frame_size or (height, width)
    masks = []
    for i in range(n_frames):
        mask = np.zeros((height, width), np.float32)
        top, left = height // 4, width // 8 + 2 * i
        mask[top:top + height // 2, left:left + width // 4] = 1
        background = rng.integers(0, 120, (fh, fw, 3)).astype(np.uint8)
        big_mask = cv2.resize(mask, (fw, fh), interpolation=cv2.INTER_NEAREST)
        image = background.copy()
        image[big_mask > 0] = (40, 200, 230)
        cv2.imwrite(str(frames_dir / ('%05d.png' % i)), image)
        torch.save(torch.from_numpy(mask)[:, :, None], pseudo_dir / ('%05d.pt' % i))
        masks.append(mask)
    return frames_dir, pseudo_dir, np.stack(masks)


def write_config(path, height=32, width=64, n_epochs=3, batch_size=2, learning_rate=1e-3,
                 to_save_epochs='', base_channels=8, precision='fp32', channels_last='false'):
    Path(path).write_text(
        f'[General]\nworking_h = {height}\nworking_w = {width}\n\n'
        f'[Network Module]\nn_epochs = {n_epochs}\nbatch_size = {batch_size}\nlearning_rate = {learning_rate}\n'
        f'to_save_epochs = {to_save_epochs}\nbase_channels = {base_channels}\nprecision = {precision}\n'
        f'channels_last = {channels_last}\n')
    return path


@contextlib.contextmanager
def record_training_batches(frames: torch.Tensor):
    """Collects, for every training-mode forward pass of a ResNet_UNet, the frame indices of its
    batch (found by comparing each image with `frames`, n x 3 x H x W as load_video gives them)."""
    seen = []

    def record(module, args):
        if isinstance(module, ResNet_UNet) and module.training:
            batch = args[0].detach().float().cpu()
            seen.append([next(i for i, frame in enumerate(frames) if torch.equal(image, frame)) for image in batch])

    handle = register_module_forward_pre_hook(record)
    try:
        yield seen
    finally:
        handle.remove()


@contextlib.contextmanager
def record_convolutions():
    """Collects what reaches and leaves every (transposed) convolution: a dict per call with the
    module's training flag, the output dtype and whether input, output and weight are channels-last
    (the weight's layout as None for 1x1 kernels, where both layouts are the same)."""
    seen = []

    def record(module, args, output):
        if isinstance(module, (nn.Conv2d, nn.ConvTranspose2d)):
            weight = None if module.kernel_size == (1, 1) else _channels_last(module.weight)
            seen.append({'training': module.training, 'dtype': output.dtype, 'weight_channels_last': weight,
                         'input_channels_last': _channels_last(args[0]), 'output_channels_last': _channels_last(output)})

    handle = register_module_forward_hook(record)
    try:
        yield seen
    finally:
        handle.remove()


def _channels_last(x: torch.Tensor) -> bool:
    """Stored channels-last and not also in the standard layout (so never true by accident for 1x1 maps)."""
    return x.is_contiguous(memory_format=torch.channels_last) and not x.is_contiguous()
