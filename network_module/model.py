"""The reference's ResNet_UNet (network_module/model.py of emanuelahaller/IKE), with a width knob.

Layer names and the order in which layers are created match the reference, so its state dicts load
here unchanged and, under the same torch seed, the initial weights are the same. `base_channels`
(64 in the paper) is the width of the first stage; stage k has base_channels * 2**k channels.
Every convolution is followed by an affine InstanceNorm2d.
"""
import torch
import torch.nn.functional as F
from torch import nn


class InstanceNorm(nn.InstanceNorm2d):
    """nn.InstanceNorm2d (affine), fast on channels-last input too.

    PyTorch computes instance norm as a batch norm over a (1, B*C, H, W) view, which a channels-last
    tensor does not have: it would be copied to the standard layout and back around every norm.
    For channels-last input we instead run the batch norm image by image (each image is a
    channels-last (1, C, H, W) tensor): the same statistics, eps and affine transform, computed by
    the channels-last kernel. Standard-layout input takes PyTorch's own path (the reference's)."""

    def forward(self, x):
        if x.dim() == 4 and not x.is_contiguous() and x.is_contiguous(memory_format=torch.channels_last):
            return torch.cat([F.batch_norm(image, None, None, self.weight, self.bias, True, 0.0, self.eps)
                              for image in x.split(1)])
        return super().forward(x)


class ConvNorm(nn.Module):
    """conv -> InstanceNorm2d(affine) -> optional ReLU (the reference's `Conv`)."""

    def __init__(self, in_channels, out_channels, kernel_size=3, relu=True):
        super().__init__()
        self.conv = nn.Conv2d(in_channels, out_channels, kernel_size, padding=kernel_size // 2, bias=False)
        self.norm = InstanceNorm(out_channels, affine=True)
        self.relu = nn.ReLU()
        self.with_nonlinearity = relu

    def forward(self, x):
        x = self.norm(self.conv(x))
        return self.relu(x) if self.with_nonlinearity else x


class UpConvNorm(nn.Module):
    """3x3 stride-2 transposed conv (doubles height and width) -> InstanceNorm2d, no ReLU."""

    def __init__(self, in_channels, out_channels):
        super().__init__()
        self.conv = nn.ConvTranspose2d(in_channels, out_channels, 3, stride=2, padding=1,
                                       output_padding=1, bias=False)
        self.norm = InstanceNorm(out_channels, affine=True)

    def forward(self, x):
        return self.norm(self.conv(x))


class Up(nn.Module):
    """Wrapper kept for the reference's state-dict names (`upK.conv.conv.weight`, ...)."""

    def __init__(self, in_channels, out_channels):
        super().__init__()
        self.conv = UpConvNorm(in_channels, out_channels)

    def forward(self, x):
        return self.conv(x)


class ResBlock(nn.Module):
    """Two residual units. The first: conv-ReLU-conv plus a shortcut (identity when `simple`, else a
    1x1 conv; the reference creates the 1x1 conv even when it is unused, and so do we, which is
    part of the 67,388,482 parameters). The second: conv-conv (no ReLU in between, as the
    reference) plus identity. A ReLU follows each sum."""

    def __init__(self, in_channels, out_channels, simple):
        super().__init__()
        self.simple = simple
        self.conv_block_1 = ConvNorm(in_channels, out_channels, relu=True)
        self.conv_block_2 = ConvNorm(out_channels, out_channels, relu=False)
        self.id_conv = ConvNorm(in_channels, out_channels, kernel_size=1, relu=False)
        self.relu = nn.ReLU()
        self.conv_block_3 = ConvNorm(out_channels, out_channels, relu=False)
        self.conv_block_4 = ConvNorm(out_channels, out_channels, relu=False)

    def forward(self, x):
        shortcut = x if self.simple else self.id_conv(x)
        x = self.relu(self.conv_block_2(self.conv_block_1(x)) + shortcut)
        return self.relu(self.conv_block_4(self.conv_block_3(x)) + x)


class ResNet_UNet(nn.Module):  # noqa: N801 (the reference's name)
    """Encoder b, 2b, 4b, 8b (max-pool 2x2 between), bottleneck 16b, decoder with skip concatenation.

    Input: batch x in_channels x H x W with H and W multiples of 16. Output: batch x out_channels
    x H x W logits.
    """

    def __init__(self, in_channels=3, out_channels=2, base_channels=64):
        super().__init__()
        b = base_channels
        self.in_conv = ConvNorm(in_channels, b, kernel_size=7, relu=True)
        self.down_block_1 = ResBlock(b, b, simple=True)
        self.down_block_2 = ResBlock(b, 2 * b, simple=False)
        self.down_block_3 = ResBlock(2 * b, 4 * b, simple=False)
        self.down_block_4 = ResBlock(4 * b, 8 * b, simple=False)
        self.block_5 = ResBlock(8 * b, 16 * b, simple=False)
        self.up_block_4 = ResBlock(16 * b, 8 * b, simple=False)
        self.up_block_3 = ResBlock(8 * b, 4 * b, simple=False)
        self.up_block_2 = ResBlock(4 * b, 2 * b, simple=False)
        self.up_block_1 = ResBlock(2 * b, b, simple=False)
        self.down = nn.MaxPool2d(2)
        self.up4 = Up(16 * b, 8 * b)
        self.up3 = Up(8 * b, 4 * b)
        self.up2 = Up(4 * b, 2 * b)
        self.up1 = Up(2 * b, b)
        self.out_conv = nn.Conv2d(b, out_channels, 3, padding=1)

    def forward(self, x):
        skip1 = self.down_block_1(self.in_conv(x))
        skip2 = self.down_block_2(self.down(skip1))
        skip3 = self.down_block_3(self.down(skip2))
        skip4 = self.down_block_4(self.down(skip3))
        x = self.block_5(self.down(skip4))
        x = self.up_block_4(torch.cat((skip4, self.up4(x)), dim=1))
        x = self.up_block_3(torch.cat((skip3, self.up3(x)), dim=1))
        x = self.up_block_2(torch.cat((skip2, self.up2(x)), dim=1))
        x = self.up_block_1(torch.cat((skip1, self.up1(x)), dim=1))
        return self.out_conv(x)


def count_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())
