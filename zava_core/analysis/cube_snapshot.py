"""A compact copy of the cube on local disk, so a server starting up answers its first question in
milliseconds instead of reading the whole rollup (~2 s at the default scale on the embedded engine, where
every `sales_monthly` document carries a 424-product map).

The snapshot is a cache, never a source of truth: it is used only when it describes the very collection
the rollup is now (the collection's UUID: a rebuild drops and rewrites the collection, so it changes), and
the documents changed or added since it was taken (`updated_at` after its newest stamp, an indexed query)
are applied on top, as the cube does before every question. Rollup documents are never deleted one by one
(only `$inc` and upserts, or a rebuild), so nothing else can go stale. Any doubt means a full load.
Files are 0600 in a 0700 directory under the data directory (they hold sales figures), written atomically.
"""

from __future__ import annotations

import json
import logging
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from zava_core.infra.engine_files import PRIVATE_FILE_MODE, secure_dir

log = logging.getLogger("zava.cube")
FORMAT = 1


@dataclass(frozen=True)
class Fingerprint:
    """What identifies the rollup a snapshot was taken from."""

    database: str
    collection_uuid: str


def snapshot_path(directory: Path, fingerprint: Fingerprint) -> Path:
    return directory / f"cube-{fingerprint.database}-{fingerprint.collection_uuid}.npz"


def save(directory: Path, fingerprint: Fingerprint, arrays: dict[str, np.ndarray], meta: dict) -> Path | None:
    """Write the snapshot (replacing older ones of the same database); None if the disk refused."""
    try:
        secure_dir(directory)
        path = snapshot_path(directory, fingerprint)
        temporary = path.with_suffix(f".{os.getpid()}.tmp")
        header = json.dumps({**meta, "format": FORMAT, "fingerprint": fingerprint.__dict__})
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, PRIVATE_FILE_MODE)
        with os.fdopen(fd, "wb") as out:
            np.savez_compressed(out, meta=np.array(header), **arrays)
        os.replace(temporary, path)
        for old in directory.glob(f"cube-{fingerprint.database}-*.npz"):
            if old != path:
                old.unlink(missing_ok=True)
        return path
    except (OSError, ValueError) as exc:  # a read-only or full disk costs the next start ~2 s, nothing else
        log.info("cube snapshot not saved: %s", exc)
        return None


def load(directory: Path, fingerprint: Fingerprint) -> tuple[dict[str, np.ndarray], dict] | None:
    """The snapshot's arrays and metadata when it matches `fingerprint`; None otherwise."""
    path = snapshot_path(directory, fingerprint)
    try:
        with np.load(path, allow_pickle=False) as data:
            meta = json.loads(str(data["meta"]))
            if meta.get("format") != FORMAT or meta.get("fingerprint") != fingerprint.__dict__:
                return None
            return {name: data[name] for name in data.files if name != "meta"}, meta
    except FileNotFoundError:
        return None
    except (OSError, ValueError, KeyError) as exc:
        log.info("cube snapshot %s ignored: %s", path.name, exc)
        return None
