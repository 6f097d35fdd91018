"""A PNG chart of the scene memory over time, drawn with Pillow alone (no matplotlib).

Top panel, per block: stacked token counts of the attention window (rolling anchors, compressed
history, recent window, the block itself, and staged old-scene memory after a switch), the decay
weight of the old-scene memory as a line on the right axis. Bottom panel: the temporal RoPE ids the
block used (keys and queries), which stay bounded however long the video runs. Scene boundaries
are vertical lines coloured and labelled by transition type.

Everything is drawn at twice the size and scaled down, which smooths lines and text.
"""
from __future__ import annotations

from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

WIDTH, HEIGHT = 1280, 800
SCALE = 2
SEGMENTS = (  # record["tokens"] key, legend name, colour; stacked bottom-up in the window's own order
    ("old", "old-scene memory", (201, 123, 179)),
    ("anchors", "rolling anchors", (76, 114, 176)),
    ("compressed", "compressed history", (242, 165, 65)),
    ("recent", "recent frames", (127, 176, 105)),
    ("current", "current block", (184, 184, 184)),
)
TRANSITIONS = {"start": (70, 70, 70), "smooth": (42, 157, 143), "cut": (230, 57, 70), "recall": (123, 44, 191),
               "auto": (244, 162, 97)}
INK, GRID, MUTED, PAPER = (34, 34, 34), (226, 226, 226), (110, 110, 110), (255, 255, 255)
WEIGHT = (20, 20, 20)
KEY_IDS, QUERY_IDS = (170, 190, 220), (44, 62, 120)
LEFT, RIGHT = 84, 92
TOKENS_Y, TOKENS_H = 112, 380
IDS_Y, IDS_H = TOKENS_Y + TOKENS_H + 58, 150
LEGEND_Y = IDS_Y + IDS_H + 62


def _font(size: int):
    try:
        return ImageFont.load_default(size=size * SCALE)
    except TypeError:  # Pillow < 10.1: a fixed bitmap font
        return ImageFont.load_default()


class _Canvas:
    """ImageDraw in logical pixels (multiplied by SCALE), with text placed by its bounding box."""

    def __init__(self):
        self.image = Image.new("RGB", (WIDTH * SCALE, HEIGHT * SCALE), PAPER)
        self.draw = ImageDraw.Draw(self.image)
        self.fonts = {}

    def font(self, size):
        return self.fonts.setdefault(size, _font(size))

    def rect(self, x0, y0, x1, y1, fill, outline=None):
        box = [round(x0 * SCALE), round(y0 * SCALE), max(round(x0 * SCALE), round(x1 * SCALE) - 1),
               max(round(y0 * SCALE), round(y1 * SCALE) - 1)]
        self.draw.rectangle(box, fill=fill, outline=outline)

    def line(self, points, fill, width=1.0):
        self.draw.line([(x * SCALE, y * SCALE) for x, y in points], fill=fill, width=max(1, round(width * SCALE)))

    def dashed_v(self, x, y0, y1, fill, width=1.5, dash=6, gap=4):
        y = y0
        while y < y1:
            self.line([(x, y), (x, min(y + dash, y1))], fill, width)
            y += dash + gap

    def dot(self, x, y, r, fill):
        self.draw.ellipse([(x - r) * SCALE, (y - r) * SCALE, (x + r) * SCALE, (y + r) * SCALE], fill=fill)

    def text(self, x, y, s, size=13, fill=INK, align="left", valign="top"):
        """align: left/center/right of x; valign: top/middle/bottom of y."""
        font = self.font(size)
        l, t, r, b = self.draw.textbbox((0, 0), s, font=font)
        w, h = (r - l) / SCALE, (b - t) / SCALE
        dx = {"left": 0, "center": -w / 2, "right": -w}[align]
        dy = {"top": 0, "middle": -h / 2, "bottom": -h}[valign]
        self.draw.text(((x + dx) * SCALE - l, (y + dy) * SCALE - t), s, font=font, fill=fill)
        return w, h

    def vtext(self, x, y, s, size=13, fill=INK):
        """Text rotated 90 degrees, centred on (x, y)."""
        font = self.font(size)
        l, t, r, b = self.draw.textbbox((0, 0), s, font=font)
        tile = Image.new("RGBA", (r - l + 4, b - t + 4), (0, 0, 0, 0))
        ImageDraw.Draw(tile).text((2 - l, 2 - t), s, font=font, fill=fill)
        tile = tile.rotate(90, expand=True)
        self.image.paste(tile, (round(x * SCALE - tile.width / 2), round(y * SCALE - tile.height / 2)), tile)

    def finish(self) -> Image.Image:
        return self.image.resize((WIDTH, HEIGHT), Image.LANCZOS)


