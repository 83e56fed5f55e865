"""Host test double: a fake AUTOMATIC1111 / Forge WebUI for pytest.

The double is written from ``/work/shared/host-contract.md``; the real WebUI wins where they disagree.
Import :class:`WebUIDouble` (``tests.host_double.host``) or use the fixtures in
``tests.host_double.fixtures``. Nothing here is imported by production code.
"""

from __future__ import annotations

from tests.host_double.host import FLAVOURS, WebUIDouble

__all__ = ["FLAVOURS", "WebUIDouble"]
