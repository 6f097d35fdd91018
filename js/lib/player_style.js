// The player's stylesheet, added once per document. It uses ComfyUI's theme variables, falling
// back to its dark-theme values, so the widget follows the user's palette.

// The smallest height at which every row stays readable (screen >= 110 px).
export const MIN_HEIGHT = 230;

const STYLE_ID = "echo-stream-preview-style";

const CSS = `
.echo-pv { box-sizing: border-box; width: 100%; height: 100%; min-height: ${MIN_HEIGHT}px;
  display: flex; flex-direction: column; gap: 5px; padding: 4px 2px 2px;
  font: 11px/1.35 system-ui, -apple-system, "Segoe UI", Roboto, Arial, sans-serif;
  color: var(--input-text, #ddd); user-select: none; }
.echo-pv * { box-sizing: border-box; }
.echo-pv-screen { position: relative; flex: 1 1 auto; min-height: 110px; overflow: hidden;
  background: #0c0c0c; border: 1px solid var(--border-color, #3a3a3a); border-radius: 6px; }
.echo-pv-screen img, .echo-pv-screen video { position: absolute; inset: 0; width: 100%; height: 100%; object-fit: contain; }
.echo-pv-screen img[hidden], .echo-pv [hidden] { display: none !important; }
.echo-pv-empty { position: absolute; inset: 0; display: flex; align-items: center; justify-content: center;
  color: var(--descrip-text, #888); font-size: 12px; text-align: center; padding: 8px; }
.echo-pv-badge { position: absolute; top: 6px; left: 6px; padding: 1px 6px; border-radius: 3px;
  font-size: 10px; font-weight: 700; letter-spacing: .06em; background: rgba(0,0,0,.6); color: #ddd; }
.echo-pv-badge[data-mode="live"] { background: #c9302c; color: #fff; }
.echo-pv-badge[data-mode="final"] { background: #2f6fd6; color: #fff; }
.echo-pv-chip { position: absolute; top: 6px; right: 6px; max-width: 60%; display: flex; align-items: center;
  gap: 5px; padding: 1px 7px 1px 5px; border-radius: 3px; background: rgba(0,0,0,.6); color: #eee;
  font-size: 10px; white-space: nowrap; overflow: hidden; text-overflow: ellipsis; }
.echo-pv-dot { flex: none; width: 8px; height: 8px; border-radius: 50%; }
.echo-pv-clock { position: absolute; bottom: 5px; right: 6px; padding: 0 5px; border-radius: 3px;
  background: rgba(0,0,0,.6); font-variant-numeric: tabular-nums; font-size: 10px; color: #ddd; }
.echo-pv-row { display: flex; align-items: center; gap: 5px; min-height: 22px; }
.echo-pv-btn { display: inline-flex; align-items: center; justify-content: center; gap: 4px; height: 22px;
  min-width: 26px; padding: 0 7px; border-radius: 4px; cursor: pointer; font: inherit; font-size: 10px;
  font-weight: 600; letter-spacing: .04em; color: var(--input-text, #ddd);
  background: var(--comfy-input-bg, #222); border: 1px solid var(--border-color, #4e4e4e); }
.echo-pv-btn:hover:not(:disabled) { background: #3a3a3a; }
.echo-pv-btn:disabled { opacity: .4; cursor: default; }
.echo-pv-btn[aria-pressed="true"] { background: #c9302c; border-color: #c9302c; color: #fff; }
.echo-pv-btn svg { width: 12px; height: 12px; fill: currentColor; }
.echo-pv-seg-group { display: inline-flex; margin-left: auto; }
.echo-pv-seg-group .echo-pv-btn { border-radius: 0; }
.echo-pv-seg-group .echo-pv-btn:first-child { border-radius: 4px 0 0 4px; }
.echo-pv-seg-group .echo-pv-btn:last-child { border-radius: 0 4px 4px 0; border-left: none; }
.echo-pv-seg-group .echo-pv-btn[aria-pressed="true"] { background: #2f6fd6; border-color: #2f6fd6; }
.echo-pv-time { font-variant-numeric: tabular-nums; color: var(--input-text, #ddd); white-space: nowrap; }
.echo-pv-track { position: relative; height: 24px; flex: none; border-radius: 4px; overflow: hidden;
  background: #1a1a1a; border: 1px solid var(--border-color, #3a3a3a); cursor: pointer; touch-action: none; }
.echo-pv-seg { position: absolute; top: 0; bottom: 0; display: flex; align-items: center; overflow: hidden;
  border-right: 1px solid rgba(0,0,0,.55); }
.echo-pv-seg span { padding: 0 5px; font-size: 10px; font-weight: 600; color: #fff; white-space: nowrap;
  overflow: hidden; text-overflow: ellipsis; text-shadow: 0 1px 2px rgba(0,0,0,.8); }
.echo-pv-pending { position: absolute; top: 0; bottom: 0; right: 0; pointer-events: none;
  background: repeating-linear-gradient(135deg, rgba(16,16,16,.62) 0 5px, rgba(16,16,16,.4) 5px 10px);
  border-left: 1px solid rgba(255,255,255,.45); }
.echo-pv-head { position: absolute; top: -1px; bottom: -1px; width: 2px; margin-left: -1px; background: #fff;
  box-shadow: 0 0 0 1px rgba(0,0,0,.6); pointer-events: none; }
.echo-pv-legend { display: flex; flex-wrap: wrap; gap: 2px 10px; color: var(--descrip-text, #999); font-size: 10px; }
.echo-pv-legend span { display: inline-flex; align-items: center; gap: 4px; }
.echo-pv-legend i { width: 9px; height: 9px; border-radius: 2px; display: inline-block; }
.echo-pv-status { display: flex; flex-wrap: wrap; gap: 0 10px; font-variant-numeric: tabular-nums;
  color: var(--descrip-text, #aaa); font-size: 10.5px; }
.echo-pv-status b { color: var(--input-text, #ddd); font-weight: 600; }
.echo-pv-status [data-phase="error"] { color: #ff7b72; }
`;

export function ensureStyle(doc) {
  if (doc.getElementById(STYLE_ID)) return;
  const style = doc.createElement("style");
  style.id = STYLE_ID;
  style.textContent = CSS;
  (doc.head || doc.documentElement).appendChild(style);
}
