"""What every library of this project shares: array aliases and the base of input errors.

Libraries (``flexibility``, ``grid``, ``traffic``) raise their own error types, all subclasses of
:class:`ModelInputError`; the command line prints any of them as one line and exits 2.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]
BoolArray = NDArray[np.bool_]


class ModelInputError(ValueError):
    """Bad input to a library function (a feeder, a road network, a fleet).

    The message is a single line that names the offending field and says how to fix it.
    """
