"""Views of a lineage graph: an indented text tree, Graphviz DOT, a Mermaid flowchart, and a
standalone HTML page.

The HTML page draws the graph as inline SVG, one column per place in the funnel (landing files,
ingest, bronze, clean, silver, … release, training) so its width does not grow with the number
of batches; more batches make it taller. Bookkeeping tables (`ops/…`) are listed in the box of
the job that wrote them instead of drawn. Nothing is fetched from anywhere.
"""

from __future__ import annotations

import html
import re
from collections import defaultdict

from lakehouse.provenance import LineageGraph, LineageNode

_DATASET_WIDTH = 112
_JOB_WIDTH = 72
_BOX_HEIGHT = 40
_COLUMN_GAP = 12
_ROW_GAP = 10
_MARGIN = 12
_HEADER = 22
_COLORS = {"dataset": "#dbeafe", "job": "#fef3c7", "file": "#e5e7eb", "model": "#dcfce7"}
DAGSTER_UI = "http://127.0.0.1:3000"


def _details(node: LineageNode) -> str:
    attributes = node.attributes
    if node.kind == "job":
        recipe = (attributes.get("recipe_sha256") or "")[:12]
        batches = ",".join(attributes.get("batch_ids") or []) or "-"
        return (
            f"job {attributes.get('stage')}  run {attributes.get('run_id')}  "
            f"batch {batches}  recipe {recipe}  code {attributes.get('code_version')}"
        )
    if node.kind == "file":
        return f"file {attributes.get('uri')}  ({attributes.get('source')})"
    if node.kind == "model":
        return f"model {attributes.get('name')}  sha256 {attributes.get('sha256')}"
    return f"table {node.label}"


def _bookkeeping(node: LineageNode) -> bool:
    return node.attributes.get("rank", 0) < 0


def render_text(graph: LineageGraph) -> str:
    """The graph as a tree from the target back to the raw files; a node reached twice is
    printed in full once and named with `(above)` after that. The ledger version that pinned
    a job's inputs is named on the job's line rather than walked."""
    parents = graph.parents()
    lines: list[str] = []
    shown: set[str] = set()

    def walk(node_id: str, depth: int) -> None:
        node = graph.nodes[node_id]
        prefix = f"{'  ' * depth}{'└─ ' if depth else ''}"
        if node_id in shown:
            lines.append(f"{prefix}{node.kind} {node.label} (above)")
            return
        shown.add(node_id)
        upstream = sorted(parents.get(node_id, []))
        pins = [parent for parent in upstream if _bookkeeping(graph.nodes[parent])]
        lines.append(
            f"{prefix}{_details(node)}" + (f"  pinned by {', '.join(pins)}" if pins else "")
        )
        for parent in upstream:
            if parent not in pins:
                walk(parent, depth + 1)

    walk(graph.target, 0)
    return "\n".join(lines)


def _graph_id(node_id: str) -> str:
    return "n_" + re.sub(r"[^A-Za-z0-9_]", "_", node_id)


def render_mermaid(graph: LineageGraph) -> str:
    """A Mermaid `flowchart LR` of the graph (paste into any Mermaid renderer)."""
    shapes = {"dataset": ("[(", ")]"), "job": ("[[", "]]"), "file": ("[/", "/]")}
    lines = ["flowchart LR"]
    for node in graph.nodes.values():
        start, end = shapes.get(node.kind, ("[", "]"))
        label = node.label.replace('"', "'")
        if node.kind == "job":
            recipe = (node.attributes.get("recipe_sha256") or "")[:12]
            label += f"<br/>recipe {recipe}<br/>code {node.attributes.get('code_version')}"
        lines.append(f'    {_graph_id(node.id)}{start}"{label}"{end}')
    for source, target in graph.edges:
        lines.append(f"    {_graph_id(source)} --> {_graph_id(target)}")
    return "\n".join(lines)


def render_dot(graph: LineageGraph) -> str:
    """The graph in Graphviz DOT, left to right (`dot -Tsvg`)."""
    shapes = {"dataset": "cylinder", "job": "box", "file": "note", "model": "component"}
    lines = ["digraph lineage {", "  rankdir=LR;", '  node [fontname="sans-serif"];']
    for node in graph.nodes.values():
        label = node.label.replace('"', "'")
        shape = shapes.get(node.kind, "ellipse")
        lines.append(f'  {_graph_id(node.id)} [label="{label}", shape={shape}];')
    for source, target in graph.edges:
        lines.append(f"  {_graph_id(source)} -> {_graph_id(target)};")
    lines.append("}")
    return "\n".join(lines)


def _drawn(graph: LineageGraph) -> list[LineageNode]:
    """The nodes the page draws: all but bookkeeping tables."""
    return [node for node in graph.nodes.values() if not _bookkeeping(node)]


def _positions(graph: LineageGraph) -> dict[str, tuple[int, int, int]]:
    """(x, y, width) of each drawn node: one column per funnel rank present, rows in order of
    table and version (jobs: time)."""
    by_rank: dict[int, list[LineageNode]] = defaultdict(list)
    for node in _drawn(graph):
        by_rank[int(node.attributes.get("rank", 0))].append(node)
    positions: dict[str, tuple[int, int, int]] = {}
    x = _MARGIN
    for rank in sorted(by_rank):
        nodes = sorted(
            by_rank[rank],
            key=lambda node: (
                node.attributes.get("table") or "",
                node.attributes.get("version") or 0,
                node.attributes.get("committed_at") or "",
                node.id,
            ),
        )
        width = _JOB_WIDTH if nodes[0].kind == "job" else _DATASET_WIDTH
        for row, node in enumerate(nodes):
            positions[node.id] = (x, _MARGIN + _HEADER + row * (_BOX_HEIGHT + _ROW_GAP), width)
        x += width + _COLUMN_GAP
    return positions


