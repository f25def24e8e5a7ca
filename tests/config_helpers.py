"""Parse config text as if it were conf/x.toml; shared by the config test modules."""
import pytest

from smsc import config as cfg

# The scrypt hash of a password the config tests use for every account.
HASH = "scrypt$16384$8$1$oHlH8mctjewe772xqztPxQ$YOh-LElZ2qiX6du-NZpgpBKnpqcZBUUq-Lg8ArD0GvA"


def parse(text, tmp_path):
    return cfg.parse(text, "conf/x.toml", base_dir=tmp_path, state_dir=tmp_path / "state")


def error(text, tmp_path):
    """The message of the ConfigError that parsing `text` must raise."""
    with pytest.raises(cfg.ConfigError) as caught:
        parse(text, tmp_path)
    return str(caught.value)
