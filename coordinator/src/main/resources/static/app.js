// Shared helpers of the FedPrune dashboard: REST calls, formatting and small SVG charts. No framework,
// no network beyond the coordinator itself, so the pages work offline on a hospital network.
const api = {
  async get(path) {
    const r = await fetch(path, { headers: { Accept: 'application/json' } });
    if (!r.ok) throw new Error(`${r.status} ${await r.text()}`);
    return r.json();
  },
  async post(path, body, type) {
    const r = await fetch(path, { method: 'POST', body, headers: body ? { 'Content-Type': type || 'application/yaml' } : {} });
    const text = await r.text();
    let json = null;
    try { json = JSON.parse(text); } catch (e) { /* not JSON */ }
    return { ok: r.ok, status: r.status, json, text };
  },
};

function el(tag, attrs = {}, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === 'class') e.className = v; else if (k.startsWith('on')) e.addEventListener(k.slice(2), v); else e.setAttribute(k, v);
  }
  for (const c of children.flat()) e.append(c instanceof Node ? c : document.createTextNode(c == null ? '' : String(c)));
  return e;
}

function state(s) { return el('span', { class: `state ${s}` }, s); }
function bytes(n) {
  if (n == null) return '';
  const units = ['B', 'KiB', 'MiB', 'GiB'];
  let i = 0; let v = Number(n);
  while (v >= 1024 && i < units.length - 1) { v /= 1024; i++; }
  return `${v.toFixed(i ? 1 : 0)} ${units[i]}`;
}
function ago(ms) {
  if (!ms) return '';
  const s = Math.max(0, Math.round((Date.now() - ms) / 1000));
  return s < 60 ? `${s} s ago` : s < 3600 ? `${Math.round(s / 60)} min ago` : `${Math.round(s / 3600)} h ago`;
}
function secs(ms) { return ms == null ? '' : `${(ms / 1000).toFixed(1)} s`; }

const SVG = 'http://www.w3.org/2000/svg';
function svg(tag, attrs = {}, ...children) {
  const e = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v);
  for (const c of children) e.append(c);
  return e;
}

// Horizontal bars: [{label, value}] with values in [0, max].
function barChart(items, max = 1, format = (v) => v.toFixed(3)) {
  const rowH = 18; const labelW = 120; const w = 520;
  const root = svg('svg', { width: w, height: items.length * rowH + 6, role: 'img' });
  items.forEach((it, i) => {
    const y = i * rowH + 3;
    const len = max > 0 ? (it.value / max) * (w - labelW - 70) : 0;
    root.append(svg('text', { x: labelW - 6, y: y + 12, 'text-anchor': 'end' }, document.createTextNode(it.label)));
    root.append(svg('rect', { x: labelW, y, width: Math.max(0, len), height: rowH - 5, fill: '#2456a6' }));
    root.append(svg('text', { x: labelW + len + 5, y: y + 12 }, document.createTextNode(format(it.value))));
  });
  return root;
}

// Heat map: rows = agents, columns = rounds, value in [0, 1] (0 = agrees with consensus).
function heatMap(rows, columns, value) {
  const cell = 22; const labelW = 110;
  const root = svg('svg', { width: labelW + columns.length * cell + 10, height: rows.length * cell + 24, role: 'img' });
  columns.forEach((c, j) => root.append(svg('text', { x: labelW + j * cell + cell / 2, y: 12, 'text-anchor': 'middle' }, document.createTextNode(c))));
  rows.forEach((r, i) => {
    root.append(svg('text', { x: labelW - 6, y: 18 + i * cell + 14, 'text-anchor': 'end' }, document.createTextNode(r)));
    columns.forEach((c, j) => {
      const v = value(r, c);
      const color = v == null ? '#eef1f6' : `hsl(${Math.round(120 * (1 - Math.min(1, v * 2)))}, 65%, 55%)`;
      const rect = svg('rect', { x: labelW + j * cell, y: 18 + i * cell, width: cell - 2, height: cell - 2, fill: color });
      rect.append(svg('title', {}, document.createTextNode(v == null ? `${r}, ${c}: no data` : `${r}, ${c}: ${(v * 100).toFixed(2)}% of weights differ from consensus`)));
      root.append(rect);
    });
  });
  return root;
}

// Line chart of [{x, y}].
function lineChart(points, yLabel, xLabel = 'round') {
  const w = 520; const h = 200; const l = 50; const b = 28; const t = 10;
  const root = svg('svg', { width: w, height: h, role: 'img' });
  if (!points.length) { root.append(svg('text', { x: 10, y: 20 }, document.createTextNode('no quality metric reported yet'))); return root; }
  const xs = points.map((p) => p.x); const ys = points.map((p) => p.y);
  const x0 = Math.min(...xs); const x1 = Math.max(...xs, x0 + 1); const y0 = Math.min(...ys); const y1 = Math.max(...ys, y0 + 1e-9);
  const px = (x) => l + ((x - x0) / (x1 - x0)) * (w - l - 10);
  const py = (y) => h - b - ((y - y0) / (y1 - y0 || 1)) * (h - b - t);
  root.append(svg('polyline', { points: points.map((p) => `${px(p.x)},${py(p.y)}`).join(' '), fill: 'none', stroke: '#2456a6', 'stroke-width': 2 }));
  points.forEach((p) => root.append(svg('circle', { cx: px(p.x), cy: py(p.y), r: 3, fill: '#2456a6' })));
  root.append(svg('text', { x: 4, y: 14 }, document.createTextNode(yLabel)));
  root.append(svg('text', { x: l, y: h - 8 }, document.createTextNode(`${xLabel} ${x0}`)));
  root.append(svg('text', { x: w - 90, y: h - 8 }, document.createTextNode(`${xLabel} ${Math.max(...xs)}`)));
  root.append(svg('text', { x: 4, y: t + 14 + 14 }, document.createTextNode(y1.toPrecision(4))));
  root.append(svg('text', { x: 4, y: h - b }, document.createTextNode(y0.toPrecision(4))));
  return root;
}
