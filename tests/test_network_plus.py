"""The network module's opt-in changes beyond the paper ([Network Module] label_band, augment,
test_time_flip, weight_average): what each computes, on tiny tensors and clips, and how bad values are refused."""
import subprocess
import sys
from dataclasses import asdict, replace
from pathlib import Path

import pytest
import torch

from ike_utils.config import load_config
from ike_utils.errors import InputError
from network_module.augment import augment_batch
from network_module.data import training_targets
from network_module.losses import segmentation_loss, soft_dice_loss, weighted_cross_entropy
from network_module.model import ResNet_UNet
from network_module.settings import NetworkSettings
from network_module.train import predict, run_network, soft_agreement, targets
from network_helpers import make_clip, write_config

REPO = Path(__file__).resolve().parent.parent
TINY = NetworkSettings(working_h=32, working_w=64, n_epochs=2, batch_size=2, learning_rate=1e-3,
                       to_save_epochs=(2,), base_channels=8)
BAND = replace(TINY, label_band=(0.3, 0.7))


# -- label_band ----------------------------------------------------------------------------------

def test_band_labels_by_hand():
    soft = torch.tensor([[[0.0, 0.29, 0.3, 0.5], [0.69, 0.7, 0.95, 1.0]]])
    hard, dice_target, valid = targets(soft, BAND)
    assert torch.equal(hard, torch.tensor([[[0, 0, 0, 0], [0, 1, 1, 1]]]))
    assert torch.equal(valid, torch.tensor([[[True, True, False, False], [False, True, True, True]]]))
    assert torch.equal(dice_target, hard.float())
    reference_hard, reference_soft, none = targets(soft, TINY)  # off: the paper's labels, every pixel counts
    assert none is None
    assert torch.equal(reference_hard, training_targets(soft)[0]) and torch.equal(reference_soft, soft)


def test_cross_entropy_and_dice_over_the_valid_pixels_by_hand():
    logits = torch.tensor([[[[2.0, -1.0, 0.5]], [[0.0, 1.0, 3.0]]]])  # 1 x 2 x 1 x 3
    labels = torch.tensor([[[0, 1, 0]]])
    valid = torch.tensor([[[True, False, True]]])
    log_p = torch.log_softmax(logits, dim=1)[0, :, 0]  # 2 x 3
    expected_ce = -(log_p[0, 0] + log_p[0, 2]) / 2
    assert weighted_cross_entropy(logits, labels, valid).item() == pytest.approx(expected_ce.item(), abs=1e-6)
    assert weighted_cross_entropy(logits, labels, torch.ones_like(valid)).item() == pytest.approx(
        weighted_cross_entropy(logits, labels).item(), abs=1e-6)
    assert weighted_cross_entropy(logits, labels, torch.zeros_like(valid)).item() == 0  # not NaN

    p = torch.softmax(logits, dim=1)[0, :, 0]
    target = labels[0, 0].float()
    dices = []
    for channel, t in ((0, 1 - target), (1, target)):
        kept_p, kept_t = p[channel, [0, 2]], t[[0, 2]]
        dices.append(1 - (2 * (kept_p * kept_t).sum() + 1) / (kept_p.sum() + kept_t.sum() + 1))
    expected_dice = (dices[0] + dices[1]) / 2
    assert soft_dice_loss(logits, labels.float(), valid).item() == pytest.approx(expected_dice.item(), abs=1e-6)
    assert soft_dice_loss(logits, labels.float(), valid).item() != pytest.approx(
        soft_dice_loss(logits, labels.float()).item(), abs=1e-3)


def _loss_and_gradients(soft, settings, images):
    torch.manual_seed(0)
    model = ResNet_UNet(in_channels=3, out_channels=2, base_channels=8)
    hard, soft_target, valid = targets(soft, settings)
    loss = segmentation_loss(model(images), hard, soft_target, valid)
    loss.backward()
    return loss.item(), {name: p.grad.clone() for name, p in model.named_parameters() if p.grad is not None}


