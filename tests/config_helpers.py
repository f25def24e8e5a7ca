"""Parse config text as if it were conf/x.toml; shared by the config test modules."""
import pytest

from smsc import config as cfg


def parse(text, tmp_path):
    return cfg.parse(text, "conf/x.toml", base_dir=tmp_path, state_dir=tmp_path / "state")


def error(text, tmp_path):
    """The message of the ConfigError that parsing `text` must raise."""
    with pytest.raises(cfg.ConfigError) as caught:
        parse(text, tmp_path)
    return str(caught.value)
