"""Training the per-video network on pseudo labels, and writing its checkpoints and predictions.

The cycle driver calls `run_network`; `main.py` is its command line. Output layout under out_path:

    models/epoch_%05d.pt                 state dict (with weight_average, the averaged weights) + settings
    results_pt/epoch_%05d/%05d.pt        softmax foreground probability, H x W x 1 float32, working size
    results_images/epoch_%05d/%05d.png   the same as a grey PNG at the original frame size
    stage.json                           the stage contract's record (ike_utils.stage)

Every folder and file is written atomically. A rerun with the same frames, pseudo labels, settings
and seed is skipped (the stage contract decides); the record keeps the mean training losses.
"""
import contextlib
import math
from pathlib import Path

import torch

from ike_utils.atomic import atomic_dir, atomic_file
from ike_utils.disk import save_tensor
from ike_utils.errors import InputError
from ike_utils.frames import list_frames
from ike_utils.guided_filter import refine_maps
from ike_utils.images import save_soft_map_png
from ike_utils.progress import note, progress_bar
from ike_utils.stage import Stage, require_finite, run_stage
from network_module.augment import augment_batch
from network_module.data import (batches, confident_targets, load_video, pseudo_label_name, steps_per_epoch,
                                 training_targets)
from network_module.losses import segmentation_loss
from network_module.model import ResNet_UNet
from network_module.settings import NetworkSettings
from network_module.weight_average import WeightAverage

DEFAULT_SEED = 0  # the command lines seed every run (initial weights, batch order); None draws a fresh one


def epoch_name(epoch: int) -> str:
    return 'epoch_%05d' % epoch


def result_folder(out_path, epoch: int) -> Path:
    """The folder of an epoch's `.pt` predictions (what the next graph cycle reads)."""
    return Path(out_path) / 'results_pt' / epoch_name(epoch)


def image_folder(out_path, epoch: int) -> Path:
    """The folder of an epoch's PNG predictions (original size, for looking at and scoring)."""
    return Path(out_path) / 'results_images' / epoch_name(epoch)


def checkpoint_path(out_path, epoch: int) -> Path:
    """The checkpoint of an epoch (the weights that made its predictions)."""
    return Path(out_path) / 'models' / f'{epoch_name(epoch)}.pt'


def build_model(settings: NetworkSettings, device: torch.device) -> ResNet_UNet:
    model = ResNet_UNet(in_channels=3, out_channels=2, base_channels=settings.base_channels).to(device)
    if settings.channels_last:
        model = model.to(memory_format=torch.channels_last)
    return model


def autocast(settings: NetworkSettings, device: torch.device):
    """bfloat16 autocast when asked for (CPU and CUDA); a no-op for the reference's fp32."""
    if settings.precision == 'bf16':
        return torch.autocast(device.type, dtype=torch.bfloat16)
    return contextlib.nullcontext()


def _to_layout(images: torch.Tensor, settings: NetworkSettings) -> torch.Tensor:
    if settings.channels_last:
        return images.contiguous(memory_format=torch.channels_last)
    return images


def build_optimizer(model, settings: NetworkSettings) -> torch.optim.Optimizer:
    """AdamW with the configured learning rate and PyTorch's other defaults, as the reference."""
    return torch.optim.AdamW(model.parameters(), lr=settings.learning_rate)


def targets(soft: torch.Tensor, settings: NetworkSettings):
    """What the network learns from the soft masks (n x H x W): hard labels, soft Dice targets and
    the mask of the pixels the loss counts (None for all of them, the reference)."""
    if settings.label_band:
        return confident_targets(soft, *settings.label_band)
    return (*training_targets(soft), None)


def train_step(model, optimizer, images, hard_labels, soft_labels, settings, device, valid=None) -> float:
    """One AdamW step on a batch (images B x 3 x H x W, labels and the optional mask of the pixels
    the loss counts B x H x W); returns the loss."""
    images = _to_layout(images.to(device, non_blocking=True), settings)
    optimizer.zero_grad(set_to_none=True)
    with autocast(settings, device):
        logits = model(images)
    loss = segmentation_loss(logits, hard_labels.to(device).long(), soft_labels.to(device),
                             None if valid is None else valid.to(device))
    loss.backward()
    optimizer.step()
    return loss.item()


def train_epoch(model, optimizer, frames, hard_labels, soft_labels, valid, settings, generator, device,
                progress=None, average=None):
    """One pass over the shuffled video (last incomplete batch dropped; more passes up to
    settings.min_epoch_steps batches), each batch augmented if the settings say so (with
    `generator`, like the shuffling), the weights' moving `average` (a WeightAverage or None)
    updated after every step; returns the mean loss."""
    model.train()
    losses = []
    for batch in batches(len(frames), settings.batch_size, generator, settings.min_epoch_steps):
        batch_data = (frames[batch], hard_labels[batch], soft_labels[batch], None if valid is None else valid[batch])
        if settings.augment:
            batch_data = augment_batch(*batch_data, generator, settings.augment_min_crop)
        images, hard, soft, batch_valid = batch_data
        losses.append(train_step(model, optimizer, images, hard, soft, settings, device, batch_valid))
        if average is not None:
            average.update(model)
        if progress is not None:
            progress.update(1)
            progress.set_postfix(loss=f'{losses[-1]:.4f}')
    return sum(losses) / len(losses)


