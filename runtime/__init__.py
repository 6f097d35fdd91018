"""Sessions, scene scripts, previews and saved state: the library under the ComfyUI nodes.

Pure torch (and Pillow for previews); never imports ComfyUI.
"""
