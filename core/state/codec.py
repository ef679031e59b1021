"""JSON encoding of cached values and pub/sub messages.

Both runtime modes store exactly what JSON can carry, so a value read back is the same in
embedded and scaled mode (tuples come back as lists, keys as strings).
"""

from __future__ import annotations

import json
from typing import Any


def encode(value: Any, *, what: str) -> str:
    """``value`` as compact JSON.

    :param what: names the value in the error (``"cache value for 'k'"``).
    :raises TypeError: ``value`` is not JSON-able (NaN and infinities included).
    """
    try:
        return json.dumps(value, separators=(",", ":"), allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise TypeError(f"{what} is not JSON-able: {exc}") from exc


def decode(text: str | bytes) -> Any:
    """The value ``encode`` produced ``text`` from."""
    return json.loads(text)


def roundtrip(value: Any, *, what: str) -> Any:
    """``value`` as it would come back from a store: a JSON copy of it."""
    return decode(encode(value, what=what))