def foreground_probability(model, images, settings, device) -> torch.Tensor:
    """Softmax foreground probability of a batch (B x 3 x H x W) -> B x H x W float32, on device."""
    images = _to_layout(images.to(device), settings)
    with autocast(settings, device):
        logits = model(images)
    return torch.softmax(logits.float(), dim=1)[:, 1]


def soft_agreement(plain: torch.Tensor, mirrored: torch.Tensor) -> float:
    """Soft IoU of two views' foreground probabilities over a whole video (n x H x W each):
    sum of the pixelwise minimum over sum of the maximum, 1 where both are empty."""
    union = torch.maximum(plain, mirrored).sum().item()
    return torch.minimum(plain, mirrored).sum().item() / union if union > 0 else 1.0


@torch.inference_mode()
def predict(model, frames, settings, device, quiet=True) -> torch.Tensor:
    """Softmax foreground probability of every frame, n x H x W float32 on the CPU. With
    test_time_flip, the mean of that of the frame and that of its mirror image (mirrored back);
    with test_time_flip_by_agreement too, a weighted mean in which the mirrored view weighs its
    soft_agreement with the frame's own over the video (1: the plain mean; 0: the frame's alone)."""
    model.eval()
    out = torch.empty(frames.shape[0], frames.shape[2], frames.shape[3], dtype=torch.float32)
    weighted = settings.test_time_flip and settings.test_time_flip_by_agreement
    mirrored_views = torch.empty_like(out) if weighted else None  # kept until the video's agreement is known
    step = settings.batch_size
    starts = range(0, len(frames), step)
    for start in progress_bar(desc='predict', unit='batch', leave=False, quiet=quiet, iterable=starts):
        images = frames[start:start + step]
        probability = foreground_probability(model, images, settings, device)
        if settings.test_time_flip:
            mirrored = foreground_probability(model, images.flip(-1), settings, device).flip(-1)
            if weighted:
                mirrored_views[start:start + step] = mirrored.cpu()
            else:
                probability = (probability + mirrored) / 2
        out[start:start + step] = probability.cpu()
    if weighted:
        weight = soft_agreement(out, mirrored_views)
        out.add_(mirrored_views, alpha=weight).div_(1 + weight)
    return out


def save_epoch(out_path, epoch, model, probabilities, original_size, settings, mean_loss):
    """Checkpoint, PNGs, then the `.pt` folder (last, so that its presence means the epoch is done)."""
    out_path = Path(out_path)
    name = epoch_name(epoch)
    height, width = original_size
    require_finite(probabilities, f'the network\'s output after epoch {epoch}',
                   f'lower [Network Module] learning_rate (now {settings.learning_rate:g})')
    with atomic_dir(image_folder(out_path, epoch)) as folder:
        for index, probability in enumerate(probabilities):
            save_soft_map_png(folder / ('%05d.png' % index), probability, height, width)
    checkpoint = {'state_dict': {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()},
                  'settings': settings.as_dict(), 'epoch': epoch, 'mean_train_loss': mean_loss}
    with atomic_file(checkpoint_path(out_path, epoch)) as tmp:
        save_tensor(checkpoint, tmp)
    with atomic_dir(result_folder(out_path, epoch)) as folder:
        for index, probability in enumerate(probabilities):
            save_tensor(probability[:, :, None].clone(), folder / pseudo_label_name(index))


def network_stage(frames, pseudo_gt_path, out_path, settings: NetworkSettings, seed=None,
                  initial_weights=None) -> Stage:
    """The network stage's contract: frames, pseudo labels (and the checkpoint it starts from, if
    any) in, every saved epoch's files out."""
    outputs = tuple(name for epoch in settings.to_save_epochs
                    for name in (f'models/{epoch_name(epoch)}.pt', f'results_pt/{epoch_name(epoch)}',
                                 f'results_images/{epoch_name(epoch)}'))
    inputs = {'frames': list(frames), 'pseudo_gt': [Path(pseudo_gt_path)]}
    if initial_weights is not None:
        inputs['initial_weights'] = [Path(initial_weights)]
    return Stage('network', Path(out_path), inputs=inputs, settings={**settings.as_dict(), 'seed': seed},
                 outputs=outputs, content_inputs=('frames',))


