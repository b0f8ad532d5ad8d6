"""The network module's settings, read once from the config into plain values."""
import warnings
from dataclasses import asdict, dataclass, replace

from ike_utils.config import Config
from ike_utils.device import has_native_bf16
from ike_utils.errors import InputError
from network_module.augment import DEFAULT_MIN_CROP

SECTION = 'Network Module'
PRECISIONS = ('fp32', 'bf16', 'auto')  # auto: bf16 where the device computes it natively, else fp32
# not in the records of older runs when off
ADDED_LATER = ('weight_average', 'min_epoch_steps', 'augment_min_crop', 'warm_start_epochs',
               'test_time_flip_by_agreement', 'warm_start_test_time_flip')


@dataclass(frozen=True)
class NetworkSettings:
    """Everything that decides what the network learns and writes (the paper's values by default)."""
    working_h: int = 224
    working_w: int = 416
    n_epochs: int = 5
    batch_size: int = 3
    learning_rate: float = 1e-4
    to_save_epochs: tuple = (5,)  # epochs counted from 1, sorted, never empty
    base_channels: int = 64
    precision: str = 'fp32'
    channels_last: bool = False
    # opt-in changes beyond the paper (README, "Beyond the paper"); the defaults are the reference
    label_band: tuple = ()  # (low, high): train on soft >= high (object) and soft < low (background) only
    augment: bool = False  # random horizontal flip and crop-and-resize of every training image
    augment_min_crop: float = DEFAULT_MIN_CROP  # augment's smallest crop (fraction of height and width); 1 = flips only
    test_time_flip: bool = False  # predict the mean of the frame's and its mirror image's probability
    test_time_flip_by_agreement: bool = False  # the mirrored view weighs its agreement with the frame's view
    guided_filter_radius: int = 0  # > 0: the predictions guided-filtered with their frames (radius, pixels)
    guided_filter_eps: float = 3e-4  # the guided filter's regularisation (colours in [0, 1])
    weight_average: float = 0.0  # > 0: predict with the moving average of the weights, this decay per step
    min_epoch_steps: int = 0  # an epoch has at least this many steps (short videos are passed over again)
    warm_start_epochs: int = 0  # > 0: a later cycle's network starts from the last one's weights, this many epochs
    warm_start_test_time_flip: bool = True  # False: a warm-started network predicts without test_time_flip

    def __post_init__(self):
        for name in ('working_h', 'working_w'):
            value = getattr(self, name)
            if value < 16 or value % 16:
                raise InputError(f'[General] {name} = {value} must be a positive multiple of 16 '
                                 f'(the U-Net halves the size four times); e.g. 224 x 416')
        if not self.to_save_epochs or any(not 1 <= e <= self.n_epochs for e in self.to_save_epochs):
            raise InputError(f'[{SECTION}] to_save_epochs = {self.to_save_epochs} must list epochs between 1 and '
                             f'n_epochs = {self.n_epochs} (or be empty for every epoch)')
        if self.precision not in PRECISIONS:
            raise InputError(f'[{SECTION}] precision = {self.precision!r} must be one of {", ".join(PRECISIONS)}')
        if not 0 <= self.weight_average < 1:
            raise InputError(f'[{SECTION}] weight_average = {self.weight_average:g} must be in [0, 1): the decay '
                             f'per training step of the weights\' moving average (e.g. 0.99), or 0 for none')
        if self.label_band and not (len(self.label_band) == 2 and 0 <= self.label_band[0] <= self.label_band[1] <= 1):
            raise InputError(f'[{SECTION}] label_band = {", ".join(map(str, self.label_band))} must be two numbers '
                             f'LOW, HIGH with 0 <= LOW <= HIGH <= 1 (e.g. 0.3, 0.7), or empty for the paper\'s '
                             f'labels (soft >= 0.5)')

    @classmethod
    def from_config(cls, config: Config) -> 'NetworkSettings':
        n_epochs = config.get_int(SECTION, 'n_epochs', min_value=1)
        to_save = config.get_int_list(SECTION, 'to_save_epochs', min_value=1, max_value=n_epochs)
        return cls(
            working_h=config.get_int('General', 'working_h', min_value=16),
            working_w=config.get_int('General', 'working_w', min_value=16),
            n_epochs=n_epochs,
            batch_size=config.get_int(SECTION, 'batch_size', min_value=1),
            learning_rate=config.get_positive_float(SECTION, 'learning_rate'),
            to_save_epochs=tuple(sorted(set(to_save))) if to_save else tuple(range(1, n_epochs + 1)),
            # keys of ours (not in the reference's config.ini): the reference's values when absent
            base_channels=config.get_int(SECTION, 'base_channels', default=64, min_value=1),
            precision=config.get_choice(SECTION, 'precision', PRECISIONS, default='fp32'),
            channels_last=config.get_bool(SECTION, 'channels_last', default=False),
            label_band=config.get_float_list(SECTION, 'label_band', default=()),
            augment=config.get_bool(SECTION, 'augment', default=False),
            augment_min_crop=config.get_float(SECTION, 'augment_min_crop', default=DEFAULT_MIN_CROP,
                                              min_value=0.05, max_value=1.0),
            test_time_flip=config.get_bool(SECTION, 'test_time_flip', default=False),
            test_time_flip_by_agreement=config.get_bool(SECTION, 'test_time_flip_by_agreement', default=False),
            guided_filter_radius=config.get_int(SECTION, 'guided_filter_radius', default=0, min_value=0),
            guided_filter_eps=config.get_positive_float(SECTION, 'guided_filter_eps', default=3e-4),
            weight_average=config.get_float(SECTION, 'weight_average', default=0.0),
            min_epoch_steps=config.get_int(SECTION, 'min_epoch_steps', default=0, min_value=0),
            warm_start_epochs=config.get_int(SECTION, 'warm_start_epochs', default=0, min_value=0),
            warm_start_test_time_flip=config.get_bool(SECTION, 'warm_start_test_time_flip', default=True),
        )

    def warm_started(self) -> 'NetworkSettings':
        """The settings of a network that goes on from an earlier cycle's weights (IKE+,
        warm_start_epochs > 0): it trains warm_start_epochs epochs and saves the last, and predicts
        with the test-time flip only if warm_start_test_time_flip allows it."""
        return replace(self, n_epochs=self.warm_start_epochs, to_save_epochs=(self.warm_start_epochs,),
                       test_time_flip=self.test_time_flip and self.warm_start_test_time_flip,
                       warm_start_test_time_flip=True)  # said by test_time_flip now

    def for_device(self, device) -> 'NetworkSettings':
        """These settings with precision = auto made bf16 or fp32 for `device` (what the stage records
        and what runs); an explicit bf16 that the device only emulates is kept, with a warning."""
        native = has_native_bf16(device)
        if self.precision == 'auto':
            return replace(self, precision='bf16' if native else 'fp32')
        if self.precision == 'bf16' and not native and device.type == 'cpu':
            warnings.warn(f'[{SECTION}] precision = bf16: this CPU has no native bfloat16 (AVX-512 BF16 or AMX), '
                          f'so it is emulated and training is about 10x slower than fp32; use precision = auto')
        return self

    def as_dict(self) -> dict:
        """Plain values (for checkpoints and the done-marker). Keys added after runs were recorded are
        left out while off, so that those runs stay done (a rerun skips them) after an update."""
        values = {k: v for k, v in asdict(self).items()
                  if not (k in ADDED_LATER and v == self.__dataclass_fields__[k].default)}
        values['to_save_epochs'] = list(self.to_save_epochs)
        values['label_band'] = list(self.label_band)
        return values
