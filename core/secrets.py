"""Encryption at rest: the hub's secret key, and the :class:`SecretBox` that encrypts with it.

The secret key is the ``secret_key`` setting (``MEDIANEST_SECRET_KEY``, or a ``secret_key``
file in the secrets directory). In embedded mode, when it is not set, a strong key is generated
on first use into ``<data_dir>/secret_key`` (mode 0600) and read from there afterwards. In
scaled mode it must be set, to the same value on every replica and worker: what one of them
encrypts, the others have to read.

The secret key never encrypts anything itself: :func:`derive_key` derives one key per purpose
with HKDF-SHA256, so later uses (signing sessions, say) get keys of their own.
"""

from __future__ import annotations

import base64
import contextlib
import os
import secrets
import stat
from collections.abc import Sequence
from pathlib import Path

import structlog
from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from medianest.config import Settings
from medianest.config.settings import SECRET_KEY_MIN_LENGTH
from medianest.sdk.errors import ConfigurationError

log = structlog.get_logger(__name__)

SECRET_KEY_ENV = "MEDIANEST_SECRET_KEY"  # noqa: S105 - a variable name
SECRET_KEY_FILE = "secret_key"  # noqa: S105 - a file name
"""The file in ``data_dir`` holding the generated key (embedded mode)."""
ENCRYPTION_PURPOSE = "medianest encryption at rest v1"
"""The HKDF ``info`` of the key :class:`SecretBox` encrypts with."""

_GENERATED_KEY_BYTES = 48  # 64 URL-safe characters


class UndecryptableSecretError(ConfigurationError):
    """A stored secret cannot be decrypted: the secret key changed, or the value is damaged."""

    code = "undecryptable_secret"


def derive_key(secret_key: str, purpose: str, *, length: int = 32) -> bytes:
    """A ``length``-byte key for ``purpose``, derived from ``secret_key`` with HKDF-SHA256.

    The same secret and purpose always give the same key; different purposes give unrelated
    keys.
    """
    return HKDF(algorithm=hashes.SHA256(), length=length, salt=None, info=purpose.encode()).derive(
        secret_key.encode()
    )


class SecretBox:
    """Encrypts short texts (tokens, API keys) for storage, and decrypts them again.

    Tokens are Fernet (AES-128-CBC with HMAC-SHA256, timestamped), under a key derived from
    ``secret_key``. ``previous_keys`` are secret keys that were in use before: values they
    encrypted still decrypt, and :meth:`rotate` re-encrypts them under ``secret_key``.
    """

    def __init__(self, secret_key: str, *, previous_keys: Sequence[str] = ()) -> None:
        keys = [secret_key, *previous_keys]
        self._fernet = MultiFernet([_fernet(key) for key in keys])
        self._key_count = len(keys)

    def __repr__(self) -> str:
        return f"<SecretBox with {self._key_count} key(s)>"

    def encrypt(self, plaintext: str) -> str:
        """``plaintext`` encrypted under the current key, as URL-safe ASCII text."""
        return self._fernet.encrypt(plaintext.encode("utf-8")).decode("ascii")

    def decrypt(self, token: str) -> str:
        """The text :meth:`encrypt` was given, under the current or a previous key.

        :raises UndecryptableSecretError: ``token`` was made with another key or is damaged.
        """
        try:
            return self._fernet.decrypt(_token_bytes(token)).decode("utf-8")
        except (InvalidToken, UnicodeDecodeError) as exc:
            raise _undecryptable() from exc

    def rotate(self, token: str) -> str:
        """``token`` re-encrypted under the current key (for a key-rotation command).

        :raises UndecryptableSecretError: as :meth:`decrypt`.
        """
        try:
            return self._fernet.rotate(_token_bytes(token)).decode("ascii")
        except InvalidToken as exc:
            raise _undecryptable() from exc


