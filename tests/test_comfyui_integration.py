"""The pack inside a real ComfyUI server: it loads, lists its nodes, and runs a workflow over HTTP.

Optional: runs only when COMFYUI_PATH points at a ComfyUI checkout (CI has none, so it is skipped).

    COMFYUI_PATH=/path/to/ComfyUI            the checkout whose main.py is started
    COMFYUI_PYTHON=/path/to/venv/bin/python  the interpreter with ComfyUI's requirements (default: this one)
    COMFYUI_PYTHONPATH=/extra:/dirs          optional extra entries for the server's PYTHONPATH (e.g. a
                                             torchvision stub where a CPU-only torch has no torchvision wheel)

The server starts with --cpu on a free port and a temporary --base-directory holding custom_nodes/
(a symlink `echo_stream` to this working tree, plus a test-only node making a synthetic CONDITIONING,
since a real umt5 text encoder cannot be made tiny) and models/diffusion_models/ with a tiny Wan
checkpoint written by our own engine. Workflows go through POST /prompt and GET /history/<id>; the
sampler's live-preview events are read from the websocket with a small stdlib client.
"""
from __future__ import annotations

import base64
import hashlib
import json
import os
import pathlib
import re
import socket
import struct
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
import uuid

import pytest
import torch
from safetensors import safe_open
from safetensors.torch import load_file, save_file

from echo_stream.engine import WanConfig
from echo_stream.nodes import NODE_CLASS_MAPPINGS, NODE_DISPLAY_NAME_MAPPINGS
from tiny import tiny_dit

