"""Writes the example workflows (ComfyUI UI format) and their .jpg thumbnails.

Run `python workflows/build.py` after changing a node's inputs; tests/test_workflows.py checks every
file against the nodes' INPUT_TYPES. The thumbnails are drawings of each graph.
"""
from __future__ import annotations

import json
import pathlib
import runpy

HERE = pathlib.Path(__file__).resolve().parent
MODEL, VAE, TEXT = "self_forcing_dmd.pt", "wan_2.1_vae.safetensors", "umt5_xxl_fp8_e4m3fn_scaled.safetensors"
CORE_CAUSAL = "causal_forcing-framewise.safetensors"
WAN_REPACKAGED = "https://huggingface.co/Comfy-Org/Wan_2.1_ComfyUI_repackaged/resolve/main/split_files"
# Where each model file comes from and which ComfyUI models folder it goes in. The front end's
# missing-models dialog reads a loader's properties.models ({name, url, directory}) for the file named
# in its widget, and offers a download for huggingface.co addresses of .safetensors/.sft/.ckpt/.pth/.pt
# files (comfyui-frontend-package 1.45, missingModelDownload.isModelDownloadable).
MODEL_FILES = {
    MODEL: ("diffusion_models",
            "https://huggingface.co/gdhe17/Self-Forcing/resolve/main/checkpoints/self_forcing_dmd.pt"),
    VAE: ("vae", f"{WAN_REPACKAGED}/vae/wan_2.1_vae.safetensors"),
    TEXT: ("text_encoders", f"{WAN_REPACKAGED}/text_encoders/umt5_xxl_fp8_e4m3fn_scaled.safetensors"),
    CORE_CAUSAL: ("diffusion_models", "https://huggingface.co/TalmajM/causal_forcing_framewise_ComfyUI_repackaged"
                                      "/resolve/main/split_files/diffusion_models/causal_forcing-framewise.safetensors"),
}
# The saved view (extra.ds) fits the graph into a 1600 x 900 page below the front end's top bars and
# right of its side bar (ComfyUI 1.45 frontend), so every node is on screen when a workflow opens.
PAGE, SIDEBAR, TOP_BARS, MARGIN, TITLE_HEIGHT = (1600, 900), 56, 96, 24, 30
STEPS = "1000, 750, 500, 250"
TITLE_COLOUR = {"Echo": "#335", "Note": "#432"}


class Graph:
    def __init__(self):
        self.nodes, self.links = [], []

    def node(self, type_, pos, inputs=(), outputs=(), widgets=(), size=(320, 120), title=None):
        """inputs: (name, TYPE) link slots; outputs: (name, TYPE). Model files among the widgets are named
        with their download address and folder (MODEL_FILES)."""
        n = {"id": len(self.nodes) + 1, "type": type_, "pos": list(pos), "size": list(size), "flags": {},
             "order": len(self.nodes), "mode": 0,
             "inputs": [{"name": name, "type": t, "link": None} for name, t in inputs],
             "outputs": [{"name": name, "type": t, "links": [], "slot_index": i} for i, (name, t) in enumerate(outputs)],
             "properties": {"Node name for S&R": type_}, "widgets_values": list(widgets)}
        models = [{"name": w, "url": MODEL_FILES[w][1], "directory": MODEL_FILES[w][0]}
                  for w in widgets if isinstance(w, str) and w in MODEL_FILES]
        if models:
            n["properties"]["models"] = models
        if title:
            n["title"] = title
        self.nodes.append(n)
        return n

    def link(self, src, out_slot, dst, input_name):
        slot = next(i for i, inp in enumerate(dst["inputs"]) if inp["name"] == input_name)
        type_ = src["outputs"][out_slot]["type"]
        link_id = len(self.links) + 1
        self.links.append([link_id, src["id"], out_slot, dst["id"], slot, type_])
        src["outputs"][out_slot]["links"].append(link_id)
        dst["inputs"][slot]["link"] = link_id

    def json(self) -> dict:
        return {"last_node_id": len(self.nodes), "last_link_id": len(self.links), "nodes": self.nodes,
                "links": self.links, "groups": [], "config": {},
                "extra": {"ds": self.view()}, "version": 0.4}

    def view(self) -> dict:
        """The canvas offset and scale that show every node, title bars included, inside the free page."""
        x0 = min(n["pos"][0] for n in self.nodes)
        y0 = min(n["pos"][1] for n in self.nodes) - TITLE_HEIGHT
        x1 = max(n["pos"][0] + n["size"][0] for n in self.nodes)
        y1 = max(n["pos"][1] + n["size"][1] for n in self.nodes)
        free_w = PAGE[0] - SIDEBAR - 2 * MARGIN
        free_h = PAGE[1] - TOP_BARS - 2 * MARGIN
        scale = round(min(1.0, free_w / (x1 - x0), free_h / (y1 - y0)), 3)
        # litegraph draws graph point p at (p + offset) * scale
        return {"scale": scale, "offset": [round((SIDEBAR + MARGIN) / scale - x0, 1),
                                           round((TOP_BARS + MARGIN) / scale - y0, 1)]}


