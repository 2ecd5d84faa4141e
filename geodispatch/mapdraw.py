"""Drawing helpers shared by every static map (coverage, siting): one standard for all of them.

A geodispatch PNG is drawn in the network's metric CRS with the projected axes hidden, the
roads (arterials thicker), desa outlines, a scale bar, a north arrow and a legend for every
symbol; labels are placed so that they never overlap each other or a marker
(:func:`place_labels`). Plain matplotlib; the stages pass their own layers.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from geodispatch.network.graph import RoadNetwork

__all__ = ["draw_roads", "draw_sea", "finish_axes", "label_boxes", "place_labels", "road_segments", "sea_segments"]

MAJOR_HIGHWAYS = ("motorway", "trunk", "primary", "secondary", "trunk_link", "primary_link")


def road_segments(network: RoadNetwork, tolerance_m: float) -> tuple[list[np.ndarray], np.ndarray]:
    """Each road once (two-way roads not twice), simplified to ``tolerance_m``, metric coordinates.

    Returns
    -------
    segments : list of numpy.ndarray
        ``(k, 2)`` x/y vertex arrays in metres.
    major : numpy.ndarray of bool
        Whether each segment is an arterial (:data:`MAJOR_HIGHWAYS`).
    """
    once = _once(network) & ~network.is_sea_edge
    return _segments(network, once, tolerance_m), np.isin(network.edge_highway[once], MAJOR_HIGHWAYS)


def sea_segments(network: RoadNetwork, tolerance_m: float) -> list[np.ndarray]:
    """Each sea crossing (ferry or sea link) once, simplified to ``tolerance_m``, metric coordinates."""
    return _segments(network, _once(network) & network.is_sea_edge, tolerance_m)


def _once(network: RoadNetwork) -> np.ndarray:
    """Mask of the edges to draw: every edge except the second of each two-way pair."""
    twin = network.twin_edge
    return np.asarray((twin < 0) | (np.arange(network.n_edges) < twin))


def _segments(network: RoadNetwork, keep: np.ndarray, tolerance_m: float) -> list[np.ndarray]:
    import shapely

    geoms = shapely.simplify(network.edge_geometries(metric=True)[keep], tolerance_m)
    coords = shapely.get_coordinates(geoms)
    counts = shapely.get_num_coordinates(geoms)
    return list(np.split(coords, np.cumsum(counts)[:-1])) if len(geoms) else []


def draw_roads(ax: Any, segments: list[np.ndarray], major: np.ndarray, label: str) -> Any:
    """Draw roads (minor thin, arterials thicker); return their legend handle."""
    from matplotlib.collections import LineCollection
    from matplotlib.lines import Line2D

    ax.add_collection(LineCollection([s for s, m in zip(segments, major, strict=True) if not m],
                                     colors="#2b2b2b", linewidths=0.3, alpha=0.45, zorder=3))
    ax.add_collection(LineCollection([s for s, m in zip(segments, major, strict=True) if m],
                                     colors="#111111", linewidths=0.9, alpha=0.7, zorder=3.1))
    return Line2D([], [], color="#2b2b2b", linewidth=0.8, alpha=0.6, label=label)


def draw_sea(ax: Any, segments: list[np.ndarray], label: str) -> Any | None:
    """Draw sea crossings as dashed blue lines (never as road); their legend handle, None when none."""
    from matplotlib.collections import LineCollection
    from matplotlib.lines import Line2D

    if not segments:
        return None
    dash = (0, (4, 3))
    ax.add_collection(LineCollection(segments, colors="#1f5fa8", linewidths=1.2, linestyles=dash, zorder=3.2))
    return Line2D([], [], color="#1f5fa8", linewidth=1.2, linestyle=dash, label=label)


def draw_base_layers(
    ax: Any, segments: list[np.ndarray], major: np.ndarray, crossings: list[np.ndarray], with_areas: bool, lang: str
) -> list[Any]:
    """Draw the roads and the sea crossings of a panel; return their legend handles in ``lang``,
    plus the desa/kelurahan outline entry when the panel draws area outlines."""
    from matplotlib.lines import Line2D

    from geodispatch.locale import text

    handles = [draw_roads(ax, segments, major, text("map.legend.road", lang))]
    sea = draw_sea(ax, crossings, text("map.legend.sea", lang))
    if sea is not None:
        handles.append(sea)
    if with_areas:
        outline = text("map.legend.desa", lang)
        handles.append(Line2D([], [], color="#9a9a9a", linewidth=0.8, linestyle="--", label=outline))
    return handles


def nice_length(width_m: float) -> float:
    """A round scale-bar length near a fifth of the map width, metres."""
    target = width_m / 5
    exp = 10 ** np.floor(np.log10(max(target, 1e-9)))
    for step in (5, 2, 1):
        if step * exp <= target:
            return float(step * exp)
    return float(exp)


def _km(metres: float) -> str:
    return f"{metres / 1000:g} km" if metres >= 1000 else f"{metres:g} m"


def finish_axes(ax: Any, extent: tuple[float, float, float, float], north: str = "N") -> None:
    """Fix the extent, hide the projected axes, add a metric scale bar and a north arrow.

    Parameters
    ----------
    ax : matplotlib.axes.Axes
        A map panel in a metric CRS (metres).
    extent : (x0, x1, y0, y1)
        Visible window, metres.
    north : str
        Letter of the north arrow (``N``, or ``U`` for *utara*).
    """
    from matplotlib.patches import Rectangle

    x0, x1, y0, y1 = extent
    ax.set_xlim(x0, x1)
    ax.set_ylim(y0, y1)
    ax.set_aspect("equal")
    ax.set_xticks([])
    ax.set_yticks([])
    ax.set_xlabel("")
    ax.set_ylabel("")
    width, height = x1 - x0, y1 - y0
    length = nice_length(width)
    bx, by = x0 + 0.05 * width, y0 + 0.04 * height
    h = 0.012 * height
    ax.add_patch(Rectangle((bx, by), length / 2, h, fc="black", ec="black", zorder=9))
    ax.add_patch(Rectangle((bx + length / 2, by), length / 2, h, fc="white", ec="black", zorder=9))
    ax.text(bx, by + 1.8 * h, "0", fontsize=7, ha="center", zorder=9)
    ax.text(bx + length, by + 1.8 * h, _km(length), fontsize=7, ha="center", zorder=9)
    ax.annotate(north, xy=(0.96, 0.95), xytext=(0.96, 0.87), xycoords="axes fraction", ha="center",
                fontsize=10, fontweight="bold", arrowprops={"arrowstyle": "-|>", "color": "black"})


_OFFSETS = [(dx, dy) for r in (1.0, 2.2, 3.6, 5.2) for dx, dy in
            ((r, r), (r, -r), (-r, r), (-r, -r), (r * 1.4, 0), (-r * 1.4, 0), (0, r * 1.4), (0, -r * 1.4))]


def _overlaps(box: np.ndarray, others: list[np.ndarray]) -> bool:
    return any(box[0] < o[2] and o[0] < box[2] and box[1] < o[3] and o[1] < box[3] for o in others)


def _inside(box: np.ndarray, frame: np.ndarray) -> bool:
    return bool(box[0] >= frame[0] and box[1] >= frame[1] and box[2] <= frame[2] and box[3] <= frame[3])


def place_labels(
    ax: Any,
    anchors: Sequence[tuple[float, float]],
    labels: Sequence[str],
    avoid: Sequence[tuple[float, float]] = (),
    marker_px: float = 9.0,
    **text_kw: Any,
) -> list[Any]:
    """Place text labels next to points so that no two labels and no label and marker overlap.

    Each label tries positions around its anchor (near first, then farther, with a leader line
    when moved away) and takes the first whose box, in display pixels, touches no label placed
    before it and no marker (a square of ``2 * marker_px`` around each anchor and each ``avoid``
    point) and that stays inside the panel. Call it after the axes' extent and aspect are fixed
    (display coordinates depend on them).

    Parameters
    ----------
    ax : matplotlib.axes.Axes
        The panel.
    anchors : sequence of (x, y)
        Data coordinates of the labelled points.
    labels : sequence of str
        Their labels (same order).
    avoid : sequence of (x, y)
        Other markers labels must not cover (stations, posts).
    marker_px : float
        Half the size of a marker, pixels.
    **text_kw
        Passed to :meth:`matplotlib.axes.Axes.annotate` (fontsize, bbox, zorder...).

    Returns
    -------
    list of matplotlib.text.Annotation
        In the order of ``labels``.
    """
    fig = ax.figure
    fig.canvas.draw()  # fix the transforms (tight_layout must already have run)
    renderer = fig.canvas.get_renderer()
    to_px = ax.transData.transform
    points = [to_px(p) for p in [*anchors, *avoid]]
    taken: list[np.ndarray] = [np.array([x - marker_px, y - marker_px, x + marker_px, y + marker_px])
                               for x, y in points]
    ext = ax.get_window_extent(renderer)
    frame = np.array([ext.x0, ext.y0, ext.x1, ext.y1])
    placed = []
    for (x, y), label in zip(anchors, labels, strict=True):
        best = None
        for dx, dy in _OFFSETS:
            ann = ax.annotate(label, (x, y), xytext=(dx * marker_px, dy * marker_px), textcoords="offset pixels",
                              ha="left" if dx > 0 else ("right" if dx < 0 else "center"),
                              va="bottom" if dy > 0 else ("top" if dy < 0 else "center"), **text_kw)
            ext = ann.get_window_extent(renderer)
            box = np.array([ext.x0 - 4, ext.y0 - 4, ext.x1 + 4, ext.y1 + 4])  # air for the label frame
            if not _overlaps(box, taken) and _inside(box, frame):
                best = (ann, box, abs(dx) > 1.5 or abs(dy) > 1.5)
                break
            ann.remove()
        if best is None:  # crowded: the farthest position, still drawn (never silently dropped)
            dx, dy = _OFFSETS[-1]
            ann = ax.annotate(label, (x, y), xytext=(dx * marker_px, dy * marker_px), textcoords="offset pixels",
                              ha="center", va="top", **text_kw)
            ext = ann.get_window_extent(renderer)
            best = (ann, np.array([ext.x0, ext.y0, ext.x1, ext.y1]), True)
        ann, box, far = best
        if far:  # moved away from its point: redraw with a leader line to it
            xytext, ha, va = ann.xyann, ann.get_ha(), ann.get_va()
            ann.remove()
            ann = ax.annotate(label, (x, y), xytext=xytext, textcoords="offset pixels", ha=ha, va=va,
                              arrowprops={"arrowstyle": "-", "color": "#333333", "lw": 0.6, "shrinkA": 0,
                                          "shrinkB": 4}, **text_kw)
        taken.append(box)
        placed.append(ann)
    return placed


def label_boxes(fig: Any, texts: Sequence[Any]) -> np.ndarray:
    """Display-pixel boxes ``(n, 4)`` x0, y0, x1, y1 of drawn texts, leader lines left out (tests)."""
    from matplotlib.text import Text

    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    boxes = []
    for t in texts:
        ext = Text.get_window_extent(t, renderer)
        boxes.append([ext.x0, ext.y0, ext.x1, ext.y1])
    return np.asarray(boxes, dtype=float).reshape(-1, 4)