COMFYUI_PATH = os.environ.get("COMFYUI_PATH", "")
COMFYUI_PYTHON = os.environ.get("COMFYUI_PYTHON") or sys.executable
PACK_ROOT = pathlib.Path(__file__).resolve().parent.parent
PACK_NAME = "echo_stream"
TEXT_DIM = 4096  # what ComfyUI core assumes for Wan2.1 (it reads no text_dim from the file)
CHECKPOINT = "tiny_causal.safetensors"
ANSI_CODE = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")  # ComfyUI >= 0.2x colours its log levels: "\x1b[32m[INFO]\x1b[0m"
LOG_LEVEL = r"(?:\[[A-Z]+\] ?)?"  # and prefixes each line with its level ("[INFO] ") since then
START_TIMEOUT = 180.0  # ComfyUI imports all of its own nodes first (~10-30 s on a CPU machine)
PROMPT_TIMEOUT = 120.0

pytestmark = pytest.mark.skipif(
    not COMFYUI_PATH,
    reason="ComfyUI integration test: set COMFYUI_PATH to a ComfyUI checkout (and COMFYUI_PYTHON to a Python "
           "with its requirements) to run it",
)

FIXTURE_NODE = f'''"""Test-only node written by tests/test_comfyui_integration.py: a synthetic CONDITIONING."""
import hashlib

import torch

TEXT_DIM = {TEXT_DIM}


class EchoTestConditioning:
    CATEGORY = "_for_testing/echo_stream"
    FUNCTION = "make"
    RETURN_TYPES = ("CONDITIONING",)

    @classmethod
    def INPUT_TYPES(cls):
        return {{"required": {{"seed": ("INT", {{"default": 0, "min": 0, "max": 2 ** 31}}),
                             "tokens": ("INT", {{"default": 8, "min": 1, "max": 512}})}}}}

    def make(self, seed, tokens):
        generator = torch.Generator().manual_seed(int(seed))
        return ([[torch.randn(1, int(tokens), TEXT_DIM, generator=generator), {{}}]],)


class EchoTestModelInfo:
    """What core built from a file: the classes of its model, diffusion model and model config."""
    CATEGORY = "_for_testing/echo_stream"
    FUNCTION = "describe"
    OUTPUT_NODE = True
    RETURN_TYPES = ()

    @classmethod
    def INPUT_TYPES(cls):
        return {{"required": {{"model": ("MODEL",)}}}}

    def describe(self, model):
        base = model.model
        names = [type(base).__name__, type(base.diffusion_model).__name__, type(base.model_config).__name__]
        return {{"ui": {{"text": names}}}}


class FakeClip:
    """A CLIP whose embedding of a text is seeded by the text's hash (no umt5 can be made tiny)."""

    def tokenize(self, text):
        return text

    def encode_from_tokens_scheduled(self, tokens):
        seed = int.from_bytes(hashlib.sha256(tokens.encode()).digest()[:4], "little")
        return [[torch.randn(1, 8, TEXT_DIM, generator=torch.Generator().manual_seed(seed)), {{}}]]


class EchoTestClip:
    CATEGORY = "_for_testing/echo_stream"
    FUNCTION = "make"
    RETURN_TYPES = ("CLIP",)

    @classmethod
    def INPUT_TYPES(cls):
        return {{"required": {{}}}}

    def make(self):
        return (FakeClip(),)


NODE_CLASS_MAPPINGS = {{"EchoTestConditioning": EchoTestConditioning, "EchoTestModelInfo": EchoTestModelInfo,
                       "EchoTestClip": EchoTestClip}}
NODE_DISPLAY_NAME_MAPPINGS = {{"EchoTestConditioning": "Echo Test Conditioning",
                              "EchoTestModelInfo": "Echo Test Model Info", "EchoTestClip": "Echo Test CLIP"}}
'''


# ---------------------------------------------------------------------------------------------
# A minimal websocket client (RFC 6455, text frames only), so the test needs no extra package.
# ---------------------------------------------------------------------------------------------
class WebSocket:
    GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

    def __init__(self, host: str, port: int, client_id: str, timeout: float = 10.0):
        self.sock = socket.create_connection((host, port), timeout=timeout)
        key = base64.b64encode(os.urandom(16)).decode()
        self.sock.sendall((f"GET /ws?clientId={client_id} HTTP/1.1\r\nHost: {host}:{port}\r\n"
                           f"Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
                           f"Sec-WebSocket-Version: 13\r\n\r\n").encode())
        head = b""
        while b"\r\n\r\n" not in head:
            chunk = self.sock.recv(4096)
            if not chunk:
                raise ConnectionError(f"websocket handshake: connection closed after {head!r}")
            head += chunk
        head, self._buffer = head.split(b"\r\n\r\n", 1)
        lines = head.decode("latin-1").split("\r\n")
        if " 101 " not in lines[0] + " ":
            raise ConnectionError(f"websocket handshake refused: {lines[0]}")
        accept = base64.b64encode(hashlib.sha1((key + self.GUID).encode()).digest()).decode()
        headers = {k.strip().lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:])}
        if headers.get("sec-websocket-accept") != accept:
            raise ConnectionError("websocket handshake: wrong Sec-WebSocket-Accept")
        self.sock.settimeout(None)
        self.messages: list[dict] = []
        self.binary_frames = 0
        self.error: BaseException | None = None
        self._changed = threading.Condition()
        self._thread = threading.Thread(target=self._read_loop, name="comfyui-ws", daemon=True)
        self._thread.start()

    def _read(self, n: int) -> bytes:
        while len(self._buffer) < n:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise EOFError
            self._buffer += chunk
        data, self._buffer = self._buffer[:n], self._buffer[n:]
        return data

    def _send(self, opcode: int, payload: bytes = b"") -> None:
        mask = os.urandom(4)  # client frames must be masked
        length = len(payload)
        head = bytes([0x80 | opcode])
        if length < 126:
            head += bytes([0x80 | length])
        elif length < 1 << 16:
            head += bytes([0x80 | 126]) + struct.pack("!H", length)
        else:
            head += bytes([0x80 | 127]) + struct.pack("!Q", length)
        self.sock.sendall(head + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload)))

    def _read_loop(self) -> None:
        parts: list[bytes] = []
        kind = None
        try:
            while True:
                b0, b1 = self._read(2)
                opcode, length = b0 & 0x0F, b1 & 0x7F
                if length == 126:
                    length = struct.unpack("!H", self._read(2))[0]
                elif length == 127:
                    length = struct.unpack("!Q", self._read(8))[0]
                mask = self._read(4) if b1 & 0x80 else None
                payload = self._read(length)
                if mask:
                    payload = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
                if opcode == 0x8:  # close
                    return
                if opcode == 0x9:  # ping
                    self._send(0xA, payload)
                    continue
                if opcode in (0x1, 0x2):
                    kind, parts = opcode, [payload]
                elif opcode == 0x0:
                    parts.append(payload)
                else:
                    continue
                if b0 & 0x80:  # FIN
                    with self._changed:
                        if kind == 0x1:
                            self.messages.append(json.loads(b"".join(parts)))
                        else:
                            self.binary_frames += 1  # ComfyUI's preview images
                        self._changed.notify_all()
        except (EOFError, OSError):
            return
        except BaseException as err:  # noqa: BLE001 - reported by wait_for
            self.error = err

    def wait_for(self, predicate, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        with self._changed:
            while not any(predicate(m) for m in self.messages):
                left = deadline - time.monotonic()
                if left <= 0 or self.error is not None or not self._thread.is_alive():
                    return False
                self._changed.wait(min(left, 0.5))
        return True

    def close(self) -> None:
        try:
            self._send(0x8, struct.pack("!H", 1000))
        except OSError:
            pass
        self.sock.close()
        self._thread.join(timeout=5)


# ---------------------------------------------------------------------------------------------
# The server
# ---------------------------------------------------------------------------------------------
def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def tiny_checkpoint(path: pathlib.Path) -> None:
    """A 1-layer Wan DiT with one 128-dim head (both loaders infer heads as dim // 128), ComfyUI key names.

    text_dim 4096 and freq_dim 256 as in the real models: ComfyUI core's Wan detection takes both as given,
    so the same file loads with Load Diffusion Model too."""
    cfg = WanConfig(dim=128, ffn_dim=64, num_heads=1, num_layers=1, text_dim=TEXT_DIM, freq_dim=256, text_len=16)
    state = tiny_dit(seed=11, cfg=cfg).state_dict()
    save_file({"model.diffusion_model." + k: v.contiguous() for k, v in state.items()}, str(path))


class ComfyServer:
    def __init__(self, base: pathlib.Path):
        self.base, self.port = base, free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = base / "server.log"
        self.proc: subprocess.Popen | None = None

    def start(self) -> None:
        env = dict(os.environ, PYTHONUNBUFFERED="1")
        extra = os.environ.get("COMFYUI_PYTHONPATH")
        if extra:
            env["PYTHONPATH"] = os.pathsep.join(p for p in (extra, env.get("PYTHONPATH")) if p)
        command = [COMFYUI_PYTHON, "main.py", "--cpu", "--listen", "127.0.0.1", "--port", str(self.port),
                   "--base-directory", str(self.base),
                   "--database-url", f"sqlite:///{self.base / 'user' / 'comfyui.db'}",  # not in the checkout
                   "--disable-auto-launch"]
        with open(self.log_path, "wb") as log:
            self.proc = subprocess.Popen(command, cwd=COMFYUI_PATH, env=env, stdout=log, stderr=subprocess.STDOUT,
                                         stdin=subprocess.DEVNULL)
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"ComfyUI exited with code {self.proc.returncode} during start-up:\n{self.log()}")
            try:
                self.get("/system_stats", timeout=2)
                return
            except (OSError, urllib.error.URLError):
                time.sleep(0.5)
        raise RuntimeError(f"ComfyUI did not answer within {START_TIMEOUT:.0f} s:\n{self.log()}")

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.terminate()
        try:
            self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=20)

    def log(self) -> str:
        """The server's log as plain text (colour codes stripped)."""
        text = self.log_path.read_text(errors="replace") if self.log_path.exists() else "(no log)"
        return ANSI_CODE.sub("", text)

    def get(self, path: str, timeout: float = 30):
        with urllib.request.urlopen(self.url + path, timeout=timeout) as response:
            return json.loads(response.read())

    def post(self, path: str, body: dict, timeout: float = 30):
        request = urllib.request.Request(self.url + path, data=json.dumps(body).encode(),
                                         headers={"Content-Type": "application/json"}, method="POST")
        try:
            with urllib.request.urlopen(request, timeout=timeout) as response:
                body = response.read()
                return json.loads(body) if body.strip() else None  # /interrupt answers with an empty 200
        except urllib.error.HTTPError as err:
            raise AssertionError(f"POST {path} -> {err.code}: {err.read().decode(errors='replace')}") from None

    def run(self, prompt: dict, client_id: str) -> dict:
        """Queue an API-format prompt and poll /history until it finishes; its history entry."""
        queued = self.post("/prompt", {"prompt": prompt, "client_id": client_id})
        assert not queued.get("node_errors"), queued
        prompt_id = queued["prompt_id"]
        deadline = time.monotonic() + PROMPT_TIMEOUT
        while time.monotonic() < deadline:
            entry = self.get(f"/history/{prompt_id}").get(prompt_id)
            if entry:  # ComfyUI adds a prompt to the history when it has finished, well or not
                entry["prompt_id"] = prompt_id
                return entry
            if self.proc.poll() is not None:
                raise AssertionError(f"ComfyUI died while running prompt {prompt_id}")
            time.sleep(0.25)
        raise AssertionError(f"prompt {prompt_id} did not finish within {PROMPT_TIMEOUT:.0f} s")


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    root = pathlib.Path(COMFYUI_PATH)
    if not (root / "main.py").is_file():
        pytest.fail(f"COMFYUI_PATH={COMFYUI_PATH!r} is not a ComfyUI checkout (no main.py)")
    base = tmp_path_factory.mktemp("comfyui_base")
    nodes = base / "custom_nodes"
    nodes.mkdir()
    (nodes / PACK_NAME).symlink_to(PACK_ROOT, target_is_directory=True)
    (nodes / "echo_test_nodes.py").write_text(FIXTURE_NODE)
    models = base / "models" / "diffusion_models"
    models.mkdir(parents=True)
    tiny_checkpoint(models / CHECKPOINT)
    for folder in ("input", "output", "temp", "user"):
        (base / folder).mkdir()
    (base / "input" / "prompt_sets").mkdir()
    (base / "input" / "prompt_sets" / "interactive.jsonl").write_bytes(
        (PACK_ROOT / "tests" / "fixtures" / "interactive_sample.jsonl").read_bytes())
    comfy = ComfyServer(base)
    try:
        comfy.start()
        yield comfy
    finally:
        comfy.stop()


