"""What every embedder shares: its error type and the L2 normalisation of its rows."""

from __future__ import annotations

import numpy as np

from sleuth.tools.errors import ToolError


class EmbeddingError(ToolError):
    """An embedding model or endpoint failed; ``str(err)`` is a one-line reason."""


def l2_normalise(vectors: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return (vectors / np.maximum(norms, 1e-12)).astype(np.float32, copy=False)