def test_soft_values_inside_the_band_change_neither_loss_nor_gradients():
    generator = torch.Generator().manual_seed(1)
    images = torch.rand(2, 3, 32, 64, generator=generator)
    soft = torch.rand(2, 32, 64, generator=generator)
    in_band = (soft >= 0.3) & (soft < 0.7)
    other = soft.clone()
    other[in_band] = 0.3 + 0.4 * torch.rand(int(in_band.sum()), generator=generator) * 0.999
    assert not torch.equal(other, soft) and torch.equal(other[~in_band], soft[~in_band])
    loss, gradients = _loss_and_gradients(soft, BAND, images)
    loss_other, gradients_other = _loss_and_gradients(other, BAND, images)
    assert loss == loss_other and all(torch.equal(gradients[k], gradients_other[k]) for k in gradients)
    # the same change matters to the paper's loss, and a confident pixel changing side matters to ours
    assert _loss_and_gradients(other, TINY, images)[0] != _loss_and_gradients(soft, TINY, images)[0]
    flipped = soft.clone()
    flipped[soft >= 0.7] = 0.0
    assert _loss_and_gradients(flipped, BAND, images)[0] != loss
    # and background pixels moved into the band stop counting (they are not background any more)
    ignored = soft.clone()
    ignored[soft < 0.3] = 0.5
    assert _loss_and_gradients(ignored, BAND, images)[0] != loss


@pytest.mark.parametrize('value, problem', [('0.8, 0.3', 'label_band = 0.8, 0.3 must be two numbers'),
                                            ('0.5', 'label_band = 0.5 must be two numbers'),
                                            ('0.2, 0.5, 0.7', 'must be two numbers'),
                                            ('0.2, 1.5', 'label_band = 0.2, 1.5 must be two numbers'),
                                            ('-0.1, 0.5', 'with 0 <= LOW <= HIGH <= 1'),
                                            ('low, high', 'expected comma-separated numbers')])
def test_bad_label_band_is_refused(tmp_path, value, problem):
    config = write_config(tmp_path / 'c.ini')
    config.write_text(config.read_text() + f'label_band = {value}\n')
    with pytest.raises(InputError, match='label_band') as error:
        NetworkSettings.from_config(load_config(config))
    assert problem in str(error.value) and '\n' not in str(error.value)


# -- augment -------------------------------------------------------------------------------------

def _blocky_batch(generator):
    """Images whose channel 0 is 0/1 on 4 x 4 blocks, channel 1 smooth; labels made from them."""
    blocks = (torch.rand(4, 1, 8, 16, generator=generator) > 0.5).float()
    images = torch.cat([blocks.repeat_interleave(4, 2).repeat_interleave(4, 3),
                        torch.rand(4, 2, 32, 64, generator=generator)], dim=1)
    images[:, 1] = torch.linspace(0, 1, 64)  # left to right: shows a flip
    return images, (images[:, 0] >= 0.5).long(), images[:, 1].clone(), images[:, 0] < 0.5


def test_augmentation_moves_frames_and_labels_together():
    images, hard, soft, valid = _blocky_batch(torch.Generator().manual_seed(0))
    out_images, out_hard, out_soft, out_valid = augment_batch(images, hard, soft, valid,
                                                              torch.Generator().manual_seed(3))
    assert out_images.shape == images.shape and out_hard.dtype == torch.int64 and out_valid.dtype == torch.bool
    assert torch.allclose(out_soft, out_images[:, 1], atol=1e-6)  # bilinear, like the frames
    # hard labels and mask (nearest) agree with the frames wherever the frame's pixel is not a blend
    pure = (out_images[:, 0] == 0) | (out_images[:, 0] == 1)
    assert pure.float().mean() > 0.5
    assert torch.equal(out_hard[pure], (out_images[:, 0][pure] >= 0.5).long())
    assert torch.equal(out_valid[pure], out_images[:, 0][pure] < 0.5)
    # every image got a view of its own: some mirrored, all cropped (no view equals the original)
    slopes = out_images[:, 1, 16, -1] - out_images[:, 1, 16, 0]
    assert (slopes > 0).any() and (slopes < 0).any()
    assert not any(torch.allclose(out_images[i, 1:], images[i, 1:]) for i in range(4))