@pytest.fixture
def comfy(server, request):
    """The shared server; prints its log when the test using it failed."""
    failed_before = request.session.testsfailed
    yield server
    if request.session.testsfailed > failed_before:
        print(f"\n===== ComfyUI server log ({server.log_path}) =====\n{server.log()}\n===== end of server log =====")


# ---------------------------------------------------------------------------------------------
# Workflows
# ---------------------------------------------------------------------------------------------
def combo_options(spec) -> list:
    """A combo's values from /object_info: the old [[values], {...}] or the newer ["COMBO", {"options": [...]}]."""
    kind, *rest = spec
    if isinstance(kind, list):
        return kind
    return (rest[0] if rest else {}).get("options", [])


def workflow(mode: str, latent_prefix: str) -> dict:
    return {
        "1": {"class_type": "EchoCausalModelLoader",
              "inputs": {"model_name": CHECKPOINT, "weight_dtype": "fp32", "lora_name": "none", "lora_strength": 1.0,
                         "frames_per_block": 3}},
        "2": {"class_type": "EchoTestConditioning", "inputs": {"seed": 1, "tokens": 8}},
        "3": {"class_type": "EchoTestConditioning", "inputs": {"seed": 2, "tokens": 8}},
        "4": {"class_type": "EchoSceneStart", "inputs": {"conditioning": ["2", 0], "seconds": 1.5, "label": "a"}},
        "5": {"class_type": "EchoHardCut", "inputs": {"script": ["4", 0], "conditioning": ["3", 0], "seconds": 0.75}},
        "6": {"class_type": "EchoStreamingSampler",
              "inputs": {"model": ["1", 0], "script": ["5", 0], "width": 64, "height": 48, "seed": 1,
                         "steps": "1000, 750, 500, 250", "session": "it", "mode": mode}},
        "7": {"class_type": "SaveLatent", "inputs": {"samples": ["6", 0], "filename_prefix": latent_prefix}},
        "8": {"class_type": "EchoSaveSceneMemory", "inputs": {"scene_memory": ["6", 1], "filename": "it"}},
    }


def assert_success(entry: dict) -> None:
    status = entry.get("status", {})
    if status.get("status_str") == "success" and status.get("completed"):
        return
    report = []
    for kind, data in status.get("messages", []):
        if kind in ("execution_error", "execution_interrupted"):
            report.append(f"{kind} in node {data.get('node_id')} ({data.get('node_type')}): "
                          f"{data.get('exception_type')}: {data.get('exception_message', '').strip()}\n"
                          + "".join(data.get("traceback", [])))
    raise AssertionError("\n".join(report) or json.dumps(status, indent=1))


def cached_nodes(entry: dict) -> list[str]:
    return [n for kind, data in entry["status"]["messages"] if kind == "execution_cached" for n in data["nodes"]]


def saved_latent(comfy: ComfyServer, entry: dict, node: str) -> torch.Tensor:
    files = entry["outputs"][node]["latents"]
    assert len(files) == 1, files
    path = comfy.base / "output" / files[0]["subfolder"] / files[0]["filename"]
    return load_file(str(path))["latent_tensor"]


def state_meta(path: pathlib.Path) -> dict:
    with safe_open(str(path), framework="pt") as f:
        return json.loads(f.metadata()["echo_stream"])


