"""The quality benchmark's picture sheet: film strips around each transition, one row per policy."""
from __future__ import annotations

from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

import loadpack  # noqa: F401
from echo_stream.toyworld import render_rgb

SCALE = 4  # pixels per latent pixel: 8x8 latents become 32x32 frames
LABEL_W, GAP, HEADER_H = 230, 6, 16


def _font():
    try:
        return ImageFont.load_default(size=11)
    except TypeError:  # Pillow < 10.1
        return ImageFont.load_default()


def strip_frames(gen, frames_per_block: int = 3) -> list[tuple[str, list[int]]]:
    """(title, latent frame indices) around every transition: the last frame before it and the
    frames of the two blocks after it."""
    out = []
    for i, block in enumerate(gen.blocks):
        if block.transition in ("start", "continue"):
            continue
        first = i * frames_per_block
        last = min(first + 2 * frames_per_block, gen.latent.shape[2])
        out.append((f"{block.transition} @ block {i}", [first - 1] + list(range(first, last))))
    return out


def picture_sheet(sheets: dict, path: Path) -> Path:
    """sheets: {script name: {policy: Generated}} -> one PNG."""
    font = _font()
    rows, width = [], 0
    for script, by_policy in sheets.items():
        any_gen = next(iter(by_policy.values()))
        strips = strip_frames(any_gen)
        frame_w = 8 * SCALE
        strip_w = [len(idx) * frame_w for _, idx in strips]
        row_w = LABEL_W + sum(w + 3 * GAP for w in strip_w)
        header = Image.new("RGB", (row_w, HEADER_H), (24, 24, 28))
        draw = ImageDraw.Draw(header)
        draw.text((4, 2), script, font=font, fill=(255, 255, 255))
        x = LABEL_W
        for (title, _), w in zip(strips, strip_w):
            draw.text((x, 2), title, font=font, fill=(200, 200, 200))
            x += w + 3 * GAP
        rows.append(header)
        for policy, gen in by_policy.items():
            rgb = render_rgb(gen.latent[0], scale=SCALE)
            row = Image.new("RGB", (row_w, 8 * SCALE + GAP), (24, 24, 28))
            ImageDraw.Draw(row).text((4, 8 * SCALE // 2 - 6), policy, font=font, fill=(235, 235, 235))
            x = LABEL_W
            for (_, idx), w in zip(strips, strip_w):
                for k, t in enumerate(idx):
                    row.paste(Image.fromarray(rgb[t].numpy()), (x + k * frame_w + (GAP if k else 0), 0))
                x += w + 3 * GAP
            rows.append(row)
        width = max(width, row_w)
    sheet = Image.new("RGB", (width, sum(r.height for r in rows)), (24, 24, 28))
    y = 0
    for r in rows:
        sheet.paste(r, (0, y))
        y += r.height
    sheet.save(path)
    return path
