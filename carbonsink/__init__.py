"""carbonsink: measure a wetland's carbon sink and turn it into an auditable credit claim."""

from __future__ import annotations

import logging

__version__ = "0.1.0"

logging.getLogger(__name__).addHandler(logging.NullHandler())

__all__ = ["__version__"]