def our_events(ws: WebSocket, node: str = "6") -> list[dict]:
    return [m for m in ws.messages if m["type"].startswith("echo_stream.") and m["data"].get("node") == node]


def finished(prompt_id: str):
    def check(message: dict) -> bool:
        data = message.get("data") or {}
        return data.get("prompt_id") == prompt_id and (
            message["type"] in ("execution_success", "execution_error", "execution_interrupted")
            or (message["type"] == "executing" and data.get("node") is None))
    return check


# ---------------------------------------------------------------------------------------------
# Tests
# ---------------------------------------------------------------------------------------------
def pack_problems(comfy: ComfyServer, log: str) -> list[str]:
    """Log lines about the pack other than its import-time line: warnings (they name the file), its
    own log messages, 'Cannot import ...', and traceback frames inside the pack."""
    linked = str(comfy.base / "custom_nodes" / PACK_NAME)
    lines = log.splitlines()
    import_time = [line for line in lines if re.fullmatch(LOG_LEVEL + r"\s*[\d.]+ seconds: " + re.escape(linked), line)]
    return [line for line in lines if (PACK_NAME in line or str(PACK_ROOT) in line) and line not in import_time]


def test_the_pack_imports_cleanly(comfy):
    log = comfy.log()
    linked = str(comfy.base / "custom_nodes" / PACK_NAME)
    timing = [line for line in log.splitlines() if line.rstrip().endswith(linked)]
    assert timing, "no import-time line for the pack: ComfyUI did not load it"
    assert all("IMPORT FAILED" not in line for line in timing), timing
    # nothing else about the pack: no warning, error, traceback frame or log message from it. (ComfyUI's
    # own optional nodes may complain about themselves, e.g. the audio nodes without torchaudio.)
    assert pack_problems(comfy, log) == []


def test_every_node_is_listed_in_object_info(comfy):
    info = comfy.get("/object_info")
    assert len(NODE_CLASS_MAPPINGS) == 19
    for node_id in NODE_CLASS_MAPPINGS:
        assert node_id in info, f"{node_id} missing from /object_info"
        entry = info[node_id]
        assert entry["display_name"] == NODE_DISPLAY_NAME_MAPPINGS[node_id], node_id
        assert entry["category"] == ("Echo Stream/Toy World" if node_id.startswith("EchoToy") else "Echo Stream"), node_id
        assert entry["python_module"] == f"custom_nodes.{PACK_NAME}", node_id
        assert entry["description"] == NODE_CLASS_MAPPINGS[node_id].DESCRIPTION, node_id
        assert entry["search_aliases"] == NODE_CLASS_MAPPINGS[node_id].SEARCH_ALIASES, node_id
    assert info["EchoStreamingSampler"]["output_node"] is True
    assert info["EchoStreamingSampler"]["output"] == ["LATENT", "SCENE_MEMORY", "STRING", "VIDEO"]
    assert CHECKPOINT in combo_options(info["EchoCausalModelLoader"]["input"]["required"]["model_name"])
    assert "EchoTestConditioning" in info  # the test's own fixture node
    prompt_files = combo_options(info["EchoSceneScriptFromPromptFile"]["input"]["required"]["file"])
    assert prompt_files == ["prompt_sets/interactive.jsonl"]  # from ComfyUI's input folder


def test_extensions_list_our_js_files(comfy):
    listed = set(comfy.get("/extensions"))
    ours = {f"/extensions/{PACK_NAME}/{p.relative_to(PACK_ROOT / 'js').as_posix()}"
            for p in (PACK_ROOT / "js").rglob("*.js") if "node_modules" not in p.parts}
    assert f"/extensions/{PACK_NAME}/echo_stream_preview.js" in ours
    assert ours <= listed, sorted(ours - listed)
    with urllib.request.urlopen(comfy.url + f"/extensions/{PACK_NAME}/echo_stream_preview.js", timeout=30) as r:
        assert r.status == 200 and b"import" in r.read()


def test_a_workflow_runs_and_continues_through_the_http_api(comfy):
    client_id = uuid.uuid4().hex
    ws = WebSocket("127.0.0.1", comfy.port, client_id)
    try:
        # 1. a new session: scene "a" for 1.5 s (2 blocks), then a hard cut for 0.75 s (1 block)
        first = comfy.run(workflow("new", "echo_it/run"), client_id)
        assert_success(first)
        latent = saved_latent(comfy, first, "7")
        assert list(latent.shape) == [1, 16, 9, 6, 8]  # 3 blocks x 3 latent frames, 48/8 x 64/8
        assert torch.isfinite(latent).all() and latent.std() > 0
        state = comfy.base / "output" / "echo_stream" / "it.safetensors"
        assert state.is_file()
        meta = state_meta(state)
        assert first["outputs"]["8"]["text"] == ["saved 3 blocks of 'it' to echo_stream/it.safetensors"]
        preview = first["outputs"]["6"]["images"][0]
        assert preview["type"] == "temp" and (comfy.base / "temp" / preview["filename"]).stat().st_size > 0
        assert ws.wait_for(finished(first["prompt_id"]), 30), [m["type"] for m in ws.messages]
        events = our_events(ws)
        assert [e["type"] for e in events] == ["echo_stream.run"] + ["echo_stream.block"] * 3 + ["echo_stream.run"]
        assert [e["data"]["phase"] for e in events if e["type"] == "echo_stream.run"] == ["start", "end"]
        assert events[0]["data"]["continued"] is False and events[0]["data"]["session"] == "it"
        assert [e["data"]["block"] for e in events[1:4]] == [0, 1, 2]
        assert [e["data"]["scene"]["transition"] for e in events[1:4]] == ["start", "start", "cut"]
        assert events[-1]["data"]["total_blocks"] == 3
        progress = [(m["data"]["value"], m["data"]["max"]) for m in ws.messages if m["type"] == "progress"
                    and m["data"].get("node") == "6" and m["data"].get("prompt_id") == first["prompt_id"]]
        assert progress == [(1, 3), (2, 3), (3, 3)]  # ComfyUI's progress bar, one step per block
        assert ws.binary_frames >= 1  # and its preview image of the newest frame
        seen = len(ws.messages)

        # 2. Queue again in "continue" mode: the sampler runs again (never cached) and extends the session
        second = comfy.run(workflow("continue", "echo_it/run"), client_id)
        assert_success(second)
        assert "6" not in cached_nodes(second) and {"1", "4", "5"} <= set(cached_nodes(second))
        more = saved_latent(comfy, second, "7")
        assert list(more.shape) == [1, 16, 9, 6, 8] and not torch.equal(more, latent)
        assert second["outputs"]["8"]["text"] == ["saved 6 blocks of 'it' to echo_stream/it.safetensors"]
        assert state_meta(state)["blocks"] > meta["blocks"]
        assert ws.wait_for(finished(second["prompt_id"]), 30)
        events = [e for e in our_events(ws) if e in ws.messages[seen:]]
        assert events[0]["type"] == "echo_stream.run" and events[0]["data"]["continued"] is True
        assert events[0]["data"]["first_block"] == 3
        assert [e["data"]["block"] for e in events if e["type"] == "echo_stream.block"] == [3, 4, 5]
        assert events[-1]["data"]["phase"] == "end" and events[-1]["data"]["total_blocks"] == 6
    finally:
        ws.close()
    # running it logged no warning or error either (info lines, e.g. which attention function runs, are fine)
    assert [line for line in pack_problems(comfy, comfy.log()) if "[INFO]" not in line] == []