def test_augmentation_repeats_for_a_seed():
    batch = _blocky_batch(torch.Generator().manual_seed(0))
    first, again, other = (augment_batch(*batch, torch.Generator().manual_seed(s)) for s in (5, 5, 6))
    assert all(torch.equal(a, b) for a, b in zip(first, again))
    assert not torch.equal(first[0], other[0])
    no_mask = augment_batch(*batch[:3], None, torch.Generator().manual_seed(5))
    assert no_mask[3] is None and all(torch.equal(a, b) for a, b in zip(first[:3], no_mask[:3]))


def test_seeded_runs_with_every_option_repeat_and_differ_from_the_paper(tmp_path):
    frames, pseudo, _ = make_clip(tmp_path, n_frames=4)
    plus = replace(TINY, label_band=(0.3, 0.7), augment=True, test_time_flip=True)
    runs = {name: run_network(frames, pseudo, tmp_path / name, settings, 'cpu', seed=2, quiet=True)[0]
            for name, settings in (('a', plus), ('b', plus), ('paper', TINY))}
    for index in range(4):
        a, b, paper = (torch.load(runs[name] / f'{index:05d}.pt') for name in ('a', 'b', 'paper'))
        assert torch.equal(a, b) and not torch.allclose(a, paper, atol=1e-3)


# -- test_time_flip ------------------------------------------------------------------------------

def test_test_time_flip_is_the_mean_of_the_frame_and_its_mirror_image():
    torch.manual_seed(0)
    model = ResNet_UNet(in_channels=3, out_channels=2, base_channels=8)
    frames = torch.rand(3, 3, 32, 64, generator=torch.Generator().manual_seed(4))
    plain = predict(model, frames, TINY, torch.device('cpu'))
    mirrored = predict(model, frames.flip(-1), TINY, torch.device('cpu')).flip(-1)
    averaged = predict(model, frames, replace(TINY, test_time_flip=True), torch.device('cpu'))
    assert torch.allclose(averaged, (plain + mirrored) / 2, atol=1e-6, rtol=0)
    assert not torch.allclose(averaged, plain, atol=1e-3)


def test_soft_agreement_by_hand():
    plain = torch.tensor([[[1.0, 0.5, 0.0, 0.0]]])
    mirrored = torch.tensor([[[0.0, 0.5, 0.0, 1.0]]])
    assert soft_agreement(plain, mirrored) == pytest.approx(0.5 / 2.5)
    assert soft_agreement(plain, plain) == 1.0 and soft_agreement(plain * 0, plain * 0) == 1.0


def test_test_time_flip_by_agreement_weighs_the_mirrored_view_by_its_agreement_with_the_frame():
    """The mirrored view weighs its soft IoU with the frame's own view over the video: a disagreeing
    mirrored view moves the prediction less than the plain mean does."""
    torch.manual_seed(0)
    model = ResNet_UNet(in_channels=3, out_channels=2, base_channels=8)
    frames = torch.rand(4, 3, 32, 64, generator=torch.Generator().manual_seed(4))
    plain = predict(model, frames, TINY, torch.device('cpu'))
    mirrored = predict(model, frames.flip(-1), TINY, torch.device('cpu')).flip(-1)
    agreement = soft_agreement(plain, mirrored)
    assert 0.1 < agreement < 0.99
    weighted = predict(model, frames, replace(TINY, test_time_flip=True, test_time_flip_by_agreement=True),
                       torch.device('cpu'))
    assert torch.allclose(weighted, (plain + agreement * mirrored) / (1 + agreement), atol=1e-6, rtol=0)
    assert (weighted - plain).abs().max() < ((plain + mirrored) / 2 - plain).abs().max()
    assert torch.equal(predict(model, frames, replace(TINY, test_time_flip_by_agreement=True), torch.device('cpu')),
                       plain)  # by_agreement alone changes nothing


