"""The Pairs page's two hands: the robot's, drawn from its own state, and the human's retargeted to the same
robot hand, both through the robot's URDF, stepping together along the DTW path.

`hands_html(detail.hands)` is a block for the page's player (`PLAYER_HTML`): its `drawHands(r, h)` is
called with the robot frame on screen and the human frame the warping path matches to it, on every
animation frame. The views are orthographic and turn when dragged (double-click resets); both use
one scale, so the two hands compare in size. Data: `curation.pair_view.pair_hands` (millimetres in
the hand's root frame, links and edges per side).
"""

from __future__ import annotations

import json

HANDS_HEIGHT_PX = 250  # what the block adds to the player's height
HANDS_HTML = """<div style="display:flex;gap:8px;margin-top:6px;font-family:sans-serif;font-size:13px">
<figure style="margin:0;flex:1"><canvas id="hand-robot" height="220" style="width:100%;height:220px;
 background:#f8fafc;border:1px solid #e5e7eb;border-radius:6px;cursor:grab"></canvas><figcaption>Robot hand
 from its state (__EMBODIMENT__) · frame <b id="hr">0</b></figcaption></figure>
<figure style="margin:0;flex:1"><canvas id="hand-human" height="220" style="width:100%;height:220px;
 background:#f8fafc;border:1px solid #e5e7eb;border-radius:6px;cursor:grab"></canvas><figcaption>Human clip
 retargeted to the same hand · frame <b id="hh">0</b></figcaption></figure></div>
<script>
(() => {
  const H = __HANDS__;
  const COLORS = {left: '#ea580c', right: '#2563eb'};
  let yaw = 0, pitch = 0, last = [0, 0];
  // One centre and scale for both views: the middle of every point drawn, in mm.
  const lo = [Infinity, Infinity, Infinity], hi = [-Infinity, -Infinity, -Infinity];
  for (const layer of [...H.robot, ...H.human]) for (const f of layer.xyz) if (f)
    for (let i = 0; i < f.length; i += 3) for (let k = 0; k < 3; k++) {
      lo[k] = Math.min(lo[k], f[i + k]); hi[k] = Math.max(hi[k], f[i + k]);
    }
  const mid = lo.map((v, k) => (v + hi[k]) / 2);
  const span = Math.max(1, ...lo.map((v, k) => hi[k] - v));
  // Two hands share their root's origin: the left one is drawn to the left of the right one.
  const spread = H.robot.length > 1 ? 0.6 * span : 0;
  // Root frame of dex-urdf hands: fingers along +z, across the palm along y. Screen: y right, z up.
  function project(x, y, z, w, h, side) {
    const cy = Math.cos(yaw), sy = Math.sin(yaw), cp = Math.cos(pitch), sp = Math.sin(pitch);
    const shift = side === 'left' ? -spread : side === 'right' ? spread : 0;
    const [a, b, c] = [y - mid[1] + shift, -(z - mid[2]), x - mid[0]];
    const a1 = cy * a + sy * c, c1 = -sy * a + cy * c;
    const b1 = cp * b - sp * c1;
    const s = 0.85 * Math.min(h / span, w / (span + 2 * spread));
    return [w / 2 + s * a1, h / 2 + s * b1];
  }
  function draw(id, layers, f) {
    const canvas = document.getElementById(id);
    const w = canvas.clientWidth, h = canvas.clientHeight;
    if (canvas.width !== w) canvas.width = w;
    const ctx = canvas.getContext('2d');
    ctx.clearRect(0, 0, w, h);
    ctx.lineCap = 'round';
    for (const layer of layers) {
      const flat = layer.xyz[Math.max(0, Math.min(layer.xyz.length - 1, f))];
      if (!flat) continue;
      const pts = [];
      for (let i = 0; i < flat.length; i += 3) pts.push(project(flat[i], flat[i + 1], flat[i + 2], w, h, layer.side));
      ctx.strokeStyle = COLORS[layer.side] || '#1f2937';
      ctx.lineWidth = 3;
      ctx.beginPath();
      for (const [p, q] of layer.edges) { ctx.moveTo(...pts[p]); ctx.lineTo(...pts[q]); }
      ctx.stroke();
      ctx.fillStyle = '#1f2937';
      for (const p of pts) ctx.fillRect(p[0] - 2, p[1] - 2, 4, 4);
    }
    ctx.fillStyle = '#6b7280';
    ctx.font = '11px sans-serif';
    ctx.fillText(layers.map((l) => l.side).join(' | ') + ' · drag to turn, double-click to reset', 8, 14);
  }
  window.drawHands = (r, hf) => {
    last = [r, Math.round(hf)];
    draw('hand-robot', H.robot, last[0]);
    draw('hand-human', H.human, last[1]);
    document.getElementById('hr').textContent = last[0];
    document.getElementById('hh').textContent = last[1];
  };
  for (const id of ['hand-robot', 'hand-human']) {
    const canvas = document.getElementById(id);
    let drag = null;
    canvas.addEventListener('pointerdown', (e) => {
      drag = [e.clientX, e.clientY];
      canvas.setPointerCapture(e.pointerId);
    });
    canvas.addEventListener('pointermove', (e) => {
      if (!drag) return;
      yaw += (e.clientX - drag[0]) * 0.01;
      pitch = Math.max(-1.5, Math.min(1.5, pitch - (e.clientY - drag[1]) * 0.01));
      drag = [e.clientX, e.clientY];
      window.drawHands(...last);
    });
    canvas.addEventListener('pointerup', () => { drag = null; });
    canvas.addEventListener('dblclick', () => { yaw = 0; pitch = 0; window.drawHands(...last); });
  }
  window.drawHands(0, 0);
})();
</script>"""


def hands_html(hands: dict | None) -> str:
    """The block drawing both hands (empty when the robot has no spec to draw with)."""
    if not hands:
        return ""
    data = json.dumps({"robot": hands["robot"], "human": hands["human"]}, separators=(",", ":"))
    return HANDS_HTML.replace("__HANDS__", data).replace("__EMBODIMENT__", str(hands["embodiment"]))
