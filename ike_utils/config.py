"""The one config loader: reads an .ini file and hands out typed, validated values.

Every stage builds its own small settings object from it (graph_module.settings, ...), so the
modules themselves only ever see plain values. A missing key, or a value of the wrong type or range,
is an InputError naming the key and the file. So is a key or section that no settings object reads
(a misspelling, most likely): `load_config` builds every settings object of SETTINGS_READERS once to
learn which keys exist, and suggests the closest one. The reference's [PATHS] section is ignored.
"""
import configparser
import difflib
import importlib
import math
import warnings

from ike_utils.errors import InputError
from ike_utils.repo import DEFAULT_CONFIG, project_path

_REQUIRED = object()
IGNORED_SECTIONS = ('PATHS',)  # the reference's paths; ours are command-line arguments
SETTINGS_READERS = ('graph_module.settings:GraphSettings', 'network_module.settings:NetworkSettings')


class Config:
    """A parsed .ini file with typed getters. `source` names the file in error messages."""

    def __init__(self, parser: configparser.ConfigParser, source: str):
        self.parser = parser
        self.source = source
        self.asked = set()  # (section, key) of every key a settings object asked for

    # -- raw access -------------------------------------------------------------------------
    def _raw(self, section, key, default):
        self.asked.add((section, key))
        if self.parser.has_option(section, key):
            return self.parser.get(section, key).strip()
        if default is _REQUIRED:
            raise InputError(f'{self.source}: key [{section}] {key} is missing; add it '
                             f'(see the commented config.ini of this project)')
        return None

    def _bad(self, section, key, value, expected):
        return InputError(f'{self.source}: [{section}] {key} = {value!r} is not valid; expected {expected}')

    def has(self, section, key):
        self.asked.add((section, key))
        return self.parser.has_option(section, key)

    # -- typed getters ----------------------------------------------------------------------
    def get_int(self, section, key, default=_REQUIRED, min_value=None, max_value=None):
        raw = self._raw(section, key, default)
        if raw is None:
            return default
        try:
            value = int(raw)
        except ValueError:
            raise self._bad(section, key, raw, 'an integer') from None
        self._check_range(section, key, value, min_value, max_value)
        return value

    def get_float(self, section, key, default=_REQUIRED, min_value=None, max_value=None):
        raw = self._raw(section, key, default)
        if raw is None:
            return default
        try:
            value = float(raw)
        except ValueError:
            raise self._bad(section, key, raw, 'a number') from None
        if not math.isfinite(value):
            raise self._bad(section, key, raw, 'a finite number')
        self._check_range(section, key, value, min_value, max_value)
        return value

    def get_bool(self, section, key, default=_REQUIRED):
        raw = self._raw(section, key, default)
        if raw is None:
            return default
        lowered = raw.lower()
        if lowered in ('1', 'true', 'yes', 'on'):
            return True
        if lowered in ('0', 'false', 'no', 'off'):
            return False
        raise self._bad(section, key, raw, 'true or false')

    def get_choice(self, section, key, choices, default=_REQUIRED):
        raw = self._raw(section, key, default)
        if raw is None:
            return default
        if raw not in choices:
            raise self._bad(section, key, raw, 'one of ' + ', '.join(map(str, choices)))
        return raw

    def _number_list(self, section, key, default, parse, expected, min_value, max_value):
        """A comma-separated list parsed by `parse`; an empty value gives an empty tuple."""
        raw = self._raw(section, key, default)
        if raw is None:
            return default
        if raw == '':
            return ()
        try:
            values = tuple(parse(part) for part in raw.split(','))
        except ValueError:
            raise self._bad(section, key, raw, f'comma-separated {expected}') from None
        for value in values:
            if value != value:
                raise self._bad(section, key, raw, f'comma-separated {expected}, not NaN')
            self._check_range(section, key, value, min_value, max_value)
        return values

    def get_int_list(self, section, key, default=_REQUIRED, min_value=None, max_value=None):
        """A comma-separated list of integers; an empty value gives an empty tuple."""
        return self._number_list(section, key, default, int, 'integers', min_value, max_value)

    def get_float_list(self, section, key, default=_REQUIRED, min_value=None, max_value=None):
        """A comma-separated list of numbers; an empty value gives an empty tuple."""
        return self._number_list(section, key, default, float, 'numbers', min_value, max_value)

    def get_choice_list(self, section, key, choices, default=()):
        """A comma-separated list of names, each one of `choices`; an empty value gives ()."""
        raw = self._raw(section, key, default)
        if raw is None or raw == '':
            return tuple(default) if raw is None else ()
        names = tuple(part.strip() for part in raw.split(','))
        for name in names:
            if name not in choices:
                raise self._bad(section, key, name, 'a comma-separated list of ' + ', '.join(choices))
        return names

    def get_lines(self, section, key, default=()):
        """A multi-line value (one item per line, blank lines and ;/# comments dropped)."""
        raw = self._raw(section, key, default)
        if raw is None:
            return tuple(default)
        lines = [line.strip() for line in raw.splitlines()]
        return tuple(line for line in lines if line and not line.startswith((';', '#')))

    def get_positive_float(self, section, key, default=_REQUIRED, max_value=None):
        """A finite number > 0."""
        value = self.get_float(section, key, default, max_value=max_value)
        if value is not None and value <= 0:
            raise self._bad(section, key, value, 'a value > 0')
        return value

    def _check_range(self, section, key, value, min_value, max_value):
        if min_value is not None and value < min_value:
            raise self._bad(section, key, value, f'a value >= {min_value}')
        if max_value is not None and value > max_value:
            raise self._bad(section, key, value, f'a value <= {max_value}')