def echo_loader(g: Graph):
    """Our loader reading a Self-Forcing .pt; returns (model node, the y below it)."""
    return g.node("EchoCausalModelLoader", (0, 0), outputs=[("model", "ECHO_MODEL")],
                  widgets=[MODEL, "auto", "none", 1.0, 3], size=(320, 200)), 300


def core_loader(g: Graph):
    """Core's Load Diffusion Model (it builds its causal Wan from a file with causal_ar metadata) wrapped by
    Causal Model From MODEL; Causal Forcing frame-wise generates one latent frame per block."""
    unet = g.node("UNETLoader", (0, 0), outputs=[("MODEL", "MODEL")], widgets=[CORE_CAUSAL, "default"],
                  size=(320, 130))
    wrap = g.node("EchoCausalModelFromMODEL", (0, 180), inputs=[("model", "MODEL")],
                  outputs=[("model", "ECHO_MODEL")], widgets=[1], size=(320, 100))
    g.link(unet, 0, wrap, "model")
    return wrap, 330


def common(g: Graph, session="default", mode="new", loader=echo_loader):
    """Loader, text encoder, sampler and the decode/save tail; returns (clip, sampler)."""
    model, below = loader(g)
    clip = g.node("CLIPLoader", (0, below), outputs=[("CLIP", "CLIP")], widgets=[TEXT, "wan", "default"])
    sampler = g.node("EchoStreamingSampler", (1180, 0),
                     inputs=[("model", "ECHO_MODEL"), ("script", "SCENE_SCRIPT"), ("memory", "ECHO_MEMORY_CONFIG"),
                             ("scene_memory", "SCENE_MEMORY"), ("vae", "VAE")],
                     outputs=[("latent", "LATENT"), ("scene_memory", "SCENE_MEMORY"), ("video_path", "STRING"),
                              ("video", "VIDEO")],
                     widgets=[832, 480, 42, "fixed", STEPS, session, mode], size=(460, 680))
    g.link(model, 0, sampler, "model")
    vae = g.node("VAELoader", (1180, 700), outputs=[("VAE", "VAE")], widgets=[VAE])
    decode = g.node("VAEDecodeTiled", (1680, 0), inputs=[("samples", "LATENT"), ("vae", "VAE")],
                    outputs=[("IMAGE", "IMAGE")], widgets=[512, 64, 64, 8], size=(320, 180))
    g.link(sampler, 0, decode, "samples")
    g.link(vae, 0, decode, "vae")
    video = g.node("CreateVideo", (1680, 250), inputs=[("images", "IMAGE"), ("audio", "AUDIO")],
                   outputs=[("VIDEO", "VIDEO")], widgets=[16.0], size=(320, 130))
    g.link(decode, 0, video, "images")
    save = g.node("SaveVideo", (1680, 430), inputs=[("video", "VIDEO")], widgets=["echo_stream/video", "auto", "auto"],
                  size=(320, 120))
    g.link(video, 0, save, "video")
    return clip, sampler


