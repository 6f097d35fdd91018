"""Echo Stream: interactive long video with causal Wan2.1 models and Echo-Forcing scene memory.

ComfyUI imports this folder as a package under whatever name it was cloned as, so every import
inside the pack is relative. Importing it never requires ComfyUI: nodes/ imports ComfyUI lazily.
"""
from .nodes import NODE_CLASS_MAPPINGS, NODE_DISPLAY_NAME_MAPPINGS

WEB_DIRECTORY = "./js"  # the live preview widget (plain ES modules, no build step)

__all__ = ["NODE_CLASS_MAPPINGS", "NODE_DISPLAY_NAME_MAPPINGS", "WEB_DIRECTORY"]