def _read_by_every_stage(config: Config):
    """(sections whose keys are all known: every reader that touched them succeeded, whether every
    reader succeeded)."""
    unsure, all_read = set(), True
    for reader in SETTINGS_READERS:
        module, name = reader.split(':')
        before = set(config.asked)
        try:
            getattr(importlib.import_module(module), name).from_config(config)
        except InputError:  # reported by the stage that needs it; what it reads is not known now
            unsure |= {section for section, _ in config.asked - before}
            all_read = False
    return {section for section, _ in config.asked} - unsure, all_read


def check_known_keys(config: Config):
    """An InputError for a key or section that no settings object reads, with the closest known one."""
    checked, all_read = _read_by_every_stage(config)
    sections = {section for section, _ in config.asked}
    for section in config.parser.sections():
        if section in IGNORED_SECTIONS:
            warnings.warn(f'{config.source}: section [{section}] is ignored; paths are command-line arguments')
            continue
        if section not in sections and all_read:
            close = difflib.get_close_matches(section, sorted(sections), n=1)
            hint = f'did you mean [{close[0]}]?' if close else f'known sections: {", ".join(sorted(sections))}'
            raise InputError(f'{config.source}: unknown section [{section}]; {hint}')
        if section not in checked:
            continue
        known = sorted(key for s, key in config.asked if s == section)
        for key in config.parser.options(section):
            if key not in known and key not in config.parser.defaults():
                close = difflib.get_close_matches(key, known, n=1)
                hint = f'did you mean {close[0]}?' if close else 'remove it'
                raise InputError(f'{config.source}: unknown key [{section}] {key}; {hint}')


def load_config(path) -> Config:
    """Parse `path` (a relative one not found here is looked up in the repository, e.g.
    configs/cpu.ini) and check that every key and section is known; a missing or malformed file is an
    InputError naming it."""
    path = project_path(path)
    if path.is_dir():
        raise InputError(f'config file {path} is a folder; pass the .ini file, e.g. --config ./config.ini')
    if not path.is_file():
        raise InputError(f'config file {path} does not exist; pass --config with an existing file, '
                         f'e.g. {DEFAULT_CONFIG} (the paper\'s settings)')
    parser = configparser.ConfigParser(inline_comment_prefixes=(';', '#'))
    try:
        with open(path) as handle:
            parser.read_file(handle)
    except (configparser.Error, UnicodeDecodeError) as error:
        first_line = str(error).splitlines()[0]
        raise InputError(f'config file {path} cannot be parsed ({first_line}); fix its syntax') from None
    config = Config(parser, str(path))
    check_known_keys(config)
    config.asked.clear()
    return config