def secret_box_for(settings: Settings) -> SecretBox:
    """The :class:`SecretBox` of a hub with ``settings`` (see :func:`load_secret_key`).

    Values written under a key listed in ``previous_secret_keys`` still decrypt.
    """
    previous = [key.get_secret_value() for key in settings.previous_secret_keys]
    return SecretBox(load_secret_key(settings), previous_keys=previous)


def load_secret_key(settings: Settings) -> str:
    """The hub's secret key: the ``secret_key`` setting, or (embedded) the generated one.

    :raises ConfigurationError: scaled mode without ``secret_key``; or the key file in
        ``data_dir`` cannot be read or written, or holds too short a key.
    """
    if settings.secret_key is not None:
        return settings.secret_key.get_secret_value()
    if settings.mode == "scaled":
        raise ConfigurationError(
            f"secret_key [{SECRET_KEY_ENV}] must be set in scaled mode: every replica and "
            "worker encrypts and decrypts stored secrets with it, so they must share it "
            f"(at least {SECRET_KEY_MIN_LENGTH} characters, e.g. from "
            '`python -c "import secrets; print(secrets.token_urlsafe(48))"`)'
        )
    path = settings.data_dir / SECRET_KEY_FILE
    try:
        return _read_key_file(path)
    except FileNotFoundError:
        return _create_key_file(path)


def _fernet(secret_key: str) -> Fernet:
    return Fernet(base64.urlsafe_b64encode(derive_key(secret_key, ENCRYPTION_PURPOSE)))


def _token_bytes(token: str) -> bytes:
    try:
        return token.encode("ascii")
    except UnicodeEncodeError as exc:
        raise InvalidToken from exc


def _undecryptable() -> UndecryptableSecretError:
    return UndecryptableSecretError(
        "a stored secret cannot be decrypted with this hub's secret key: it was encrypted "
        f"under another key ({SECRET_KEY_ENV} or data_dir/{SECRET_KEY_FILE} changed) or it "
        "is damaged"
    )


def _read_key_file(path: Path) -> str:
    """The key in ``path``. :raises FileNotFoundError: there is none yet."""
    try:
        key = path.read_text(encoding="utf-8").strip()
        mode = path.stat().st_mode
    except FileNotFoundError:
        raise
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) else "it is not UTF-8 text"
        raise ConfigurationError(f"cannot read the secret key file {path}: {reason}") from exc
    if len(key) < SECRET_KEY_MIN_LENGTH:
        raise ConfigurationError(
            f"the secret key file {path} holds fewer than {SECRET_KEY_MIN_LENGTH} characters; "
            f"set {SECRET_KEY_ENV}, or restore the file (secrets stored under the old key "
            "cannot be read without it)"
        )
    if stat.S_IMODE(mode) & 0o077:
        log.warning(
            "the secret key file can be read by other users; chmod 600 it",
            path=str(path),
            mode=oct(stat.S_IMODE(mode)),
        )
    return key


def _create_key_file(path: Path) -> str:
    """Generate a key into ``path`` (mode 0600), unless another process just did; return it.

    The key is written to a private temporary file that is then hard-linked into place, so a
    reader never sees a half-written key and two processes racing agree on the winner's key.
    """
    key = secrets.token_urlsafe(_GENERATED_KEY_BYTES)
    created = True
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        staged = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
        _write_private(staged, key)
        try:
            os.link(staged, path)
        except FileExistsError:
            created = False  # another process created it first: use theirs
        finally:
            with contextlib.suppress(FileNotFoundError):
                staged.unlink()
    except OSError as exc:
        raise ConfigurationError(
            f"cannot create the secret key file {path}: {exc.strerror or exc}; "
            f"set {SECRET_KEY_ENV} instead"
        ) from exc
    if created:
        log.info("generated a secret key", path=str(path))
    return _read_key_file(path)


def _write_private(path: Path, text: str) -> None:
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        os.fchmod(descriptor, 0o600)
        os.write(descriptor, f"{text}\n".encode())
        os.fsync(descriptor)
    finally:
        os.close(descriptor)
