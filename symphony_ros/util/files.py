"""File facts shared across the package."""

from __future__ import annotations

import hashlib


def sha256_file(path: str) -> str:
    """Return the hex SHA-256 of file ``path``, read in 1 MiB blocks (policies, bags, MJCF)."""
    h = hashlib.sha256()
    with open(path, 'rb') as f:
        for block in iter(lambda: f.read(1 << 20), b''):
            h.update(block)
    return h.hexdigest()


__all__ = ['sha256_file']
