// Live steering, the pure part: what a command body looks like (checked as the server checks it, so
// the user sees the problem before sending), the keyboard shortcuts, and where applied commands sit
// on the session's timeline. The server validates again (nodes/routes.py); this only saves a trip.

export const TRANSITIONS = Object.freeze(["smooth", "cut", "recall", "auto"]);
export const MAX_TEXT = 2000;
const RESERVED = "|;[]{}";
const LABEL = /^[A-Za-z0-9_.\-]{1,64}$/;

// {ok, value: body} or {ok: false, error}
export function commandBody(text, transition, label = "", target = "") {
  const clean = String(text ?? "").split(/\s+/).filter(Boolean).join(" ");
  if (!clean) return { ok: false, error: "type a prompt first" };
  if (clean.length > MAX_TEXT) return { ok: false, error: `the prompt is ${clean.length} characters; at most ${MAX_TEXT}` };
  const bad = [...new Set([...clean].filter((c) => RESERVED.includes(c)))];
  if (bad.length) return { ok: false, error: `leave out ${bad.join(" ")} (the timeline syntax uses them)` };
  if (!TRANSITIONS.includes(transition)) return { ok: false, error: `unknown transition ${transition}` };
  const body = { text: clean, transition };
  const l = String(label ?? "").trim();
  if (l) {
    if (!LABEL.test(l)) return { ok: false, error: "a label is 1-64 letters, digits, _ . or -" };
    body.label = l;
  }
  const t = String(target ?? "").trim();
  if (t && transition === "recall") body.target = /^\d+$/.test(t) ? Number(t) : t;
  return { ok: true, value: body };
}

// The action of a key pressed in the prompt box, or null (then the key types as usual).
// Enter: smooth; Ctrl/Cmd+Enter: cut; Alt+Enter: recall; Ctrl/Cmd+Shift+Enter: auto; Escape: stop.
export function keyAction(event) {
  if (event.key === "Escape") return "stop";
  if (event.key !== "Enter") return null;
  const mod = event.ctrlKey || event.metaKey;
  if (mod && event.shiftKey) return "auto";
  if (mod) return "cut";
  if (event.altKey) return "recall";
  if (event.shiftKey) return null; // a new line
  return "smooth";
}

export const SHORTCUTS = Object.freeze({
  smooth: "Enter", cut: "Ctrl+Enter", recall: "Alt+Enter", auto: "Ctrl+Shift+Enter", stop: "Esc",
});

// Markers for applied commands: fraction along a timeline of `totalBlocks`, with a title.
export function commandMarkers(applied, totalBlocks) {
  const total = Math.max(1, totalBlocks);
  return (applied ?? []).filter((a) => !a.error).map((a) => ({
    id: a.id,
    kind: a.kind,
    at: Math.max(0, Math.min(1, a.block / total)),
    title: a.kind === "prompt"
      ? `block ${a.block}: ${a.transition} "${a.text}"${a.label ? ` {${a.label}}` : ""}`
      : `block ${a.block}: ${a.kind}${a.kind === "rewind" ? ` to scene ${a.scene}` : ""}`,
  }));
}

export function describeApplied(a) {
  if (a.error) return `${a.kind} refused: ${a.error}`;
  const latency = a.latency_ms == null ? "" : `, ${a.latency_blocks} block${a.latency_blocks === 1 ? "" : "s"} / ${Math.round(a.latency_ms)} ms`;
  if (a.kind === "prompt") return `block ${a.block}: ${a.transition} \u2192 scene ${a.scene}${latency}`;
  if (a.kind === "rewind") return `block ${a.block}: rewound to scene ${a.scene}`;
  return `block ${a.block}: ${a.kind}`;
}

export function formatBytes(n) {
  if (!(n >= 0)) return "\u2013";
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KiB`;
  if (n < 1024 ** 3) return `${(n / 1024 ** 2).toFixed(1)} MiB`;
  return `${(n / 1024 ** 3).toFixed(2)} GiB`;
}

export function sceneName(s) {
  const text = s.text ? ` ${s.text.length > 28 ? `${s.text.slice(0, 27)}\u2026` : s.text}` : "";
  return `${s.index}${s.label ? ` {${s.label}}` : ""}${text}`;
}
