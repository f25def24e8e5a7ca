"""smsc: a self-hosted SMPP 3.4 gateway in the style of an SMSC."""
from importlib.metadata import PackageNotFoundError, version as _dist_version

try:
    __version__ = _dist_version("smsc")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0.0.0+unknown"