def _nice_max(value: float) -> tuple[float, float]:
    """An axis maximum >= value and a tick step giving 4-6 ticks."""
    value = max(value, 1)
    for step in (1, 2, 5, 10, 20, 25, 50, 100, 200, 250, 500, 1000, 2000, 2500, 5000, 10000, 20000, 50000):
        if value / step <= 6:
            return step * -(-value // step), step
    step = 10 ** len(str(int(value)))
    return step, step / 5


def _total(row) -> int:
    return sum(row["tokens"].get(key, 0) for key, _, _ in SEGMENTS)


def draw_memory_chart(rows: list[dict], scenes: list[dict], path, *, title: str, subtitle: str,
                      frame_tokens: int) -> Path:
    """rows: each block's BlockLayout.record() in block order; scenes: Session.timeline()."""
    if not rows:
        raise ValueError("no blocks to chart")
    c = _Canvas()
    first, last = rows[0]["block"], rows[-1]["block"] + 1
    span = last - first
    plot_w = WIDTH - LEFT - RIGHT
    x_of = lambda block: LEFT + plot_w * (block - first) / span  # noqa: E731
    bar_w = plot_w / span

    c.text(LEFT, 20, title, size=22)
    c.text(LEFT, 52, subtitle, size=13, fill=MUTED)

    # ---------------------------------------------------------------- scene bands and boundaries
    visible = [s for s in scenes if s["start_block"] + max(s["blocks"], 1) > first and s["start_block"] < last]
    for k, s in enumerate(visible):
        x0, x1 = x_of(max(s["start_block"], first)), x_of(min(s["start_block"] + s["blocks"], last))
        if k % 2:
            for y, h in ((TOKENS_Y, TOKENS_H), (IDS_Y, IDS_H)):
                c.rect(x0, y, x1, y + h, fill=(247, 247, 250))

    # ---------------------------------------------------------------- token panel
    ymax, ystep = _nice_max(max(_total(r) for r in rows))
    y_of = lambda v: TOKENS_Y + TOKENS_H * (1 - v / ymax)  # noqa: E731
    tick = 0.0
    while tick <= ymax + 1e-9:
        y = y_of(tick)
        c.line([(LEFT, y), (LEFT + plot_w, y)], GRID)
        c.text(LEFT - 8, y, f"{tick:g}", size=12, fill=MUTED, align="right", valign="middle")
        tick += ystep
    gap = 1 if bar_w >= 5 else 0
    for r in rows:
        x0 = x_of(r["block"])
        base = 0
        for key, _, colour in SEGMENTS:
            n = r["tokens"].get(key, 0)
            if n:
                c.rect(x0 + gap / 2, y_of(base + n), x0 + bar_w - gap / 2, y_of(base), fill=colour)
                base += n
    c.vtext(LEFT - 52, TOKENS_Y + TOKENS_H / 2, f"tokens attended per block ({frame_tokens} per latent frame)", size=13)
    c.text(LEFT, TOKENS_Y - 8, "scene memory in the attention window", size=14, valign="bottom")

    # decay weight of the old-scene memory (right axis, 0..1)
    w_of = lambda w: TOKENS_Y + TOKENS_H * (1 - w / 1.12)  # noqa: E731  (headroom for the scene tags)
    for w in (0, 0.5, 1):
        c.text(LEFT + plot_w + 8, w_of(w), f"{w:g}", size=12, fill=MUTED, valign="middle")
    c.vtext(WIDTH - 30, TOKENS_Y + TOKENS_H / 2, "decay weight of old-scene memory", size=13, fill=WEIGHT)
    run: list[tuple[float, float]] = []
    for r in rows + [None]:
        w = r.get("old_weight") if r else None
        if w is None:
            if len(run) > 1:
                c.line(run, WEIGHT, 2)
            for x, y in run:
                c.dot(x, y, 3.2, WEIGHT)
            run = []
        else:
            run.append((x_of(r["block"]) + bar_w / 2, w_of(min(max(w, 0.0), 1.0))))

    # ---------------------------------------------------------------- RoPE id panel
    top_id = max(max(r["key_frame_ids"] + r["query_frame_ids"]) for r in rows)
    imax, istep = _nice_max(top_id + 1)
    i_of = lambda v: IDS_Y + IDS_H * (1 - v / imax)  # noqa: E731
    tick = 0.0
    while tick <= imax + 1e-9:
        c.line([(LEFT, i_of(tick)), (LEFT + plot_w, i_of(tick))], GRID)
        c.text(LEFT - 8, i_of(tick), f"{tick:g}", size=12, fill=MUTED, align="right", valign="middle")
        tick += istep
    for r in rows:
        x0 = x_of(r["block"])
        keys, queries = r["key_frame_ids"], r["query_frame_ids"]
        c.rect(x0 + gap / 2, i_of(max(keys) + 0.5), x0 + bar_w - gap / 2, i_of(min(keys) - 0.5), fill=KEY_IDS)
        c.rect(x0 + gap / 2, i_of(max(queries) + 0.5), x0 + bar_w - gap / 2, i_of(min(queries) - 0.5), fill=QUERY_IDS)
    steady = [max(r["key_frame_ids"]) for r in rows if r.get("phase") == "steady"]
    if steady:  # the ids of the steady window: where every long scene settles
        y = i_of(max(steady))
        c.line([(LEFT, y), (LEFT + plot_w, y)], (150, 150, 150), 1)
        c.text(LEFT + plot_w - 4, y - 3, f"steady window: ids 0-{max(steady)}", size=11, fill=MUTED, align="right",
               valign="bottom")
    c.text(LEFT, IDS_Y - 8, "temporal RoPE ids of the block: keys (light) and queries (dark)", size=14, valign="bottom")
    c.vtext(LEFT - 52, IDS_Y + IDS_H / 2, "RoPE id", size=13)

    # x axis (shared)
    xstep = _nice_max(span)[1]
    b = first - first % xstep + (xstep if first % xstep else 0)
    while b <= last:
        x = x_of(b)
        c.line([(x, IDS_Y + IDS_H), (x, IDS_Y + IDS_H + 5)], MUTED)
        c.text(x, IDS_Y + IDS_H + 8, f"{b:g}", size=12, fill=MUTED, align="center")
        b += xstep
    c.text(LEFT + plot_w / 2, IDS_Y + IDS_H + 26, "block (3 latent frames, 0.75 s of video each)", size=13,
           align="center")
    for y, h in ((TOKENS_Y, TOKENS_H), (IDS_Y, IDS_H)):
        c.line([(LEFT, y + h), (LEFT + plot_w, y + h)], INK)
        c.line([(LEFT, y), (LEFT, y + h)], INK)

    # scene boundaries last, over the bars
    for s in visible:
        if s["start_block"] < first:
            continue
        colour = TRANSITIONS.get(s["transition"], INK)
        x = x_of(s["start_block"])
        c.dashed_v(x, TOKENS_Y, TOKENS_Y + TOKENS_H, colour, width=2)
        c.dashed_v(x, IDS_Y, IDS_Y + IDS_H, colour, width=2)
        label = f"{s['label'] or s['index']} · {s['transition']}"
        w, h = c.text(x + 5, TOKENS_Y + 6, label, size=12, fill=PAPER)  # measure, then box under it
        c.rect(x, TOKENS_Y + 2, x + w + 10, TOKENS_Y + h + 11, fill=colour)
        c.text(x + 5, TOKENS_Y + 6, label, size=12, fill=PAPER)

    # legend
    x = LEFT
    for _, name, colour in SEGMENTS:
        c.rect(x, LEGEND_Y, x + 14, LEGEND_Y + 14, fill=colour)
        w, _ = c.text(x + 20, LEGEND_Y + 7, name, size=13, valign="middle")
        x += w + 42
    c.line([(x, LEGEND_Y + 7), (x + 22, LEGEND_Y + 7)], WEIGHT, 2)
    c.dot(x + 11, LEGEND_Y + 7, 3.2, WEIGHT)
    w, _ = c.text(x + 30, LEGEND_Y + 7, "decay weight", size=13, valign="middle")
    x += w + 60
    for name in ("smooth", "cut", "recall"):
        c.line([(x, LEGEND_Y), (x, LEGEND_Y + 14)], TRANSITIONS[name], 3)
        w, _ = c.text(x + 8, LEGEND_Y + 7, name, size=13, valign="middle")
        x += w + 30

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    c.finish().save(tmp, format="PNG", optimize=True)
    tmp.replace(path)
    return path
