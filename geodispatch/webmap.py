"""Standalone folium maps: every ``map.html`` geodispatch writes renders with no internet.

A planner in a regency office may open ``map.html`` on a machine with no internet at all.
A plain folium map does not work there: its ``<head>`` loads Leaflet and folium's other
default assets from CDNs, and without ``leaflet.js`` the page stays blank even though the
layers themselves are inline GeoJSON. This module turns a folium map into one
self-contained HTML file:

* **Leaflet is vendored and inlined.** ``geodispatch/static/leaflet/`` holds ``leaflet.js``,
  ``leaflet.css`` and ``LICENSE`` of Leaflet 1.9.3 (BSD-2-Clause, (c) Vladimir Agafonkin and
  CloudMade; the licence header is kept at the top of ``leaflet.js``), copied unmodified from
  ``dist/`` of the npm tarball ``leaflet-1.9.3.tgz`` (sha1 52ec4369..., as listed by the
  registry). 1.9.3 is the exact version folium 0.20 references
  (``folium.folium._default_js``); the tests fail if folium moves to another version, so
  the two are updated together. The CDN ``<script src>`` and ``<link href>`` of Leaflet are
  replaced by inline ``<script>`` and ``<style>`` with that content (~160 kB per file).
* **folium's other default assets are dropped, not vendored.** folium links jQuery,
  Bootstrap (JS and CSS), Bootstrap glyphicons, Font Awesome, Leaflet.awesome-markers and a
  rotate CSS into every map. They are needed only by icon markers (``folium.Icon``) and by
  ``folium.Popup``, which builds its DOM node with jQuery (``$(`...`)[0]``). geodispatch's
  maps use :class:`folium.CircleMarker` instead of icon markers and :func:`popup` (a plain
  ``layer.bindPopup(html)``, Leaflet only) instead of ``folium.Popup``, so these links are
  removed. :func:`render_offline` checks the rendered scripts first and refuses (with an
  :class:`~geodispatch.errors.OutputError` naming the asset) when a map still uses jQuery,
  awesome markers or Bootstrap, and when it links any other external script or stylesheet
  (a folium plugin, say), rather than write a page that is blank offline.
* **Base tiles stay optional.** Tile layers are loaded by Leaflet at run time, not linked in
  the page; they simply stay empty offline while the vector layers draw. The coverage map
  has no base tiles by default (an OpenStreetMap overlay can be switched on when online).

Leaflet's CSS refers to ``images/layers.png`` (the collapsed layer control's button) and
``images/marker-icon.png`` (default markers); they are not vendored: geodispatch's maps
use an expanded layer control and no default markers, so nothing visible needs them.
"""

from __future__ import annotations

import logging
import os
import re
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

from folium import folium as _folium
from folium.elements import MacroElement
from folium.template import Template

from geodispatch.errors import OutputError
from geodispatch.output import atomic_file

__all__ = ["LEAFLET_VERSION", "leaflet_asset", "popup", "render_offline", "save_offline"]

log = logging.getLogger(__name__)

LEAFLET_VERSION = "1.9.3"
"""Version of the vendored Leaflet in ``geodispatch/static/leaflet/``."""

_SCRIPT_SRC = re.compile(r"<script\b[^>]*\bsrc\s*=\s*[\"']([^\"']+)[\"'][^>]*>\s*</script\s*>", re.IGNORECASE)
_LINK_HREF = re.compile(r"<link\b[^>]*\bhref\s*=\s*[\"']([^\"']+)[\"'][^>]*/?>", re.IGNORECASE)
_LEAFLET_URL = re.compile(r"leaflet(?:@|/)(\d+\.\d+\.\d+)/(?:dist/)?leaflet\.(js|css)$")
_EXTERNAL = re.compile(r"^(?:https?:)?//", re.IGNORECASE)

# folium's default assets other than Leaflet, and how to tell that a rendered map uses them.
_DROPPABLE: dict[str, tuple[str, re.Pattern[str] | None]] = {
    "jquery": (
        "jQuery (folium.Popup, keep_in_front): use geodispatch.webmap.popup",
        re.compile(r"(?<![\w$.])(?:\$|jQuery)\("),
    ),
    "bootstrap": ("Bootstrap JS", re.compile(r"\bbootstrap\.")),
    "awesome_markers": ("Leaflet.awesome-markers (folium.Icon): use folium.CircleMarker", re.compile("AwesomeMarkers")),
    "bootstrap_css": ("Bootstrap CSS", None),
    "glyphicons_css": ("Bootstrap glyphicons", None),
    "awesome_markers_font_css": ("Font Awesome", None),
    "awesome_markers_css": ("Leaflet.awesome-markers CSS", None),
    "awesome_rotate_css": ("folium's awesome-marker rotate CSS", None),
}


