// The retargeted robot hand in the clip viewer: its links drawn over the video on their own canvas
// (under the human skeleton's: the thin coloured bones stay readable on the wide light links, and
// either layer can be hidden), and a small 3D view of the chosen hand that follows the playhead and
// turns when dragged.
//
// Both are drawn from render(f) in viewer.js with the frame the skeleton is drawn for, so the robot
// is in sync with the picture exactly as the skeleton is. The data (C.robot) comes once:
// `hands[i].uv[f]`: 2L pixel coordinates in the clip's original resolution (projected in Python
// through the clip's camera), `view3d.xyz[f]` / `view3d.human[f]`: millimetres in camera axes around
// the centroid of the robot's links; null where the hand is absent.
window.egoParts = window.egoParts || {};
window.egoParts.robot = (C, helpers) => {
  'use strict';
  const {sizeCanvas, handColors} = helpers;
  const R = C.robot, V = R.view3d;
  // Light links on a dark outline: they read on any scene and never look like the orange/blue skeleton.
  const LINK = '#f8fafc', OUTLINE = 'rgba(15,23,42,0.8)';
  const canvas = document.getElementById('robot-overlay'), canvas3d = document.getElementById('view3d');
  const TURN_PER_PX = 0.01, PITCH_LIMIT = Math.PI / 2;
  let ctxR = null, view = {w: 0, h: 0}, ctx3 = null, size3 = 0, scale = 1;
  let yaw = 0, pitch = 0, frame = 0;

  // One scale for the whole clip, so the hand does not breathe as its pose changes.
  let extentMm = 1;
  for (const frames of [V.xyz, V.human || []]) {
    for (const points of frames) {
      if (!points) continue;
      for (let i = 0; i + 2 < points.length; i += 3) {
        if (points[i] === null) continue;
        extentMm = Math.max(extentMm, Math.hypot(points[i], points[i + 1], points[i + 2]));
      }
    }
  }

  function sizeOverlay(w, h) {
    view = {w, h};
    ctxR = sizeCanvas(canvas, w, h);
  }

  function drawOverlay(f) {
    ctxR.clearRect(0, 0, view.w, view.h);
    const sx = view.w / C.width, sy = view.h / C.height;
    for (const hand of R.hands) {
      const uv = hand.uv[f];
      if (!uv) continue;
      const pt = (j) => (uv[2 * j] === null || uv[2 * j + 1] === null ? null : [uv[2 * j] * sx, uv[2 * j + 1] * sy]);
      ctxR.lineCap = 'round';
      ctxR.lineJoin = 'round';
      for (const [width, style] of [[6, OUTLINE], [3, LINK]]) {
        ctxR.lineWidth = width;
        ctxR.strokeStyle = style;
        ctxR.beginPath();
        for (const [a, b] of hand.edges) {
          const pa = pt(a), pb = pt(b);
          if (!pa || !pb) continue;
          ctxR.moveTo(pa[0], pa[1]);
          ctxR.lineTo(pb[0], pb[1]);
        }
        ctxR.stroke();
      }
      // Squares for the links, where the skeleton has round joints.
      ctxR.fillStyle = LINK;
      ctxR.strokeStyle = OUTLINE;
      ctxR.lineWidth = 1.5;
      for (let j = 0; j < hand.links.length; j++) {
        const p = pt(j);
        if (!p) continue;
        ctxR.fillRect(p[0] - 2.5, p[1] - 2.5, 5, 5);
        ctxR.strokeRect(p[0] - 2.5, p[1] - 2.5, 5, 5);
      }
    }
  }

  // ---- the 3D view --------------------------------------------------------------------------
  // Orthographic, turned by yaw (about the camera's vertical axis) then pitch; at (0, 0) it is the
  // camera's own view (x right, y down, depth into the screen), so it starts looking like the video.
  function rotate(x, y, z) {
    const cy = Math.cos(yaw), sy = Math.sin(yaw), cp = Math.cos(pitch), sp = Math.sin(pitch);
    const x1 = cy * x + sy * z, z1 = -sy * x + cy * z;
    return [x1, cp * y - sp * z1, sp * y + cp * z1];
  }

  function layout3d(size) {
    size3 = size;
    ctx3 = sizeCanvas(canvas3d, size, size);
    scale = (0.46 * size) / extentMm;
    return size;
  }

  function screenPoints(flat) {
    const out = [];
    for (let i = 0; i + 2 < flat.length; i += 3) {
      if (flat[i] === null || flat[i + 1] === null || flat[i + 2] === null) { out.push(null); continue; }
      const [x, y, z] = rotate(flat[i], flat[i + 1], flat[i + 2]);
      out.push([size3 / 2 + scale * x, size3 / 2 + scale * y, z]);
    }
    return out;
  }

  function drawSegments(ctx, points, edges, style) {
    // Far segments first and fainter, so the near fingers read on top.
    const segments = edges.map(([a, b]) => [points[a], points[b]]).filter(([p, q]) => p && q);
    segments.sort((s, t) => (t[0][2] + t[1][2]) - (s[0][2] + s[1][2]));
    for (const [p, q] of segments) {
      const depth = Math.max(-1, Math.min(1, (p[2] + q[2]) / (2 * extentMm)));
      ctx.globalAlpha = 0.55 + 0.45 * (1 - depth) / 2;
      ctx.strokeStyle = style.color;
      ctx.lineWidth = style.width;
      ctx.beginPath();
      ctx.moveTo(p[0], p[1]);
      ctx.lineTo(q[0], q[1]);
      ctx.stroke();
    }
    ctx.globalAlpha = 1;
  }

  function drawAxes(ctx) {
    const origin = [24, size3 - 30];
    for (const [axis, color, label] of [[[1, 0, 0], '#dc2626', 'x'], [[0, 1, 0], '#16a34a', 'y'],
      [[0, 0, 1], '#2563eb', 'z']]) {
      const [x, y] = rotate(axis[0], axis[1], axis[2]);
      ctx.strokeStyle = color;
      ctx.fillStyle = color;
      ctx.lineWidth = 2;
      ctx.beginPath();
      ctx.moveTo(origin[0], origin[1]);
      ctx.lineTo(origin[0] + 14 * x, origin[1] + 14 * y);
      ctx.stroke();
      ctx.fillText(label, origin[0] + 18 * x - 3, origin[1] + 18 * y + 4);
    }
  }

  function draw3d(f) {
    if (!ctx3) return;
    frame = f;
    const ctx = ctx3;
    ctx.clearRect(0, 0, size3, size3);
    ctx.fillStyle = '#f8fafc';
    ctx.fillRect(0, 0, size3, size3);
    ctx.strokeStyle = '#e5e7eb';
    ctx.strokeRect(0.5, 0.5, size3 - 1, size3 - 1);
    ctx.lineCap = 'round';
    const human = V.human && V.human[f], links = V.xyz[f];
    if (human) drawSegments(ctx, screenPoints(human), V.humanEdges, {color: handColors[V.hand] || '#6b7280', width: 1.5});
    if (links) {
      const points = screenPoints(links);
      drawSegments(ctx, points, V.edges, {color: '#1f2937', width: 3});
      ctx.fillStyle = '#1f2937';
      for (const p of points) if (p) ctx.fillRect(p[0] - 2, p[1] - 2, 4, 4);
    }
    ctx.font = '600 12px sans-serif';
    ctx.fillStyle = '#111827';
    ctx.fillText(`${R.embodiment} · ${V.hand} hand`, 8, 16);
    ctx.font = '11px sans-serif';
    ctx.fillStyle = '#6b7280';
    ctx.fillText(links ? `frame ${f}` : `frame ${f}: hand absent`, 8, 30);
    if (human) ctx.fillText('human keypoints in colour', 8, 43);
    ctx.textAlign = 'right';
    ctx.fillText('drag to turn, double-click to reset', size3 - 8, size3 - 8);
    ctx.textAlign = 'left';
    drawAxes(ctx);
  }

  let dragging = null;
  canvas3d.addEventListener('pointerdown', (e) => {
    dragging = {x: e.clientX, y: e.clientY};
    canvas3d.setPointerCapture(e.pointerId);
  });
  canvas3d.addEventListener('pointermove', (e) => {
    if (!dragging) return;
    yaw += (e.clientX - dragging.x) * TURN_PER_PX;
    pitch = Math.max(-PITCH_LIMIT, Math.min(PITCH_LIMIT, pitch - (e.clientY - dragging.y) * TURN_PER_PX));
    dragging = {x: e.clientX, y: e.clientY};
    draw3d(frame);
  });
  canvas3d.addEventListener('pointerup', () => { dragging = null; });
  canvas3d.addEventListener('dblclick', () => { yaw = 0; pitch = 0; draw3d(frame); });

  return {
    sizeOverlay,
    layout3d,
    draw(f) { drawOverlay(f); draw3d(f); },
    show(visible) { canvas.style.visibility = visible ? '' : 'hidden'; },
    turn(newYaw, newPitch) { yaw = newYaw; pitch = newPitch; draw3d(frame); },  // for tests and screenshots
  };
};
