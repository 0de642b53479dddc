/* The book's live sampler: the same noise and the same v-DDIM as the Python library.
 *
 * Used by live_panel.js (chapter 3's panel, run with ONNX Runtime Web) and, under Node, by
 * tests/test_live_sampler.py, which checks both functions against Python.
 *
 *   seededNoise(seed, n)  mirrors tl.export.seeded_noise (src/tutorial_lib/export.py)
 *   vddim(net, noise, label, settings, onStep)
 *                         mirrors drums_unet.generate -> tl.vdiffusion.sample
 *                         (src/tutorial_lib/families/drums_unet.py, src/tutorial_lib/vdiffusion.py)
 *   euler(net, noise, settings, onStep)
 *                         mirrors tl.samplers.euler_sample as drums_small.sample runs it
 *                         (src/tutorial_lib/samplers/flow.py, families/drums_small.py)
 */
(function (root) {
  "use strict";

  // lowbias32 (C. Wellons, 2018): a 32-bit integer hash; Python: tl.export.mix32.
  function mix32(x) {
    x = (x ^ (x >>> 16)) >>> 0;
    x = Math.imul(x, 0x7feb352d) >>> 0;
    x = (x ^ (x >>> 15)) >>> 0;
    x = Math.imul(x, 0x846ca68b) >>> 0;
    return (x ^ (x >>> 16)) >>> 0;
  }

  // n standard normal numbers from seed (an integer in [0, 2**32)): counter c gives the word
  // mix32(mix32(c) ^ key), key = mix32(seed ^ 0x9e3779b9), and u = (word + 0.5) / 2**32;
  // Box-Muller turns the uniforms (u[2k], u[2k+1]) into the numbers 2k and 2k+1.
  function seededNoise(seed, n) {
    const key = mix32((seed ^ 0x9e3779b9) >>> 0);
    const u = (c) => (mix32((mix32(c) ^ key) >>> 0) + 0.5) / 4294967296;
    const z = new Float32Array(n);
    for (let k = 0; 2 * k < n; k++) {
      const r = Math.sqrt(-2 * Math.log(u(2 * k)));
      const angle = 2 * Math.PI * u(2 * k + 1);
      z[2 * k] = r * Math.cos(angle);
      if (2 * k + 1 < n) z[2 * k + 1] = r * Math.sin(angle);
    }
    return z;
  }

  // Deterministic v-DDIM with classifier-free guidance, on one clip.
  // net(x, t, labels) -> Promise of [v for each label]: one network call on a batch of copies
  // of x (Float32Array), one per label; label -1 = no class.
  // settings: {steps, rho, guidance, clipX0, scale} (the model's JSON, tl.export.describe_model).
  // Times t_k = (1 - k / steps) ** rho, alpha = cos(pi t / 2), sigma = sin(pi t / 2);
  // returns the audio: x0 times scale, clamped to [-1, 1].
  async function vddim(net, noise, label, settings, onStep) {
    const {steps, rho, clipX0, scale} = settings;
    // guidance as tl.samplers.guided: w = 1 is the conditional v alone, w = 0 the
    // unconditional one; otherwise both, here in one call of a batch of two
    const w = label < 0 ? 1 : settings.guidance;
    const guided = async (x, t) => {
      if (w === 1 || w === 0) return (await net(x, t, [w === 1 ? label : -1]))[0];
      const [u, c] = await net(x, t, [-1, label]);
      return u.map((ui, i) => ui + w * (c[i] - ui));
    };
    let x = Float64Array.from(noise);
    const x0 = new Float64Array(x.length);
    for (let k = 0; k < steps; k++) {
      const t = (1 - k / steps) ** rho;
      const tNext = (1 - (k + 1) / steps) ** rho;
      const v = await guided(Float32Array.from(x), t);
      const a = Math.cos((Math.PI * t) / 2), s = Math.sin((Math.PI * t) / 2);
      const aNext = Math.cos((Math.PI * tNext) / 2), sNext = Math.sin((Math.PI * tNext) / 2);
      for (let i = 0; i < x.length; i++) {
        x0[i] = Math.min(clipX0, Math.max(-clipX0, a * x[i] - s * v[i]));  // x0_hat, clamped
        const eps = s * x[i] + a * v[i];  // eps_hat
        x[i] = aNext * x0[i] + sNext * eps;  // the next time's x (x0_hat after the last step)
      }
      if (onStep) await onStep(k + 1, steps);
    }
    return Float32Array.from(x0, (v) => Math.min(1, Math.max(-1, v * scale)));
  }

  // Rectified flow, Euler steps (chapter 2): times t_k = 1 - k / steps, and
  // x <- x + (t_k - t_{k+1}) v with v = net(x, t_k) (the flow is dx/dt = -v, v = data - noise);
  // net as for vddim, with the label null (the model has no classes). Returns x times scale,
  // clamped to [-1, 1].
  async function euler(net, noise, settings, onStep) {
    const {steps, scale} = settings;
    const x = Float64Array.from(noise);
    for (let k = 0; k < steps; k++) {
      const t = 1 - k / steps, tNext = 1 - (k + 1) / steps;
      const [v] = await net(Float32Array.from(x), t, [null]);
      for (let i = 0; i < x.length; i++) x[i] += (t - tNext) * v[i];
      if (onStep) await onStep(k + 1, steps);
    }
    return Float32Array.from(x, (v) => Math.min(1, Math.max(-1, v * scale)));
  }

  const api = {mix32, seededNoise, vddim, euler};
  if (typeof module === "object" && module.exports) module.exports = api;
  else root.LiveSampler = api;
})(typeof globalThis !== "undefined" ? globalThis : this);
