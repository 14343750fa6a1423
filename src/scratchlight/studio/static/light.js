// The light editor: a lat-long map E (H x W x C, row 0 the zenith, column c at azimuth
// 2 pi (c + 0.5) / W), drawn one block per texel; brush, eraser and a raking lamp.
function srgb(x) {
  x = Math.min(Math.max(x, 0), 1);
  return x <= 0.0031308 ? 12.92 * x : 1.055 * Math.pow(x, 1 / 2.4) - 0.055;
}

export class LightEditor {
  constructor(canvas, onChange) {
    this.canvas = canvas;
    this.ctx = canvas.getContext("2d");
    this.onChange = onChange;
    this.H = 25; this.W = 50; this.C = 1;
    this.values = new Float32Array(this.H * this.W).fill(0.5);
    this.tool = "brush"; this.size = 2; this.intensity = 1; this.color = [1, 1, 1];
    this.lamp = null;
    let down = false;
    const at = (ev) => {
      const r = canvas.getBoundingClientRect();
      return [(ev.clientY - r.top) / r.height * this.H, (ev.clientX - r.left) / r.width * this.W];
    };
    canvas.addEventListener("pointerdown", (ev) => { down = true; canvas.setPointerCapture(ev.pointerId); this.apply(...at(ev)); });
    canvas.addEventListener("pointermove", (ev) => { if (down) this.apply(...at(ev)); });
    canvas.addEventListener("pointerup", () => { down = false; });
  }

  set(json) {
    [this.H, this.W, this.C] = json.shape;
    this.values = Float32Array.from(json.values);
    this.draw();
  }

  json() { return { shape: [this.H, this.W, this.C], values: Array.from(this.values) }; }

  setChannels(C) {
    if (C === this.C) return;
    const out = new Float32Array(this.H * this.W * C);
    for (let t = 0; t < this.H * this.W; t++) {
      if (C === 3) { for (let k = 0; k < 3; k++) out[3 * t + k] = this.values[t]; }
      else out[t] = 0.2126 * this.values[3 * t] + 0.7152 * this.values[3 * t + 1] + 0.0722 * this.values[3 * t + 2];
    }
    this.C = C; this.values = out; this.draw();
  }

  apply(y, x) {
    const { H, W, C } = this;
    if (this.tool === "lamp") return this.placeLamp(y, x);
    const r = this.size;
    for (let i = 0; i < H; i++) {
      for (let j = 0; j < W; j++) {
        let dx = Math.abs(j + 0.5 - x); dx = Math.min(dx, W - dx);   // columns wrap
        const dy = i + 0.5 - y;
        if (dx * dx + dy * dy > r * r) continue;
        for (let k = 0; k < C; k++) {
          const v = this.tool === "erase" ? 0 : this.intensity * (C === 3 ? this.color[k] : 1);
          this.values[(i * W + j) * C + k] = v;
        }
      }
    }
    this.draw(); this.onChange();
  }

  // A single lamp: a Gaussian spot of angular radius ~size texels at (elevation, azimuth),
  // kept above the horizon; everything else dark.
  placeLamp(y, x) {
    const { H, W, C } = this;
    const theta = Math.min(Math.max(y / (H - 1), 0), 0.5) * Math.PI;   // 0 zenith .. pi/2 horizon
    const phi = (x / W) * 2 * Math.PI;
    this.setLamp(90 - theta * 180 / Math.PI, ((phi * 180 / Math.PI) % 360 + 360) % 360);
  }

  setLamp(elevation, azimuth) {
    const { H, W, C } = this;
    const th0 = (90 - elevation) * Math.PI / 180, ph0 = azimuth * Math.PI / 180;
    const d0 = [Math.sin(th0) * Math.cos(ph0), Math.sin(th0) * Math.sin(ph0), Math.cos(th0)];
    const width = Math.max(this.size, 0.5) * Math.PI / (H - 1);   // texels -> radians
    for (let i = 0; i < H; i++) {
      const th = Math.PI * i / (H - 1);
      for (let j = 0; j < W; j++) {
        const ph = 2 * Math.PI * (j + 0.5) / W;
        const d = [Math.sin(th) * Math.cos(ph), Math.sin(th) * Math.sin(ph), Math.cos(th)];
        const a = Math.acos(Math.min(1, Math.max(-1, d[0] * d0[0] + d[1] * d0[1] + d[2] * d0[2])));
        const v = this.intensity * Math.exp(-((a / width) ** 2));
        for (let k = 0; k < C; k++) this.values[(i * W + j) * C + k] = v * (C === 3 ? this.color[k] : 1);
      }
    }
    this.lamp = { elevation, azimuth };
    document.getElementById("lamp-readout").textContent =
      `lamp: elevation ${elevation.toFixed(0)}°, azimuth ${azimuth.toFixed(0)}°`;
    // the status line names the light in use (not an earlier preset's name)
    const m = document.getElementById("message");
    if (m.className === "ok" && m.textContent.startsWith("light: ")) m.textContent = "light: raking lamp";
    this.draw(); this.onChange();
  }

  draw() {
    const { H, W, C } = this;
    const img = this.ctx.createImageData(W, H);
    for (let t = 0; t < H * W; t++) {
      for (let k = 0; k < 3; k++) img.data[4 * t + k] = Math.round(255 * srgb(this.values[t * C + (C === 3 ? k : 0)]));
      img.data[4 * t + 3] = 255;
    }
    const off = new OffscreenCanvas(W, H);
    off.getContext("2d").putImageData(img, 0, 0);
    this.ctx.imageSmoothingEnabled = false;
    this.ctx.drawImage(off, 0, 0, this.canvas.width, this.canvas.height);
    this.ctx.strokeStyle = "rgba(224,160,64,.6)";
    this.ctx.beginPath();   // the horizon (elevation 0)
    const yh = (H - 1) / 2 / H * this.canvas.height + this.canvas.height / H / 2;
    this.ctx.moveTo(0, yh); this.ctx.lineTo(this.canvas.width, yh); this.ctx.stroke();
  }
}