def _link(node: LineageNode, graph_root: str | None) -> str:
    """Where a node's box leads: the Dagster run of a job, the Delta commit of a table version,
    the file of a landing file or model."""
    attributes = node.attributes
    if node.kind == "job":
        return f"{DAGSTER_UI}/runs/{attributes.get('run_id')}"
    if node.kind == "dataset" and graph_root:
        table, version = attributes.get("table"), int(attributes.get("version") or 0)
        return f"{graph_root.rstrip('/')}/{table}/_delta_log/{version:020d}.json"
    return str(attributes.get("uri") or "")


def _lines(node: LineageNode) -> tuple[str, str]:
    """The two lines of a node's box."""
    attributes = node.attributes
    if node.kind == "job":
        return str(attributes.get("stage")), str(attributes.get("run_id"))[:8]
    if node.kind == "dataset":
        layer, _, name = str(attributes.get("table")).partition("/")
        return name, f"{layer} @{attributes.get('version')}"
    if node.kind == "model":
        return str(attributes.get("name")), str(attributes.get("sha256"))[:12]
    return node.label, str(attributes.get("source"))


def _tooltip(node: LineageNode, graph: LineageGraph) -> str:
    """Full details, and for a job the bookkeeping versions it wrote."""
    details = _details(node)
    if node.kind == "job":
        ops = sorted(
            target
            for source, target in graph.edges
            if source == node.id and graph.nodes[target].attributes.get("rank", 0) < 0
        )
        if ops:
            details += "  wrote " + ", ".join(ops)
    return details


def _svg_box(
    node: LineageNode, graph: LineageGraph, x: int, y: int, width: int, root: str | None
) -> str:
    first, second = _lines(node)
    fill = _COLORS.get(node.kind, "#ffffff")
    characters = max(8, (width - 8) // 6)
    box = (
        f'<g class="node {node.kind}" data-id="{html.escape(node.id)}">'
        f"<title>{html.escape(_tooltip(node, graph))}</title>"
        f'<rect x="{x}" y="{y}" width="{width}" height="{_BOX_HEIGHT}" rx="5" fill="{fill}" '
        'stroke="#333"/>'
        f'<text x="{x + 5}" y="{y + 16}" font-size="11" font-family="sans-serif" '
        f'font-weight="bold">{html.escape(first[:characters])}</text>'
        f'<text x="{x + 5}" y="{y + 32}" font-size="10" font-family="monospace" fill="#333">'
        f"{html.escape(second[:characters])}</text></g>"
    )
    href = _link(node, root)
    if not href:
        return box
    return f'<a href="{html.escape(href)}" target="_blank">{box}</a>'


def render_svg(graph: LineageGraph, root: str | None = None) -> str:
    """The graph as an inline SVG: columns from raw files on the left to the target."""
    positions = _positions(graph)
    width = max((x + w for x, _, w in positions.values()), default=0) + _MARGIN
    height = max((y for _, y, _ in positions.values()), default=0) + _BOX_HEIGHT + _MARGIN
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" role="img" '
        f'aria-label="lineage of {html.escape(graph.target)}">',
        '<defs><marker id="arrow" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="6" '
        'markerHeight="6" orient="auto"><path d="M0,0 L10,5 L0,10 z" fill="#777"/></marker></defs>',
    ]
    headed: set[str] = set()
    for node in sorted(_drawn(graph), key=lambda node: positions[node.id][0]):
        layer = str(node.attributes.get("layer", ""))
        if node.kind != "job" and layer not in headed:
            headed.add(layer)
            parts.append(
                f'<text x="{positions[node.id][0]}" y="{_MARGIN + 12}" font-size="12" '
                f'font-family="sans-serif" fill="#555">{html.escape(layer)}</text>'
            )
    for source, target in graph.edges:
        if source in positions and target in positions:
            x1, y1, w1 = positions[source]
            x2, y2, _ = positions[target]
            parts.append(
                f'<line x1="{x1 + w1}" y1="{y1 + _BOX_HEIGHT / 2}" x2="{x2}" '
                f'y2="{y2 + _BOX_HEIGHT / 2}" stroke="#999" marker-end="url(#arrow)"/>'
            )
    parts += [
        _svg_box(graph.nodes[node_id], graph, x, y, w, root)
        for node_id, (x, y, w) in positions.items()
    ]
    parts.append("</svg>")
    return "".join(parts)


def render_html(graph: LineageGraph, root: str | None = None) -> str:
    """A standalone HTML page drawing the graph as inline SVG, with a table of its nodes; each
    box links to its Dagster run or Delta commit (`root`: the lakehouse root)."""
    rows = "".join(
        f"<tr><td>{html.escape(node.kind)}</td><td>{html.escape(_details(node))}</td></tr>"
        for node in graph.nodes.values()
    )
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f"<title>lineage of {html.escape(graph.target)}</title>"
        "<style>body{font-family:sans-serif;margin:1rem}table{border-collapse:collapse}"
        "td{border:1px solid #ccc;padding:2px 6px;font-size:12px}</style></head><body>"
        f"<h1>Lineage of {html.escape(graph.target)}</h1>"
        "<p>Left to right: raw landing files (grey) → jobs, one per stage of a run (yellow: "
        "stage, run id; links to the Dagster run) → Delta table versions (blue: links to the "
        "commit) and models (green).</p>"
        + render_svg(graph, root)
        + f"<h2>Nodes</h2><table>{rows}</table></body></html>\n"
    )
