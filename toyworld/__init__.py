"""The toy world: a procedural multi-scene video world in Wan's latent layout, and the small causal
Wan trained on it (the pack's embedded default model). Pure torch, no ComfyUI.

World (latent frames [16, H, W], clips [16, T, H, W], Wan's layout [B, 16, T, H, W] batched):
  CATEGORIES                       the 8 category names a prompt can name ("ocean", "forest", ...)
  category_index(name_or_index)    -> int; unknown names raise EchoError listing the known ones
  prompt_embedding(category)       -> [1, 4, 4096] deterministic prompt embedding (umT5 layout)
  prompt_table()                   -> [8, 4, 4096], all categories in CATEGORIES order
  Instance(palette, pattern, motion), Sprite(y, x)
                                   per-video details from discrete codebooks (4 x 4 x 4; chance of an
                                   exact instance match 1/64), and the moving element's position
  paint_frame(category, instance, sprite, height=8, width=8) -> [16, H, W]
  Step(transition, category=None, blocks=1, scene=None)
                                   one step of a script: "start" | "smooth" | "cut" | "return"
                                   (return: `scene` = index of an earlier scene in script order)
  play(steps, generator=None, *, height=8, width=8, frames_per_block=3, noise=None) -> Clip
                                   render a script with ground truth per block and frame, and the
                                   training visibility between blocks (Clip.visible, Clip.token_mask)
  random_script(generator, num_blocks, p_switch=0.5), sample_clip(generator, num_blocks=7, ...)
Rendering (a fixed linear map, so it works on generated latents too):
  rgb_factors()                    -> (factors [16, 3], bias [3]) for runtime.preview.latent_to_rgb
  render_rgb(latent, scale=8)      -> uint8 [T, H*scale, W*scale, 3] from [16, T, H, W] or [16, H, W]
Read-back (exact on painted frames; snaps generated frames to the nearest codes):
  read_frames(latent)              -> Reading: per-frame category, palette, pattern, sprite_y/x, residual
  read_motion(reading, h, w)       -> motion code per frame step (-1: not a codebook step)
  read_block(block, previous_frame=None) -> BlockReading(category, instance, sprite, residual)
Model (toyworld.model, toyworld.train, toyworld.rollout, toyworld.evaluate):
  model.load_toy_model(path=None, *, device="cpu", dtype=None) -> engine.CausalWan (bundled default)
  model.new_toy_model(seed=0), model.TOY_CONFIG, model.DEFAULT_MODEL (toyworld/model/toyworld_wan.safetensors)
  train.train(TrainConfig(...), log=None) -> (model, record); train.save(model, record, out_dir) -> path
  rollout.generate(model, steps, memory, *, seed=0, height=8, width=8, batch=1, settings=None,
                   on_block=None) -> Generated(latent [B, 16, T, H, W], blocks, readings[sample][block])
  rollout.script_blocks(steps), rollout.block_events(steps), rollout.read_blocks(latent)
  evaluate.block_measures(...), evaluate.transition_outcomes(...), evaluate.summarize(generated)
Command line: python -m echo_stream toyworld train | check.
"""
from .categories import CATEGORIES, category_index, prompt_embedding, prompt_table
from .clips import Clip, Step, play, random_script, sample_clip
from .instances import Instance, Sprite
from .readback import BlockReading, Reading, read_block, read_frames, read_motion
from .render import paint_frame, render_rgb, rgb_factors

__all__ = [
    "CATEGORIES", "BlockReading", "Clip", "Instance", "Reading", "Sprite", "Step", "category_index", "paint_frame",
    "play", "prompt_embedding", "prompt_table", "random_script", "read_block", "read_frames", "read_motion",
    "render_rgb", "rgb_factors", "sample_clip",
]
