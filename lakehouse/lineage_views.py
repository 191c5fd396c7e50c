"""Views of a lineage graph: an indented text tree, a Mermaid flowchart, a standalone HTML page.

The HTML page draws the graph as inline SVG (columns from raw files on the left to the target on
the right), with no script, stylesheet or font fetched from anywhere.
"""

from __future__ import annotations

import html
import re
from collections import defaultdict

from lakehouse.provenance import LineageGraph, LineageNode

_BOX_WIDTH = 260
_BOX_HEIGHT = 58
_COLUMN_GAP = 90
_ROW_GAP = 22
_MARGIN = 24
_COLORS = {"dataset": "#dbeafe", "run": "#fef3c7", "file": "#e5e7eb"}


def _details(node: LineageNode) -> str:
    attributes = node.attributes
    if node.kind == "run":
        recipe = (attributes.get("recipe_sha256") or "")[:12]
        return (
            f"run {attributes.get('run_id')}  stage {attributes.get('stage')}  "
            f"batch {attributes.get('batch_id')}  recipe {recipe}  "
            f"code {attributes.get('code_version')}"
        )
    if node.kind == "file":
        return f"file {attributes.get('uri')}  ({attributes.get('source')})"
    return f"table {node.label}"


def render_text(graph: LineageGraph) -> str:
    """The graph as a tree from the target back to the raw files."""
    parents: dict[str, list[str]] = defaultdict(list)
    for source, target in graph.edges:
        parents[target].append(source)
    lines: list[str] = []

    def walk(node_id: str, depth: int, seen: frozenset[str]) -> None:
        node = graph.nodes[node_id]
        lines.append(f"{'  ' * depth}{'└─ ' if depth else ''}{_details(node)}")
        if node_id in seen:
            return
        for parent in sorted(parents.get(node_id, [])):
            walk(parent, depth + 1, seen | {node_id})

    walk(graph.target, 0, frozenset())
    return "\n".join(lines)


def _mermaid_id(node_id: str) -> str:
    return "n_" + re.sub(r"[^A-Za-z0-9_]", "_", node_id)


def render_mermaid(graph: LineageGraph) -> str:
    """A Mermaid `flowchart LR` of the graph (paste into any Mermaid renderer)."""
    shapes = {"dataset": ("[(", ")]"), "run": ("[[", "]]"), "file": ("[/", "/]")}
    lines = ["flowchart LR"]
    for node in graph.nodes.values():
        start, end = shapes.get(node.kind, ("[", "]"))
        label = node.label.replace('"', "'")
        if node.kind == "run":
            recipe = (node.attributes.get("recipe_sha256") or "")[:12]
            label += f"<br/>recipe {recipe}<br/>code {node.attributes.get('code_version')}"
        lines.append(f'    {_mermaid_id(node.id)}{start}"{label}"{end}')
    for source, target in graph.edges:
        lines.append(f"    {_mermaid_id(source)} --> {_mermaid_id(target)}")
    return "\n".join(lines)


def _layers(graph: LineageGraph) -> dict[str, int]:
    """Each node's column: its distance from the target, counted leftwards."""
    parents: dict[str, list[str]] = defaultdict(list)
    for source, target in graph.edges:
        parents[target].append(source)
    depth = {graph.target: 0}
    frontier = [graph.target]
    while frontier:
        following = []
        for node_id in frontier:
            for parent in parents.get(node_id, []):
                if depth.get(parent, -1) < depth[node_id] + 1 and depth[node_id] < len(graph.nodes):
                    depth[parent] = depth[node_id] + 1
                    following.append(parent)
        frontier = following
    deepest = max(depth.values())
    return {node_id: deepest - value for node_id, value in depth.items()}


def _positions(graph: LineageGraph) -> dict[str, tuple[int, int]]:
    """Top-left corner of each node's box: one column per layer, rows in node-id order."""
    by_column: dict[int, list[str]] = defaultdict(list)
    for node_id, column in sorted(_layers(graph).items(), key=lambda item: (item[1], item[0])):
        by_column[column].append(node_id)
    positions = {}
    for column, node_ids in by_column.items():
        for row, node_id in enumerate(node_ids):
            x = _MARGIN + column * (_BOX_WIDTH + _COLUMN_GAP)
            y = _MARGIN + row * (_BOX_HEIGHT + _ROW_GAP)
            positions[node_id] = (x, y)
    return positions


