"""Graph pictures with matplotlib + networkx (optional: the `viz` extra)."""
from __future__ import annotations


def draw_graph(g, path: str, title: str = "") -> str:
    """Draw a DiGraph from `ir.export.to_networkx` to a PNG; nodes coloured by kernel."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ImportError("pictures need matplotlib: pip install 'tracead[viz]'") from exc
    import networkx as nx

    from ..ir.export import _PALETTE

    layers = {}
    for depth, generation in enumerate(nx.topological_generations(g)):
        for n in generation:
            layers[n] = depth
    nx.set_node_attributes(g, layers, "layer")
    pos = nx.multipartite_layout(g, subset_key="layer", align="horizontal")
    pos = {n: (x, -y) for n, (x, y) in pos.items()}
    colours = []
    for _, data in g.nodes(data=True):
        k = data.get("kernel")
        colours.append(_PALETTE[k % len(_PALETTE)] if k is not None else "#eeeeee")
    size = max(6.0, min(30.0, 0.6 * max(len(layers), 1)))
    fig, ax = plt.subplots(figsize=(size, size * 0.8))
    nx.draw_networkx(g, pos, ax=ax, node_color=colours, node_shape="s", node_size=900,
                     labels={n: d["label"] for n, d in g.nodes(data=True)}, font_size=6,
                     arrows=True, edge_color="#999999")
    nx.draw_networkx_edge_labels(g, pos, ax=ax, font_size=5,
                                 edge_labels={(a, b): d["label"] for a, b, d in g.edges(data=True)})
    ax.set_title(title)
    ax.axis("off")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path
