"""The dashboard page, and what a host application adds to it.

The page is the runtime's (queues, workers, dead letters, schedule, tasks); a host
application may add views of its own (``Pages``): their markup is composed into the page
once, when the app is built, and their scripts are served beside the runtime's. The page
tells its script which extra views exist in ``<body data-pages>``.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass, field
from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import PurePath
from string import Template

STATIC = resources.files("waasp.runtime.dashboard").joinpath("static")
_TYPES = {".js": "text/javascript", ".css": "text/css"}
_PARTS = ("nav", "views", "dialogs")
_MARKER = re.compile(r"<!-- (nav|views|dialogs) -->\n")
_NAME = re.compile(r"[a-z][a-z0-9_]*")
RUNTIME_HINT = (
    "Enter the dashboard token (<code>WAASP_DASHBOARD_TOKEN</code>, or the one "
    "<code>python -m waasp.runtime dashboard</code> printed when it started)."
)


@dataclass(frozen=True, slots=True)
class Pages:
    """What a host application shows besides the runtime's views.

    ``views`` name its views, the first one the home page; each is a script ``NAME.js`` in
    ``static`` exporting a view ``NAME``. ``static`` also holds ``pages.html``: the markup to
    add after the markers ``<!-- nav -->``, ``<!-- views -->`` and ``<!-- dialogs -->``.
    ``login_hint`` is trusted HTML: where to find the token.
    """

    title: str = "waasp.runtime"
    login_hint: str = RUNTIME_HINT
    views: tuple[str, ...] = ()
    static: Traversable | None = None


@dataclass(frozen=True, slots=True)
class Page:
    """The composed page and every file served under /dashboard/."""

    html: bytes
    assets: dict[str, tuple[Traversable, str]] = field(default_factory=dict)


def _assets(folder: Traversable) -> dict[str, tuple[Traversable, str]]:
    return {
        item.name: (item, _TYPES[suffix])
        for item in folder.iterdir()
        if (suffix := PurePath(item.name).suffix) in _TYPES
    }


def _fragments(pages: Pages) -> dict[str, str]:
    if pages.static is None:
        return dict.fromkeys(_PARTS, "")
    pieces = _MARKER.split(pages.static.joinpath("pages.html").read_text(encoding="utf-8"))
    # pieces: [preamble, name, markup, name, markup, ...]
    found = dict(zip(pieces[1::2], pieces[2::2], strict=True))
    return {part: found.get(part, "") for part in _PARTS}


def compose(pages: Pages) -> Page:
    """Build the page with ``pages``' markup, and the table of files it may load."""
    bad = [name for name in pages.views if not _NAME.fullmatch(name)]
    if bad or (pages.views and pages.static is None):
        raise ValueError(f"views need a static folder and plain names: {bad or pages.views}")
    template = Template(STATIC.joinpath("dashboard.html").read_text(encoding="utf-8"))
    text = template.safe_substitute(
        title=html.escape(pages.title),
        login_hint=pages.login_hint,
        pages=" ".join(pages.views),
        **_fragments(pages),
    )
    assets = _assets(STATIC)
    if pages.static is not None:
        assets.update(_assets(pages.static))
    return Page(text.encode("utf-8"), assets)
