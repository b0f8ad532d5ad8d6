"""The network's architecture, norm layer and loss, checked without training."""
import pytest
import torch

from network_module.losses import segmentation_loss, soft_dice_loss
from network_module.model import InstanceNorm, ResNet_UNet, count_parameters
from network_module.data import training_targets


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


def test_targets_threshold_at_one_half():
    soft = torch.tensor([[0.0, 0.49, 0.5, 1.0]])
    hard, fg = training_targets(soft)
    assert hard.tolist() == [[0, 0, 1, 1]] and hard.dtype == torch.int64
    assert torch.equal(fg, soft)


def test_soft_dice_by_hand():
    # one image, two pixels; probabilities [fg] = [0.5, 0.5] (zero logits), target fg = [1, 0]
    logits = torch.zeros(1, 2, 1, 2)
    target = torch.tensor([[[1.0, 0.0]]])
    # fg: overlap 0.5, |P| 1, |T| 1 -> 1 - 2/3; bg is symmetric
    assert soft_dice_loss(logits, target).item() == pytest.approx(1 - 2 / 3)


def test_loss_is_small_for_a_confident_correct_prediction_and_large_otherwise():
    target = (torch.rand(2, 16, 16) > 0.5).float()
    hard, fg = training_targets(target)
    confident = torch.stack((1 - target, target), dim=1) * 40 - 20
    assert segmentation_loss(confident, hard, fg).item() < 1e-3
    wrong = -confident
    assert segmentation_loss(wrong, hard, fg).item() > 10
    # equal class weights: the weighted cross-entropy is the plain mean
    uniform = torch.zeros(2, 2, 16, 16)
    assert segmentation_loss(uniform, hard, fg).item() == pytest.approx(
        torch.log(torch.tensor(2.0)).item() + soft_dice_loss(uniform, fg).item(), rel=1e-6)
