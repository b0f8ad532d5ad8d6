"""Graph-module settings, read once from the config file into plain values."""
from dataclasses import asdict, dataclass

from graph_module.pixel_features import PIXEL_FEATURES
from ike_utils.config import Config

MAX_CHAIN_OFFSET = 15  # the reference links each pivot frame to at most 15 frames on each side
ADDED_LATER = ('cue_blend',)  # not in the records of older runs when off (see recorded_values)


@dataclass(frozen=True)
class GraphSettings:
    working_h: int
    working_w: int
    seed_type: int
    seed_sigma_percent: float
    sigma: float
    n_iterations: int
    to_save_iterations: tuple
    dir_half_chain: int
    cue_half_chain: int
    ridge_lambda: float
    features_paths: tuple
    pixel_features: tuple = ()  # IKE+ (opt-in): names of PIXEL_FEATURES added to the node features
    motion_prior: float = None  # IKE+ (opt-in): floor of the relative-motion prior; None = no prior
    guided_filter_radius: int = 0  # IKE+ (opt-in): radius of the guided filter on the output; 0 = none
    guided_filter_eps: float = 3e-4  # its regularisation (the guide's colours are in [0, 1])
    cue_blend: float = 0.0  # IKE+ (opt-in): weight of the network's cue in the output; 0 = none
    feature_cache_mib: int = 0  # memory for keeping node features once made (speed only; same outputs)

    @classmethod
    def from_config(cls, config: Config, features_paths=None):
        """Build from the config; `features_paths` (if given) replaces [Graph Module] ike_features_paths."""
        section = 'Graph Module'
        n_iterations = config.get_int(section, 'n_iterations', min_value=1)
        to_save = config.get_int_list(section, 'to_save_iterations', min_value=-1, max_value=n_iterations - 1)
        if not to_save:  # the reference saves everything when the list is empty
            to_save = tuple(range(-1, n_iterations))
        if features_paths is None:
            features_paths = config.get_lines(section, 'ike_features_paths', default=())
        cue_half_chain = config.get_int(section, 'features_half_chain_size', min_value=-1,
                                        max_value=MAX_CHAIN_OFFSET)
        cue_blend = config.get_float(section, 'cue_blend', default=0.0, min_value=0.0, max_value=1.0)
        if not features_paths:  # without network cues the reference forces it to -1 (and nothing is blended)
            cue_half_chain, cue_blend = -1, 0.0
        return cls(
            working_h=config.get_int('General', 'working_h', min_value=2),
            working_w=config.get_int('General', 'working_w', min_value=2),
            seed_type=int(config.get_choice(section, 'seed_type', ('0', '1', '2'))),
            # 0.3 is the reference's fallback when the key is absent
            seed_sigma_percent=config.get_float(section, 'seed_type_sigma_percent', default=0.3,
                                                min_value=1e-6),
            sigma=config.get_float(section, 'sigma', min_value=1e-6),
            n_iterations=n_iterations,
            to_save_iterations=tuple(sorted(set(to_save))),
            dir_half_chain=config.get_int(section, 'dir_features_half_chain_size', min_value=-1,
                                          max_value=MAX_CHAIN_OFFSET),
            cue_half_chain=cue_half_chain,
            ridge_lambda=config.get_positive_float(section, 'lambda'),
            features_paths=tuple(features_paths),
            pixel_features=config.get_choice_list(section, 'pixel_features', tuple(PIXEL_FEATURES)),
            motion_prior=config.get_float(section, 'motion_prior', default=None, min_value=1e-6),
            guided_filter_radius=config.get_int(section, 'guided_filter_radius', default=0, min_value=0),
            guided_filter_eps=config.get_positive_float(section, 'guided_filter_eps', default=3e-4),
            cue_blend=cue_blend,
            feature_cache_mib=config.get_int(section, 'feature_cache_mib', default=0, min_value=0),
        )

    def recorded_values(self) -> dict:
        """What decides the outputs, as plain values (the stage's done-marker): the number of feature
        folders (the folders themselves are inputs), without feature_cache_mib (it changes the time
        only), and without keys added after runs were recorded while they are off, so that those
        runs stay done after an update."""
        values = {k: v for k, v in asdict(self).items()
                  if not (k in ADDED_LATER and v == self.__dataclass_fields__[k].default)}
        values['features_paths'] = len(self.features_paths)
        del values['feature_cache_mib']
        return values
