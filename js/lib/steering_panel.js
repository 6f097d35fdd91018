// The live-steering panel under the player of an EchoStreamingSampler node: a prompt box with
// transition buttons (and their shortcuts), the scene list for recall, the queue of pending
// commands, Stop, rewind points with their size, the exported script, and a strip marking where
// each command took effect on the session's timeline. It talks only to the pack's routes
// (/echo_stream/live/<session>, nodes/routes.py) through the injected `fetch` and `apiURL`.

import { SHORTCUTS, TRANSITIONS, commandBody, commandMarkers, describeApplied, formatBytes, keyAction,
  sceneName } from "./steering_model.js";

const STYLE_ID = "echo-stream-steering-style";
const CSS = `
.es-steer{font:11px/1.35 system-ui,sans-serif;color:#ddd;display:flex;flex-direction:column;gap:4px;padding:4px 2px}
.es-steer textarea{width:100%;box-sizing:border-box;min-height:38px;resize:vertical;background:#1b1b1b;color:#eee;border:1px solid #444;border-radius:4px;padding:3px 5px;font:12px system-ui,sans-serif}
.es-steer .row{display:flex;gap:4px;align-items:center;flex-wrap:wrap}
.es-steer button{background:#2d2d2d;color:#eee;border:1px solid #555;border-radius:4px;padding:2px 7px;cursor:pointer;font-size:11px}
.es-steer button:disabled{opacity:.45;cursor:default}
.es-steer button.stop{border-color:#a44;color:#f99}
.es-steer input,.es-steer select{background:#1b1b1b;color:#eee;border:1px solid #444;border-radius:4px;font-size:11px;padding:1px 3px}
.es-steer .label{width:70px}
.es-steer .status{color:#aaa}
.es-steer .error{color:#f88;min-height:0}
.es-steer .strip{position:relative;height:10px;background:#222;border-radius:3px}
.es-steer .strip span{position:absolute;top:0;width:3px;height:10px;margin-left:-1px;border-radius:1px}
.es-steer ul{margin:0;padding-left:14px;max-height:64px;overflow:auto}
.es-steer .lists{display:grid;grid-template-columns:2fr 3fr;gap:6px}
.es-steer .muted{color:#888}
`;
const MARK_COLORS = { prompt: "#6cf", rewind: "#fc6", stop: "#f66" };

function el(doc, tag, className, text) {
  const e = doc.createElement(tag);
  if (className) e.className = className;
  if (text !== undefined) e.textContent = text;
  return e;
}

export class SteeringPanel {
  constructor({ document, fetch, apiURL = (p) => `/api${p}`, sessionName = () => "default",
    setTimer = (f, ms) => setInterval(f, ms), clearTimer = (t) => clearInterval(t), pollMs = 400 }) {
    Object.assign(this, { doc: document, fetch, apiURL, sessionName, setTimer, clearTimer, pollMs });
    this.state = { running: false, scenes: [], pending: [], applied: [], snapshots: [], blocks: 0 };
    this.session = null;
    this.timer = null;
    this.element = this._build();
  }

  _build() {
    const doc = this.doc;
    if (!doc.getElementById(STYLE_ID)) {
      const style = el(doc, "style");
      style.id = STYLE_ID;
      style.textContent = CSS;
      doc.head.appendChild(style);
    }
    const root = el(doc, "div", "es-steer");
    this.status = el(doc, "div", "status", "live steering: queue the sampler with live on");
    this.prompt = el(doc, "textarea");
    this.prompt.placeholder = "next prompt \u2014 Enter: smooth, Ctrl+Enter: cut, Alt+Enter: recall, Ctrl+Shift+Enter: auto, Esc: stop";
    this.prompt.maxLength = 2000;
    this.prompt.addEventListener("keydown", (e) => {
      e.stopPropagation(); // keep ComfyUI's own shortcuts out of the prompt box
      const action = keyAction(e);
      if (!action) return;
      e.preventDefault();
      if (action === "stop") this.stop();
      else this.send(action);
    });
    const buttons = el(doc, "div", "row");
    this.buttons = {};
    for (const t of TRANSITIONS) {
      const b = el(doc, "button", t, t[0].toUpperCase() + t.slice(1));
      b.title = `${t} (${SHORTCUTS[t]})`;
      b.addEventListener("click", () => this.send(t));
      buttons.appendChild(b);
      this.buttons[t] = b;
    }
    this.label = el(doc, "input", "label");
    this.label.placeholder = "label";
    this.target = el(doc, "select", "target");
    this.stopButton = el(doc, "button", "stop", "Stop");
    this.stopButton.title = "end the run at the next block, keeping it (Esc)";
    this.stopButton.addEventListener("click", () => this.stop());
    buttons.append(this.label, el(doc, "span", "muted", "recall:"), this.target, this.stopButton);
    this.error = el(doc, "div", "error");
    this.strip = el(doc, "div", "strip");
    this.strip.title = "where each command took effect";
    const lists = el(doc, "div", "lists");
    this.pendingList = el(doc, "ul");
    this.appliedList = el(doc, "ul");
    const clear = el(doc, "button", "", "Clear queue");
    clear.addEventListener("click", () => this._call("DELETE", "queue"));
    const rewindRow = el(doc, "div", "row");
    this.rewindSelect = el(doc, "select", "rewind");
    const rewind = el(doc, "button", "", "Rewind");
    rewind.title = "back to the start of the chosen scene; what came after is dropped";
    rewind.addEventListener("click", () => this.rewind());
    const exportButton = el(doc, "button", "", "Export script");
    exportButton.addEventListener("click", () => this.exportScript());
    rewindRow.append(el(doc, "span", "muted", "rewind to:"), this.rewindSelect, rewind, exportButton, clear);
    this.script = el(doc, "textarea");
    this.script.readOnly = true;
    this.script.style.display = "none";
    const column = (title, list) => {
      const c = el(doc, "div");
      c.append(el(doc, "div", "muted", title), list);
      return c;
    };
    lists.append(column("queue (one per block)", this.pendingList), column("applied", this.appliedList));
    root.append(this.status, this.prompt, buttons, this.error, this.strip, lists, rewindRow, this.script);
    this.draw();
    return root;
  }

