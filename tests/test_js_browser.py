"""The preview widget (js/) in headless Chromium.

A small HTTP server lays the files out as ComfyUI serves them: the pack's js/ under
/extensions/echo_stream/, so the entry module's "../../scripts/app.js" and "../../scripts/api.js"
reach the stubs in tests/js/harness/scripts/. The harness page (tests/js/harness/) creates fake
nodes, calls the extension's hooks, feeds a scripted websocket session and writes a JSON summary
of what the widgets drew; Chromium's --dump-dom brings it back. A second run takes a screenshot,
kept as tests/artifacts/preview_widget.png (the committed docs/preview_widget.png is a copy).

The pure logic has its own unit tests: `node --test tests/js/` (.ci/run runs them).
"""
from __future__ import annotations

import html
import json
import os
import posixpath
import re
import shutil
import struct
import subprocess
import threading
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import unquote, urlsplit

import pytest

ROOT = Path(__file__).resolve().parents[1]
HARNESS = ROOT / "tests" / "js" / "harness"
ARTIFACTS = ROOT / "tests" / "artifacts"
CHROMIUM = os.environ.get("ECHO_CHROMIUM", "/usr/bin/chromium")
SHOT_SIZE = (508, 448)  # the harness draws the node at (24, 24), 460 x 400

pytestmark = pytest.mark.skipif(
    not Path(CHROMIUM).exists(),
    reason=f"{CHROMIUM} not found: install Debian's chromium (apt-get install -y chromium); .ci/run does",
)

# URL prefix -> folder, as ComfyUI would serve the pack plus the harness's stand-in shims.
ROUTES = {
    "/extensions/echo_stream/": ROOT / "js",
    "/scripts/": HARNESS / "scripts",
    "/harness/": HARNESS,
}


class _Handler(SimpleHTTPRequestHandler):
    extensions_map = {**SimpleHTTPRequestHandler.extensions_map, ".js": "text/javascript", ".mjs": "text/javascript"}

    def translate_path(self, path):
        path = urlsplit(path).path
        for prefix, base in ROUTES.items():
            if path.startswith(prefix):
                rel = posixpath.normpath(unquote(path[len(prefix):]))
                if rel.startswith(("..", "/")):
                    break
                return str(base / rel)
        return str(HARNESS / "__not_served__")

    def end_headers(self):
        self.send_header("Cache-Control", "no-store")
        super().end_headers()

    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def server():
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


def _chromium(url: str, profile: Path, *extra: str) -> subprocess.CompletedProcess:
    cmd = [
        CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync",
        "--disable-dev-shm-usage", "--hide-scrollbars", f"--user-data-dir={profile}",
        "--virtual-time-budget=20000", *extra, url,
    ]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=180)


@pytest.fixture(scope="module")
def summary(server, tmp_path_factory):
    proc = _chromium(f"{server}/harness/index.html", tmp_path_factory.mktemp("chromium-dom"), "--dump-dom")
    m = re.search(r'<pre id="summary">(.*?)</pre>', proc.stdout, re.S)
    assert m and m.group(1).strip(), f"no summary in the page\nstdout tail: {proc.stdout[-2000:]}\nstderr tail: {proc.stderr[-2000:]}"
    data = json.loads(html.unescape(m.group(1)))
    assert "fatal" not in data, data
    return data


def _palette() -> dict[str, str]:
    text = (ROOT / "js" / "lib" / "palette.js").read_text()
    block = text[text.index("TRANSITION_COLORS") : text.index("});")]
    return dict(re.findall(r'(\w+): "(#[0-9a-fA-F]{6})"', block))


def _hex(css_color: str) -> str:
    r, g, b = (int(x) for x in re.findall(r"\d+", css_color)[:3])
    return f"#{r:02x}{g:02x}{b:02x}"


def _pct(s: str) -> float:
    return float(s.rstrip("%"))


