// scratchlight studio: the page. Every step is a call of the server's session API.
import { call, follow, say, progress, wsUrl, ApiError } from "./api.js";
import { LightEditor } from "./light.js";

const $ = (id) => document.getElementById(id);
const state = window.studio = {
  sid: null, ready: false, losses: [], iterations: [], renders: 0, relightMs: [],
  socket: null, running: false, lastRenderUrl: null, exported: null,
};

function fail(e) {
  say(e instanceof ApiError ? e.message : `error: ${e.message || e}`);
  if (!(e instanceof ApiError)) console.error(e);
}

// ------------------------------------------------------------------ render and light
const render = $("render");
function showRender(url) {
  if (state.lastRenderUrl && state.lastRenderUrl.startsWith("blob:")) URL.revokeObjectURL(state.lastRenderUrl);
  state.lastRenderUrl = url; render.src = url; state.renders++;
}

let inFlight = false, dirty = false;
async function relight() {   // at most one request in flight; the latest light wins
  if (!state.ready) return;
  if (inFlight) { dirty = true; return; }
  inFlight = true; dirty = false;
  const t0 = performance.now();
  try {
    const r = await call("POST", `/api/s/${state.sid}/relight`, light.json(), { raw: true });
    showRender(URL.createObjectURL(await r.blob()));
    // a black image says why (the lamp below the view's grazing limit, ...); the line
    // goes once the image is no longer black
    const note = r.headers.get("x-render-note");
    if (note) { say(note); state.renderNote = note; }
    else if (state.renderNote) { if ($("message").textContent === state.renderNote) say(""); state.renderNote = null; }
    const ms = performance.now() - t0;
    state.relightMs.push(ms);
    $("relight-time").textContent = `relight ${ms.toFixed(0)} ms (server ${r.headers.get("x-relight-ms")} ms)`;
  } catch (e) { fail(e); }
  inFlight = false;
  if (dirty) relight();
}

const light = new LightEditor($("light-canvas"), relight);
document.querySelectorAll("input[name=light-tool]").forEach((el) =>
  el.addEventListener("change", () => { light.tool = el.value; }));
$("light-size").addEventListener("input", (e) => { light.size = +e.target.value; });
$("light-intensity").addEventListener("input", (e) => {
  light.intensity = +e.target.value;
  if (light.tool === "lamp" && light.lamp) light.setLamp(light.lamp.elevation, light.lamp.azimuth);
});
$("light-color").addEventListener("input", (e) => {
  const h = e.target.value; light.color = [1, 3, 5].map((i) => parseInt(h.slice(i, i + 2), 16) / 255);
});
document.querySelectorAll("[data-preset]").forEach((b) => b.addEventListener("click", async () => {
  try {
    light.set(await call("POST", `/api/s/${state.sid}/light/preset`, { name: b.dataset.preset, color: $("opt-color").value }));
    say(`light: ${b.dataset.preset}`, true); relight();
  } catch (e) { fail(e); }
}));
$("light-upload").addEventListener("change", async (e) => {
  const f = e.target.files[0]; e.target.value = "";
  if (!f) return;
  // the server reads and resamples the image before it answers: say so meanwhile
  progress(0, `light: uploading and reading ${f.name} (${megabytes(f.size)})`);
  try {
    light.set(await call("POST", `/api/s/${state.sid}/light/upload?name=${encodeURIComponent(f.name)}&color=${$("opt-color").value}`, f));
    $("opt-init").value = "file"; say(`light: ${f.name}`, true); relight();
  } catch (e2) { fail(e2); } finally { progress(null); }
});
$("opt-color").addEventListener("change", (e) => { light.setChannels(e.target.value === "rgb" ? 3 : 1); relight(); });

// ------------------------------------------------------------------ surface and camera
function showSurfaceName(name) {  // the list shows the open surface, an upload too
  const sel = $("surface-select");
  if (!name) return;
  if (![...sel.options].some((o) => o.value === name)) {
    const o = document.createElement("option");
    o.value = o.textContent = name; o.dataset.uploaded = "1";
    sel.appendChild(o);
  }
  sel.value = name;
}

