"""A block of points in metres (:class:`PointChunk`) and the LAZ layers it is decoded from.

:mod:`carbonsink.io.pointclouds` streams files as such chunks; the LiDAR chain
(:mod:`carbonsink.lidar`) works on them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

import laspy
import numpy as np
import numpy.typing as npt

__all__ = ["CHAIN_LAYERS", "CHUNK_LAYERS", "PointChunk"]

#: The LAZ layers a :class:`PointChunk` is made of. A LAS 1.4 point format 6–10 file
#: is compressed layer by layer, and lazrs decodes only the layers asked for: the
#: flags, scan angle, point source, GPS time, colours and extra bytes are skipped
#: (on a 12.5 M-point format 6 file 3.7 instead of 4.8 s of one core). Earlier
#: formats are compressed point by point and decode whole either way.
CHUNK_LAYERS: Final = (
    laspy.DecompressionSelection.XY_RETURNS_CHANNEL
    | laspy.DecompressionSelection.Z
    | laspy.DecompressionSelection.CLASSIFICATION
    | laspy.DecompressionSelection.INTENSITY
    | laspy.DecompressionSelection.USER_DATA
)

#: The layers the LiDAR chain reads: :data:`CHUNK_LAYERS` but the user data, which
#: no step of the chain reads (chunks read so hold 0 there). The generator keeps
#: each return's true kind in it, so on its clouds this spares a varying layer:
#: 1.60 instead of 1.73–2.15 s on a 12.5 M-point file.
CHAIN_LAYERS: Final = CHUNK_LAYERS & ~laspy.DecompressionSelection.USER_DATA


@dataclass
class PointChunk:
    """A block of points in the target CRS, coordinates and heights in metres.

    Attributes
    ----------
    x, y, z
        Coordinates (float64, metres) in the target CRS; ``z`` in the file's
        vertical datum, converted to metres.
    classification
        ASPRS class codes (uint8).
    return_number, number_of_returns
        Pulse return bookkeeping (uint8).
    intensity
        Return intensity (uint16).
    user_data
        The user data byte (uint8).
    """

    x: npt.NDArray[np.float64]
    y: npt.NDArray[np.float64]
    z: npt.NDArray[np.float64]
    classification: npt.NDArray[np.uint8]
    return_number: npt.NDArray[np.uint8]
    number_of_returns: npt.NDArray[np.uint8]
    intensity: npt.NDArray[np.uint16]
    user_data: npt.NDArray[np.uint8]

    def __len__(self) -> int:
        return int(self.x.shape[0])

    @classmethod
    def empty(cls) -> PointChunk:
        """A chunk with no points."""
        f = np.empty(0, dtype=np.float64)
        u8 = np.empty(0, dtype=np.uint8)
        return cls(f, f.copy(), f.copy(), u8, u8.copy(), u8.copy(), np.empty(0, np.uint16), u8)

    @classmethod
    def concat(cls, chunks: Sequence[PointChunk]) -> PointChunk:
        """All points of ``chunks`` in one chunk (an empty chunk for none)."""
        if not chunks:
            return cls.empty()
        return cls(
            x=np.concatenate([c.x for c in chunks]),
            y=np.concatenate([c.y for c in chunks]),
            z=np.concatenate([c.z for c in chunks]),
            classification=np.concatenate([c.classification for c in chunks]),
            return_number=np.concatenate([c.return_number for c in chunks]),
            number_of_returns=np.concatenate([c.number_of_returns for c in chunks]),
            intensity=np.concatenate([c.intensity for c in chunks]),
            user_data=np.concatenate([c.user_data for c in chunks]),
        )

    def select(self, mask: npt.NDArray[np.bool_]) -> PointChunk:
        """The points where ``mask`` is true, as a new chunk.

        One index of the mask's true places serves the eight arrays: a boolean
        index scans the mask again for each, and is several times slower on a
        mask scattered through the points.
        """
        index = np.flatnonzero(mask)
        return PointChunk(
            x=self.x[index],
            y=self.y[index],
            z=self.z[index],
            classification=self.classification[index],
            return_number=self.return_number[index],
            number_of_returns=self.number_of_returns[index],
            intensity=self.intensity[index],
            user_data=self.user_data[index],
        )