def run_network(frames_path, pseudo_gt_path, out_path, settings: NetworkSettings, device,
                seed=None, quiet=False, skip_if_done=True, before_redo=None, initial_weights=None):
    """Train a fresh network on one video's pseudo labels (or, IKE+, go on from the checkpoint
    `initial_weights` of an earlier cycle); write checkpoints and predictions for every epoch of
    settings.to_save_epochs. Returns the result folders (`results_pt/epoch_%05d`), in epoch
    order; the last one is what the next graph cycle takes.

    With `skip_if_done`, a finished run of the same inputs, settings and seed is not redone (the
    stage contract decides; `before_redo` runs when it is redone). `seed` makes a CPU run with the
    same thread count repeatable."""
    device = torch.device(device)
    settings = settings.for_device(device)
    if device.type == 'cuda':
        if settings.precision == 'bf16' and not torch.cuda.is_bf16_supported():
            raise InputError(f'[Network Module] precision = bf16 needs a GPU with bfloat16 support, which '
                             f'{torch.cuda.get_device_name(device)} lacks; use precision = fp32')
        torch.backends.cudnn.benchmark = True  # fixed input size: let cuDNN pick its fastest kernels
    stage = network_stage(list_frames(frames_path), pseudo_gt_path, out_path, settings, seed, initial_weights)
    video = {}

    def load():  # every input checked before anything is written
        if initial_weights is not None:
            video['initial_weights'] = load_weights(initial_weights)
        video['files'] = list_frames(frames_path)
        video['frames'], video['soft'], video['original_size'] = load_video(
            frames_path, pseudo_gt_path, settings.working_h, settings.working_w, min_frames=settings.batch_size)

    run_stage(stage, lambda resume: _train(video, out_path, settings, device, seed, quiet),
              prepare=load, before_redo=before_redo, force=not skip_if_done)
    return [result_folder(out_path, epoch) for epoch in settings.to_save_epochs]


def load_weights(path) -> dict:
    """The state dict of a checkpoint written by save_epoch, checked to be one."""
    try:
        checkpoint = torch.load(path, map_location='cpu', weights_only=True)
        return checkpoint['state_dict']
    except Exception as error:  # torch.load raises many kinds (pickle, zip, runtime); all mean the same here
        raise InputError(f'checkpoint {path} cannot be read as a network checkpoint ({type(error).__name__}); '
                         f'point it at OUT/models/epoch_%05d.pt of a finished network run') from None


def _train(video: dict, out_path, settings: NetworkSettings, device, seed, quiet) -> dict:
    """The network stage's work on the loaded video (frames, soft, original_size); returns the mean
    training loss of every epoch."""
    frames, original_size = video.pop('frames'), video['original_size']
    hard, soft, valid = targets(video.pop('soft'), settings)
    out_path = Path(out_path)

    with torch.random.fork_rng(devices=[]):  # leave the caller's random state alone
        if seed is not None:
            torch.manual_seed(seed)
        model = build_model(settings, device)
    if 'initial_weights' in video:  # IKE+ warm start: where the last cycle's network ended
        try:
            model.load_state_dict(video.pop('initial_weights'))
        except RuntimeError:
            raise InputError(f'the checkpoint to start from does not fit this network ([Network Module] '
                             f'base_channels = {settings.base_channels}); train it with the same settings') from None
    generator = torch.Generator()
    if seed is None:
        generator.seed()
    else:
        generator.manual_seed(seed)
    optimizer = build_optimizer(model, settings)
    average = WeightAverage(model, settings.weight_average) if settings.weight_average else None  # IKE+
    hard = hard.to(torch.uint8)  # a byte a pixel; the video stays on the CPU, each batch moves to the device

    losses = []
    n_steps = steps_per_epoch(len(frames), settings.batch_size, settings.min_epoch_steps)
    with progress_bar(total=settings.n_epochs * n_steps, desc='network', unit='step', quiet=quiet) as progress:
        for epoch in range(1, settings.n_epochs + 1):
            losses.append(train_epoch(model, optimizer, frames, hard, soft, valid, settings, generator, device,
                                      progress, average))
            if not math.isfinite(losses[-1]):
                raise InputError(f'network training diverged (loss {losses[-1]} in epoch {epoch}); lower '
                                 f'[Network Module] learning_rate (now {settings.learning_rate:g})')
            note(f'network: epoch {epoch}/{settings.n_epochs}, mean loss {losses[-1]:.4f}', quiet)
            if epoch in settings.to_save_epochs:
                predictor = model if average is None else average.model  # what the checkpoint holds
                probabilities = predict(predictor, frames, settings, device, quiet=quiet)
                if settings.guided_filter_radius:  # IKE+
                    probabilities = refine_maps(video['files'], probabilities, settings.guided_filter_radius,
                                                settings.guided_filter_eps)
                save_epoch(out_path, epoch, predictor, probabilities, original_size, settings, losses[-1])
    return {'n_frames': len(frames), 'mean_train_losses': losses}