function showInfo(s) {
  const i = s.surface;
  if (!i) return;
  const rows = [["grid", `${i.grid[0]} x ${i.grid[1]} points`],
    ["spacing", `${i.spacing_um[0].toPrecision(4)} x ${i.spacing_um[1].toPrecision(4)} µm`],
    ["size", `${i.size_mm[0].toPrecision(4)} x ${i.size_mm[1].toPrecision(4)} mm`],
    ["heights", `${i.height_min_um.toPrecision(4)} .. ${i.height_max_um.toPrecision(4)} µm (rms ${i.height_rms_um.toPrecision(3)} µm)`],
    ["missing", `${(100 * i.missing_fraction).toFixed(2)} %`],
    ["exaggeration", s.exaggeration.toPrecision(3)], ["image", `${s.image_shape[1]} x ${s.image_shape[0]}`]];
  if (i.has_truth) rows.push(["truth", "defect mask present"]);
  const esc = (t) => t.replace(/[&<>"]/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;" })[c]);
  if (i.warnings && i.warnings.length) rows.push(["warning", esc(i.warnings.join("; "))]);
  $("surface-info").innerHTML = rows.map(([k, v]) => `<tr><th>${k}</th><td>${v}</td></tr>`).join("");
}

async function afterLoad(status) {
  state.ready = true;
  showInfo(status);
  showSurfaceName(status.surface && status.surface.name);
  const [h, w] = status.image_shape;
  maskCanvas.width = w; maskCanvas.height = h;
  await loadMaskOverlay();
  showMaskInfo(status.mask);
  // a run stays with its surface through camera changes; a new surface has none
  state.canResume = !!status.run; setRunning(state.running);
  if (!status.run) { state.losses = []; state.iterations = []; drawLoss(); }
  await relight();
  if (status.run) await loadCompare();   // before | after seen from the new camera
  if (status.run && status.run.note) say(status.run.note, true);
}

function megabytes(n) { return `${(n / 1048576).toFixed(1)} MB`; }

async function runLoad(path, body, label) {
  state.ready = false;
  // an upload is sent and its file checked before the load job starts: say so meanwhile
  if (body instanceof Blob) progress(0, `uploading and checking ${body.name} (${megabytes(body.size)})`);
  try {
    const { job } = await call("POST", `/api/s/${state.sid}/${path}`, body);
    const status = await follow(state.sid, job);
    say(label, true);
    await afterLoad(status);
  } catch (e) {
    progress(null);
    fail(e);
    const s = await call("GET", `/api/s/${state.sid}`).catch(() => null);
    if (s && s.ready) { state.ready = true; }   // the previous surface is still there
  }
}

$("surface-select").addEventListener("change", (e) => {
  const o = e.target.selectedOptions[0];
  if (o && o.dataset.uploaded) { say(`${o.value} was uploaded: upload it again to reopen it`); return; }
  runLoad("surface", { name: e.target.value }, `opened ${e.target.value}`);
});
$("surface-upload").addEventListener("change", async (e) => {
  const f = e.target.files[0]; e.target.value = "";
  if (f) await runLoad(`upload?name=${encodeURIComponent(f.name)}`, f, `opened ${f.name}`);
});
$("mill-upload").addEventListener("change", async (e) => {  // G-code: milled, then opened
  const f = e.target.files[0]; e.target.value = "";
  if (!f) return;
  const q = new URLSearchParams({ name: f.name, tool: $("mill-tool").value.trim(),
    stock: $("mill-stock").value.trim(), spacing: $("mill-spacing").value.trim() });
  if ($("mill-region").value.trim()) q.set("region", $("mill-region").value.trim());
  await runLoad(`mill?${q}`, f, `milled ${f.name}`);
});
$("cam-apply").addEventListener("click", () => runLoad("camera", {
  camera: $("cam-preset").value, azimuth: +$("cam-azimuth").value,
  elevation: +$("cam-elevation").value, resolution: +$("cam-resolution").value }, "camera changed"));

// ------------------------------------------------------------------ region of interest
const maskCanvas = $("mask-canvas"), mctx = maskCanvas.getContext("2d");
async function loadMaskOverlay() {
  mctx.clearRect(0, 0, maskCanvas.width, maskCanvas.height);
  const mode = document.querySelector("input[name=mask-mode]:checked").value;
  if (mode === "object") return;
  const r = await call("GET", `/api/s/${state.sid}/mask.png`, undefined, { raw: true });
  const bmp = await createImageBitmap(await r.blob());
  const off = new OffscreenCanvas(bmp.width, bmp.height), o = off.getContext("2d");
  o.drawImage(bmp, 0, 0);
  const img = o.getImageData(0, 0, bmp.width, bmp.height);
  for (let p = 0; p < img.data.length; p += 4) {
    const on = img.data[p] > 127;
    img.data[p] = 255; img.data[p + 1] = 40; img.data[p + 2] = 40; img.data[p + 3] = on ? 255 : 0;
  }
  mctx.putImageData(img, 0, 0);
}
function showMaskInfo(m) {
  if (!m) return;
  document.querySelector(`input[name=mask-mode][value=${m.mode}]`).checked = true;
  $("mask-info").textContent = `${m.pixels} of ${m.surface_pixels} surface pixels count` + (m.note ? ` — ${m.note}` : "");
}
document.querySelectorAll("input[name=mask-mode]").forEach((el) => el.addEventListener("change", async () => {
  try { showMaskInfo(await call("POST", `/api/s/${state.sid}/mask/mode`, { mode: el.value })); }
  catch (e) { fail(e); const s = await call("GET", `/api/s/${state.sid}`); showMaskInfo(s.mask); }
  await loadMaskOverlay();
}));
$("mask-show").addEventListener("change", (e) => { maskCanvas.style.display = e.target.checked ? "" : "none"; });

