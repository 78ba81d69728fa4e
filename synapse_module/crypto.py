"""Keys derived from the operator's key file, one per purpose.

One secret on disk; HKDF gives each use its own key so that, say, the audit
chain's MAC key can never decrypt identity data.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from .errors import QunzuError


def derive_key(master: bytes, purpose: str) -> bytes:
    """Derive a 32-byte key for one purpose (e.g. ``"audit-chain/v1"``)."""
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=purpose.encode()).derive(master)


def mac_hex(key: bytes, data: bytes) -> str:
    """HMAC-SHA256 of `data`, hex encoded."""
    return hmac.new(key, data, hashlib.sha256).hexdigest()


class DecryptionError(QunzuError):
    """A stored value does not decrypt under this key for this owner."""


class FieldCipher:
    """AES-256-GCM for personal data at rest, bound to its owner.

    The owner (a user id) is authenticated as associated data: a value copied
    into another user's row does not decrypt there. Stored form:
    ``v1.<base64 nonce>.<base64 ciphertext+tag>``.
    """

    _VERSION = "v1"

    def __init__(self, master: bytes, purpose: str = "qunzu/identity-fields/v1") -> None:
        self._aead = AESGCM(derive_key(master, purpose))

    def encrypt(self, plaintext: str, owner: str) -> str:
        nonce = os.urandom(12)
        sealed = self._aead.encrypt(nonce, plaintext.encode("utf-8"), owner.encode("utf-8"))
        return ".".join((self._VERSION, base64.b64encode(nonce).decode(), base64.b64encode(sealed).decode()))

    def decrypt(self, stored: str, owner: str) -> str:
        try:
            version, nonce_b64, sealed_b64 = stored.split(".")
            if version != self._VERSION:
                raise DecryptionError(f"unknown format {version!r}")
            plain = self._aead.decrypt(base64.b64decode(nonce_b64), base64.b64decode(sealed_b64), owner.encode("utf-8"))
        except (ValueError, binascii.Error, InvalidTag) as exc:
            raise DecryptionError("stored value does not decrypt for this owner") from exc
        return plain.decode("utf-8")


def identity_fingerprint(master: bytes, normalised_id_number: str) -> str:
    """A keyed digest of an ID number: the same person gives the same value, nobody can reverse it."""
    return mac_hex(derive_key(master, "qunzu/identity-fingerprint/v1"), normalised_id_number.encode("ascii"))
