"""The one config loader: reads an .ini file and hands out typed, validated values.

Every stage builds its own small settings object from it (graph_module.settings, ...), so the
modules themselves only ever see plain values. A missing key, or a value of the wrong type or range,
is an InputError naming the key and the file.
"""
import configparser

from ike_utils.errors import InputError
from ike_utils.repo import DEFAULT_CONFIG, project_path

_REQUIRED = object()


class Config:
    """A parsed .ini file with typed getters. `source` names the file in error messages."""

    def __init__(self, parser: configparser.ConfigParser, source: str):
        self.parser = parser
        self.source = source

    # -- raw access -------------------------------------------------------------------------
    def _raw(self, section, key, default):
        if self.parser.has_option(section, key):
            return self.parser.get(section, key).strip()
        if default is _REQUIRED:
            raise InputError(f'{self.source}: key [{section}] {key} is missing; add it '
                             f'(see the commented config.ini of this project)')
        return None

    def _bad(self, section, key, value, expected):
        return InputError(f'{self.source}: [{section}] {key} = {value!r} is not valid; expected {expected}')

    def has(self, section, key):
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
        if value != value:
            raise self._bad(section, key, raw, 'a number, not NaN')
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

    def get_int_list(self, section, key, default=_REQUIRED, min_value=None, max_value=None):
        """A comma-separated list of integers; an empty value gives an empty tuple."""
        raw = self._raw(section, key, default)
        if raw is None:
            return default
        if raw == '':
            return ()
        try:
            values = tuple(int(part) for part in raw.split(','))
        except ValueError:
            raise self._bad(section, key, raw, 'comma-separated integers') from None
        for value in values:
            self._check_range(section, key, value, min_value, max_value)
        return values

    def get_float_list(self, section, key, default=_REQUIRED, min_value=None, max_value=None):
        """A comma-separated list of numbers; an empty value gives an empty tuple."""
        raw = self._raw(section, key, default)
        if raw is None:
            return default
        if raw == '':
            return ()
        try:
            values = tuple(float(part) for part in raw.split(','))
        except ValueError:
            raise self._bad(section, key, raw, 'comma-separated numbers') from None
        for value in values:
            if value != value:
                raise self._bad(section, key, raw, 'comma-separated numbers, not NaN')
            self._check_range(section, key, value, min_value, max_value)
        return values

    def get_lines(self, section, key, default=()):
        """A multi-line value (one item per line, blank lines and ;/# comments dropped)."""
        raw = self._raw(section, key, default)
        if raw is None:
            return tuple(default)
        lines = [line.strip() for line in raw.splitlines()]
        return tuple(line for line in lines if line and not line.startswith((';', '#')))

    def _check_range(self, section, key, value, min_value, max_value):
        if min_value is not None and value < min_value:
            raise self._bad(section, key, value, f'a value >= {min_value}')
        if max_value is not None and value > max_value:
            raise self._bad(section, key, value, f'a value <= {max_value}')


def load_config(path) -> Config:
    """Parse `path` (a relative one not found here is looked up in the repository, e.g.
    configs/cpu.ini); a missing or malformed file is an InputError naming it."""
    path = project_path(path)
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
    return Config(parser, str(path))
