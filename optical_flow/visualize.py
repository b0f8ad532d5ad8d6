"""Colour-coded flow images (the Middlebury colour wheel, via torchvision) for looking at a flow."""
import numpy as np
import torch


def flow_to_color(flow: np.ndarray) -> np.ndarray:
    """H x W x 2 flow -> H x W x 3 uint8 BGR image: hue = direction, saturation = speed relative
    to the fastest pixel of this flow, white = still."""
    # imported here: torchvision's import costs 160 MiB of resident memory, which every stage that
    # asks the flow stage for its folders would otherwise pay
    from torchvision.utils import flow_to_image
    rgb = flow_to_image(torch.from_numpy(np.ascontiguousarray(flow, dtype=np.float32)).permute(2, 0, 1))
    return np.ascontiguousarray(rgb.permute(1, 2, 0).numpy()[:, :, ::-1])
