"""How logged exceptions look: the frames, never their local variables.

structlog's defaults render every frame's locals (``dict_tracebacks``, and the rich console
formatter). A local may hold a token, a database URL with its password or a client's message,
and 200 client resets once added 386 KB of them to the logs.
"""

from __future__ import annotations

import structlog
from structlog.tracebacks import ExceptionDictTransformer

# The JSON format's exception field: structured frames, locals left out.
dict_tracebacks = structlog.processors.ExceptionRenderer(
    ExceptionDictTransformer(show_locals=False)
)


def console_renderer() -> structlog.dev.ConsoleRenderer:
    """The console format, with a plain traceback (rich's would print the locals)."""
    return structlog.dev.ConsoleRenderer(exception_formatter=structlog.dev.plain_traceback)
