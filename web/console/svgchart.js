// svgchart.js - a small bar chart drawn as inline SVG (no library). Values may be
// BigInt (money in minor units) or numbers (counts); only the bar geometry is computed
// in floating point, every label goes through `format` with the exact value.

const NS = 'http://www.w3.org/2000/svg';

function el(tag, attrs, ...children) {
  const e = document.createElementNS(NS, tag);
  for (const [k, v] of Object.entries(attrs || {})) if (v !== undefined && v !== null) e.setAttribute(k, String(v));
  for (const c of children) e.append(c instanceof Node ? c : document.createTextNode(String(c)));
  return e;
}

const big = (v) => (typeof v === 'bigint' ? v : BigInt(Math.round(Number(v))));

// labels: the x categories; series: [{name, cls, values}] (one value per label).
// Returns an <svg> with one <rect class="bar cls"> per value.
export function barChart({ title, labels, series, format = String, width = 720, height = 280 }) {
  const pad = { top: 16, right: 12, bottom: 48, left: 84 };
  const w = width - pad.left - pad.right;
  const hgt = height - pad.top - pad.bottom;
  let max = 0n;
  for (const s of series) for (const v of s.values) if (big(v) > max) max = big(v);
  if (max === 0n) max = 1n;
  const y = (v) => pad.top + hgt - (Number(big(v)) / Number(max)) * hgt;
  const svg = el('svg', { viewBox: `0 0 ${width} ${height}`, width, height, role: 'img', class: 'chart',
    'aria-label': title, preserveAspectRatio: 'xMinYMin meet' }, el('title', {}, title));
  // grid and y axis labels: 0, 1/4 .. max (exact, from the BigInt maximum)
  for (let i = 0n; i <= 4n; i++) {
    const v = (max * i) / 4n;
    const yy = y(v);
    svg.append(el('line', { x1: pad.left, x2: pad.left + w, y1: yy, y2: yy, class: 'grid' }),
      el('text', { x: pad.left - 6, y: yy + 4, class: 'axis', 'text-anchor': 'end' }, format(v)));
  }
  const group = labels.length ? w / labels.length : w;
  const barW = Math.max(2, Math.min(48, (group * 0.8) / Math.max(1, series.length)));
  labels.forEach((label, i) => {
    const x0 = pad.left + i * group + (group - barW * series.length) / 2;
    series.forEach((s, j) => {
      const v = s.values[i] ?? 0;
      const top = y(v);
      svg.append(el('rect', { x: x0 + j * barW, y: top, width: barW - 1, height: Math.max(0, pad.top + hgt - top),
        class: 'bar ' + s.cls, 'data-label': label, 'data-value': String(v) }, el('title', {}, `${label} · ${s.name}: ${format(v)}`)));
    });
    if (labels.length <= 16 || i % Math.ceil(labels.length / 16) === 0) {
      svg.append(el('text', { x: pad.left + i * group + group / 2, y: pad.top + hgt + 16, class: 'axis', 'text-anchor': 'middle' }, label));
    }
  });
  svg.append(el('line', { x1: pad.left, x2: pad.left + w, y1: pad.top + hgt, y2: pad.top + hgt, class: 'baseline' }));
  // legend
  series.forEach((s, j) => {
    const lx = pad.left + j * 160;
    svg.append(el('rect', { x: lx, y: height - 16, width: 12, height: 12, class: 'legend ' + s.cls }),
      el('text', { x: lx + 18, y: height - 6, class: 'axis' }, s.name));
  });
  return svg;
}
