// Talking to the studio server: JSON calls with the token, jobs followed by polling,
// messages and the progress bar in the header.
const token = new URLSearchParams(location.search).get("token");

export function headers(extra = {}) {
  return token ? { "X-Studio-Token": token, ...extra } : extra;
}

export function wsUrl(path) {
  const proto = location.protocol === "https:" ? "wss:" : "ws:";
  return `${proto}//${location.host}${path}` + (token ? `?token=${encodeURIComponent(token)}` : "");
}

export class ApiError extends Error {}

export async function call(method, path, body, { raw = false, type } = {}) {
  const opts = { method, headers: headers() };
  if (body instanceof Blob || body instanceof ArrayBuffer) {
    opts.body = body;
    opts.headers["Content-Type"] = type || "application/octet-stream";
  } else if (body !== undefined) {
    opts.body = JSON.stringify(body);
    opts.headers["Content-Type"] = "application/json";
  }
  const r = await fetch(path, opts);
  if (!r.ok) {
    let msg = `${r.status} ${r.statusText}`;
    try { msg = (await r.json()).error || msg; } catch (e) { /* not JSON */ }
    throw new ApiError(msg);
  }
  return raw ? r : r.json();
}

export function say(text, ok = false) {
  const m = document.getElementById("message");
  m.textContent = text || "";
  m.className = ok ? "ok" : "";
}

export function progress(fraction, text) {
  const box = document.getElementById("progress");
  if (fraction === null) { box.hidden = true; return; }
  box.hidden = false;
  document.getElementById("progress-bar").style.width = `${Math.round(100 * fraction)}%`;
  document.getElementById("progress-text").textContent = text || "";
}

// Follow a job (load, camera, evaluate, export) until it ends; returns its result.
export async function follow(sid, job) {
  while (job.state !== "done" && job.state !== "error") {
    progress(job.progress, `${job.kind}: ${job.message || job.state}`);
    await new Promise((r) => setTimeout(r, 150));
    job = (await call("GET", `/api/s/${sid}/job`)).job;
  }
  progress(null);
  if (job.state === "error") throw new ApiError(job.error);
  return job.result;
}