let painting = false;
function paintAt(ev) {
  const r = maskCanvas.getBoundingClientRect();
  const x = (ev.clientX - r.left) / r.width * maskCanvas.width, y = (ev.clientY - r.top) / r.height * maskCanvas.height;
  const rad = +$("mask-size").value * maskCanvas.width / 256;
  mctx.globalCompositeOperation = document.querySelector("input[name=mask-tool]:checked").value === "erase" ? "destination-out" : "source-over";
  mctx.fillStyle = "rgb(255,40,40)";
  mctx.beginPath(); mctx.arc(x, y, rad, 0, 2 * Math.PI); mctx.fill();
  mctx.globalCompositeOperation = "source-over";
}
maskCanvas.addEventListener("pointerdown", (ev) => {
  if (!state.ready) return;
  // painting over the whole surface or the scratch map starts a new painted region
  if (document.querySelector("input[name=mask-mode]:checked").value !== "painted") mctx.clearRect(0, 0, maskCanvas.width, maskCanvas.height);
  painting = true; maskCanvas.setPointerCapture(ev.pointerId); paintAt(ev);
});
maskCanvas.addEventListener("pointermove", (ev) => { if (painting) paintAt(ev); });
maskCanvas.addEventListener("pointerup", async () => {
  if (!painting) return;
  painting = false;
  const blob = await new Promise((r) => maskCanvas.toBlob(r, "image/png"));
  try { showMaskInfo(await call("POST", `/api/s/${state.sid}/mask`, blob, { type: "image/png" })); }
  catch (e) { fail(e); }
  await loadMaskOverlay();
});
$("mask-save").addEventListener("click", async () => {
  try {
    const r = await call("GET", `/api/s/${state.sid}/roi.png`, undefined, { raw: true });
    const a = document.createElement("a"); a.href = URL.createObjectURL(await r.blob());
    a.download = (r.headers.get("content-disposition") || "").split('"')[1] || "roi.png"; a.click();
  } catch (e) { fail(e); }
});
$("mask-upload").addEventListener("change", async (e) => {
  const f = e.target.files[0]; e.target.value = "";
  if (!f) return;
  try { showMaskInfo(await call("POST", `/api/s/${state.sid}/roi?name=${encodeURIComponent(f.name)}`, f, { type: "image/png" })); await loadMaskOverlay(); }
  catch (e2) { fail(e2); }
});

// ------------------------------------------------------------------ optimize
function drawLoss() {
  const c = $("loss-canvas"), g = c.getContext("2d"), L = state.losses;
  g.fillStyle = "#16181c"; g.fillRect(0, 0, c.width, c.height);
  if (L.length < 1) return;
  const lo = Math.min(...L), hi = Math.max(...L), n = Math.max(state.iterations[state.iterations.length - 1] + 1, 2);
  const x0 = 56, x1 = c.width - 10, y0 = 10, y1 = c.height - 28;   // the plot's box
  const X = (i) => x0 + (x1 - x0) * i / (n - 1), Y = (v) => y0 + (y1 - y0) * (hi - v) / ((hi - lo) || 1);
  g.strokeStyle = "#8a919c"; g.lineWidth = 1; g.beginPath();   // axes
  g.moveTo(x0, y0); g.lineTo(x0, y1); g.lineTo(x1, y1); g.stroke();
  g.strokeStyle = "#e0a040"; g.lineWidth = 1.5; g.beginPath();
  L.forEach((v, k) => (k ? g.lineTo(X(state.iterations[k]), Y(v)) : g.moveTo(X(state.iterations[k]), Y(v))));
  g.stroke();
  g.fillStyle = "#8a919c"; g.font = "11px sans-serif";
  g.textAlign = "right"; g.fillText(hi.toPrecision(4), x0 - 4, y0 + 8); g.fillText(lo.toPrecision(4), x0 - 4, y1);
  g.textAlign = "left"; g.fillText("0", x0, y1 + 13);
  g.textAlign = "right"; g.fillText(String(n - 1), x1, y1 + 13);
  g.textAlign = "center"; g.fillText("iteration", (x0 + x1) / 2, c.height - 3);
  g.save(); g.translate(11, (y0 + y1) / 2); g.rotate(-Math.PI / 2); g.fillText("loss", 0, 0); g.restore();
  g.textAlign = "left";
}