  url(path) {
    return this.apiURL(`/echo_stream/live/${encodeURIComponent(this.session ?? this.sessionName())}${path}`);
  }

  async _call(method, path, body) {
    try {
      const response = await this.fetch(this.url(`/${path}`), {
        method, headers: { "Content-Type": "application/json" }, body: body === undefined ? undefined : JSON.stringify(body),
      });
      const data = await response.json();
      if (!response.ok) throw new Error(data.error ?? `HTTP ${response.status}`);
      this.setError("");
      await this.poll();
      return data;
    } catch (e) {
      this.setError(String(e.message ?? e));
      return null;
    }
  }

  send(transition) {
    const target = transition === "recall" ? this.target.value : "";
    const body = commandBody(this.prompt.value, transition, this.label.value, target);
    if (!body.ok) return this.setError(body.error);
    return this._call("POST", "prompt", body.value).then((ok) => {
      if (ok) { this.prompt.value = ""; this.label.value = ""; }
    });
  }

  stop() { return this._call("POST", "stop"); }

  rewind() {
    if (this.rewindSelect.value === "") return this.setError("no rewind point yet");
    return this._call("POST", "rewind", { scene: Number(this.rewindSelect.value) });
  }

  async exportScript() {
    try {
      const name = encodeURIComponent(this.session ?? this.sessionName());
      const response = await this.fetch(this.apiURL(`/echo_stream/sessions/${name}/script`));
      const data = await response.json();
      if (!response.ok) throw new Error(data.error);
      this.script.value = data.script;
      this.script.style.display = "";
      this.setError("");
    } catch (e) {
      this.setError(String(e.message ?? e));
    }
  }

  setError(text) { this.error.textContent = text; }

  // The sampler's run events: follow the session, poll while a run lasts.
  handleRun(ev) {
    this.session = ev.session;
    if (ev.phase === "start") {
      if (this.timer === null) this.timer = this.setTimer(() => this.poll(), this.pollMs);
    } else {
      if (this.timer !== null) this.clearTimer(this.timer);
      this.timer = null;
    }
    this.poll();
  }

  async poll() {
    try {
      const response = await this.fetch(this.url(""));
      if (response.status === 404) return;
      const data = await response.json();
      if (response.ok) { this.state = data; this.draw(); }
    } catch (e) { /* the server is busy or gone; the next poll tries again */ }
  }

  draw() {
    const s = this.state, doc = this.doc;
    const bytes = (s.snapshots ?? []).reduce((a, p) => a + p.bytes, 0);
    this.status.textContent = s.running
      ? `LIVE \u2022 session ${s.session} \u2022 block ${s.blocks} \u2022 ${s.scenes.length} scenes \u2022 ${s.pending.length} waiting \u2022 rewind points ${formatBytes(bytes)}`
      : `live steering \u2022 ${s.session ? `session ${s.session} idle` : "queue the sampler with live on"}`;
    for (const b of [...Object.values(this.buttons), this.stopButton]) b.disabled = !s.running;
    const options = [["", "by similarity"], ...s.scenes.map((x) => [String(x.label ?? x.index), sceneName(x)])];
    this._options(this.target, options);
    this._options(this.rewindSelect, (s.snapshots ?? []).map((p) => [String(p.scene),
      `scene ${p.scene} @ block ${p.block} (${formatBytes(p.bytes)})`]));
    this.pendingList.replaceChildren(...(s.pending.length ? s.pending.map((c) => el(doc, "li", "",
      c.kind === "prompt" ? `${c.transition}: ${c.text}` : c.kind)) : [el(doc, "li", "muted", "empty")]));
    this.appliedList.replaceChildren(...s.applied.slice(-6).map((a) => el(doc, "li", a.error ? "error" : "",
      describeApplied(a))));
    this.strip.replaceChildren(...commandMarkers(s.applied, Math.max(s.blocks, 1)).map((m) => {
      const mark = el(doc, "span");
      mark.style.left = `${(m.at * 100).toFixed(2)}%`;
      mark.style.background = MARK_COLORS[m.kind] ?? "#ccc";
      mark.title = m.title;
      return mark;
    }));
  }

  _options(select, options) {
    const key = JSON.stringify(options);
    if (select.dataset.key === key) return;
    const value = select.value;
    select.replaceChildren(...options.map(([v, text]) => {
      const o = this.doc.createElement("option");
      o.value = v; o.textContent = text;
      return o;
    }));
    select.dataset.key = key;
    if (options.some(([v]) => v === value)) select.value = value;
  }

  destroy() {
    if (this.timer !== null) this.clearTimer(this.timer);
    this.timer = null;
    this.element.remove();
  }
}