def test_a_saved_scene_memory_loads_and_continues(comfy):
    if not (comfy.base / "output" / "echo_stream" / "it.safetensors").is_file():
        pytest.skip("needs the state file saved by the workflow test")
    info = comfy.get("/object_info/EchoLoadSceneMemory")["EchoLoadSceneMemory"]
    assert "it.safetensors" in combo_options(info["input"]["required"]["file"])  # the list is read per request
    prompt = {
        "1": {"class_type": "EchoCausalModelLoader",
              "inputs": {"model_name": CHECKPOINT, "weight_dtype": "fp32", "lora_name": "none", "lora_strength": 1.0,
                         "frames_per_block": 3}},
        "2": {"class_type": "EchoTestConditioning", "inputs": {"seed": 2, "tokens": 8}},
        "3": {"class_type": "EchoSceneStart", "inputs": {"conditioning": ["2", 0], "seconds": 0.75}},
        "4": {"class_type": "EchoLoadSceneMemory",
              "inputs": {"model": ["1", 0], "file": "it.safetensors", "session": "loaded"}},
        "5": {"class_type": "EchoStreamingSampler",
              "inputs": {"model": ["1", 0], "script": ["3", 0], "scene_memory": ["4", 0], "width": 64, "height": 48,
                         "seed": 1, "steps": "1000, 750, 500, 250", "session": "ignored", "mode": "new"}},
        "6": {"class_type": "EchoSaveSceneMemory", "inputs": {"scene_memory": ["5", 1], "filename": "sub/loaded"}},
    }
    entry = comfy.run(prompt, uuid.uuid4().hex)
    assert_success(entry)
    assert entry["outputs"]["6"]["text"] == ["saved 7 blocks of 'loaded' to echo_stream/sub/loaded.safetensors"]
    saved = comfy.base / "output" / "echo_stream" / "sub" / "loaded.safetensors"
    assert state_meta(saved)["blocks"] > state_meta(comfy.base / "output" / "echo_stream" / "it.safetensors")["blocks"]


def test_unloading_models_parks_sessions_and_free_scene_memory_frees_them(comfy):
    """ComfyUI's "Unload models" (POST /free) reaches the pack through model_management.free_memory: idle
    sessions move to the CPU (named in the log) and come back when continued; Free Scene Memory then
    forgets the session and reports the bytes released."""
    client_id = uuid.uuid4().hex
    first = workflow("new", "echo_it/parked")
    first["6"]["inputs"]["session"] = "parked"
    del first["8"]
    assert_success(comfy.run(first, client_id))
    comfy.post("/free", {"unload_models": True})
    deadline = time.monotonic() + 30
    while "session 'parked' moved to the CPU (ComfyUI unloads models" not in comfy.log():
        assert time.monotonic() < deadline, "ComfyUI's unload did not reach the pack's sessions"
        time.sleep(0.25)
    onward = workflow("continue", "echo_it/parked")
    onward["6"]["inputs"]["session"] = "parked"
    onward["8"] = {"class_type": "EchoFreeSceneMemory", "inputs": {"scene_memory": ["6", 1]}}
    entry = comfy.run(onward, client_id)
    assert_success(entry)
    assert "session 'parked' is back on cpu" in comfy.log()
    assert entry["outputs"]["8"]["text"][0].startswith("freed session 'parked': ")


def test_a_core_model_runs_through_causal_model_from_model(comfy):
    """Load Diffusion Model (core) -> Causal Model From MODEL: our engine over ComfyUI's own Wan modules
    gives the same video as our loader on the same file."""
    prompt = {
        "1": {"class_type": "UNETLoader", "inputs": {"unet_name": CHECKPOINT, "weight_dtype": "default"}},
        "2": {"class_type": "EchoCausalModelFromMODEL", "inputs": {"model": ["1", 0], "frames_per_block": 3}},
        "3": {"class_type": "EchoCausalModelLoader",
              "inputs": {"model_name": CHECKPOINT, "weight_dtype": "fp32", "lora_name": "none", "lora_strength": 1.0,
                         "frames_per_block": 3}},
        "4": {"class_type": "EchoTestConditioning", "inputs": {"seed": 7, "tokens": 8}},
        "5": {"class_type": "EchoSceneStart", "inputs": {"conditioning": ["4", 0], "seconds": 1.5}},
    }
    for model, name in (("2", "core"), ("3", "ours")):
        prompt[f"{name}_sampler"] = {"class_type": "EchoStreamingSampler", "inputs": {
            "model": [model, 0], "script": ["5", 0], "width": 64, "height": 48, "seed": 5,
            "steps": "1000, 750, 500, 250", "session": f"from_model_{name}", "mode": "new"}}
        prompt[f"{name}_save"] = {"class_type": "SaveLatent",
                                  "inputs": {"samples": [f"{name}_sampler", 0], "filename_prefix": f"echo_it/{name}"}}
    entry = comfy.run(prompt, uuid.uuid4().hex)
    assert_success(entry)
    core, ours = saved_latent(comfy, entry, "core_save"), saved_latent(comfy, entry, "ours_save")
    assert list(core.shape) == [1, 16, 6, 6, 8]
    torch.testing.assert_close(core, ours, rtol=1e-4, atol=1e-4)


