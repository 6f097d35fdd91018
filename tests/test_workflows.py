"""Every example workflow is a valid UI-format graph of our nodes and known core nodes."""
import json
import pathlib

import pytest
from PIL import Image

from core_nodes import CORE_NODES, FILE
from echo_stream.nodes import NODE_CLASS_MAPPINGS

FOLDER = pathlib.Path(__file__).resolve().parent.parent / "workflows"
WORKFLOWS = sorted(FOLDER.glob("*.json"))
WIDGET_TYPES = {"INT", "FLOAT", "STRING", "BOOLEAN"}
FILE_INPUTS = {"model_name", "lora_name", "file"}  # combos filled from ComfyUI's model folders
SEED_CONTROL = ["fixed", "increment", "decrement", "randomize"]


def our_spec(cls):
    """Our node's INPUT_TYPES in the same shape as CORE_NODES."""
    types = cls.INPUT_TYPES()
    inputs, widgets = {}, []
    optional_widgets = 0  # trailing optional widgets a saved graph may lack (the frontend fills in defaults)
    for section in ("required", "optional"):
        if section == "optional":
            optional_widgets = -len(widgets)
        for name, (kind, options) in types.get(section, {}).items():
            if isinstance(kind, list):
                widgets.append((name, FILE if name in FILE_INPUTS else "COMBO", None if name in FILE_INPUTS else kind))
            elif kind in WIDGET_TYPES and not options.get("forceInput"):
                rule = (options.get("min"), options.get("max")) if kind in ("INT", "FLOAT") else None
                widgets.append((name, kind, rule))
                if options.get("control_after_generate"):
                    widgets.append((name + " control", "COMBO", SEED_CONTROL))
            else:
                inputs[name + ("?" if section == "optional" else "")] = kind
    return {"inputs": inputs, "outputs": list(cls.RETURN_TYPES), "widgets": widgets,
            "optional_widgets": optional_widgets + len(widgets)}


def spec_of(node_type):
    if node_type in NODE_CLASS_MAPPINGS:
        return our_spec(NODE_CLASS_MAPPINGS[node_type])
    assert node_type in CORE_NODES, f"unknown node type {node_type}"
    return CORE_NODES[node_type]


def check_widget(where, kind, rule, value):
    if kind == FILE:
        assert isinstance(value, str) and value.endswith((".pt", ".safetensors", ".pth", ".ckpt")) or value == "none", where
    elif kind == "COMBO":
        assert value in rule, f"{where}: {value!r} not in {rule}"
    elif kind == "STRING":
        assert isinstance(value, str), where
    elif kind == "BOOLEAN":
        assert isinstance(value, bool), where
    else:
        assert isinstance(value, (int, float)) and not isinstance(value, bool), where
        if kind == "INT":
            assert float(value).is_integer(), where
        low, high = rule
        assert (low is None or value >= low) and (high is None or value <= high), f"{where}: {value} outside {rule}"


def load_builder():
    import importlib.util

    spec = importlib.util.spec_from_file_location("build_workflows", FOLDER / "build.py")
    build = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(build)
    return build


def test_every_built_workflow_is_there_with_a_thumbnail():
    assert {p.stem for p in WORKFLOWS} == set(load_builder().WORKFLOWS)
    assert len(WORKFLOWS) >= 8
    for path in WORKFLOWS:
        thumb = path.with_suffix(".jpg")
        assert thumb.exists(), f"{path.name} has no thumbnail"
        with Image.open(thumb) as image:
            assert image.format == "JPEG" and image.width >= 256


@pytest.mark.parametrize("path", WORKFLOWS, ids=lambda p: p.stem)
def test_workflow_is_valid(path):
    workflow = json.loads(path.read_text())
    nodes = {n["id"]: n for n in workflow["nodes"]}
    assert workflow["last_node_id"] >= max(nodes) and workflow["last_link_id"] >= len(workflow["links"])
    assert any(n["type"] == "EchoStreamingSampler" for n in nodes.values())
    for node in nodes.values():
        spec = spec_of(node["type"])
        where = f"{path.name} node {node['id']} {node['type']}"
        widgets = spec["widgets"]
        values = node.get("widgets_values", [])
        fewest = len(widgets) - spec.get("optional_widgets", 0)
        assert fewest <= len(values) <= len(widgets), f"{where}: {len(values)} widget values, expected {len(widgets)}"
        for (name, kind, rule), value in zip(widgets, values):
            check_widget(f"{where}.{name}", kind, rule, value)
        slots = {i["name"]: i for i in node.get("inputs", [])}
        declared = {name.rstrip("?"): t for name, t in spec["inputs"].items()}
        assert set(slots) <= set(declared), f"{where}: unknown inputs {set(slots) - set(declared)}"
        for name, kind in spec["inputs"].items():
            if not name.endswith("?"):
                assert slots.get(name, {}).get("link") is not None, f"{where}: required input {name} is not linked"
        for slot in slots.values():
            assert slot["type"] == declared[slot["name"]], f"{where}: input {slot['name']} has type {slot['type']}"
        assert [o["type"] for o in node.get("outputs", [])] == spec["outputs"], where
    for link_id, src, src_slot, dst, dst_slot, type_ in workflow["links"]:
        out = nodes[src]["outputs"][src_slot]
        inp = nodes[dst]["inputs"][dst_slot]
        assert out["type"] == inp["type"] == type_, f"{path.name} link {link_id}: {out['type']} -> {inp['type']}"
        assert link_id in out["links"] and inp["link"] == link_id, f"{path.name} link {link_id} is not mirrored"


