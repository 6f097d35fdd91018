"""ComfyUI nodes: thin adapters over engine/, memory/ and runtime/ (V1 node API)."""
from .loaders import EchoCausalModelFromMODEL, EchoCausalModelLoader
from .memory_settings import EchoSceneMemorySettings
from .sampler import EchoStreamingSampler
from .script_nodes import (EchoAutoTransition, EchoHardCut, EchoPromptSwitch, EchoSceneRecall,
                           EchoSceneScriptFromText, EchoSceneStart)
from .session_memory import EchoFreeSceneMemory
from .state_nodes import EchoLoadSceneMemory, EchoSaveSceneMemory

NODE_CLASS_MAPPINGS = {
    "EchoCausalModelLoader": EchoCausalModelLoader,
    "EchoCausalModelFromMODEL": EchoCausalModelFromMODEL,
    "EchoSceneMemorySettings": EchoSceneMemorySettings,
    "EchoSceneStart": EchoSceneStart,
    "EchoPromptSwitch": EchoPromptSwitch,
    "EchoHardCut": EchoHardCut,
    "EchoSceneRecall": EchoSceneRecall,
    "EchoAutoTransition": EchoAutoTransition,
    "EchoSceneScriptFromText": EchoSceneScriptFromText,
    "EchoStreamingSampler": EchoStreamingSampler,
    "EchoSaveSceneMemory": EchoSaveSceneMemory,
    "EchoLoadSceneMemory": EchoLoadSceneMemory,
    "EchoFreeSceneMemory": EchoFreeSceneMemory,
}

NODE_DISPLAY_NAME_MAPPINGS = {
    "EchoCausalModelLoader": "Load Causal Video Model",
    "EchoCausalModelFromMODEL": "Causal Model From MODEL",
    "EchoSceneMemorySettings": "Scene Memory Settings",
    "EchoSceneStart": "Scene Start",
    "EchoPromptSwitch": "Prompt Switch (smooth)",
    "EchoHardCut": "Hard Cut",
    "EchoSceneRecall": "Scene Recall",
    "EchoAutoTransition": "Auto Transition",
    "EchoSceneScriptFromText": "Scene Script From Text",
    "EchoStreamingSampler": "Streaming Sampler (scene memory)",
    "EchoSaveSceneMemory": "Save Scene Memory",
    "EchoLoadSceneMemory": "Load Scene Memory",
    "EchoFreeSceneMemory": "Free Scene Memory",
}