def test_interrupt_keeps_the_blocks_and_the_session_continues(comfy):
    """Cancel (/interrupt): core's InterruptProcessingException derives from BaseException since 0.20, and
    reaches the sampler through ComfyUI's progress hook; the run's blocks are still kept, the widget told."""
    client_id = uuid.uuid4().hex
    ws = WebSocket("127.0.0.1", comfy.port, client_id)
    long_run = workflow("new", "echo_it/long")
    long_run["4"]["inputs"]["seconds"] = 60.0  # 80 blocks: far longer than it takes to interrupt it
    long_run["6"]["inputs"]["session"] = "long"
    del long_run["8"]
    try:
        queued = comfy.post("/prompt", {"prompt": long_run, "client_id": client_id})
        prompt_id = queued["prompt_id"]
        assert ws.wait_for(lambda m: m["type"] == "echo_stream.block" and m["data"]["session"] == "long", 60)
        comfy.post("/interrupt", {})
        deadline = time.monotonic() + PROMPT_TIMEOUT
        while not (entry := comfy.get(f"/history/{prompt_id}").get(prompt_id)) and time.monotonic() < deadline:
            time.sleep(0.25)
        assert entry, "the interrupted prompt never reached the history"
        kinds = [kind for kind, _ in entry["status"]["messages"]]
        assert entry["status"]["status_str"] == "error" and "execution_interrupted" in kinds, kinds
        assert ws.wait_for(lambda m: m["type"] == "echo_stream.run" and m["data"]["session"] == "long"
                           and m["data"]["phase"] == "interrupted", 10)
        stopped = next(m["data"] for m in ws.messages if m["type"] == "echo_stream.run"
                       and m["data"]["session"] == "long" and m["data"]["phase"] == "interrupted")
        kept = stopped["run_blocks"]
        assert 1 <= kept < 80
        partial = comfy.base / "output" / "echo_stream" / f"long_interrupted_{stopped['run']}.latent"
        assert list(load_file(str(partial))["latent_tensor"].shape) == [1, 16, 3 * kept, 6, 8]
        assert f"stopped (interrupted) after {kept} block{'' if kept == 1 else 's'}" in comfy.log()

        onward = workflow("continue", "echo_it/long")
        onward["4"]["inputs"]["seconds"] = 0.75
        onward["5"]["inputs"]["seconds"] = 0.75
        onward["6"]["inputs"]["session"] = "long"
        onward["8"]["inputs"]["filename"] = "long"
        seen = len(ws.messages)
        entry = comfy.run(onward, client_id)
        assert_success(entry)
        assert entry["outputs"]["8"]["text"] == [f"saved {kept + 2} blocks of 'long' to echo_stream/long.safetensors"]
        assert list(saved_latent(comfy, entry, "7").shape) == [1, 16, 6, 6, 8]
        assert ws.wait_for(finished(entry["prompt_id"]), 30)
        onward_events = [m["data"] for m in ws.messages[seen:] if m["type"].startswith("echo_stream.")
                         and m["data"].get("session") == "long"]
        assert onward_events[0]["phase"] == "start" and onward_events[0]["continued"] is True
        assert onward_events[0]["first_block"] == kept  # it picks up right after the kept blocks
        assert [e["block"] for e in onward_events if "block" in e] == [kept, kept + 1]
        assert onward_events[-1]["phase"] == "end" and onward_events[-1]["total_blocks"] == kept + 2
    finally:
        ws.close()


