"""Text people type that the hub stores and shows again (names, labels): no hidden characters.

:data:`ShownText` is a pydantic string type for request models. It refuses, with a 422 naming
the field, every control character (Unicode category ``Cc``: NUL, ESC, tab, CR, LF and the
rest), the line and paragraph separators U+2028 and U+2029, and the bidirectional formatting
characters (U+061C, U+200E, U+200F, U+202A to U+202E, U+2066 to U+2069), which can make a name
read differently from what it is in a list, a terminal or a log line. Other format characters
(the zero-width joiner in emoji, a soft hyphen) stay allowed.
"""

from __future__ import annotations

import unicodedata
from typing import Annotated

from pydantic import AfterValidator, Field

BIDI_CONTROLS = frozenset(
    "\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"
)
"""Characters that reorder the text around them."""
SEPARATORS = frozenset("\u2028\u2029")


def hidden_character(value: str) -> str | None:
    """The first character of ``value`` that :data:`ShownText` refuses, or ``None``."""
    for character in value:
        if (
            character in BIDI_CONTROLS
            or character in SEPARATORS
            or unicodedata.category(character) == "Cc"
        ):
            return character
    return None


def _refuse_hidden(value: str) -> str:
    found = hidden_character(value)
    if found is not None:
        raise ValueError(
            f"must not contain control or bidirectional formatting characters "
            f"(found U+{ord(found):04X})"
        )
    return value


SHOWN_TEXT_PATTERN = (
    "^[^\\u0000-\\u001f\\u007f-\\u009f\\u2028\\u2029\\u061c\\u200e\\u200f"
    "\\u202a-\\u202e\\u2066-\\u2069]*$"
)
"""The same rule as a regular expression, for the API description."""

ShownText = Annotated[
    str, AfterValidator(_refuse_hidden), Field(json_schema_extra={"pattern": SHOWN_TEXT_PATTERN})
]
"""A string without control, separator or bidirectional formatting characters."""
