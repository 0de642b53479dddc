/* The live panel: run a reference model in the reader's browser (chapter 3).
 *
 * tl.export.live_panel writes <div class="live-panel" data-model=... data-classes=...>; this
 * script (on every page of the built book, it acts only where such a div is) turns it into
 * controls: class and guidance (for a model with classes), steps, seed, Generate, a progress
 * bar, the waveform, a player and the time taken. The model's JSON names its sampler in
 * live_sampler.js: "v-ddim" (chapter 3's U-Net) or "euler" (chapter 2's flow model). The model is the ONNX graph tl.export.onnx_model wrote into the site's
 * _static/live/ at build time, run by ONNX Runtime Web (the plain WebAssembly build, one thread)
 * from the same folder: nothing comes from another host.
 *
 * For tests, the panel element keeps its last result in `panel.liveResult` ({samples, seconds,
 * loadSeconds, calls, settings, gainDb}) and its state in `panel.dataset.state`
 * (idle, running, done, error); tests/browser/test_live_panel.py reads both.
 */
(function () {
  "use strict";
  const SCRIPT_URL = document.currentScript ? document.currentScript.src : "";
  const MAX_STEPS = 1000, MAX_GUIDANCE = 20, MAX_SEED = 4294967295;
  const FILE_HELP =
    "Opened as a file, this page cannot run the model (browsers block WebAssembly from file://): " +
    "run `make serve` in the book's repository and open the address it prints.";
  let runtime = null;  // the promise of the global `ort`, loaded on the first Generate
  const models = {};  // model name -> promise of {info, session}

  const el = (tag, attrs, ...children) => {
    const node = document.createElement(tag);
    Object.entries(attrs || {}).forEach(([k, v]) => node.setAttribute(k, v));
    children.forEach((c) => node.append(c));
    return node;
  };

  function loadRuntime(base) {
    if (!runtime) {
      runtime = new Promise((resolve, reject) => {
        const script = el("script", {src: new URL("ort.wasm.min.js", base).href});
        script.onload = () => {
          window.ort.env.wasm.numThreads = 1;  // no SharedArrayBuffer, no isolation headers
          window.ort.env.wasm.wasmPaths = base.href;
          resolve(window.ort);
        };
        script.onerror = () => reject(new Error("could not load " + script.src));
        document.head.append(script);
      });
    }
    return runtime;
  }

  function loadModel(base, name) {
    if (!models[name]) {
      models[name] = (async () => {
        const ort = await loadRuntime(base);
        const reply = await fetch(new URL(name + ".json", base));
        if (!reply.ok) throw new Error(`${name}.json: HTTP ${reply.status}`);
        const info = await reply.json();
        const session = await ort.InferenceSession.create(new URL(info.onnx_file, base).href, {
          executionProviders: ["wasm"],
        });
        return {info, session};
      })();
      models[name].catch(() => delete models[name]);  // let a later click try again
    }
    return models[name];
  }

  // One network call on a batch of copies of x, one per label: [v for each label].
  function network(ort, session, info) {
    const n = info.length;
    return async (x, t, labels) => {
      const b = labels.length, xs = new Float32Array(b * n);
      labels.forEach((_, i) => xs.set(x, i * n));
      const feed = {
        x: new ort.Tensor("float32", xs, [b, 1, n]),
        t: new ort.Tensor("float32", new Float32Array(b).fill(t), [b]),
      };
      if (info.inputs.includes("label"))
        feed.label = new ort.Tensor("int64", BigInt64Array.from(labels, BigInt), [b]);
      const v = (await session.run(feed))[info.output].data;
      return labels.map((_, i) => v.subarray(i * n, (i + 1) * n));
    };
  }

  function parseSettings(form, classes) {
    const text = (name) => (form.elements[name] ? form.elements[name].value.trim() : "");
    const steps = Number(text("steps")), seed = Number(text("seed"));
    if (text("steps") === "" || !Number.isInteger(steps) || steps < 1 || steps > MAX_STEPS)
      return {error: `Steps: enter a whole number from 1 to ${MAX_STEPS} (got "${text("steps")}").`};
    if (text("seed") === "" || !Number.isInteger(seed) || seed < 0 || seed > MAX_SEED)
      return {error: `Seed: enter a whole number from 0 to ${MAX_SEED} (got "${text("seed")}").`};
    if (!classes) return {steps, seed, className: null, label: null};
    const guidance = Number(text("guidance"));
    if (text("guidance") === "" || !Number.isFinite(guidance) || guidance < 0 || guidance > MAX_GUIDANCE)
      return {error: `Guidance: enter a number from 0 to ${MAX_GUIDANCE} (got "${text("guidance")}").`};
    const cls = form.elements.class.value;
    return {steps, guidance, seed, className: cls || null, label: cls ? classes.indexOf(cls) : -1};
  }

  function drawWaveform(canvas, samples) {
    const ctx = canvas.getContext("2d"), w = canvas.width, h = canvas.height;
    ctx.clearRect(0, 0, w, h);
    ctx.fillStyle = "#1f77b4";
    const per = samples.length / w;
    for (let px = 0; px < w; px++) {
      let lo = 1, hi = -1;
      for (let i = Math.floor(px * per); i < Math.floor((px + 1) * per); i++) {
        lo = Math.min(lo, samples[i]);
        hi = Math.max(hi, samples[i]);
      }
      ctx.fillRect(px, ((1 - hi) * h) / 2, 1, Math.max(1, ((hi - lo) * h) / 2));
    }
  }

  // 16-bit PCM WAV of the samples times gain (the book's listening policy, tl.audio.play).
  function wav(samples, sr, gain) {
    const buf = new ArrayBuffer(44 + 2 * samples.length), d = new DataView(buf);
    const put = (o, s) => [...s].forEach((c, i) => d.setUint8(o + i, c.charCodeAt(0)));
    put(0, "RIFF"); d.setUint32(4, 36 + 2 * samples.length, true); put(8, "WAVEfmt ");
    d.setUint32(16, 16, true); d.setUint16(20, 1, true); d.setUint16(22, 1, true);
    d.setUint32(24, sr, true); d.setUint32(28, 2 * sr, true); d.setUint16(32, 2, true);
    d.setUint16(34, 16, true); put(36, "data"); d.setUint32(40, 2 * samples.length, true);
    samples.forEach((v, i) => d.setInt16(44 + 2 * i, Math.round(Math.max(-1, Math.min(1, v * gain)) * 32767), true));
    return new Blob([buf], {type: "audio/wav"});
  }

  function setUp(panel) {
    const data = panel.dataset, classes = JSON.parse(data.classes || "null");
    const base = new URL("../" + data.liveDir.replace(/\/?$/, "/"), SCRIPT_URL);
    const field = (label, name, value) =>
      el("label", {}, label + " ", el("input", {name, value, size: "10", inputmode: "decimal"}));
    const button = el("button", {type: "submit"}, "Generate");
    const form = el("form", {class: "live-controls"});
    if (classes) {
      const classSelect = el("select", {name: "class"});
      classes.forEach((c) => classSelect.append(el("option", {value: c}, c)));
      classSelect.append(el("option", {value: ""}, "no class"));
      classSelect.value = data.class;
      form.append(el("label", {}, "Class ", classSelect));
    }
    form.append(field("Steps", "steps", data.steps));
    if (classes) form.append(field("Guidance", "guidance", data.guidance));
    form.append(field("Seed", "seed", data.seed), button);
    const progress = el("progress", {max: "1", value: "0"});
    const status = el("p", {class: "live-status", role: "status"});
    const canvas = el("canvas", {width: "640", height: "120", class: "live-waveform"});
    const player = el("div", {class: "live-player"});
    panel.replaceChildren(form, progress, status, canvas, player);
    panel.dataset.state = "idle";
    const say = (text, state) => {
      status.textContent = text;
      if (state) panel.dataset.state = state;
    };
    if (location.protocol === "file:") say(FILE_HELP, "error");

    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      if (location.protocol === "file:") return say(FILE_HELP, "error");
      const s = parseSettings(form, classes);
      if (s.error) return say(s.error, "error");
      button.disabled = true;
      try {
        say("Loading the model and ONNX Runtime Web...", "running");
        const start = performance.now();
        const {info, session} = await loadModel(base, data.model);
        const loadSeconds = (performance.now() - start) / 1000;
        const ort = window.ort;
        const settings = {steps: s.steps, rho: info.sampler.rho, guidance: s.guidance,
                          clipX0: info.sampler.clip_x0, scale: info.scale};
        let calls = 0;
        const net = network(ort, session, info);
        const counted = (x, t, labels) => ((calls += labels.length), net(x, t, labels));
        const noise = LiveSampler.seededNoise(s.seed, info.length);
        const onStep = async (k, n) => {
          progress.value = k;
          say(`Step ${k} of ${n}...`);
          await new Promise((r) => setTimeout(r, 0));  // let the page draw
        };
        progress.max = s.steps;
        const t0 = performance.now();
        const samples = info.sampler.kind === "euler"
          ? await LiveSampler.euler(counted, noise, settings, onStep)
          : await LiveSampler.vddim(counted, noise, s.label, settings, onStep);
        const seconds = (performance.now() - t0) / 1000;
        const rms = Math.sqrt(samples.reduce((acc, v) => acc + v * v, 0) / samples.length);
        const rmsDb = 20 * Math.log10(rms + 1e-12), maxDb = Number(data.maxRmsDb);
        const gainDb = rmsDb > maxDb ? maxDb - rmsDb : 0;
        drawWaveform(canvas, samples);
        const audio = el("audio", {controls: ""});
        audio.src = URL.createObjectURL(wav(samples, info.sample_rate, 10 ** (gainDb / 20)));
        player.replaceChildren(audio, gainDb < 0 ? ` played ${(-gainDb).toFixed(0)} dB quieter` : "");
        panel.liveResult = {samples, seconds, loadSeconds, calls, settings: s, gainDb};
        const what = s.className ? `a ${s.className}` : classes ? "a clip with no class" : "a clip";
        const how = classes ? `guidance ${s.guidance}, ` : "";
        say(`Generated ${what} in ${seconds.toFixed(1)} s (${calls} network evaluations, ` +
            `${s.steps} steps, ${how}seed ${s.seed}; the model loaded in ` +
            `${loadSeconds.toFixed(1)} s).`, "done");
      } catch (err) {
        say("Could not run the model: " + (err && err.message ? err.message : err), "error");
      } finally {
        button.disabled = false;
      }
    });
  }

  const start = () => document.querySelectorAll(".live-panel").forEach(setUp);
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
