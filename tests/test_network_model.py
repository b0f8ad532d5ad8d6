"""The network's architecture, norm layer and loss, checked without training."""
import math

import pytest
import torch

from network_module.data import training_targets
from network_module.losses import segmentation_loss, soft_dice_loss, two_channel_targets, weighted_cross_entropy
from network_module.model import InstanceNorm, ResNet_UNet, count_parameters


def test_parameter_count_of_the_paper_network_without_running_it():
    with torch.device('meta'):
        model = ResNet_UNet(in_channels=3, out_channels=2, base_channels=64)
    assert count_parameters(model) == 67_388_482


def test_reference_layer_names_and_width_scaling():
    with torch.device('meta'):
        model = ResNet_UNet(3, 2, base_channels=8)
    shapes = {name: tuple(p.shape) for name, p in model.named_parameters()}
    assert shapes['in_conv.conv.weight'] == (8, 3, 7, 7)
    assert shapes['down_block_1.id_conv.conv.weight'] == (8, 8, 1, 1)  # created though unused, as the reference
    assert shapes['block_5.conv_block_4.conv.weight'] == (128, 128, 3, 3)
    assert shapes['up4.conv.conv.weight'] == (128, 64, 3, 3)  # transposed conv: in x out
    assert shapes['up_block_1.conv_block_1.conv.weight'] == (8, 16, 3, 3)
    assert shapes['out_conv.weight'] == (2, 8, 3, 3) and shapes['out_conv.bias'] == (2,)
    assert 'in_conv.conv.bias' not in shapes and 'in_conv.norm.weight' in shapes
    assert len(shapes) == 3 + 9 * 5 * 3 + 4 * 3 + 2  # stem, 9 ResBlocks of 5 conv+norm, 4 ups, out


def test_output_is_logits_at_input_size():
    model = ResNet_UNet(3, 2, base_channels=4)
    out = model(torch.rand(2, 3, 32, 48))
    assert out.shape == (2, 2, 32, 48) and out.dtype == torch.float32


