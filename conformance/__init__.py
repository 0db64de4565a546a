"""batchnorm-conformance: a property-based conformance suite for BatchNorm1d implementations.

Run it with ``pytest conformance --impl=NAME`` (or ``pytest --pyargs conformance --impl=...``).
"""

__version__ = "0.1.0"

from conformance.candidates.errors import Unavailable

__all__ = ["Unavailable", "__version__"]
