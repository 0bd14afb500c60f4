// Checkpoint-pause chart, drawn by hand as inline SVG (no chart library, works offline).

const W = 240;
const H = 56;
const PAD = 2;

/** @param {number[]} samples pause ms, oldest first @returns {string} markup: a label and an SVG */
export function pauseChart(samples) {
  if (!samples.length) return '<div class="chart-label">checkpoint pauses: none yet</div>';
  // One sample is drawn as a flat line across, so it is visible.
  const pauses = samples.length === 1 ? [samples[0], samples[0]] : samples;
  const max = Math.max(1, ...pauses);
  const top = niceCeil(max);
  const step = pauses.length > 1 ? (W - 2 * PAD) / (pauses.length - 1) : 0;
  const y = (v) => (H - PAD - ((H - 2 * PAD) * v) / top).toFixed(1);
  const pts = pauses.map((v, i) => `${(PAD + i * step).toFixed(1)},${y(v)}`);
  const area = `M${PAD},${H - PAD} L${pts.join(' L')} L${(PAD + (pauses.length - 1) * step).toFixed(1)},${H - PAD} Z`;
  const last = pauses[pauses.length - 1];
  const label = `checkpoint pauses: last ${fmt(last)} ms, max ${fmt(max)} ms over ${samples.length} checkpoints (scale ${fmt(top)} ms)`;
  return (
    `<div class="chart-label">${label}</div>` +
    `<svg class="chart" viewBox="0 0 ${W} ${H}" preserveAspectRatio="none" role="img" aria-label="${label}">` +
    `<line class="grid" x1="0" x2="${W}" y1="${y(top / 2)}" y2="${y(top / 2)}"></line>` +
    `<path class="area" d="${area}"></path>` +
    `<polyline class="line" points="${pts.join(' ')}"></polyline>` +
    `</svg>`
  );
}

function niceCeil(v) {
  const p = 10 ** Math.floor(Math.log10(v));
  for (const m of [1, 2, 5, 10]) if (v <= m * p) return m * p;
  return 10 * p;
}

function fmt(v) {
  return v >= 10 ? Math.round(v).toString() : v.toFixed(1);
}