def scene_chain(g: Graph, clip, sampler, scenes, x=380):
    """scenes: (node type, prompt, seconds, extra widgets) -> encoders + script nodes linked in a chain."""
    script, y = None, 0
    for kind, prompt, seconds, extra in scenes:
        enc = g.node("CLIPTextEncode", (x, y), inputs=[("clip", "CLIP")], outputs=[("CONDITIONING", "CONDITIONING")],
                     widgets=[prompt], size=(380, 150))
        g.link(clip, 0, enc, "clip")
        if kind == "EchoSceneStart":
            node = g.node(kind, (x + 420, y), inputs=[("conditioning", "CONDITIONING")],
                          outputs=[("script", "SCENE_SCRIPT")], widgets=[seconds, *extra], size=(300, 150))
        else:
            node = g.node(kind, (x + 420, y), inputs=[("script", "SCENE_SCRIPT"), ("conditioning", "CONDITIONING")],
                          outputs=[("script", "SCENE_SCRIPT")], widgets=[seconds, *extra],
                          size=(300, 210 if kind == "EchoSceneRecall" else 150))
            g.link(script, 0, node, "script")
        g.link(enc, 0, node, "conditioning")
        script = node
        # row heights as the Vue renderer draws these nodes: a start and a recall have one more widget
        y += {"EchoSceneRecall": 250, "EchoSceneStart": 215}.get(kind, 200)
    g.link(script, 0, sampler, "script")


def note(g: Graph, pos, text, size=(420, 180)):
    g.node("MarkdownNote", pos, widgets=[text], size=size)


SHOTS = ["a lighthouse on a cliff at dawn, waves crashing, cinematic",
         "the lighthouse keeper climbs the spiral staircase, warm lamp light",
         "the great lamp turns on, beams sweeping over a stormy sea",
         "a small fishing boat fights the waves in the storm",
         "the boat reaches the calm harbour under the lighthouse beam",
         "sunrise over the harbour, the storm has passed, gulls circle"]


def single_prompt():
    g = Graph()
    clip, sampler = common(g)
    scene_chain(g, clip, sampler, [("EchoSceneStart", "a red fox trots through a snowy birch forest, soft "
                                    "winter light, tracking shot", 60.0, ["", "smooth"])])
    note(g, (380, 220), "**60 seconds, one prompt.** 80 blocks of 3 latent frames (957 frames at 16 fps) with the "
         "Echo-Forcing scene memory under a fixed budget. VAE Decode (Tiled) keeps the decode within memory.")
    return g


def six_shots(kind):
    g = Graph()
    clip, sampler = common(g)
    scenes = [("EchoSceneStart", SHOTS[0], 10.0, ["shot 1", "smooth"])]
    scenes += [(kind, prompt, 10.0, [f"shot {i + 2}"]) for i, prompt in enumerate(SHOTS[1:])]
    scene_chain(g, clip, sampler, scenes)
    return g


def recall():
    g = Graph()
    clip, sampler = common(g)
    a = "a quiet library with tall wooden shelves, dust in the sunbeams"
    b = "a busy night market with lanterns and food stalls"
    c = "a snowy mountain pass, wind blowing snow across the road"
    scenes = [("EchoSceneStart", a, 10.0, ["library", "smooth"]), ("EchoHardCut", b, 10.0, ["market"]),
              ("EchoHardCut", c, 10.0, ["mountain"]),
              ("EchoSceneRecall", a + ", a cat sleeps on a reading chair", 10.0, ["library again", "library"]),
              ("EchoSceneRecall", b + ", it starts to rain", 10.0, ["market again", "market"]),
              ("EchoSceneRecall", c + ", the sun breaks through", 10.0, ["mountain again", "mountain"])]
    scene_chain(g, clip, sampler, scenes)
    return g


def interactive():
    g = Graph()
    clip, sampler = common(g, session="live", mode="continue")
    scene_chain(g, clip, sampler, [("EchoSceneStart", "a hot air balloon drifts over green hills, golden hour",
                                    5.0, ["", "smooth"])])
    save = g.node("EchoSaveSceneMemory", (1180, 880), inputs=[("scene_memory", "SCENE_MEMORY")],
                  outputs=[("scene_memory", "SCENE_MEMORY")], widgets=["live"], size=(320, 90))
    g.link(sampler, 1, save, "scene_memory")
    note(g, (380, 220), "**Interactive session.** Press Queue: 5 more seconds of the same video, with its memory. "
         "Edit the prompt between runs for a smooth switch (set Scene Start's on_continue to cut for a hard "
         "cut). Set the sampler's mode to new to start over. Save Scene Memory keeps the session in "
         "output/echo_stream/live.safetensors; Load Scene Memory continues it after a restart.", size=(420, 220))
    return g