def _svg_size(positions: dict[str, tuple[int, int]]) -> tuple[int, int]:
    """Width and height of the drawing that holds every box, margins included."""
    right = max(x for x, _ in positions.values()) + _BOX_WIDTH
    bottom = max(y for _, y in positions.values()) + _BOX_HEIGHT + _ROW_GAP
    return right + _MARGIN, bottom + _MARGIN


def _svg_edge(start: tuple[int, int], end: tuple[int, int]) -> str:
    """An arrow from the right side of one box to the left side of another."""
    (x1, y1), (x2, y2) = start, end
    return (
        f'<line x1="{x1 + _BOX_WIDTH}" y1="{y1 + _BOX_HEIGHT / 2}" x2="{x2}" '
        f'y2="{y2 + _BOX_HEIGHT / 2}" stroke="#555" marker-end="url(#arrow)"/>'
    )


def _box_subtitle(node: LineageNode) -> str:
    """The second line of a node's box: recipe and code of a run, source of a file."""
    if node.kind == "run":
        return (
            f"recipe {(node.attributes.get('recipe_sha256') or '')[:12]} · "
            f"code {node.attributes.get('code_version')}"
        )
    if node.kind == "file":
        return str(node.attributes.get("source"))
    return "Delta table version"


def _svg_box(node: LineageNode, x: int, y: int) -> str:
    """A node's box with its label, subtitle and full details as a tooltip."""
    fill = _COLORS.get(node.kind, "#ffffff")
    return (
        f"<g><title>{html.escape(_details(node))}</title>"
        f'<rect x="{x}" y="{y}" width="{_BOX_WIDTH}" height="{_BOX_HEIGHT}" rx="6" '
        f'fill="{fill}" stroke="#333"/>'
        f'<text x="{x + 8}" y="{y + 22}" font-size="13" font-family="sans-serif">'
        f"{html.escape(node.label[:38])}</text>"
        f'<text x="{x + 8}" y="{y + 42}" font-size="11" font-family="monospace" '
        f'fill="#333">{html.escape(_box_subtitle(node)[:42])}</text></g>'
    )


def render_svg(graph: LineageGraph) -> str:
    """The graph as an inline SVG: columns from raw files on the left to the target."""
    positions = _positions(graph)
    width, height = _svg_size(positions)
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" role="img" '
        f'aria-label="lineage of {html.escape(graph.target)}">',
        '<defs><marker id="arrow" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="7" '
        'markerHeight="7" orient="auto"><path d="M0,0 L10,5 L0,10 z" fill="#555"/></marker></defs>',
    ]
    parts += [
        _svg_edge(positions[source], positions[target])
        for source, target in graph.edges
        if source in positions and target in positions
    ]
    parts += [_svg_box(graph.nodes[node_id], x, y) for node_id, (x, y) in positions.items()]
    parts.append("</svg>")
    return "".join(parts)


def render_html(graph: LineageGraph) -> str:
    """A standalone HTML page drawing the graph as inline SVG, with a table of its nodes."""
    rows = "".join(
        f"<tr><td>{html.escape(node.kind)}</td><td>{html.escape(_details(node))}</td></tr>"
        for node in graph.nodes.values()
    )
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f"<title>lineage of {html.escape(graph.target)}</title>"
        "<style>body{font-family:sans-serif;margin:1.5rem}table{border-collapse:collapse}"
        "td{border:1px solid #ccc;padding:2px 6px;font-size:12px}</style></head><body>"
        f"<h1>Lineage of {html.escape(graph.target)}</h1>"
        "<p>Raw landing files (grey) → runs (yellow: stage, recipe sha256, code version) → "
        "Delta table versions (blue).</p>"
        + render_svg(graph)
        + f"<h2>Nodes</h2><table>{rows}</table></body></html>\n"
    )