def test_an_exported_file_loads_as_cores_causal_wan_and_samples_with_sampler_ar_video(comfy):
    """Export For Core Causal Wan writes a file that core's Load Diffusion Model builds WAN21_CausalAR
    (CausalWanModel) from, where the plain file gives the bidirectional Wan; Sampler AR Video runs on it."""
    export = {"1": {"class_type": "EchoExportForCore", "inputs": {
        "model_name": CHECKPOINT, "weights": "EMA when present", "lora_name": "none", "lora_strength": 1.0,
        "weight_dtype": "keep", "filename": "exported/tiny_for_core", "overwrite": True}}}
    entry = comfy.run(export, uuid.uuid4().hex)
    assert_success(entry)
    exported = "exported/tiny_for_core.safetensors"
    written = comfy.base / "models" / "diffusion_models" / "exported" / "tiny_for_core.safetensors"
    assert written.is_file() and exported in entry["outputs"]["1"]["text"][0]
    with safe_open(str(written), framework="pt") as f:
        assert json.loads(f.metadata()["config"]) == {"transformer": {"causal_ar": True}}
    info = comfy.get("/object_info/UNETLoader")["UNETLoader"]
    assert exported in combo_options(info["input"]["required"]["unet_name"])

    prompt = {
        "plain": {"class_type": "UNETLoader", "inputs": {"unet_name": CHECKPOINT, "weight_dtype": "default"}},
        "plain_info": {"class_type": "EchoTestModelInfo", "inputs": {"model": ["plain", 0]}},
        "causal": {"class_type": "UNETLoader", "inputs": {"unet_name": exported, "weight_dtype": "default"}},
        "causal_info": {"class_type": "EchoTestModelInfo", "inputs": {"model": ["causal", 0]}},
        "cond": {"class_type": "EchoTestConditioning", "inputs": {"seed": 3, "tokens": 8}},
        "guider": {"class_type": "CFGGuider", "inputs": {"model": ["causal", 0], "positive": ["cond", 0],
                                                          "negative": ["cond", 0], "cfg": 1.0}},
        "sigmas": {"class_type": "BasicScheduler", "inputs": {"model": ["causal", 0], "scheduler": "simple",
                                                              "steps": 4, "denoise": 1.0}},
        "noise": {"class_type": "RandomNoise", "inputs": {"noise_seed": 5}},
        "sampler": {"class_type": "SamplerARVideo", "inputs": {"num_frame_per_block": 3}},
        "latent": {"class_type": "EmptyARVideoLatent", "inputs": {"width": 64, "height": 48, "length": 21,
                                                                  "batch_size": 1}},
        "sample": {"class_type": "SamplerCustomAdvanced", "inputs": {
            "noise": ["noise", 0], "guider": ["guider", 0], "sampler": ["sampler", 0], "sigmas": ["sigmas", 0],
            "latent_image": ["latent", 0]}},
        "save": {"class_type": "SaveLatent", "inputs": {"samples": ["sample", 0], "filename_prefix": "echo_it/ar"}},
        # and Causal Model From MODEL over core's WAN21_CausalAR streams as our loader does on the same file
        "wrap": {"class_type": "EchoCausalModelFromMODEL", "inputs": {"model": ["causal", 0], "frames_per_block": 3}},
        "ours": {"class_type": "EchoCausalModelLoader", "inputs": {
            "model_name": exported, "weight_dtype": "fp32", "lora_name": "none", "lora_strength": 1.0,
            "frames_per_block": 3}},
        "scene": {"class_type": "EchoSceneStart", "inputs": {"conditioning": ["cond", 0], "seconds": 1.5}},
    }
    for model in ("wrap", "ours"):
        prompt[f"{model}_sampler"] = {"class_type": "EchoStreamingSampler", "inputs": {
            "model": [model, 0], "script": ["scene", 0], "width": 64, "height": 48, "seed": 5,
            "steps": "1000, 750, 500, 250", "session": f"exported_{model}", "mode": "new"}}
        prompt[f"{model}_save"] = {"class_type": "SaveLatent", "inputs": {
            "samples": [f"{model}_sampler", 0], "filename_prefix": f"echo_it/exported_{model}"}}
    entry = comfy.run(prompt, uuid.uuid4().hex)
    assert_success(entry)
    assert entry["outputs"]["plain_info"]["text"] == ["WAN21", "WanModel", "WAN21_T2V"]
    assert entry["outputs"]["causal_info"]["text"] == ["WAN21_CausalAR", "CausalWanModel", "WAN21_CausalAR_T2V"]
    latent = saved_latent(comfy, entry, "save")
    assert list(latent.shape) == [1, 16, 6, 6, 8]  # (21 - 1) // 4 + 1 latent frames in 2 blocks of 3
    assert torch.isfinite(latent).all() and latent.std() > 0
    wrapped, ours = saved_latent(comfy, entry, "wrap_save"), saved_latent(comfy, entry, "ours_save")
    assert list(wrapped.shape) == [1, 16, 6, 6, 8]
    torch.testing.assert_close(wrapped, ours, rtol=1e-4, atol=1e-4)


