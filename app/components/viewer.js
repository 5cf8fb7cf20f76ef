// EgoCurate clip viewer: a <video> with the hand skeleton drawn on a canvas above it, a per-hand
// presence/score timeline and (robot episodes) state/action curves, all following the playhead.
// Human clips retargeted to a robot hand also get the robot's links on a second canvas, a 3D view
// and joint-angle curves (viewer_robot.js, viewer_charts.js: loaded before this file).
//
// Sync: every frame the browser presents fires requestVideoFrameCallback with metadata.mediaTime,
// the presentation time of that very frame; frame = round((mediaTime - fromS) * fps) (or, for a
// variable-frame-rate video, the frame of nearest time in C.frameTimesS) picks the
// keypoints, so the overlay is redrawn for exactly the picture on screen, while playing, after
// seeks and when stepping. Seeks aim 0.1 frame past a frame's start so they land on that frame.
(() => {
  'use strict';
  const C = JSON.parse(document.getElementById('ego-config').textContent);
  const $ = (id) => document.getElementById(id);
  const video = $('video'), stage = $('stage'), overlay = $('overlay'), timeline = $('timeline');
  const chartsBox = $('charts'), belowCharts = $('below-charts'), hud = $('hud'), message = $('message');
  const BONES = C.bones;  // MediaPipe-21 connections, from labeling/pose/hand21.py
  const HAND_COLORS = {left: '#ff8c1a', right: '#1fb4ff'};
  const ROW_H = 14, ROW_GAP = 4, LABEL_W = 76;
  const n = Math.max(1, C.nFrames);
  const K = window.egoParts.charts(n, C.fps), AXIS_H = K.AXIS_H, xOfFrame = K.xOfFrame;
  // Robot episodes keep their curves beside the video; a human clip's robot panel (3D view and
  // joint curves) goes under the timeline, so the video keeps its full size.
  const sideCharts = C.series.length > 0 && !C.robot;

  // Read by the browser tests and the bench: what is on screen and when it first was.
  const S = window.egoViewer = {
    frame: -1, target: null, draws: 0, presented: 0, ready: false, error: null,
    firstFrameEpochMs: null, readyEpochMs: null, renderEpochMs: null, seekFrame, step, togglePlay,
    frameAt: (t) => frameAt(t),
  };
  const nowEpoch = () => performance.timeOrigin + performance.now();
  const escapeHtml = (text) => String(text).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
  const clamp = (v, lo, hi) => Math.min(hi, Math.max(lo, v));
  // A variable-frame-rate video carries each frame's presentation time (seconds from the first);
  // otherwise frame f starts at f / fps.
  const T = Array.isArray(C.frameTimesS) && C.frameTimesS.length === n ? C.frameTimesS : null;
  const nearestFrame = (t) => {  // the frame whose time is closest to t, by bisection over T
    let lo = 0, hi = n - 1;
    while (lo < hi) { const mid = (lo + hi + 1) >> 1; if (T[mid] <= t) lo = mid; else hi = mid - 1; }
    return lo < n - 1 && T[lo + 1] - t < t - T[lo] ? lo + 1 : lo;
  };
  const frameAt = (t) => (T ? nearestFrame(t - C.fromS)
    : clamp(Math.round((t - C.fromS) * C.fps), 0, n - 1));
  const frameS = (f) => (T ? T[f] : f / C.fps);  // frame f's time in the clip
  const timeOf = (f) => C.fromS + (T ? T[f] + 0.1 * ((f < n - 1 ? T[f + 1] : T[f] + 1 / C.fps) - T[f])
    : (f + 0.1) / C.fps);
  const endS = () => (C.toS > C.fromS ? C.toS : C.fromS + n / C.fps);

  let view = {w: 0, h: 0}, ctxO = null, ctxT = null, timelineW = 0;
  let timelineStatic = null, charts = [];
  const robot = C.robot ? window.egoParts.robot(C, {sizeCanvas, handColors: HAND_COLORS}) : null;
  S.robot = robot;

  function sizeCanvas(canvas, cssW, cssH) {
    const dpr = window.devicePixelRatio || 1;
    canvas.style.width = cssW + 'px';
    canvas.style.height = cssH + 'px';
    canvas.width = Math.max(1, Math.round(cssW * dpr));
    canvas.height = Math.max(1, Math.round(cssH * dpr));
    const ctx = canvas.getContext('2d');
    ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
    return ctx;
  }

  function offscreen(w, h, paint) {
    const canvas = document.createElement('canvas');
    const ctx = sizeCanvas(canvas, w, h);
    paint(ctx);
    return canvas;
  }

  // ---- layout -------------------------------------------------------------------------------
  function layout() {
    const bodyW = Math.max(200, document.documentElement.clientWidth - 4);
    const aspect = C.width / C.height;
    const room = sideCharts ? Math.max(160, bodyW - 16 - 360) : bodyW;
    let h = C.videoMaxHeight, w = h * aspect;
    if (w > room) { w = room; h = w / aspect; }
    view = {w: Math.floor(w), h: Math.floor(h)};
    stage.style.width = view.w + 'px';
    stage.style.height = view.h + 'px';
    ctxO = sizeCanvas(overlay, view.w, view.h);
    if (robot) robot.sizeOverlay(view.w, view.h);
    timelineW = sideCharts ? bodyW : view.w;
    const rows = C.timeline.length;
    timeline.style.display = rows ? 'block' : 'none';
    ctxT = sizeCanvas(timeline, timelineW, rows ? rows * (ROW_H + ROW_GAP) + AXIS_H : 1);
    timelineStatic = rows ? offscreen(timelineW, rows * (ROW_H + ROW_GAP) + AXIS_H, paintTimeline) : null;
    layoutCharts(bodyW);
    render(S.frame < 0 ? 0 : S.frame, true);
  }

  function layoutCharts(bodyW) {
    chartsBox.style.display = sideCharts ? 'flex' : 'none';
    $('below').style.display = robot ? 'flex' : 'none';
    if (!sideCharts && !robot) return;
    const panelH = sideCharts ? C.videoMaxHeight : C.belowHeight;
    const gaps = 8 * (C.series.length - 1), box = sideCharts ? chartsBox : belowCharts;
    const w = sideCharts ? Math.max(240, bodyW - view.w - 16) : Math.max(240, bodyW - robot.layout3d(panelH) - 16);
    if (!C.series.length) return;
    const h = Math.max(80, Math.floor((panelH - gaps) / C.series.length));
    if (!charts.length) {
      charts = C.series.map((series) => {
        const chart = {series, canvas: document.createElement('canvas')};
        box.appendChild(chart.canvas);
        attachScrub(chart.canvas, (x) => { const plot = K.plotBox(chart); return (x - plot.x0) / plot.w; });
        return chart;
      });
    }
    for (const chart of charts) {
      chart.w = w; chart.h = h;
      chart.ctx = sizeCanvas(chart.canvas, w, h);
      chart.range = K.seriesRange(chart.series);
      chart.static = offscreen(w, h, (ctx) => K.paintChart(ctx, chart));
    }
  }

  // ---- the skeleton -------------------------------------------------------------------------
  function drawOverlay(f) {
    ctxO.clearRect(0, 0, view.w, view.h);
    const sx = view.w / C.width, sy = view.h / C.height;
    for (const track of C.tracks) {
      const kp = track.kp[f];
      if (!kp) continue;
      const color = HAND_COLORS[track.hand] || '#ffffff';
      const pt = (j) => (kp[2 * j] === null || kp[2 * j + 1] === null ? null : [kp[2 * j] * sx, kp[2 * j + 1] * sy]);
      ctxO.setLineDash(track.dashed ? [6, 4] : []);
      ctxO.lineCap = 'round';
      // A dark pass under the coloured bones keeps them readable on bright and busy frames.
      for (const [width, style] of [[5, 'rgba(0,0,0,0.55)'], [2.5, color]]) {
        ctxO.lineWidth = width;
        ctxO.strokeStyle = style;
        ctxO.beginPath();
        for (const [a, b] of BONES) {
          const pa = pt(a), pb = pt(b);
          if (!pa || !pb) continue;
          ctxO.moveTo(pa[0], pa[1]);
          ctxO.lineTo(pb[0], pb[1]);
        }
        ctxO.stroke();
      }
      ctxO.setLineDash([]);
      ctxO.fillStyle = color;
      ctxO.strokeStyle = '#ffffff';
      ctxO.lineWidth = 1;
      for (let j = 0; j < 21; j++) {
        const p = pt(j);
        if (!p) continue;
        ctxO.beginPath();
        ctxO.arc(p[0], p[1], j === 0 ? 4.5 : 3, 0, 2 * Math.PI);
        ctxO.fill();
        ctxO.stroke();
      }
      const wrist = pt(0);
      if (wrist) {
        ctxO.font = '600 12px sans-serif';
        ctxO.fillStyle = color;
        ctxO.fillText(track.hand === 'left' ? 'L' : 'R', wrist[0] + 7, wrist[1] + 14);
      }
    }
  }

  // ---- the presence / score timeline ----------------------------------------------------------
  function paintTimeline(ctx) {
    const w = timelineW - LABEL_W;
    C.timeline.forEach((row, r) => {
      const y = r * (ROW_H + ROW_GAP);
      ctx.fillStyle = '#374151';
      ctx.font = '12px sans-serif';
      ctx.fillText(row.label, 0, y + ROW_H - 3);
      ctx.fillStyle = '#f3f4f6';
      ctx.fillRect(LABEL_W, y, w, ROW_H);
      for (let f = 0; f < n; f++) {
        const score = row.score[f];
        if (score === null || score === undefined) continue;
        ctx.globalAlpha = 0.25 + 0.75 * clamp(score, 0, 1);
        ctx.fillStyle = row.color;
        const x = xOfFrame(f, LABEL_W, w);
        ctx.fillRect(x, y, Math.max(1, xOfFrame(f + 1, LABEL_W, w) - x + 0.5), ROW_H);
      }
      ctx.globalAlpha = 1;
    });
    K.paintTimeAxis(ctx, LABEL_W, w, C.timeline.length * (ROW_H + ROW_GAP));
  }

  function drawTimeline(f) {
    if (!timelineStatic) return;
    const w = timelineW - LABEL_W, h = C.timeline.length * (ROW_H + ROW_GAP);
    ctxT.clearRect(0, 0, timelineW, h + AXIS_H);
    ctxT.drawImage(timelineStatic, 0, 0, timelineW, h + AXIS_H);
    if (M && M.in !== null) {  // the segment being marked: in .. out (or just the in point)
      const x0 = xOfFrame(M.in, LABEL_W, w), x1 = xOfFrame((M.out === null ? M.in : M.out) + 1, LABEL_W, w);
      ctxT.fillStyle = 'rgba(15, 118, 110, 0.3)';
      ctxT.fillRect(x0, 0, Math.max(2, x1 - x0), h - ROW_GAP);
    }
    K.drawPlayhead(ctxT, xOfFrame(f + 0.5, LABEL_W, w), h - ROW_GAP);
  }

  // ---- segment in / out marks (C.marks: pages that label segments) ------------------------------
  // `i` / `o` set the in / out frame of a segment at the frame on screen; the page around the player
  // hears them as an `egocurate:marks` event (app/components/segments.py) and fills its segment form.
  const M = C.marks ? {in: null, out: null} : null;
  function setMark(which) {
    const f = Math.max(0, S.frame);
    M[which] = f;
    if (M.in !== null && M.out !== null && M.out < M.in) M[which === 'in' ? 'out' : 'in'] = f;
    S.marks = {in: M.in, out: M.out};
    drawTimeline(Math.max(0, S.frame));
    try {
      const host = window.parent;
      host.dispatchEvent(new host.CustomEvent('egocurate:marks', {detail: {clip: C.clipId, in: M.in, out: M.out}}));
    } catch (err) {
      S.error = 'marks: ' + err;  // a cross-origin embedding: the marks stay on this timeline
    }
  }

  // ---- one render per presented frame -------------------------------------------------------
  function render(f, force) {
    if (!ctxO || (f === S.frame && !force)) return;
    S.frame = f;
    drawOverlay(f);
    drawTimeline(f);
    for (const chart of charts) K.drawChart(chart, f);
    if (robot) robot.draw(f);
    S.draws += 1;
    S.renderEpochMs = nowEpoch();
    overlay.dataset.frame = String(f);
    const scores = C.timeline.filter((row) => row.hud !== false).map((row) => {  // marks rows have no score
      const s = row.score[f];
      return `<span class="chip" style="background:${row.color}"></span>${escapeHtml(row.label)} `
        + (s === null || s === undefined ? 'absent' : s.toFixed(2));
    }).join('');
    hud.innerHTML = `frame <b>${f}</b> / ${n - 1} &middot; ${frameS(f).toFixed(2)} s${scores}`;
  }

  function onPresented(mediaTime) {
    S.presented += 1;
    if (S.firstFrameEpochMs === null) S.firstFrameEpochMs = nowEpoch();
    // A clip that is a range of a longer file (LeRobot v3) stops on its own last frame, and steps
    // back to it if a dropped frame carried playback past the range.
    const end = endS();
    if (!video.paused && end < video.duration - 0.5 / C.fps && mediaTime >= end - 1.5 / C.fps) {
      video.pause();
      if (mediaTime >= end - 0.5 / C.fps) seekFrame(n - 1);
    }
    render(frameAt(mediaTime));
  }

  if ('requestVideoFrameCallback' in HTMLVideoElement.prototype) {
    const onFrame = (now, meta) => { onPresented(meta.mediaTime); video.requestVideoFrameCallback(onFrame); };
    video.requestVideoFrameCallback(onFrame);
  } else {
    const poll = () => { render(frameAt(video.currentTime)); requestAnimationFrame(poll); };
    requestAnimationFrame(poll);
  }

  // ---- controls --------------------------------------------------------------------------------
  function seekFrame(f) {
    S.target = clamp(Math.round(f), 0, n - 1);
    video.currentTime = timeOf(S.target);
  }

  function step(delta) {
    video.pause();
    const from = S.target !== null && video.seeking ? S.target : Math.max(0, S.frame);
    seekFrame(from + delta);
  }

  function togglePlay() {
    if (video.paused) {
      if (S.frame >= n - 1) seekFrame(0);
      video.play().catch((err) => { S.error = String(err); });
    } else {
      video.pause();
    }
  }

  function attachScrub(canvas, fractionOf) {
    let dragging = false;
    const seekTo = (event) => {
      const rect = canvas.getBoundingClientRect();
      const fraction = fractionOf(event.clientX - rect.left);
      seekFrame(Math.floor(clamp(fraction, 0, 0.99999) * n));
    };
    canvas.addEventListener('pointerdown', (e) => {
      dragging = true;
      canvas.setPointerCapture(e.pointerId);
      video.pause();
      seekTo(e);
    });
    canvas.addEventListener('pointermove', (e) => { if (dragging) seekTo(e); });
    canvas.addEventListener('pointerup', () => { dragging = false; });
  }

  function updateButton() {
    $('icon-play').style.display = video.paused ? '' : 'none';
    $('icon-pause').style.display = video.paused ? 'none' : '';
  }

  $('play').addEventListener('click', togglePlay);
  $('back').addEventListener('click', () => step(-1));
  $('fwd').addEventListener('click', () => step(1));
  $('rate').addEventListener('change', (e) => { video.playbackRate = Number(e.target.value); });
  stage.addEventListener('click', () => { stage.focus({preventScroll: true}); togglePlay(); });
  attachScrub(timeline, (x) => (x - LABEL_W) / (timelineW - LABEL_W));
  if (robot) {  // each layer can be hidden to look at the other (or at the hand itself)
    $('layers').style.display = '';
    $('show-human').addEventListener('change', (e) => { overlay.style.visibility = e.target.checked ? '' : 'hidden'; });
    $('show-robot').addEventListener('change', (e) => robot.show(e.target.checked));
  }
  const onKey = (e) => {
    const target = e.target, tag = target && target.tagName;
    // Keys typed into widgets are theirs, in the player and on the page around it.
    if (['INPUT', 'TEXTAREA', 'SELECT', 'BUTTON'].includes(tag) || (target && target.isContentEditable)) return;
    if (e.ctrlKey || e.metaKey || e.altKey) return;
    const jump = e.shiftKey ? 10 : 1;
    if (e.key === 'ArrowRight' || e.key === '.') step(jump);
    else if (e.key === 'ArrowLeft' || e.key === ',') step(-jump);
    else if (e.key === ' ' || e.key === 'k') togglePlay();
    else if (e.key === 'Home') { video.pause(); seekFrame(0); }
    else if (e.key === 'End') { video.pause(); seekFrame(n - 1); }
    else if (M && (e.key === 'i' || e.key === 'o')) setMark(e.key === 'i' ? 'in' : 'out');
    else return;
    e.preventDefault();
  };
  document.addEventListener('keydown', onKey);
  // The page around the player is same-origin: its keys drive the player too, so nobody has to
  // click into the video first (`pageKeys`: off where a page has several players). The listener
  // leaves with this iframe.
  let parentDoc = null;
  try {
    parentDoc = C.pageKeys && window.parent !== window ? window.parent.document : null;
  } catch (err) {
    parentDoc = null;  // a cross-origin embedding: keys only work inside the player
  }
  if (parentDoc) {
    const onParentKey = (e) => {
      if (!window.frameElement || !window.frameElement.isConnected) {
        parentDoc.removeEventListener('keydown', onParentKey);
        return;
      }
      onKey(e);
    };
    parentDoc.addEventListener('keydown', onParentKey);
    window.addEventListener('pagehide', () => parentDoc.removeEventListener('keydown', onParentKey));
  }

  video.addEventListener('play', updateButton);
  video.addEventListener('pause', updateButton);
  video.addEventListener('seeked', () => { render(frameAt(video.currentTime)); });
  video.addEventListener('ended', () => { render(n - 1); updateButton(); });
  video.addEventListener('loadedmetadata', () => {
    if (C.fromS > 0) video.currentTime = timeOf(0);
  });
  video.addEventListener('loadeddata', () => {
    message.style.display = 'none';
    S.ready = true;
    S.readyEpochMs = nowEpoch();
    render(frameAt(video.currentTime), true);
    if (C.autoplay) togglePlay();
  });
  video.addEventListener('error', () => {
    S.error = 'video: ' + (video.error ? video.error.message || video.error.code : 'unknown error');
    message.textContent = 'This clip cannot be played in the browser (' + S.error + ').';
  });
  if (M) $('hint').insertAdjacentHTML('afterbegin', '<kbd>i</kbd> <kbd>o</kbd> mark a segment\'s in / out, ');
  window.addEventListener('resize', layout);
  layout();
  video.src = C.src;
})();
