"""docs/live_steering.png: the steering panel during a live run in a real ComfyUI frontend.

    COMFYUI_PATH=/path/to/ComfyUI COMFYUI_PYTHON=/path/to/its/python python docs/make_live_steering_screenshot.py OUT.png

Starts ComfyUI as tests/test_comfyui_integration.py does (tiny checkpoint, test CLIP node), opens its
frontend in headless Chromium (playwright's client, `/usr/bin/chromium`), queues a live workflow from
the page, steers it from the panel (Ctrl+Enter, Alt+Enter) and over the route, and takes the shot.
"""
import json, os, pathlib, sys, time, tempfile
sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1] / "tests"))
import conftest  # noqa: loads the pack from the worktree
import test_comfyui_integration as it
from playwright.sync_api import sync_playwright

it.COMFYUI_PATH = os.environ["COMFYUI_PATH"]
it.COMFYUI_PYTHON = os.environ.get("COMFYUI_PYTHON", sys.executable)
base = pathlib.Path(tempfile.mkdtemp(prefix="shot_base_"))
(base / "custom_nodes").mkdir()
(base / "custom_nodes" / "echo_stream").symlink_to(it.PACK_ROOT, target_is_directory=True)
(base / "custom_nodes" / "echo_test_nodes.py").write_text(it.FIXTURE_NODE)
(base / "models" / "diffusion_models").mkdir(parents=True)
it.tiny_checkpoint(base / "models" / "diffusion_models" / it.CHECKPOINT)
for f in ("input", "output", "temp", "user"):
    (base / f).mkdir()
server = it.ComfyServer(base)
server.start()
out = sys.argv[1]
try:
    wf = it.live_workflow("a red fox runs through fresh snow {fox} [3s]", "demo", True, "shot/live")
    wf["6"]["inputs"].update(width=256, height=160, live_max_seconds=600.0)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=["--no-sandbox"])
        page = browser.new_page(viewport={"width": 1400, "height": 1300})
        page.on("console", lambda m: print("console:", m.text) if "echo_stream" in m.text else None)
        page.goto(server.url)
        page.wait_for_function("() => window.app && window.app.graph && window.app.canvas", timeout=120000)
        time.sleep(3)
        for _ in range(3):
            page.keyboard.press("Escape")
            time.sleep(0.3)
        page.evaluate("() => document.querySelectorAll('.p-dialog-mask').forEach(e => e.remove())")
        page.evaluate("async (wf) => { await window.app.loadApiJson(wf, 'live.json'); }", wf)
        time.sleep(2)
        page.evaluate("""() => { const n = window.app.graph._nodes.find(n => n.type === 'EchoStreamingSampler');
            n.size = [520, Math.max(n.size[1], 1080)]; window.app.canvas.selectNode(n);
            let y = n.pos[1];
            for (const o of window.app.graph._nodes) if (o !== n) { o.pos = [n.pos[0] + 620, y]; y += o.size[1] + 60; }
            const ds = window.app.canvas.ds; ds.scale = 1.0; ds.offset = [-n.pos[0] + 110, -n.pos[1] + 120];
            window.app.graph.setDirtyCanvas(true, true); }""")
        page.evaluate("() => window.app.queuePrompt(0)")
        # wait for the live run, then steer it from the panel's own controls
        deadline = time.time() + 120
        while time.time() < deadline:
            s, d = it.http(server, "GET", "/echo_stream/live/demo")
            if s == 200 and d.get("running") and d["blocks"] >= 4:
                break
            time.sleep(0.2)
        box = page.locator(".es-steer textarea").first
        box.fill("a neon city street at night, rain")
        page.locator(".es-steer input.label").first.fill("city")
        box.press("Control+Enter")  # cut
        it.wait_live(server, "demo", lambda d: len(d["applied"]) == 1 and d["blocks"] >= d["applied"][0]["block"] + 3)
        box.fill("the fox again, in the snow")
        page.locator(".es-steer select.target").first.select_option("fox")
        box.press("Alt+Enter")  # recall
        it.wait_live(server, "demo", lambda d: len(d["applied"]) == 2 and d["blocks"] >= d["applied"][1]["block"] + 2)
        it.http(server, "POST", "/echo_stream/live/demo/prompt", {"text": "the fox at dusk", "transition": "smooth"})
        it.wait_live(server, "demo", lambda d: len(d["applied"]) == 3 and d["blocks"] >= d["applied"][2]["block"] + 2)
        for text, t in [("a snowy forest at night", "auto"), ("the fox sleeps in its den", "cut"),
                        ("morning over the den", "smooth"), ("the fox steps out", "smooth"),
                        ("a frozen lake at noon", "cut"), ("the fox on the ice", "smooth")]:
            it.http(server, "POST", "/echo_stream/live/demo/prompt", {"text": text, "transition": t})
        box.fill("the fox wakes at dawn")
        page.wait_for_function("() => document.querySelector('.es-steer ul li') && document.querySelector('.es-steer ul li').textContent.includes(':')", timeout=5000)
        n = page.evaluate("""() => { const n = window.app.graph._nodes.find(n => n.type === 'EchoStreamingSampler');
            const ds = window.app.canvas.ds; const r = window.app.canvas.canvas.getBoundingClientRect();
            return {x: r.left + (n.pos[0] + ds.offset[0]) * ds.scale, y: r.top + (n.pos[1] + ds.offset[1]) * ds.scale - 30,
                    w: n.size[0] * ds.scale, h: n.size[1] * ds.scale + 30}; }""")
        clip = {"x": max(0, n["x"] - 10), "y": max(0, n["y"] - 10), "width": n["w"] + 20, "height": min(n["h"] + 20, 1290)}
        page.evaluate("() => document.querySelectorAll('.p-dialog-mask').forEach(e => e.remove())")
        page.screenshot(path=out + ".full.png")
        page.screenshot(path=out, clip=clip)
        state = it.http(server, "GET", "/echo_stream/live/demo")[1]
        print(json.dumps({k: state[k] for k in ("blocks", "pending", "applied", "snapshots")}, indent=1)[:3000])
        it.http(server, "POST", "/echo_stream/live/demo/stop")
        time.sleep(2)
        browser.close()
finally:
    server.stop()