def test_workflows_use_the_common_model_files():
    text = "".join(p.read_text() for p in WORKFLOWS)
    for name in ("self_forcing_dmd.pt", "wan_2.1_vae.safetensors", "umt5_xxl_fp8_e4m3fn_scaled.safetensors"):
        assert name in text


def test_workflows_are_what_the_builder_writes():
    for name, make in load_builder().WORKFLOWS.items():
        assert json.loads((FOLDER / f"{name}.json").read_text()) == make().json(), f"{name}.json is stale"


# The folder each file widget reads from (ComfyUI folder_paths keys) and what ComfyUI frontend 1.45's
# missing-models dialog offers to download (missingModelDownload.isModelDownloadable).
FILE_FOLDERS = {("EchoCausalModelLoader", "model_name"): "diffusion_models",
                ("EchoCausalModelLoader", "lora_name"): "loras", ("UNETLoader", "unet_name"): "diffusion_models",
                ("VAELoader", "vae_name"): "vae",
                ("CLIPLoader", "clip_name"): "text_encoders"}
DOWNLOAD_HOSTS = ("https://huggingface.co/", "https://civitai.com/")
DOWNLOAD_SUFFIXES = (".safetensors", ".sft", ".ckpt", ".pth", ".pt")


NO_DOWNLOADS = {"echo_toy_world"}


@pytest.mark.parametrize("path", WORKFLOWS, ids=lambda p: p.stem)
def test_every_model_file_names_where_it_comes_from(path):
    """Each file a loader names has {name, url, directory} in the node's properties.models, so ComfyUI's
    missing-models dialog can offer the download and say which models folder it goes in."""
    named = 0
    for node in json.loads(path.read_text())["nodes"]:
        where = f"{path.name} node {node['id']} {node['type']}"
        models = {m["name"]: m for m in node.get("properties", {}).get("models", [])}
        widgets = zip(spec_of(node["type"])["widgets"], node["widgets_values"])
        files = [(name, value) for (name, kind, _), value in widgets if kind == FILE and value != "none"]
        assert set(models) == {value for _, value in files}, f"{where}: properties.models {sorted(models)} vs {files}"
        for widget, value in files:
            entry = models[value]
            assert entry["directory"] == FILE_FOLDERS[(node["type"], widget)], f"{where}: {entry}"
            assert entry["url"].startswith(DOWNLOAD_HOSTS) and "/resolve/" in entry["url"], f"{where}: {entry['url']}"
            assert entry["url"].rsplit("/", 1)[1] == value, f"{where}: {entry['url']} is not {value}"
            assert value.endswith(DOWNLOAD_SUFFIXES), f"{where}: the dialog offers no download for {value}"
            named += 1
    if path.stem in NO_DOWNLOADS:  # runs on the bundled toy model
        assert named == 0, f"{path.name} should need no downloads but names {named} model files"
    else:
        assert named >= 3, f"{path.name} names {named} model files"


# Measured in ComfyUI 0.27 with frontend 1.45 in a 1600 x 900 page: the side bar ends at x = 59, the tab bar
# and the floating Graph / Run bars at y = 86, the minimap (on by default) covers x >= 1343, y >= 643.
PAGE, SIDEBAR, TOP_BARS, MINIMAP = (1600, 900), 59, 86, (1343, 643)
TITLE = 30


@pytest.mark.parametrize("path", WORKFLOWS, ids=lambda p: p.stem)
def test_saved_view_shows_every_node(path):
    """Opened in a 1600 x 900 page, every node (title bar included) lies right of the side bar, below the
    top bars, inside the page and off the minimap; litegraph draws graph point p at (p + offset) * scale.
    (The Vue renderer draws nodes taller than their saved size; the layout leaves room for that.)"""
    workflow = json.loads(path.read_text())
    ds = workflow["extra"]["ds"]
    (ox, oy), scale = ds["offset"], ds["scale"]
    for node in workflow["nodes"]:
        (x, y), (w, h) = node["pos"], node["size"]
        left, top = (x + ox) * scale, (y - TITLE + oy) * scale
        right, bottom = (x + w + ox) * scale, (y + h + oy) * scale
        where = f"{path.name} node {node['id']} {node['type']} at ({left:.0f}, {top:.0f})-({right:.0f}, {bottom:.0f})"
        assert left >= SIDEBAR and top >= TOP_BARS and right <= PAGE[0] and bottom <= PAGE[1], where
        assert right <= MINIMAP[0] or bottom <= MINIMAP[1], f"{where} is under the minimap"
