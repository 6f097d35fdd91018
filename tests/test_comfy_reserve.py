"""Memory reservation for the KV cache, against a recording stand-in for comfy.model_management."""
import torch

from echo_stream.nodes import comfy


class RecordingManagement:
    def __init__(self):
        self.calls = []

    def load_models_gpu(self, models, memory_required=0):
        self.calls.append(("load_models_gpu", len(models), memory_required))

    def free_memory(self, memory_required, device):
        self.calls.append(("free_memory", memory_required, device))


class Patcher:
    def __init__(self, dynamic):
        self.dynamic = dynamic

    def is_dynamic(self):
        return self.dynamic


def reserve_with(monkeypatch, patcher):
    mm = RecordingManagement()
    monkeypatch.setattr(comfy, "model_management", lambda: mm)
    comfy.reserve(123, torch.device("cpu"), patcher)
    return mm.calls


def test_a_classic_model_reserves_through_load_models_gpu(monkeypatch):
    assert reserve_with(monkeypatch, Patcher(dynamic=False)) == [("load_models_gpu", 1, 123)]


def test_a_dynamic_vram_model_also_frees_the_cache_bytes(monkeypatch):
    # DynamicVRAM: load_models_gpu keeps dynamic weights resident whatever memory_required says
    assert reserve_with(monkeypatch, Patcher(dynamic=True)) == [
        ("load_models_gpu", 1, 123), ("free_memory", 123, torch.device("cpu"))]


def test_an_older_patcher_without_is_dynamic_is_classic(monkeypatch):
    assert reserve_with(monkeypatch, object()) == [("load_models_gpu", 1, 123)]


def test_our_own_weights_free_the_cache_bytes(monkeypatch):
    assert reserve_with(monkeypatch, None) == [("free_memory", 123, torch.device("cpu"))]


def test_without_comfyui_nothing_happens(monkeypatch):
    monkeypatch.setattr(comfy, "model_management", lambda: None)
    comfy.reserve(123, torch.device("cpu"), Patcher(dynamic=True))