def test_warm_start_test_time_flip_turns_the_flip_off_for_warm_started_networks_only():
    flipped = replace(TINY, test_time_flip=True, warm_start_epochs=1)
    assert flipped.warm_started().test_time_flip
    off = replace(flipped, warm_start_test_time_flip=False)
    assert off.test_time_flip and not off.warm_started().test_time_flip


# -- configs and the command line ----------------------------------------------------------------

def test_options_are_off_in_the_paper_configs_and_the_preset_changes_only_its_keys():
    cpu = asdict(NetworkSettings.from_config(load_config(REPO / 'configs/cpu.ini')))
    plus = asdict(NetworkSettings.from_config(load_config(REPO / 'configs/ike_plus.ini')))
    for name in ('config.ini', 'configs/cpu.ini'):
        settings = NetworkSettings.from_config(load_config(REPO / name))
        assert (settings.label_band, settings.augment, settings.test_time_flip, settings.guided_filter_radius,
                settings.weight_average, settings.min_epoch_steps, settings.warm_start_epochs) == (
                    (), False, False, 0, 0, 0, 0)
    assert {k: v for k, v in plus.items() if cpu[k] != v} == {
        'working_h': 112, 'working_w': 208, 'learning_rate': 1e-3, 'n_epochs': 6, 'to_save_epochs': (6,),
        'test_time_flip': True, 'test_time_flip_by_agreement': True, 'guided_filter_radius': 8, 'weight_average': 0.98, 'min_epoch_steps': 23,
        'warm_start_epochs': 3}


