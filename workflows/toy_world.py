"""The Toy World example workflow: nothing to download, about a minute on a CPU.

Used by build.py (`build(Graph(), note)`), which writes echo_toy_world.json and its thumbnail.
Five scenes of the bundled toy model: ocean, a smooth switch to forest, a hard cut to lava, a recall
of the ocean by its label, and lava again recalled by prompt similarity alone (empty target).
"""
SCENES = [  # (node type, toy category, widgets after seconds)
    ("EchoSceneStart", "ocean", ["ocean", "smooth"]),
    ("EchoPromptSwitch", "forest", ["forest"]),
    ("EchoHardCut", "lava", ["lava"]),
    ("EchoSceneRecall", "ocean", ["ocean again", "ocean"]),
    ("EchoSceneRecall", "lava", ["lava again", ""]),
]
SECONDS = 5.0
STEPS = "1000, 750, 500, 250"


def build(g, note):
    model = g.node("EchoToyModelLoader", (0, 0), outputs=[("model", "ECHO_MODEL")], size=(300, 60))
    sampler = g.node("EchoStreamingSampler", (1100, 0),
                     inputs=[("model", "ECHO_MODEL"), ("script", "SCENE_SCRIPT"), ("memory", "ECHO_MEMORY_CONFIG"),
                             ("scene_memory", "SCENE_MEMORY"), ("vae", "VAE")],
                     outputs=[("latent", "LATENT"), ("scene_memory", "SCENE_MEMORY"), ("video_path", "STRING"),
                              ("video", "VIDEO")],
                     widgets=[64, 64, 0, "fixed", STEPS, "toy", "new"], size=(460, 520))
    g.link(model, 0, sampler, "model")
    script = None
    for i, (kind, category, extra) in enumerate(SCENES):
        y = i * 170
        prompt = g.node("EchoToyPrompt", (340, y), outputs=[("conditioning", "CONDITIONING")], widgets=[category],
                        size=(300, 60))
        inputs = [("conditioning", "CONDITIONING")] if script is None else [("script", "SCENE_SCRIPT"),
                                                                            ("conditioning", "CONDITIONING")]
        node = g.node(kind, (680, y), inputs=inputs, outputs=[("script", "SCENE_SCRIPT")], widgets=[SECONDS, *extra],
                      size=(300, 150))
        if script is not None:
            g.link(script, 0, node, "script")
        g.link(prompt, 0, node, "conditioning")
        script = node
    g.link(script, 0, sampler, "script")
    render = g.node("EchoToyRender", (1600, 0), inputs=[("samples", "LATENT")], outputs=[("images", "IMAGE")],
                    widgets=[8], size=(300, 80))
    g.link(sampler, 0, render, "samples")
    save = g.node("SaveAnimatedWEBP", (1600, 130), inputs=[("images", "IMAGE")],
                  widgets=["echo_stream/toy_world", 4.0, False, 90, "default"], size=(320, 300))
    g.link(render, 0, save, "images")
    note(g, (0, 120), "**Toy World: the scene memory without downloads.** The bundled toy model paints 8 scene "
         "categories (Toy Prompt) at 64x64. Watch the sampler's preview: ocean, a smooth switch to forest, a hard "
         "cut to lava (a new look), the ocean recalled by its label (its look comes back), and lava recalled by "
         "prompt similarity alone. Render Toy Latent turns the LATENT into pictures without a VAE; the video is "
         "saved as output/echo_stream/toy_world_*.webp (1 frame per latent frame).", size=(300, 300))
    return g
