"""Node-API details that ComfyUI reads from the V1 classes (docs/node_api.md)."""
from echo_stream.nodes import NODE_CLASS_MAPPINGS, NODE_DISPLAY_NAME_MAPPINGS


def test_every_node_has_search_aliases():
    """ComfyUI >= 0.2x lists SEARCH_ALIASES in /object_info (search_aliases) and its node search matches them."""
    for node_id, cls in NODE_CLASS_MAPPINGS.items():
        aliases = getattr(cls, "SEARCH_ALIASES", None)
        assert isinstance(aliases, list) and aliases, f"{node_id} has no SEARCH_ALIASES"
        assert all(isinstance(a, str) and a == a.strip().lower() and a for a in aliases), (node_id, aliases)
        assert len(set(aliases)) == len(aliases), (node_id, aliases)
        assert NODE_DISPLAY_NAME_MAPPINGS[node_id].lower() not in aliases, f"{node_id}: an alias repeats the name"
