"""ComfyUI nodes: thin adapters over engine/, memory/ and runtime/ (V1 node API)."""
from .export_node import EchoExportForCore
from .loaders import EchoCausalModelFromMODEL, EchoCausalModelLoader
from .memory_settings import EchoSceneMemorySettings
from .prompt_file_node import EchoSceneScriptFromPromptFile
from .routes import register_routes
from .sampler import EchoStreamingSampler
from .script_nodes import (EchoAutoTransition, EchoHardCut, EchoPromptSwitch, EchoSceneRecall,
                           EchoSceneScriptFromText, EchoSceneStart)
from .session_memory import EchoFreeSceneMemory
from .state_nodes import EchoLoadSceneMemory, EchoSaveSceneMemory
from .timeline_node import EchoExportSessionScript
from .toy_nodes import EchoToyModelLoader, EchoToyPrompt, EchoToyRender

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
    "EchoExportForCore": EchoExportForCore,
    "EchoSceneScriptFromPromptFile": EchoSceneScriptFromPromptFile,
    "EchoExportSessionScript": EchoExportSessionScript,
    "EchoToyModelLoader": EchoToyModelLoader,
    "EchoToyPrompt": EchoToyPrompt,
    "EchoToyRender": EchoToyRender,
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
    "EchoExportForCore": "Export For Core Causal Wan",
    "EchoSceneScriptFromPromptFile": "Scene Script From Prompt File",
    "EchoExportSessionScript": "Export Session Script",
    "EchoToyModelLoader": "Load Toy World Model",
    "EchoToyPrompt": "Toy Prompt",
    "EchoToyRender": "Render Toy Latent",
}

register_routes()  # the live-steering routes on ComfyUI's server (nothing outside ComfyUI)