// the run options' defaults, bounds and help come from the server (the config declarations)
const FORM = { lam: "opt-lam", iterations: "opt-iterations", init: "opt-init", color: "opt-color",
  l2_target: "opt-l2", engine: "opt-engine", spp: "opt-spp", final_spp: "opt-final-spp" };
const EVAL_FORM = { spp: "eval-spp", seeds: "eval-seeds" };

function formDefaults(spec, form = FORM) {
  for (const [name, id] of Object.entries(form)) {
    const o = spec[name], el = $(id);
    if (!o) continue;
    if (o.default !== null) el.value = String(o.default);
    if (o.lo !== null && el.type === "number") el.min = String(o.lo);
    if (o.hi !== null && el.type === "number") el.max = String(o.hi);
    el.title = o.help;
  }
}

function options() {
  const num = (id) => ($(id).value === "" ? null : +$(id).value);
  return { lam: num("opt-lam"), iterations: num("opt-iterations"), init: $("opt-init").value,
    color: $("opt-color").value, l2_target: $("opt-l2").value, engine: $("opt-engine").value,
    spp: num("opt-spp"), final_spp: num("opt-final-spp") };
}

function setRunning(on) {
  state.running = on;
  $("optimize").disabled = on; $("resume").disabled = on || !state.canResume; $("stop").disabled = !on;
}

function socket() {
  return new Promise((resolve, reject) => {
    if (state.socket && state.socket.readyState === WebSocket.OPEN) return resolve(state.socket);
    const ws = new WebSocket(wsUrl(`/api/s/${state.sid}/optimize`));
    ws.onopen = () => { state.socket = ws; resolve(ws); };
    ws.onerror = () => reject(new ApiError("the optimization stream could not connect"));
    ws.onclose = () => { if (state.running) { say("the optimization stream closed"); setRunning(false); } };
    ws.onmessage = (ev) => onStream(JSON.parse(ev.data));
  });
}

function onStream(m) {
  if (m.type === "started") {
    if (m.action === "start") { state.losses = []; state.iterations = []; }
    say(`optimizing (${m.engine} engine, ${m.iterations} iterations)`, true);
  } else if (m.type === "step") {
    state.losses.push(...m.losses); state.iterations.push(...m.iterations);
    light.set(m.envmap); showRender(m.image); drawLoss(); state.frames = (state.frames || 0) + 1;
    $("loss-info").textContent = `iteration ${m.iteration}: loss ${m.loss.toPrecision(5)}`;
  } else if (m.type === "done") {
    light.set(m.envmap); showRender(m.image);
    state.canResume = true; setRunning(false);
    const first = m.loss[0], best = m.best_loss;
    $("loss-info").textContent = `${m.iterations_done} iterations in total, loss ${first.toPrecision(5)} -> best ${best.toPrecision(5)}` + (m.stopped ? " (stopped: best map kept)" : "");
    say(`optimization ${m.stopped ? "stopped" : "finished"} in ${m.seconds} s`, true);
    state.lastDone = { seconds: m.seconds, frames: m.frames, iterations: m.loss.length };
    state.done = (state.done || 0) + 1;
    loadCompare();
  } else if (m.type === "error") {
    say(m.message); setRunning(false);
  }
}

async function startRun(action) {
  try {
    const ws = await socket();
    setRunning(true);
    ws.send(JSON.stringify({ action, options: options() }));
  } catch (e) { fail(e); setRunning(false); }
}
$("optimize").addEventListener("click", () => startRun("start"));
$("resume").addEventListener("click", () => startRun("resume"));
$("stop").addEventListener("click", () => { if (state.socket) state.socket.send(JSON.stringify({ action: "stop" })); });