def test_extension_registers_a_dom_widget_on_the_sampler_only(summary):
    assert summary["extensions"] == ["echo_stream.preview"]
    w = summary["widget"]
    assert (w["name"], w["type"], w["serialize"]) == ("echo_preview", "echo_preview", False)
    assert w["minHeight"] >= 200
    assert w["nodeWidth"] >= 400, "the node is widened for the timeline"
    assert w["widgetsOnOtherClass"] == 0
    assert summary["checks"]["removedNodeChained"] == 1, "the node's own onRemoved still runs"
    assert summary["errors"] == []


def test_a_new_session_resets_the_widget(summary):
    old, fresh = summary["oldSession"], summary["afterReset"]
    assert old["session"] == "old" and old["framesStored"] == 9 and old["counter"] == "block 3 / 3"
    assert [s["label"] for s in old["segments"]] == ["forest"]
    assert fresh["session"] == "default" and fresh["runs"] == ["r1"]
    assert fresh["framesStored"] == 0 and fresh["counter"] == "block 0 / 24"
    assert [s["label"] for s in fresh["segments"]] == ["beach", "forest"]


def test_a_burst_of_events_is_drawn_a_few_times_not_per_event(summary):
    assert summary["burst"]["events"] == 24
    assert 1 <= summary["burst"]["draws"] <= 3, summary["burst"]


def test_malformed_events_are_ignored(summary):
    after = summary["afterBadEvents"]
    assert after["counter"] == "block 24 / 24" and after["framesStored"] == 72
    assert len([w for w in summary["warnings"] if "ignored" in w]) == 5, summary["warnings"]
    assert summary["errors"] == []


def test_run_end_and_the_final_file(summary):
    end = summary["run1End"]
    assert end["phase"] == "done" and end["rate"] == "" and end["eta"] == ""
    final = summary["finalView"]
    assert final["view"] == "final" and final["badge"] == "FINAL" and final["finalEnabled"]
    assert final["finalSrc"] == "/api/view?filename=echo_default_00001.webp&subfolder=echo&type=temp"
    assert final["frameSrc"] is None, "the live frame is hidden under the final file"
    assert summary["checks"]["originalOnExecutedCalled"] == 1, "the node's own onExecuted still runs"


def test_the_final_view_plays_the_session_video_and_the_bar_scrubs_it(summary):
    video = summary["sessionVideo"]
    assert video["view"] == "final" and video["finalEnabled"] and video["finalSrc"] is None
    assert video["finalVideoSrc"] == "/api/echo_stream/sessions/other/video?run=b1-6"
    # Half of the 21-frame bar is timeline frame 10: the middle of video frame 10 at 16 fps.
    assert abs(video["currentTime"] - 10.5 / 16) < 1e-6, video
    assert video["headLeft"] == f"{100 * 10 / 21:.3f}%"


def test_two_runs_of_a_continued_session_form_one_timeline(summary):
    live = summary["live"]
    palette = _palette()
    segs = live["segments"]
    assert [s["label"] for s in segs] == ["beach", "forest", "city", "beach", "scene 4"]
    assert [s["transition"] for s in segs] == ["start", "smooth", "cut", "recall", "auto"]
    colors = [_hex(s["color"]) for s in segs]
    assert colors == [palette[t].lower() for t in ("start", "smooth", "cut", "recall", "auto")]
    assert len(set(colors)) == 5
    spans = [(0, 12), (12, 12), (24, 10), (34, 10), (44, 8)]
    for seg, (start, blocks) in zip(segs, spans):
        assert _pct(seg["left"]) == pytest.approx(100 * start / 52, abs=1e-3)
        assert _pct(seg["width"]) == pytest.approx(100 * blocks / 52, abs=1e-3)
    assert live["runs"] == ["r1", "r2"]
    assert live["counter"] == "block 39 / 52"
    assert live["rate"] == "1.6 blocks/s" and live["eta"] == "ETA 0:08"
    assert live["phase"] == "generating \u00b7 2 runs"
    assert _pct(live["pendingLeft"]) == pytest.approx(100 * 39 / 52, abs=1e-3), "generated-so-far extent"
    assert live["framesStored"] == (24 + 15 - 2) * 3, "two blocks came without images"
    assert live["mode"] == "live" and live["badge"] == "\u25cf LIVE"
    assert live["shownFrame"] == 38 * 3 + 2 and live["newestSentIsShown"]
    assert live["frameSrc"].startswith("data:image/jpeg;base64,")
    assert live["chip"] == "beach \u00b7 recall"


