"""The one config loader: reads an .ini file and hands out typed, validated values.

Every stage builds its own small settings object from it (graph_module.settings, ...), so the
modules themselves only ever see plain values. A missing key, or a value of the wrong type or range,
is an InputError naming the key and the file. So is a key or section that no settings object reads
(a misspelling, most likely), checked first by `load_config` whatever the values, with the closest
known one suggested. Keys are declared once, by the getter calls of the settings objects of
SETTINGS_READERS (run once on the repository's config.ini to learn them). The reference's [PATHS]
section is ignored with a warning.
"""
import configparser
import difflib
import functools
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


@functools.lru_cache(maxsize=None)
def known_keys() -> frozenset:
    """Every (section, key) that a settings object reads: each reader of SETTINGS_READERS is run once on
    the repository's config.ini, and its getters say what they read (a key is declared only where it
    is read, so readers read every key they know, whatever the values)."""
    parser = configparser.ConfigParser(inline_comment_prefixes=(';', '#'))
    with open(DEFAULT_CONFIG) as handle:
        parser.read_file(handle)
    config = Config(parser, str(DEFAULT_CONFIG))
    for reader in SETTINGS_READERS:
        module, name = reader.split(':')
        getattr(importlib.import_module(module), name).from_config(config)
    return frozenset(config.asked)


def check_known_keys(config: Config):
    """An InputError for a section or key that no settings object reads, naming the closest known one;
    a warning for the reference's [PATHS] section, which is ignored. Independent of the values, so it
    comes before any other check."""
    known = known_keys()
    sections = sorted({section for section, _ in known})
    for section in config.parser.sections():
        if section in IGNORED_SECTIONS:
            warnings.warn(f'{config.source}: section [{section}] is ignored; paths are command-line arguments')
            continue
        if section not in sections:
            close = difflib.get_close_matches(section, sections, n=1)
            hint = f'did you mean [{close[0]}]?' if close else f'known sections: {", ".join(sections)}'
            raise InputError(f'{config.source}: unknown section [{section}]; {hint}')
        keys = sorted(key for s, key in known if s == section)
        for key in config.parser.options(section):
            if key not in keys and key not in config.parser.defaults():
                close = difflib.get_close_matches(key, keys, n=1)
                elsewhere = sorted(s for s, k in known if k == key)
                hint = (f'it belongs in [{elsewhere[0]}]' if elsewhere else f'did you mean {close[0]}?' if close
                        else f'remove it (known keys: {", ".join(keys)})')
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
    return config