// ------------------------------------------------------------------ compare
async function loadCompare() {
  try {
    const c = await call("GET", `/api/s/${state.sid}/compare`);
    $("before-img").src = c.before; $("after-img").src = c.after;
    $("compare-toggle").disabled = false; $("compare-slider").disabled = false;
  } catch (e) { fail(e); }
}
function slide() {
  const v = +$("compare-slider").value;
  $("after-img").style.clipPath = `inset(0 0 0 ${v}%)`; $("compare-line").style.left = `${v}%`;
}
$("compare-slider").addEventListener("input", slide);
$("compare-toggle").addEventListener("change", (e) => { $("compare-stage").hidden = !e.target.checked; slide(); });
$("evaluate").addEventListener("click", async () => {
  try {
    const { job } = await call("POST", `/api/s/${state.sid}/evaluate`, { spp: +$("eval-spp").value, seeds: +$("eval-seeds").value });
    const r = await follow(state.sid, job);
    const names = ["mean_gradient", "rms_contrast", "clipped_fraction", "black_fraction", "auc", "cnr", "detected_fraction"];
    const fmt = (m) => (m && m.mean !== null && m.mean !== undefined ? m.mean.toPrecision(4) : "–");
    $("metrics").innerHTML = "<tr><th>metric</th><th>before</th><th>after</th></tr>" + names
      .filter((n) => n in r.before).map((n) => `<tr><th>${n.replace(/_/g, " ")}</th><td>${fmt(r.before[n])}</td><td>${fmt(r.after[n])}</td></tr>`).join("");
    say(`evaluated on ${r.seeds} renders of ${r.spp} spp`, true);
  } catch (e) { fail(e); }
});

// ------------------------------------------------------------------ probability of detection
async function showPlot(id, url) {  // through call(): the token travels in a header
  const r = await call("GET", url, undefined, { raw: true });
  const img = $(id); img.src = URL.createObjectURL(await r.blob()); img.hidden = false;
}
$("pod").addEventListener("click", async () => {
  try {
    const { job } = await call("POST", `/api/s/${state.sid}/pod`, {});
    const v = await follow(state.sid, job);
    const um = (x) => (x === null || x === undefined ? "–" : `${x.toPrecision(3)} µm`);
    const blind = v.blind_deg.length ? `blind at ${v.blind_deg.join("°, ")}°` :
      (v.weakest_deg !== null && v.weakest_deg !== undefined ? `weakest at ${v.weakest_deg}°` : "");
    $("pod-verdict").textContent = v.a90_95_um !== null
      ? `a50 ${um(v.a50_um)}, a90 ${um(v.a90_um)}, a90/95 ${um(v.a90_95_um)} (${v.hits} of ${v.defects} scratches seen); ${blind}`
      : `no POD curve: ${v.note || v.status} (${v.hits} of ${v.defects} scratches seen); ${blind}`;
    await showPlot("pod-curve", v.plots["pod.png"]);
    await showPlot("pod-orient", v.plots["orientation.png"]);
    say("probability of detection of the current light", true);
  } catch (e) { fail(e); }
});

// ------------------------------------------------------------------ export
$("export").addEventListener("click", async () => {
  try {
    const { job } = await call("POST", `/api/s/${state.sid}/export`);
    const r = await follow(state.sid, job);
    const z = await call("GET", r.download, undefined, { raw: true });
    const a = document.createElement("a"); a.href = URL.createObjectURL(await z.blob());
    a.download = (z.headers.get("content-disposition") || "").match(/filename="?([^";]+)/)?.[1] || "results.zip";
    document.body.appendChild(a); a.click(); a.remove();
    state.exported = a.download; say(`exported ${a.download}`, true);
  } catch (e) { fail(e); }
});

// ------------------------------------------------------------------ start
async function start() {
  try {
    const cfg = await call("GET", "/api/config");
    state.sid = (await call("POST", "/api/sessions")).id;
    socket().catch(() => {});   // an open socket marks the session in use: never evicted
    const res = $("cam-resolution");
    if (![...res.options].some((o) => o.value === String(cfg.resolution))) res.add(new Option(String(cfg.resolution)));
    res.value = String(cfg.resolution);
    formDefaults(cfg.run_options);
    formDefaults(cfg.evaluate_options, EVAL_FORM);
    const sel = $("surface-select");
    sel.innerHTML = cfg.surfaces.map((s) => `<option>${s.name.replace(/</g, "&lt;")}</option>`).join("");
    light.draw();
    if (cfg.surfaces.length) await runLoad("surface", { name: cfg.surfaces[0].name }, `opened ${cfg.surfaces[0].name}`);
    else say("no surfaces in the data folder: upload one", true);
  } catch (e) { fail(e); }
  state.started = true;
}
window.addEventListener("beforeunload", () => { if (state.sid) navigator.sendBeacon?.(`/api/s/${state.sid}/stop`); });
start();