def test_scrubbing_shows_the_frame_under_the_playhead(summary):
    scrub = summary["scrub"]
    assert scrub["mode"] == "pause" and scrub["badge"] == "PAUSED"
    # 52 blocks = 156 latent frames = 4 * 156 - 3 = 621 video frames; latent frame f > 0 is video [4f - 3, 4f]
    assert scrub["shownFrame"] == 17, "video frame 65 of 621 = latent frame 17 (block 5)"
    assert scrub["expectedSrc"]
    assert scrub["chip"] == "beach \u00b7 start"
    assert _pct(scrub["headLeft"]) == pytest.approx(100 * 65 / 621, abs=1e-3)
    thin = summary["scrubThinned"]
    assert thin["shownFrame"] == 89, "latent frame 91 has no image; 89 is the nearest kept"
    assert thin["chip"] == "city \u00b7 cut"
    assert summary["canvasPointerDowns"] == 0, "pointer events stay inside the widget"


def test_play_advances_at_16_fps_and_pause_holds(summary):
    play = summary["play"]
    assert play["mode"] == "play" and play["badge"] == "PLAYING"
    # About 0.5 s at 16 fps = 8 video frames = 2 preview images.
    advanced = play["shownFrame"] - play["startFrame"]
    assert 1 <= advanced <= 4, play
    assert summary["paused"]["mode"] == "pause"
    back = summary["final"]
    assert back["mode"] == "live" and back["newestSentIsShown"]


def test_events_reach_only_their_node(summary):
    other = summary["other"]
    assert other["session"] == "other" and other["framesStored"] == 3
    assert [s["label"] for s in other["segments"]] == ["desert"]
    assert summary["live"]["session"] == "default"


def test_the_widget_fits_the_slot_the_classic_renderer_gives_it(summary):
    """Core's progress preview image is drawn right after the widget's slot: nothing of the player may
    reach below the slot (its status line used to be covered by that image)."""
    fit = summary["classicSlot"]
    assert fit["element"] <= fit["slot"] + 0.5 and fit["contentBottom"] <= fit["slot"] + 0.5, fit


def test_a_subgraph_sampler_gets_its_events(summary):
    """Execution id "40:5" is node 5 inside the subgraph of root node 40, not root node 5."""
    inner, root_five = summary["subgraph"]["inner"], summary["subgraph"]["rootFive"]
    assert inner["session"] == "s-sub" and [s["label"] for s in inner["segments"]] == ["inside"]
    assert root_five["session"] != "s-sub" and root_five["segments"] == []


def test_a_graph_rebuilt_in_place_keeps_its_widget_live(summary):
    """ComfyUI's API-format load clears the graph and adds nodes with the same ids; the Vue renderer keeps
    showing the removed node's element. The new node's widget takes its place and shows the new run."""
    rebuilt = summary["rebuilt"]
    assert rebuilt["newElementShown"] and rebuilt["staleElementGone"]
    assert rebuilt["shown"]["session"] == "s-api" and [s["label"] for s in rebuilt["shown"]["segments"]] == ["reloaded"]


def test_layout_fits_a_460px_node(summary):
    layout = summary["layout"]
    assert 400 <= layout["width"] <= 460
    assert not layout["overflowX"]
    assert layout["screenHeight"] >= 200


def test_screenshot(server, tmp_path):
    shot = tmp_path / "preview_widget.png"
    proc = _chromium(
        f"{server}/harness/index.html", tmp_path / "profile",
        f"--screenshot={shot}", f"--window-size={SHOT_SIZE[0]},{SHOT_SIZE[1]}",
    )
    assert shot.exists(), proc.stderr[-2000:]
    data = shot.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", data[16:24])
    assert (width, height) == SHOT_SIZE
    ARTIFACTS.mkdir(exist_ok=True)
    shutil.copyfile(shot, ARTIFACTS / "preview_widget.png")
