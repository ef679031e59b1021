"""CSRF tokens bound to a session: an HMAC of the session id under a key derived from the
hub's secret key (HKDF, purpose :data:`CSRF_PURPOSE`).

The hub sets the token in a cookie script can read; a browser app echoes it in the
``X-CSRF-Token`` header of every unsafe request it makes with cookies. Another site can make
the browser send the cookie, but cannot read it to write the header; and a token planted from
elsewhere (a sibling subdomain) fails because it is not the one of the session the access
cookie names.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Sequence

from medianest.core.secrets import derive_key

CSRF_PURPOSE = "medianest csrf v1"


class CsrfTokens:
    """Makes and checks the CSRF token of a session.

    :param keys: secret keys, the current one first; tokens made under any of them are
        accepted, new ones are made under the first.
    :raises ValueError: no key given.
    """

    def __init__(self, keys: Sequence[str]) -> None:
        if not keys:
            raise ValueError("CSRF tokens need at least one secret key")
        self._keys = [derive_key(key, CSRF_PURPOSE) for key in keys]

    def __repr__(self) -> str:
        return f"<CsrfTokens with {len(self._keys)} key(s)>"

    def for_session(self, session_id: str) -> str:
        """The token of ``session_id`` (URL-safe text, no padding)."""
        return _mac(self._keys[0], session_id)

    def is_valid(self, session_id: str, token: str) -> bool:
        """True when ``token`` is the token of ``session_id`` under any known key.

        Compared in constant time.
        """
        given = token.encode("ascii", "replace")
        return any(
            hmac.compare_digest(given, _mac(key, session_id).encode("ascii")) for key in self._keys
        )


def _mac(key: bytes, session_id: str) -> str:
    digest = hmac.new(key, session_id.encode("utf-8"), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")