@pytest.mark.parametrize('line', ['label_band = 0.7, 0.3', 'augment = sometimes'])
def test_command_line_refuses_a_bad_option_with_exit_status_2(tmp_path, line):
    config = write_config(tmp_path / 'c.ini')
    config.write_text(config.read_text() + line + '\n')
    result = subprocess.run([sys.executable, str(REPO / 'main.py'), '--frames_path', tmp_path, '--pseudo_gt_path',
                             tmp_path, '--out_path', tmp_path / 'out', '--config', config, '--quiet'],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 2
    assert result.stderr.startswith('error: ') and result.stderr.count('\n') == 1
    assert line.split(' =')[0] in result.stderr and not (tmp_path / 'out').exists()


# -- weight_average ------------------------------------------------------------------------------

def test_weight_average_is_the_warmed_up_exponential_moving_average_by_hand():
    from network_module.weight_average import WeightAverage
    model = torch.nn.Linear(2, 1)
    start = [p.detach().clone() for p in model.parameters()]
    average = WeightAverage(model, decay=0.9)
    expected = start
    for step in range(1, 30):
        with torch.no_grad():
            for p in model.parameters():
                p.add_(torch.full_like(p, 0.1 * step))
        average.update(model)
        decay = min(0.9, (1 + step) / (10 + step))  # warm-up: 2/11, 3/12, ... until 0.9
        expected = [decay * e + (1 - decay) * p.detach() for e, p in zip(expected, model.parameters())]
    for got, want in zip(average.model.parameters(), expected):
        assert torch.allclose(got, want, atol=1e-6)
    assert not any(p.requires_grad for p in average.model.parameters())


def test_weight_average_predictions_are_those_of_the_averaged_checkpoint(tmp_path):
    """The saved predictions come from the averaged weights, which the checkpoint holds; they differ
    from the last step's weights (the same seeded run without the average)."""
    frames, pseudo, _ = make_clip(tmp_path, n_frames=4)
    averaged = replace(TINY, n_epochs=3, to_save_epochs=(3,), weight_average=0.5)
    folder = run_network(frames, pseudo, tmp_path / 'avg', averaged, 'cpu', seed=1, quiet=True)[0]
    plain = run_network(frames, pseudo, tmp_path / 'plain', replace(averaged, weight_average=0.0), 'cpu',
                        seed=1, quiet=True)[0]
    model = ResNet_UNet(in_channels=3, out_channels=2, base_channels=8)
    model.load_state_dict(torch.load(tmp_path / 'avg/models/epoch_00003.pt')['state_dict'])
    from network_module.data import load_video
    video, _, _ = load_video(frames, pseudo, 32, 64, min_frames=2)
    again = predict(model, video, averaged, torch.device('cpu'))
    for index in range(4):
        saved = torch.load(folder / f'{index:05d}.pt')[:, :, 0]
        assert torch.allclose(saved, again[index], atol=1e-5)
        assert not torch.allclose(saved, torch.load(plain / f'{index:05d}.pt')[:, :, 0], atol=1e-3)


@pytest.mark.parametrize('value', ['1', '-0.1', '1.5'])
def test_weight_average_outside_zero_to_one_is_refused(value):
    from tests.test_pixel_features import _config
    text = f'[General]\nworking_h = 32\nworking_w = 64\n[Network Module]\nn_epochs = 1\nbatch_size = 1\n' \
           f'learning_rate = 1e-3\nto_save_epochs = 1\nweight_average = {value}\n'
    with pytest.raises(InputError, match='weight_average'):
        NetworkSettings.from_config(_config(text))


# -- min_epoch_steps -----------------------------------------------------------------------------

def test_min_epoch_steps_passes_over_a_short_video_again_each_pass_shuffled_anew():
    from network_module.data import batches
    def same(first, second):
        return len(first) == len(second) and all(torch.equal(a, b) for a, b in zip(first, second))

    reference = batches(5, 2, torch.Generator().manual_seed(3))  # one pass: 2 batches, one frame left out
    assert same(batches(5, 2, torch.Generator().manual_seed(3), min_steps=0), reference)
    assert same(batches(5, 2, torch.Generator().manual_seed(3), min_steps=2), reference)
    generator = torch.Generator().manual_seed(3)
    passes = [torch.randperm(5, generator=generator)[:4].view(2, 2) for _ in range(3)]
    expected = [batch for one_pass in passes for batch in one_pass][:5]
    got = batches(5, 2, torch.Generator().manual_seed(3), min_steps=5)
    assert same(got, expected) and same(got[:2], reference)


def test_min_epoch_steps_sets_the_steps_of_every_epoch_of_a_run(tmp_path):
    from network_helpers import record_training_batches
    from network_module.data import load_video
    frames, pseudo, _ = make_clip(tmp_path, n_frames=4)
    images = load_video(frames, pseudo, 32, 64, min_frames=1)[0]
    with record_training_batches(images) as seen:
        run_network(frames, pseudo, tmp_path / 'out', replace(TINY, min_epoch_steps=5), 'cpu', seed=0, quiet=True)
    assert len(seen) == 2 * 5  # 2 epochs of 5 steps, where one pass over 4 frames has 2 batches of 2
    assert all(sorted(sum(seen[i:i + 2], [])) == [0, 1, 2, 3] for i in (0, 2, 5, 7))  # each pass: every frame once


def test_keys_added_later_leave_the_record_of_a_run_without_them_unchanged():
    """A finished run recorded before weight_average and min_epoch_steps existed stays done: while
    off they are not in the settings record; when on, they are."""
    record = TINY.as_dict()
    assert 'weight_average' not in record and 'min_epoch_steps' not in record
    assert replace(TINY, weight_average=0.9).as_dict()['weight_average'] == 0.9
    assert replace(TINY, min_epoch_steps=4).as_dict()['min_epoch_steps'] == 4
