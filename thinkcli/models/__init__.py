"""Model files: reading GGUF metadata, the built-in catalog, and the store of pulled models.

Nothing here imports llama.cpp; every failure is a ``ModelError`` or ``PullError`` naming the file.
"""

from __future__ import annotations

from thinkcli.models.catalog import (
    CATALOG,
    DEFAULT_MODEL,
    CatalogEntry,
    HubFile,
    PipWheel,
    parse_ref,
)
from thinkcli.models.gguf import GGUFInfo, read_gguf
from thinkcli.models.store import LocalModel, ModelStore, NotPulled

__all__ = [
    "CATALOG",
    "DEFAULT_MODEL",
    "CatalogEntry",
    "GGUFInfo",
    "HubFile",
    "LocalModel",
    "ModelStore",
    "NotPulled",
    "PipWheel",
    "parse_ref",
    "read_gguf",
]