def core_model():
    g = Graph()
    clip, sampler = common(g, loader=core_loader)
    scene_chain(g, clip, sampler, [("EchoSceneStart", "a red fox trots through a snowy birch forest, soft "
                                    "winter light, tracking shot", 20.0, ["", "smooth"])])
    note(g, (380, 220), "**Core's causal Wan.** Load Diffusion Model builds ComfyUI's own causal Wan "
         "(WAN21_CausalAR) from a safetensors file whose metadata marks it causal, such as the Causal Forcing "
         "frame-wise file of ComfyUI's template. Causal Model From MODEL streams it with the scene memory; "
         "frames_per_block is 1 for this frame-wise model (3 for chunk-wise ones).", size=(420, 200))
    return g


def timeline_text():
    g = Graph()
    clip, sampler = common(g)
    text = g.node("EchoSceneScriptFromText", (380, 0), inputs=[("clip", "CLIP")], outputs=[("script", "SCENE_SCRIPT")],
                  widgets=["a quiet library with tall wooden shelves [10s#] | "
                           "a busy night market with lanterns [10s#] | "
                           "a snowy mountain pass at dusk [10s@] | "
                           "the quiet library, a cat sleeps on a chair [10s@] | "
                           "the night market in the rain [10s@] | "
                           "the mountain pass, the sun breaks through [10s]", 10.0], size=(560, 300))
    g.link(clip, 0, text, "clip")
    g.link(text, 0, sampler, "script")
    note(g, (380, 340), "**The recall timeline as text.** Scenes are separated by |. The marker after a "
         "duration sets the transition out of that scene: [10s#] hard cut, [10s@] recall of the most similar "
         "earlier scene, none = smooth.")
    return g


WORKFLOWS = {
    "echo_60s_single_prompt": single_prompt,
    "echo_six_shots_smooth": lambda: six_shots("EchoPromptSwitch"),
    "echo_six_shots_hard_cuts": lambda: six_shots("EchoHardCut"),
    "echo_scene_recall": recall,
    "echo_interactive_session": interactive,
    "echo_timeline_text": timeline_text,
    "echo_core_causal_model": core_model,
    "echo_toy_world": lambda: runpy.run_path(str(HERE / "toy_world.py"))["build"](Graph(), note),  # no downloads
}


def thumbnail(workflow: dict, path: pathlib.Path, size=(480, 270)) -> None:
    """A drawing of the graph: nodes as boxes coloured by kind, links as lines."""
    from PIL import Image, ImageDraw

    nodes = {n["id"]: n for n in workflow["nodes"]}
    x0 = min(n["pos"][0] for n in nodes.values()) - 40
    y0 = min(n["pos"][1] for n in nodes.values()) - 40
    x1 = max(n["pos"][0] + n["size"][0] for n in nodes.values()) + 40
    y1 = max(n["pos"][1] + n["size"][1] for n in nodes.values()) + 40
    scale = min(size[0] / (x1 - x0), size[1] / (y1 - y0))
    place = lambda x, y: ((x - x0) * scale, (y - y0) * scale)  # noqa: E731
    image = Image.new("RGB", size, "#202020")
    draw = ImageDraw.Draw(image)
    for _, src, _, dst, _, _ in workflow["links"]:
        a, b = nodes[src], nodes[dst]
        draw.line([place(a["pos"][0] + a["size"][0], a["pos"][1] + 30), place(b["pos"][0], b["pos"][1] + 30)],
                  fill="#7a9cc6", width=2)
    for n in nodes.values():
        fill = "#35506e" if n["type"].startswith("Echo") else "#4a3c2c" if "Note" in n["type"] else "#3a3a3a"
        left, top = place(*n["pos"])
        right, bottom = place(n["pos"][0] + n["size"][0], n["pos"][1] + n["size"][1])
        draw.rounded_rectangle([left, top, right, bottom], radius=4, fill=fill, outline="#9a9a9a")
        label = n["type"].removeprefix("Echo")
        draw.text((left + 4, top + 3), label[: max(3, int((right - left) / 6))], fill="#f0f0f0")
    image.save(path, format="JPEG", quality=85)


def main() -> None:
    for name, build in WORKFLOWS.items():
        workflow = build().json()
        (HERE / f"{name}.json").write_text(json.dumps(workflow, indent=1) + "\n")
        thumbnail(workflow, HERE / f"{name}.jpg")
        print(f"wrote workflows/{name}.json and .jpg")


if __name__ == "__main__":
    main()
