// Paints small preview frames (JPEG data URLs, 208x120 like a downscaled 832x480 Wan frame) for
// the harness: one look per scene so the screenshot reads like a real session.

const W = 208;
const H = 120;

function beach(g, t) {
  const sky = g.createLinearGradient(0, 0, 0, H * 0.55);
  sky.addColorStop(0, "#3a78c2");
  sky.addColorStop(1, "#f2c27b");
  g.fillStyle = sky;
  g.fillRect(0, 0, W, H);
  g.fillStyle = "#ffe9a8";
  g.beginPath();
  g.arc(40 + t * 1.5, 40, 12, 0, Math.PI * 2);
  g.fill();
  g.fillStyle = "#1f6d93";
  g.fillRect(0, H * 0.55, W, H * 0.2);
  g.fillStyle = "rgba(255,255,255,.55)";
  for (let x = -20; x < W; x += 26) g.fillRect(x + ((t * 3) % 26), H * 0.6, 14, 2);
  g.fillStyle = "#e8cf98";
  g.fillRect(0, H * 0.75, W, H * 0.25);
}

function forest(g, t) {
  const bg = g.createLinearGradient(0, 0, 0, H);
  bg.addColorStop(0, "#9cc7a4");
  bg.addColorStop(1, "#1d3b24");
  g.fillStyle = bg;
  g.fillRect(0, 0, W, H);
  for (let i = 0; i < 9; i++) {
    const x = ((i * 31 - t * 2) % (W + 40)) - 20;
    const h = 50 + ((i * 17) % 30);
    g.fillStyle = i % 2 ? "#24502f" : "#2f6b3b";
    g.beginPath();
    g.moveTo(x, H - 10);
    g.lineTo(x + 16, H - 10 - h);
    g.lineTo(x + 32, H - 10);
    g.fill();
  }
  g.fillStyle = "#16301d";
  g.fillRect(0, H - 12, W, 12);
}

function city(g, t) {
  const bg = g.createLinearGradient(0, 0, 0, H);
  bg.addColorStop(0, "#0d1330");
  bg.addColorStop(1, "#3b2350");
  g.fillStyle = bg;
  g.fillRect(0, 0, W, H);
  for (let i = 0; i < 10; i++) {
    const x = i * 22 - ((t * 2) % 22);
    const h = 40 + ((i * 29) % 50);
    g.fillStyle = "#1b1f33";
    g.fillRect(x, H - h, 18, h);
    g.fillStyle = "#f7d774";
    for (let y = H - h + 5; y < H - 6; y += 9) if ((i + y) % 3) g.fillRect(x + 4, y, 3, 3);
  }
}

function dusk(g, t) {
  const bg = g.createLinearGradient(0, 0, 0, H);
  bg.addColorStop(0, "#5b2a6e");
  bg.addColorStop(1, "#f08a4b");
  g.fillStyle = bg;
  g.fillRect(0, 0, W, H);
  g.fillStyle = "#2a1533";
  g.beginPath();
  g.moveTo(0, H);
  for (let x = 0; x <= W; x += 16) g.lineTo(x, H - 30 - 18 * Math.sin((x + t * 4) / 30));
  g.lineTo(W, H);
  g.fill();
}

const LOOKS = { beach, forest, city, dusk };

export function paintFrame(look, frame) {
  const canvas = document.createElement("canvas");
  canvas.width = W;
  canvas.height = H;
  const g = canvas.getContext("2d");
  (LOOKS[look] || dusk)(g, frame % 60);
  g.fillStyle = "rgba(0,0,0,.45)";
  g.fillRect(0, H - 14, 34, 14);
  g.fillStyle = "#fff";
  g.font = "10px monospace";
  g.fillText(String(frame), 4, H - 4);
  return canvas.toDataURL("image/jpeg", 0.82);
}
