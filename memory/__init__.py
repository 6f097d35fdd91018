"""Scene memory policies (Echo-Forcing and its baselines) on the engine's memory interface.

Pure torch; never imports ComfyUI. The Echo-Forcing policy arrives with its own issue.
"""