@cache
def leaflet_asset(name: str) -> str:
    """Text of a vendored Leaflet file (``"leaflet.js"``, ``"leaflet.css"`` or ``"LICENSE"``)."""
    return (resources.files("geodispatch") / "static" / "leaflet" / name).read_text(encoding="utf-8")


def _droppable_urls() -> dict[str, str]:
    """URL -> name of folium's default assets other than Leaflet."""
    return {url: name for name, url in [*_folium._default_js, *_folium._default_css] if name in _DROPPABLE}


class _PlainPopup(MacroElement):  # type: ignore[misc]
    """``parent.bindPopup(html, options)``: a popup that needs only Leaflet (see :func:`popup`)."""

    _template = Template(
        "{% macro script(this, kwargs) %}"
        "{{ this._parent.get_name() }}.bindPopup({{ this.html|tojson }}, {{ this.options|tojson }});"
        "{% endmacro %}"
    )

    def __init__(self, html: str, max_width: int) -> None:
        super().__init__()
        self._name = "PlainPopup"
        self.html = html
        self.options = {"maxWidth": int(max_width)}


def popup(html: str, max_width: int = 300) -> Any:
    """A Leaflet popup with the given HTML, for a folium layer: ``layer.add_child(popup(...))``.

    Unlike :class:`folium.Popup` it needs no jQuery: the HTML is handed to Leaflet's
    ``bindPopup`` as a JSON string (``<``, ``>``, ``&`` escaped, so it cannot end the script).
    The caller escapes user text inside ``html``.

    Parameters
    ----------
    html : str
        Popup content (HTML).
    max_width : int
        Maximal popup width, pixels.

    Returns
    -------
    branca.element.MacroElement
        Add it as a child of a folium layer (CircleMarker, GeoJson, ...).
    """
    return _PlainPopup(html, max_width)


def render_offline(folium_map: Any) -> str:
    """Render a folium map to one HTML document that loads nothing from the network.

    Parameters
    ----------
    folium_map : folium.Map
        The map (its layers are embedded by folium as inline GeoJSON / JavaScript).

    Returns
    -------
    str
        The HTML, with Leaflet's JavaScript and CSS inline and folium's other CDN assets removed.

    Raises
    ------
    OutputError
        When the map needs an asset that is not vendored (jQuery, Bootstrap, awesome markers, a
        plugin's script or stylesheet), so it would be blank or broken offline.
    """
    page: str = folium_map.get_root().render()
    droppable = _droppable_urls()
    scripts = _LINK_HREF.sub("", _SCRIPT_SRC.sub("", page))  # the page's own code and HTML, not the links

    def _replace(match: re.Match[str], kind: str) -> str:
        url = match.group(1)
        if not _EXTERNAL.match(url):
            return match.group(0)  # a relative or data: URL is not a network fetch by this page
        leaflet = _LEAFLET_URL.search(url)
        if leaflet:
            version, ext = leaflet.groups()
            if version != LEAFLET_VERSION:
                log.warning("map links Leaflet %s; inlining the vendored Leaflet %s", version, LEAFLET_VERSION)
            if ext == "js":
                code = leaflet_asset("leaflet.js").replace("</script", "<\\/script")
                return f"<script>/* Leaflet {LEAFLET_VERSION}, BSD-2-Clause, inlined */\n{code}\n</script>"
            return f"<style>/* Leaflet {LEAFLET_VERSION} CSS, BSD-2-Clause */\n{leaflet_asset('leaflet.css')}\n</style>"
        name = droppable.get(url)
        if name is None:
            raise OutputError(
                f"the map {kind} {url} from the internet and would not work offline; geodispatch.webmap vendors "
                "only Leaflet: draw the map with core folium layers (GeoJson, CircleMarker, webmap.popup)"
            )
        what, used = _DROPPABLE[name]
        if used is not None and used.search(scripts):
            raise OutputError(
                f"the map uses {what}, which is not vendored, so it would be blank offline; "
                "draw it with core Leaflet features instead"
            )
        return ""

    page = _SCRIPT_SRC.sub(lambda m: _replace(m, "loads the script"), page)
    page = _LINK_HREF.sub(lambda m: _replace(m, "links"), page)
    return page


def save_offline(folium_map: Any, path: str | os.PathLike[str]) -> Path:
    """Write a folium map as a standalone HTML file (see :func:`render_offline`), atomically.

    Parameters
    ----------
    folium_map : folium.Map
        The map.
    path : str or os.PathLike
        Destination ``.html`` file; written to a temporary sibling and renamed into place.

    Returns
    -------
    pathlib.Path
        ``path``.

    Raises
    ------
    OutputError
        When the map needs a non-vendored asset or the file cannot be written.
    """
    page = render_offline(folium_map)
    dest = Path(path)
    with atomic_file(dest, suffix=".html") as tmp:
        tmp.write_text(page, encoding="utf-8")
    return dest