# ---------------------------------------------------------------------------------------------
# Live steering over the pack's HTTP routes
# ---------------------------------------------------------------------------------------------
def http(comfy: ComfyServer, method: str, path: str, body=None) -> tuple[int, dict]:
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(comfy.url + path, data=data, method=method,
                                     headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as err:
        return err.code, json.loads(err.read())


def live_workflow(timeline: str, session: str, live: bool, prefix: str) -> dict:
    return {
        "1": {"class_type": "EchoCausalModelLoader",
              "inputs": {"model_name": CHECKPOINT, "weight_dtype": "fp32", "lora_name": "none", "lora_strength": 1.0,
                         "frames_per_block": 3}},
        "2": {"class_type": "EchoTestClip", "inputs": {}},
        "3": {"class_type": "EchoSceneScriptFromText", "inputs": {"clip": ["2", 0], "timeline": timeline,
                                                                  "default_seconds": 10.0}},
        "6": {"class_type": "EchoStreamingSampler",
              "inputs": {"model": ["1", 0], "script": ["3", 0], "width": 64, "height": 48, "seed": 1,
                         "steps": "1000, 750, 500, 250", "session": session, "mode": "new", "live": live,
                         "live_max_seconds": 3000.0, "clip": ["2", 0], "rewind_points": 4}},
        "7": {"class_type": "SaveLatent", "inputs": {"samples": ["6", 0], "filename_prefix": prefix}},
        "8": {"class_type": "EchoExportSessionScript", "inputs": {"scene_memory": ["6", 1], "save_file": True}},
    }


def wait_live(comfy: ComfyServer, session: str, predicate, timeout: float = 60) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        status, data = http(comfy, "GET", f"/echo_stream/live/{session}")
        if status == 200 and predicate(data):
            return data
        time.sleep(0.05)
    raise AssertionError(f"live session {session!r} never reached the expected state (last: {status} {data})")


def test_a_live_run_is_steered_over_http_stopped_exported_and_replayed(comfy):
    client_id = uuid.uuid4().hex
    queued = comfy.post("/prompt", {"prompt": live_workflow("a red fox in the snow {fox} [1.5s]", "steer", True,
                                                            "echo_it/live"), "client_id": client_id})
    prompt_id = queued["prompt_id"]
    wait_live(comfy, "steer", lambda d: d["running"] and d["blocks"] >= 3)
    assert http(comfy, "POST", "/echo_stream/live/steer/prompt", {"text": "a city at night", "transition": "teleport"}) \
        == (400, {"error": "unknown transition 'teleport'; use one of smooth, cut, recall, auto"})
    assert http(comfy, "POST", "/echo_stream/live/nobody/stop")[0] == 404
    first = http(comfy, "POST", "/echo_stream/live/steer/prompt",
                 {"text": "a city at night", "transition": "cut", "label": "city"})
    assert first[0] == 202, first
    state = wait_live(comfy, "steer", lambda d: len(d["applied"]) == 1 and d["blocks"] >= d["applied"][0]["block"] + 2)
    second = http(comfy, "POST", "/echo_stream/live/steer/prompt",
                  {"text": "the fox again", "transition": "recall", "target": "fox"})
    assert second[0] == 202, second
    state = wait_live(comfy, "steer", lambda d: len(d["applied"]) == 2 and d["blocks"] >= d["applied"][1]["block"] + 2)
    assert [s["label"] for s in state["scenes"]] == ["fox", "city", None]
    assert [p["scene"] for p in state["snapshots"]] == [0, 1, 2] and all(p["bytes"] > 0 for p in state["snapshots"])
    assert http(comfy, "POST", "/echo_stream/live/steer/stop")[0] == 202
    deadline = time.monotonic() + PROMPT_TIMEOUT
    while not (entry := comfy.get(f"/history/{prompt_id}").get(prompt_id)) and time.monotonic() < deadline:
        time.sleep(0.25)
    assert_success(entry)  # Stop ends the run cleanly: a success, not an interruption
    assert http(comfy, "GET", "/echo_stream/live/steer")[1]["running"] is False
    live_latents = saved_latent(comfy, entry, "7")
    status, exported = http(comfy, "GET", "/echo_stream/sessions/steer/script")
    assert status == 200, exported
    script = exported["script"]
    assert entry["outputs"]["8"]["text"][0] == script  # the node's output is the same text
    assert (comfy.base / "output" / "echo_stream" / "steer_script.txt").read_text().strip() == script
    assert script.startswith("a red fox in the snow {fox} [") and "a city at night {city} [" in script
    assert "@fox] | the fox again [" in script
    print(f"\nexported live script ({live_latents.shape[2] // 3} blocks): {script}")
    replay = comfy.run(live_workflow(script, "replay", False, "echo_it/replay"), client_id)
    assert_success(replay)
    assert torch.equal(saved_latent(comfy, replay, "7"), live_latents)


def api_prompt(ui: dict, info: dict) -> dict:
    """A UI-format workflow in API format, as the front end converts it: links by slot, widget values in the
    order /object_info lists the node's widget inputs (a seed's control_after_generate value is skipped)."""
    prompt = {}
    for node in ui["nodes"]:
        if node["type"] in ("Note", "MarkdownNote"):
            continue
        spec = info[node["type"]]
        linked = {i["name"]: i["link"] for i in node.get("inputs", []) if i.get("link") is not None}
        sources = {link[0]: [str(link[1]), link[2]] for link in ui["links"]}
        values, inputs = list(node.get("widgets_values", [])), {}
        order = spec.get("input_order", {k: list(v) for k, v in spec["input"].items()})
        for section in ("required", "optional"):
            for name in order.get(section, []):
                if name in linked:
                    inputs[name] = sources[linked[name]]
                    continue
                kind, options = (spec["input"][section][name] + [{}])[:2]
                if isinstance(kind, list) or kind in ("INT", "FLOAT", "STRING", "BOOLEAN", "COMBO"):
                    if values:
                        inputs[name] = values.pop(0)
                    if (options or {}).get("control_after_generate") and values:
                        values.pop(0)
        assert not values, f"node {node['id']} {node['type']}: widget values left over: {values}"
        prompt[str(node["id"])] = {"class_type": node["type"], "inputs": inputs}
    return prompt


def test_the_toy_world_workflow_runs_and_renders_the_scenes(comfy):
    """The example workflow itself (UI format -> API format), on the bundled model: no downloads."""
    import numpy as np
    from PIL import Image

    ui = json.loads((PACK_ROOT / "workflows" / "echo_toy_world.json").read_text())
    prompt = api_prompt(ui, comfy.get("/object_info"))
    save = next(k for k, n in prompt.items() if n["class_type"] == "SaveAnimatedWEBP")
    log_before = len(comfy.log())
    started = time.monotonic()
    entry = comfy.run(prompt, uuid.uuid4().hex)
    assert_success(entry)
    print(f"toy workflow: {time.monotonic() - started:.1f} s")
    files = entry["outputs"][save]["images"]
    assert len(files) == 1 and files[0]["filename"].endswith(".webp")
    path = comfy.base / "output" / files[0]["subfolder"] / files[0]["filename"]
    with Image.open(path) as image:
        frames = []
        for i in range(image.n_frames):
            image.seek(i)
            frames.append(np.asarray(image.convert("RGB"), dtype=float))
    # 5 scenes of 5 s at 4 latent frames a second: 6 blocks of 3 each, the last scene rounded up to 10 blocks
    # (the script's total, 100 frames, is rounded up to whole blocks)
    assert frames[0].shape == (64, 64, 3) and len(frames) == 34 * 3
    # Render Toy Latent undid the sampler's Wan21 scaling: each scene shows its category's main colour
    # (ocean blue, forest green, lava red), judged after each scene's first block
    expected = ["ocean", "forest", "lava", "ocean", "lava"]
    channel = {"ocean": 2, "forest": 1, "lava": 0}
    for k, category in enumerate(expected):
        mean = np.mean(frames[k * 18 + 3:(k + 1) * 18 if k < 4 else None], axis=(0, 1, 2))
        assert int(np.argmax(mean)) == channel[category], (category, mean)
    # no warning, error or traceback from the pack while it ran (its INFO lines, e.g. parking an older session
    # when several are live, are fine)
    assert [line for line in pack_problems(comfy, comfy.log()[log_before:]) if "[INFO]" not in line] == []
