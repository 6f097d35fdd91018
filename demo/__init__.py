"""The pack's main job without downloads: `python -m echo_stream demo`.

A six-scene interactive script (smooth, cut, recall by label, recall by similarity) streamed block
by block with the Echo-Forcing scene memory, on a small random model built here from a fixed seed or
on a real checkpoint. Writes an animated preview, a chart of the scene memory over time, the
latents as a ComfyUI `.latent` file and a JSON summary. Entry point: `cli.main`.
"""