def test_channels_last_instance_norm_matches_pytorch_forward_and_backward():
    torch.manual_seed(0)
    reference = torch.nn.InstanceNorm2d(5, affine=True)
    ours = InstanceNorm(5, affine=True)
    with torch.no_grad():
        reference.weight.uniform_(0.5, 2), reference.bias.uniform_(-1, 1)
    ours.load_state_dict(reference.state_dict())
    x = (torch.randn(3, 5, 7, 9) * 3 + 1)
    x_ref = x.clone().requires_grad_()
    x_cl = x.clone().contiguous(memory_format=torch.channels_last).requires_grad_()
    y_ref, y_cl = reference(x_ref), ours(x_cl)
    assert y_cl.is_contiguous(memory_format=torch.channels_last)
    torch.testing.assert_close(y_cl, y_ref, atol=1e-5, rtol=1e-5)
    upstream = torch.randn_like(y_ref)
    (y_ref * upstream).sum().backward()
    (y_cl * upstream).sum().backward()
    torch.testing.assert_close(x_cl.grad, x_ref.grad, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(ours.weight.grad, reference.weight.grad, atol=1e-4, rtol=1e-5)
    torch.testing.assert_close(ours.bias.grad, reference.bias.grad, atol=1e-4, rtol=1e-5)


def test_channels_last_model_matches_standard_layout():
    torch.manual_seed(0)
    model = ResNet_UNet(3, 2, base_channels=4)
    x = torch.rand(2, 3, 32, 64)
    with torch.no_grad():
        expected = model(x)
        model = model.to(memory_format=torch.channels_last)
        got = model(x.contiguous(memory_format=torch.channels_last))
    torch.testing.assert_close(got, expected, atol=1e-4, rtol=1e-4)


def test_targets_threshold_at_one_half_and_clip_to_0_1():
    # exactly 0.5 is foreground, the float32 just below it is not; rounding outside [0, 1] is clipped
    just_below = torch.nextafter(torch.tensor(0.5), torch.tensor(0.0)).item()
    soft = torch.tensor([[[-4e-6, 0.0, just_below, 0.5, 1.0, 1 + 4e-6]]])
    hard, fg = training_targets(soft)
    assert hard.tolist() == [[[0, 0, 0, 1, 1, 1]]] and hard.dtype == torch.int64
    assert fg.tolist() == [[[0.0, 0.0, just_below, 0.5, 1.0, 1.0]]]
    one_minus = torch.tensor(1 - just_below, dtype=torch.float32).item()  # rounded to float32, as the reference
    assert two_channel_targets(fg).tolist() == [[[[1.0, 1.0, one_minus, 0.5, 0.0, 0.0]],
                                                 [[0.0, 0.0, just_below, 0.5, 1.0, 1.0]]]]


LOG3 = math.log(3)
# two images of two pixels each; logits (background, foreground) per pixel
LOGITS = torch.tensor([[[[0.0, 0.0]], [[LOG3, 0.0]]],      # image 0: p(fg) = 3/4, 1/2
                       [[[LOG3, 0.0]], [[0.0, 0.0]]]])     # image 1: p(fg) = 1/4, 1/2


def test_soft_dice_by_hand():
    soft = torch.tensor([[[1.0, 0.25]], [[0.0, 1.0]]])
    # image 0, fg: p = (3/4, 1/2), t = (1, 1/4): overlap 7/8, |P| = |T| = 5/4 -> 1 - (7/4 + 1) / (5/2 + 1)
    #          bg: p = (1/4, 1/2), t = (0, 3/4): overlap 3/8, |P| = |T| = 3/4 -> 1 - (3/4 + 1) / (3/2 + 1)
    image_0 = ((1 - 2.75 / 3.5) + (1 - 1.75 / 2.5)) / 2
    # image 1, fg: p = (1/4, 1/2), t = (0, 1): overlap 1/2, |P| 3/4, |T| 1 -> 1 - 2 / (11/4)
    #          bg: p = (3/4, 1/2), t = (1, 0): overlap 3/4, |P| 5/4, |T| 1 -> 1 - (5/2) / (13/4)
    image_1 = ((1 - 2 / 2.75) + (1 - 2.5 / 3.25)) / 2
    assert soft_dice_loss(LOGITS, soft).item() == pytest.approx((image_0 + image_1) / 2, rel=1e-6)


def test_weighted_cross_entropy_and_the_loss_by_hand():
    hard = torch.tensor([[[1, 0]], [[0, 0]]])
    # -log p(label) per pixel: image 0 -log(3/4), -log(1/2); image 1 -log(3/4), -log(1/2);
    # the weights are (0.5, 0.5), so the weighted mean is the plain mean
    ce = (2 * math.log(4 / 3) + 2 * math.log(2)) / 4
    assert weighted_cross_entropy(LOGITS, hard).item() == pytest.approx(ce, rel=1e-6)
    # class weights (w0, w1) would give (w1 log(4/3) + w0 (log(4/3) + 2 log 2)) / (w1 + 3 w0) instead
    soft = hard.float()
    # Dice with hard targets: image 0 fg 1 - (3/2 + 1) / (5/4 + 1 + 1), bg 1 - (1/2 + 1) / (3/4 + 1 + 1);
    # image 1 fg 1 - 1 / (3/4 + 1), bg 1 - (5/2 + 1) / (5/4 + 2 + 1)
    dice = ((1 - 2.5 / 3.25) + (1 - 2 / 2.75) + (1 - 1 / 1.75) + (1 - 3.5 / 4.25)) / 4
    assert segmentation_loss(LOGITS, hard, soft).item() == pytest.approx(ce + dice, rel=1e-6)
    assert segmentation_loss(LOGITS.bfloat16(), hard, soft).dtype == torch.float32  # computed in float32


def test_loss_is_small_for_a_confident_correct_prediction_and_large_otherwise():
    target = (torch.rand(2, 16, 16, generator=torch.Generator().manual_seed(0)) > 0.5).float()
    hard, fg = training_targets(target)
    confident = torch.stack((1 - target, target), dim=1) * 40 - 20
    assert segmentation_loss(confident, hard, fg).item() < 1e-3
    assert segmentation_loss(-confident, hard, fg).item() > 10
