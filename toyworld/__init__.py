"""The toy world (provisional docstring; full API below once the package is complete)."""
from .categories import CATEGORIES, category_index, prompt_embedding, prompt_table
from .clips import Clip, Step, play, random_script, sample_clip
from .instances import Instance, Sprite
from .readback import BlockReading, Reading, read_block, read_frames, read_motion
from .render import paint_frame, render_rgb, rgb_factors
