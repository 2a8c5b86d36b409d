"""Random number streams and spatially correlated Gaussian random fields.

Every random quantity of the synthetic survey is drawn from a named,
independent :class:`numpy.random.Generator` derived from the survey seed, so
adding a new stream never changes the values of the others, and nothing ever
touches NumPy's global random state.
"""

from __future__ import annotations

import zlib

import numpy as np
import numpy.typing as npt
from scipy import ndimage

__all__ = ["gaussian_field", "named_stream"]


def named_stream(seed: int, name: str) -> np.random.Generator:
    """An independent random generator for the stream ``name`` of survey ``seed``.

    Parameters
    ----------
    seed
        The survey seed.
    name
        A stable name for the stream, e.g. ``"landscape.elevation"``.

    Returns
    -------
    numpy.random.Generator
        A PCG64 generator seeded by ``SeedSequence(seed, spawn_key=(crc32(name),))``.

    Notes
    -----
    A ``SeedSequence`` with a distinct ``spawn_key`` is exactly what
    ``SeedSequence(seed).spawn`` produces for its children; keying the child
    by a CRC-32 of the name instead of its position makes streams independent
    of the order in which they are created.
    """
    key = zlib.crc32(name.encode("utf-8"))
    return np.random.Generator(np.random.PCG64(np.random.SeedSequence(seed, spawn_key=(key,))))


def gaussian_field(
    rng: np.random.Generator, shape: tuple[int, int], *, length_cells: float
) -> npt.NDArray[np.float64]:
    """A stationary Gaussian random field with zero mean and unit variance.

    Parameters
    ----------
    rng
        Source of the white noise.
    shape
        ``(rows, cols)`` of the field.
    length_cells
        Standard deviation of the Gaussian smoothing kernel in cells; the
        field's correlation falls to ``exp(-1/4)`` at this lag.

    Returns
    -------
    numpy.ndarray
        Float64 array of ``shape``, standardised to mean 0 and SD 1.

    Notes
    -----
    White noise convolved with a Gaussian kernel of SD ``ℓ`` has the
    Gaussian covariance ``C(h) = exp(-h² / (4 ℓ²))``. The noise is drawn on a
    grid padded by ``3ℓ`` on every side so that edges are not reflected.
    """
    pad = int(np.ceil(3.0 * max(length_cells, 0.0)))
    noise = rng.standard_normal((shape[0] + 2 * pad, shape[1] + 2 * pad))
    if length_cells > 0:
        noise = ndimage.gaussian_filter(noise, sigma=length_cells, mode="wrap", truncate=3.0)
    field = noise[pad : pad + shape[0], pad : pad + shape[1]]
    sd = float(field.std())
    return np.asarray((field - field.mean()) / (sd if sd > 0 else 1.0), dtype=np.float64)
