"""Errors of the text core, shared by both twins so they raise the very same classes.

Every one is a ValueError. Messages name what went wrong precisely (the character and
its position), so an HTTP API can show them to the sender as they are.
"""
from __future__ import annotations


class TextError(ValueError):
    """Base of the text core's errors."""


class UnencodableError(TextError):
    """`text[position]` (`char`) has no code in `encoding` (e.g. "gsm7", "latin1")."""

    def __init__(self, char: str, position: int, encoding: str) -> None:
        super().__init__(
            f"character {char!r} (U+{ord(char):04X}) at position {position} "
            f"cannot be encoded in {encoding}"
        )
        self.char = char
        self.position = position
        self.encoding = encoding

    def __eq__(self, other: object) -> bool:
        # Same error, same answer: what the differential tests compare across twins.
        return type(self) is type(other) and self.args == other.args  # type: ignore[attr-defined]

    __hash__ = ValueError.__hash__


class TextDecodeError(TextError):
    """Octets that are not valid in their alphabet, under errors="strict"."""

    def __eq__(self, other: object) -> bool:
        return type(self) is type(other) and self.args == other.args  # type: ignore[attr-defined]

    __hash__ = ValueError.__hash__


class MessageTooLongError(TextError):
    """The text needs more than 255 parts (the most a concatenated message can have)."""


class UdhError(TextError):
    """A User Data Header that cannot be parsed (its length runs past the data, an IE
    runs past the header) or built (an IE longer than 255 octets)."""
