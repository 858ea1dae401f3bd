// blastradius live: draws each State the harness streams over Server-Sent
// Events (harness/demo/state.go, harness/demo/server.go).
//
// Every string of a State is untrusted: analyzer explanations come from LLMs
// and log lines may quote them. Text therefore reaches the page only through
// textContent and attribute properties, never innerHTML.
//
// Go marshals nil slices and maps as null, so every collection is read
// through list() or dict().
'use strict';

(function () {
  const COLOURS = ['blue', 'green', 'yellow', 'orange', 'red', 'purple'];
  const CONTROLS = ['release-good', 'release-bad', 'fault', 'promote', 'abort', 'strategy', 'analyzer'];
  const CONTROL_TITLES = {
    'release-good': 'Release next colour', 'release-bad': 'Release bad', fault: 'Inject fault',
    promote: 'Promote', abort: 'Abort', strategy: 'Strategy', analyzer: 'Analyzer',
  };
  const PHASE_BADGE = { starting: 'info', idle: 'ok', releasing: 'warn', settling: 'info', switching: 'info', stopping: 'bad' };
  const ROLLOUT_BADGE = { Healthy: 'ok', Progressing: 'info', Paused: 'warn', Degraded: 'bad', Available: 'ok' };
  // Argo's measurement and run phases, as verdict badges.
  const MEASUREMENT_BADGE = { Successful: 'ok', Failed: 'bad', Inconclusive: 'warn', Error: 'err', Running: 'info' };
  const VERDICT_TEXT = {
    detected: 'detected', missed: 'missed', 'false-alarm': 'false alarm',
    promoted: 'correct promotion', inconclusive: 'inconclusive',
  };
  // Grid cells fade from opaque to FADE_MIN over FADE_MS of age.
  const FADE_MS = 20000;
  const FADE_MIN = 0.25;
  // The grid lays out at least this many cells, so that the first few
  // requests do not draw as giant squares.
  const MIN_GRID_CELLS = 200;
  // The charts keep at least this many one-second slots, so bars keep their
  // width while the series fills up.
  const MIN_SLOTS = 30;

  // ---- small helpers ----

  const list = (v) => (Array.isArray(v) ? v : []);
  const dict = (v) => (v !== null && typeof v === 'object' && !Array.isArray(v) ? v : {});
  const text = (v) => (v === null || v === undefined ? '' : String(v));
  const isNum = (v) => typeof v === 'number' && Number.isFinite(v);
  const $ = (id) => document.getElementById(id);
  // pick reads a lookup table only for its own keys: a state's strings must
  // not reach Object.prototype.
  const pick = (table, key, fallback) => (Object.hasOwn(table, key) ? table[key] : fallback);

  // el builds an element; its text goes in as textContent only.
  function el(tag, cls, content) {
    const e = document.createElement(tag);
    if (cls) e.className = cls;
    if (content !== undefined && content !== null) e.textContent = String(content);
    return e;
  }

  // The palette lives in app.css (the Go tests read it there too).
  const palette = (() => {
    const css = getComputedStyle(document.documentElement);
    const p = {};
    for (const name of [...COLOURS, 'grey', 'grid-bg', 'fail']) {
      p[name] = css.getPropertyValue('--c-' + name).trim() || '#808080';
    }
    return p;
  })();

  // colourName is the catalog colour of a version tag; grey for "" (no
  // version answered) or a tag it cannot place.
  function colourName(s, tag) {
    if (!tag) return 'grey';
    const v = dict(pick(dict(s.versions), tag, null));
    if (COLOURS.includes(v.color)) return v.color;
    // A tag missing from versions still names its colour: "bad-green".
    const tail = String(tag).split('-').pop();
    return COLOURS.includes(tail) ? tail : 'grey';
  }

  function isBadVersion(s, tag) {
    return Boolean(tag) && dict(pick(dict(s.versions), tag, null)).good === false;
  }

  function chip(s, tag, small) {
    const c = el('span', '', tag ? tag : 'none');
    setChip(c, s, tag, small);
    return c;
  }

  function setChip(c, s, tag, small) {
    c.className = 'chip c-' + colourName(s, tag) + (small ? ' small' : '') + (isBadVersion(s, tag) ? ' bad-version' : '');
    c.textContent = tag ? tag : '-';
    c.title = isBadVersion(s, tag) ? 'a broken version' : '';
  }

  function badge(kind, content) {
    return el('span', 'badge' + (kind ? ' ' + kind : ''), content);
  }

  function fmtSeconds(v) {
    if (!isNum(v)) return '-';
    if (v < 60) return v.toFixed(v < 10 ? 1 : 0) + ' s';
    const m = Math.floor(v / 60);
    return m + ':' + String(Math.floor(v % 60)).padStart(2, '0');
  }

  function fmtInt(v) {
    return isNum(v) ? Math.round(v).toLocaleString('en-US') : '-';
  }

  function fmtPercent(v) {
    if (!isNum(v)) return '-';
    return (v > 0 && v < 10 ? v.toFixed(1) : v.toFixed(0)) + '%';
  }

  function fmtClock(t) {
    const d = new Date(text(t));
    if (Number.isNaN(d.getTime()) || d.getFullYear() < 2000) return '';
    return d.toTimeString().slice(0, 8);
  }

  // unchanged reports whether what a panel shows is the same as last time:
  // panels are rebuilt only on change, which keeps hover, focus and scroll.
  const drawn = new Map();
  function unchanged(key, parts) {
    const sig = JSON.stringify(parts);
    if (drawn.get(key) === sig) return true;
    drawn.set(key, sig);
    return false;
  }

  // fitCanvas sizes the canvas backing store to its CSS box in device pixels.
  function fitCanvas(c) {
    const dpr = window.devicePixelRatio || 1;
    const w = Math.max(1, Math.floor(c.clientWidth * dpr));
    const h = Math.max(1, Math.floor(c.clientHeight * dpr));
    if (c.width !== w || c.height !== h) {
      c.width = w;
      c.height = h;
    }
    return { ctx: c.getContext('2d'), w, h, dpr };
  }

  // ---- header ----

  function choiceLabel(choices, name) {
    const c = list(choices).map(dict).find((x) => x.name === name);
    return (c && text(c.label)) || text(name) || '-';
  }

  function renderHeader(s) {
    $('platform').textContent = text(s.platform) || '-';
    $('namespace').textContent = text(s.namespace) || '-';
    const phase = $('phase');
    phase.textContent = text(s.phase) || '-';
    phase.className = 'badge ' + pick(PHASE_BADGE, s.phase, '');
    setChip($('stable'), s, text(s.stable));
    $('next-strategy').textContent = choiceLabel(s.strategies, s.strategy);
    $('next-analyzer').textContent = choiceLabel(s.analyzers, s.analyzer);
  }

  // ---- the colour grid ----

  let gridHighWater = 0;
  let gridLayoutCache = null;

  // gridLayout finds the largest square that fits n cells in w x h.
  function gridLayout(w, h, n) {
    const key = w + 'x' + h + ':' + n;
    if (gridLayoutCache && gridLayoutCache.key === key) return gridLayoutCache;
    let best = { key, size: 1, gap: 0, cols: w, rows: h };
    for (let size = Math.floor(Math.min(w, h)); size >= 2; size--) {
      const gap = size >= 10 ? Math.max(2, Math.round(size / 8)) : 1;
      const cols = Math.floor((w + gap) / (size + gap));
      const rows = Math.floor((h + gap) / (size + gap));
      if (cols * rows >= n) {
        best = { key, size, gap, cols, rows };
        break;
      }
    }
    gridLayoutCache = best;
    return best;
  }

  function cellAlpha(ageMs) {
    const f = Math.min(1, Math.max(0, (isNum(ageMs) ? ageMs : 0) / FADE_MS));
    return 1 - (1 - FADE_MIN) * f;
  }

  function renderGrid(s) {
    const cells = list(s.grid).map(dict);
    const { ctx, w, h } = fitCanvas($('grid'));
    ctx.globalAlpha = 1;
    ctx.fillStyle = palette['grid-bg'];
    ctx.fillRect(0, 0, w, h);
    // The layout follows the longest recent grid, so squares keep their size
    // as the grid fills, and shrink back only slowly after a restart.
    gridHighWater = Math.max(cells.length, Math.floor(gridHighWater * 0.99));
    const L = gridLayout(w, h, Math.max(gridHighWater, MIN_GRID_CELLS));
    const step = L.size + L.gap;
    const x0 = Math.floor((w - (L.cols * step - L.gap)) / 2);
    const y0 = Math.floor((h - (L.rows * step - L.gap)) / 2);
    const mark = Math.max(2, Math.round(L.size * 0.5));
    const markOff = Math.floor((L.size - mark) / 2);
    cells.forEach((cell, i) => {
      const x = x0 + (i % L.cols) * step;
      const y = y0 + Math.floor(i / L.cols) * step;
      ctx.globalAlpha = cellAlpha(cell.a);
      ctx.fillStyle = palette[colourName(s, text(cell.v))];
      ctx.fillRect(x, y, L.size, L.size);
      if (cell.f) {
        // Failures stay solid black whatever their age: the audience must
        // see every one.
        ctx.globalAlpha = 1;
        ctx.fillStyle = palette.fail;
        ctx.fillRect(x + markOff, y + markOff, mark, mark);
      }
    });
    ctx.globalAlpha = 1;
    renderGridLegend(s, cells);
  }

  function renderGridLegend(s, cells) {
    const by = new Map();
    for (const c of cells) {
      const tag = text(c.v);
      const e = by.get(tag) || { n: 0, f: 0 };
      e.n++;
      if (c.f) e.f++;
      by.set(tag, e);
    }
    const rows = [...by.entries()].sort((a, b) => b[1].n - a[1].n).slice(0, 6);
    if (unchanged('grid-legend', [rows, cells.length, s.versions])) return;
    const box = $('grid-legend');
    box.replaceChildren();
    if (!cells.length) {
      box.append(el('span', 'dim', 'no requests yet'));
      return;
    }
    for (const [tag, e] of rows) {
      const item = el('span', 'item');
      item.append(chip(s, tag, true), el('span', '', fmtPercent((100 * e.n) / cells.length)));
      if (e.f) item.append(el('span', 'fails', e.f + ' failed'));
      box.append(item);
    }
    box.append(el('span', 'dim', cells.length + ' requests'));
  }

  // ---- charts ----

  // seriesTags orders the versions of the series: the stable one first, then
  // by catalog colour, unattributed ("") last.
  function seriesTags(s, ticks) {
    const seen = new Set();
    for (const t of ticks) for (const tag of Object.keys(dict(t.v))) seen.add(tag);
    const rank = (tag) => {
      if (tag === '') return 1000;
      if (tag === s.stable) return -1;
      return COLOURS.indexOf(colourName(s, tag)) * 2 + (isBadVersion(s, tag) ? 1 : 0);
    };
    return [...seen].sort((a, b) => rank(a) - rank(b) || a.localeCompare(b));
  }

  function stat(tick, tag) {
    const v = dict(pick(dict(tick.v), tag, null));
    return { n: isNum(v.n) ? v.n : 0, f: isNum(v.f) ? v.f : 0 };
  }

  function niceCeil(v) {
    if (!(v > 0)) return 1;
    const p = Math.pow(10, Math.floor(Math.log10(v)));
    for (const m of [1, 2, 2.5, 5, 10]) if (m * p >= v) return m * p;
    return 10 * p;
  }

  // chartFrame clears a chart and draws its axes; it returns the plot box
  // and a y mapping.
  function chartFrame(canvas, yMax, yLabel, slots) {
    const { ctx, w, h, dpr } = fitCanvas(canvas);
    ctx.clearRect(0, 0, w, h);
    const box = { l: Math.round(46 * dpr), r: w - Math.round(6 * dpr), t: Math.round(8 * dpr), b: h - Math.round(18 * dpr) };
    const y = (v) => box.b - (Math.min(v, yMax) / yMax) * (box.b - box.t);
    ctx.font = Math.round(13 * dpr) + 'px system-ui, sans-serif';
    ctx.lineWidth = Math.max(1, Math.round(dpr));
    ctx.textBaseline = 'middle';
    for (const v of [0, yMax / 2, yMax]) {
      ctx.strokeStyle = v === 0 ? '#5a677a' : '#263142';
      ctx.beginPath();
      ctx.moveTo(box.l, Math.round(y(v)) + 0.5);
      ctx.lineTo(box.r, Math.round(y(v)) + 0.5);
      ctx.stroke();
      ctx.fillStyle = '#aab4c3';
      ctx.textAlign = 'right';
      ctx.fillText(yLabel(v), box.l - 6 * dpr, y(v));
    }
    ctx.textBaseline = 'alphabetic';
    ctx.textAlign = 'left';
    ctx.fillText('-' + slots + ' s', box.l, h - 3 * dpr);
    ctx.textAlign = 'right';
    ctx.fillText('now', box.r, h - 3 * dpr);
    return { ctx, box, y, dpr, slotW: (box.r - box.l) / slots };
  }

  function drawRps(s, ticks, tags) {
    const slots = Math.max(ticks.length, MIN_SLOTS);
    const totals = ticks.map((t) => tags.reduce((sum, tag) => sum + stat(t, tag).n, 0));
    const yMax = niceCeil(Math.max(10, ...totals)); // at least 0-5-10: whole labels
    const { ctx, box, y, slotW } = chartFrame($('rps-chart'), yMax, (v) => fmtInt(v), slots);
    const barW = Math.max(1, slotW - Math.max(1, slotW * 0.15));
    ticks.forEach((t, i) => {
      const x = box.l + (slots - ticks.length + i) * slotW;
      let acc = 0;
      for (const tag of tags) {
        const n = stat(t, tag).n;
        if (!n) continue;
        ctx.fillStyle = palette[colourName(s, tag)];
        ctx.fillRect(x, y(acc + n), barW, y(acc) - y(acc + n));
        acc += n;
      }
    });
    const last = totals.length ? totals[totals.length - 1] : null;
    $('rps-now').textContent = last === null ? '' : fmtInt(last) + ' req/s';
  }

  function drawErrors(s, ticks, tags) {
    const slots = Math.max(ticks.length, MIN_SLOTS);
    const slo = isNum(dict(s.slo).errorRate) ? dict(s.slo).errorRate * 100 : 0;
    let observed = 0;
    for (const t of ticks) {
      for (const tag of tags) {
        const st = stat(t, tag);
        if (st.n) observed = Math.max(observed, (100 * st.f) / st.n);
      }
    }
    const yMax = Math.min(100, niceCeil(Math.max(observed, slo * 1.5, 2)));
    const { ctx, box, y, dpr, slotW } = chartFrame($('err-chart'), yMax, (v) => fmtPercent(v), slots);
    if (slo > 0) {
      // The SLO line: above it the release is out of bounds.
      ctx.save();
      ctx.strokeStyle = '#f4f6fa';
      ctx.setLineDash([8 * dpr, 6 * dpr]);
      ctx.lineWidth = 2 * dpr;
      ctx.beginPath();
      ctx.moveTo(box.l, y(slo));
      ctx.lineTo(box.r, y(slo));
      ctx.stroke();
      ctx.restore();
      ctx.fillStyle = '#f4f6fa';
      ctx.textAlign = 'right';
      ctx.fillText('SLO ' + fmtPercent(slo), box.r - 4 * dpr, y(slo) - 5 * dpr);
    }
    ctx.lineWidth = 3 * dpr;
    ctx.lineJoin = 'round';
    for (const tag of tags) {
      ctx.strokeStyle = ctx.fillStyle = palette[colourName(s, tag)];
      ctx.beginPath();
      let drawing = false;
      ticks.forEach((t, i) => {
        const st = stat(t, tag);
        const x = box.l + (slots - ticks.length + i + 0.5) * slotW;
        if (!st.n) {
          drawing = false; // a second without requests breaks the line
          return;
        }
        const yy = y((100 * st.f) / st.n);
        if (drawing) ctx.lineTo(x, yy);
        else ctx.moveTo(x, yy);
        drawing = true;
        if (st.f) ctx.fillRect(x - 2.5 * dpr, yy - 2.5 * dpr, 5 * dpr, 5 * dpr);
      });
      ctx.stroke();
    }
    const last = ticks.length ? ticks[ticks.length - 1] : null;
    let n = 0;
    let f = 0;
    if (last) {
      for (const tag of tags) {
        n += stat(last, tag).n;
        f += stat(last, tag).f;
      }
    }
    $('err-now').textContent = n ? fmtPercent((100 * f) / n) + ' failed' : '';
  }

  function renderCharts(s) {
    const ticks = list(s.series).map(dict);
    const tags = seriesTags(s, ticks);
    drawRps(s, ticks, tags);
    drawErrors(s, ticks, tags);
    if (unchanged('chart-legend', [tags, s.versions])) return;
    const legend = $('chart-legend');
    legend.replaceChildren();
    for (const tag of tags) {
      const c = chip(s, tag, true);
      if (tag === '') c.textContent = 'no answer';
      legend.append(c, ' ');
    }
  }

  // ---- rollout and its ReplicaSets ----

  function kvItem(key, value, cls) {
    const v = el('div', 'v' + (cls ? ' ' + cls : ''));
    if (value instanceof Node) v.append(value);
    else v.textContent = text(value);
    const d = el('div');
    d.append(el('div', 'k', key), v);
    return d;
  }

  function podNode(s, rs, p) {
    const colour = colourName(s, text(rs.version));
    const d = el('span', 'pod b-' + colour);
    const state = [];
    if (p.gone) {
      d.classList.add('gone');
      state.push('terminating');
    } else if (p.waiting) {
      d.classList.add('waiting');
      state.push(text(p.waiting));
    } else if (p.ready) {
      d.classList.add('ready', 'c-' + colour);
      state.push('ready');
    } else {
      d.classList.add('notready');
      state.push('not ready');
    }
    const restarts = isNum(p.restarts) ? p.restarts : 0;
    if (restarts > 0) {
      d.textContent = restarts > 99 ? '99+' : String(restarts);
      state.push(restarts + ' restarts');
    }
    d.title = [text(p.name), text(p.phase), ...state].filter(Boolean).join(' · ');
    return d;
  }

  function replicaSetNode(s, rs) {
    const row = el('div', 'rs');
    row.append(chip(s, text(rs.version)));
    row.append(el('span', 'count', fmtInt(rs.ready) + '/' + fmtInt(rs.replicas)));
    const pods = el('span', 'pods');
    const waiting = new Map();
    for (const p of list(rs.pods).map(dict)) {
      pods.append(podNode(s, rs, p));
      if (p.waiting && !p.gone) waiting.set(text(p.waiting), (waiting.get(text(p.waiting)) || 0) + 1);
    }
    row.append(pods);
    // Reasons as text too: a red square alone does not say CrashLoopBackOff.
    for (const [why, n] of waiting) row.append(el('span', 'why', why + (n > 1 ? ' ×' + n : '')));
    return row;
  }

  function renderRollout(s) {
    const r = dict(s.rollout);
    const sets = list(s.replicaSets).map(dict);
    if (unchanged('rollout', [r, sets, s.versions])) return;
    $('rollout-kind').textContent = text(r.kind) || 'rollout';
    const body = $('rollout-body');
    body.replaceChildren();
    if (!r.kind && !sets.length) {
      body.append(el('div', 'empty', 'nothing deployed yet'));
      return;
    }
    const kv = el('div', 'kv');
    kv.append(kvItem('phase', badge(pick(ROLLOUT_BADGE, r.phase, ''), text(r.phase) || '-')));
    kv.append(kvItem('step', isNum(r.steps) && r.steps > 0 ? fmtInt(r.step) + '/' + fmtInt(r.steps) : '-'));
    kv.append(kvItem('set weight', isNum(r.setWeight) && r.setWeight >= 0 ? fmtInt(r.setWeight) + '%' : '-'));
    kv.append(kvItem('observed share', isNum(r.observedShare) && r.observedShare >= 0 ? fmtPercent(r.observedShare) : '-'));
    const flags = el('span', 'flags');
    if (r.paused) flags.append(badge('warn', 'paused'));
    if (r.aborted) flags.append(badge('bad', 'aborted'));
    if (!r.paused && !r.aborted) flags.append(el('span', '', '-'));
    kv.append(kvItem('state', flags));
    body.append(kv);
    if (r.message) body.append(el('p', 'message', text(r.message)));
    for (const rs of sets) body.append(replicaSetNode(s, rs));
  }

  // ---- analysis runs ----

  function measurementNode(m) {
    const d = el('div', 'm');
    const head = el('div', 'm-head');
    head.append(badge(pick(MEASUREMENT_BADGE, m.phase, ''), text(m.phase) || '?'));
    head.append(el('span', 'm-metric', text(m.metric)));
    if (m.value) head.append(el('span', 'm-value', text(m.value)));
    const at = fmtClock(m.at);
    if (at) head.append(el('span', 'm-time', at));
    d.append(head);
    if (m.explanation) {
      const ex = el('div', 'm-explanation', text(m.explanation));
      ex.title = text(m.explanation); // the whole text when clamped
      d.append(ex);
    }
    return d;
  }

  function renderAnalysis(s) {
    const runs = list(s.analysis).map(dict);
    if (unchanged('analysis', runs)) return;
    const body = $('analysis-body');
    body.replaceChildren();
    if (!runs.length) {
      body.append(el('div', 'empty', 'no analysis runs'));
      return;
    }
    for (const run of runs) {
      const d = el('div', 'run');
      const head = el('div', 'run-head');
      head.append(badge(pick(MEASUREMENT_BADGE, run.phase, ''), text(run.phase) || '?'), el('span', 'name', text(run.name)));
      d.append(head);
      // Newest first: the latest verdict is what the audience waits for.
      const ms = list(run.measurements).map(dict).reverse();
      if (!ms.length) d.append(el('div', 'empty', 'no measurements yet'));
      for (const m of ms) d.append(measurementNode(m));
      body.append(d);
    }
  }

  // ---- the release and its blast radius ----

  function verdictClass(v) {
    return Object.hasOwn(VERDICT_TEXT, v) ? 'v-' + v : 'v-decided';
  }

  function renderVerdict(r) {
    const v = $('verdict');
    const score = r && r.score ? dict(r.score) : null;
    v.dataset.verdict = score ? text(score.verdict) : '';
    if (!r) {
      v.className = 'verdict v-none';
      v.textContent = 'no release yet';
    } else if (score) {
      v.className = 'verdict ' + verdictClass(score.verdict);
      v.textContent = pick(VERDICT_TEXT, score.verdict, text(score.verdict) || 'scored');
    } else if (r.outcome) {
      v.className = 'verdict v-decided';
      v.textContent = 'argo: ' + text(r.outcome);
    } else if (r.error) {
      v.className = 'verdict v-missed';
      v.textContent = 'error';
    } else {
      v.className = 'verdict v-live';
      v.textContent = 'in progress';
    }
  }

  function renderRelease(s) {
    const r = s.release ? dict(s.release) : null;
    if (unchanged('release', [r, s.versions])) return;
    renderVerdict(r);
    const head = $('release-head');
    const stats = $('release-stats');
    const extra = $('release-extra');
    head.replaceChildren();
    $('release-outcome').replaceChildren();
    stats.replaceChildren();
    extra.replaceChildren();
    $('release-when').textContent = r ? fmtClock(r.startedAt) : '';
    if (!r) return;
    head.append(el('span', 'id', '#' + fmtInt(r.id)));
    if (r.stable) head.append(chip(s, text(r.stable), true), el('span', 'arrow', '→'));
    head.append(chip(s, text(r.candidate)));
    head.append(el('span', 'how', text(r.strategy) + ' + ' + text(r.analyzer)));
    if (r.outcome) $('release-outcome').append(badge(r.outcome === 'promoted' ? 'ok' : 'warn', 'argo: ' + text(r.outcome)));
    const score = r.score ? dict(r.score) : null;
    if (score) {
      stats.append(
        kvItem('failed requests', fmtInt(score.failedRequests), score.failedRequests > 0 ? 'big bad' : 'big'),
        kvItem('users affected', fmtInt(score.usersAffected), score.usersAffected > 0 ? 'big bad' : 'big'),
        kvItem('of requests', fmtInt(score.totalRequests)),
        kvItem('time to detect', fmtSeconds(score.timeToDetectS)),
        kvItem('time to recover', fmtSeconds(score.timeToRecoverS)),
        kvItem('elapsed', fmtSeconds(r.elapsedS)));
    } else {
      stats.append(
        kvItem('failed', fmtInt(r.failed), r.failed > 0 ? 'big bad' : 'big'),
        kvItem('users affected', fmtInt(r.usersAffected), r.usersAffected > 0 ? 'big bad' : 'big'),
        kvItem('requests', fmtInt(r.requests)),
        kvItem('since onset', fmtSeconds(r.sinceOnsetS)),
        kvItem('elapsed', fmtSeconds(r.elapsedS)));
    }
    const faults = list(r.faults).map(text);
    if (faults.length) extra.append(el('div', 'message', 'faults injected: ' + faults.join(', ')));
    if (r.error) extra.append(el('div', 'release-error', text(r.error)));
  }

  function renderHistory(s) {
    const rows = list(s.history).map(dict).slice(0, 8);
    if (unchanged('history', [rows, s.versions])) return;
    const box = $('history');
    box.replaceChildren();
    if (!rows.length) {
      box.append(el('div', 'empty', 'no release has ended yet'));
      return;
    }
    const table = el('table');
    const head = el('tr');
    for (const h of ['#', 'release', 'verdict', 'failed', 'users', 'detect']) head.append(el('th', '', h));
    table.append(head);
    for (const r of rows) {
      const score = dict(r.score);
      const tr = el('tr');
      const what = el('td', 'wrap');
      what.append(chip(s, text(r.candidate), true), ' ', el('span', 'how', text(r.strategy) + ' + ' + text(r.analyzer)));
      const verdict = text(score.verdict) || text(r.outcome) || (r.error ? 'error' : '-');
      tr.append(
        el('td', 'num', fmtInt(r.id)),
        what,
        el('td', 'vtext ' + verdictClass(score.verdict), pick(VERDICT_TEXT, verdict, verdict)),
        el('td', 'num', fmtInt(isNum(score.failedRequests) ? score.failedRequests : r.failed)),
        el('td', 'num', fmtInt(isNum(score.usersAffected) ? score.usersAffected : r.usersAffected)),
        el('td', 'num', fmtSeconds(score.timeToDetectS)));
      table.append(tr);
    }
    box.append(table);
  }

  // ---- the log ----

  function renderLog(s) {
    const lines = list(s.log).map(dict).slice(-100);
    if (unchanged('log', lines)) return;
    const ul = $('log-lines');
    // Follow the newest line unless the speaker scrolled back.
    const follow = ul.scrollHeight - ul.scrollTop - ul.clientHeight < 40;
    ul.replaceChildren();
    for (const line of lines) {
      const kind = text(line.kind);
      const li = el('li', kind === 'refused' ? 'refused' : kind === 'error' ? 'error' : kind === 'verdict' ? 'verdict-line' : '');
      li.append(el('span', 't', fmtClock(line.time)), el('span', '', text(line.text)));
      ul.append(li);
    }
    if (follow) ul.scrollTop = ul.scrollHeight;
  }

  // ---- controls ----

  const busy = new Set(); // controls whose POST has not answered yet
  // A select's choice that the harness accepted but no state shows yet; kept
  // so that the select does not jump back meanwhile.
  const held = new Map();

  function availability(s, name) {
    if (!s.controls) return { enabled: false, reason: 'waiting for the harness' };
    const a = dict(pick(dict(s.controls), name, null));
    return { enabled: a.enabled === true, reason: text(a.reason) || (a.enabled === true ? '' : 'not available now') };
  }

  function buildMenu(boxId, control, choices) {
    const items = list(choices).map(dict);
    if (unchanged('menu:' + control, items)) return;
    const box = $(boxId);
    box.replaceChildren();
    if (!items.length) box.append(el('div', 'empty', 'none on offer'));
    for (const c of items) {
      const b = el('button', 'btn', text(c.label) || text(c.name));
      b.type = 'button';
      b.dataset.control = control;
      b.dataset.choice = text(c.name);
      b.dataset.tip = text(c.description);
      box.append(b);
    }
  }

  function buildSelect(s, control, choices, current) {
    const sel = document.querySelector('select[data-control="' + control + '"]');
    const items = list(choices).map(dict);
    if (!unchanged('select:' + control, items)) {
      sel.replaceChildren();
      for (const c of items) {
        const o = el('option', '', text(c.label) || text(c.name));
        o.value = text(c.name);
        o.title = text(c.description);
        sel.append(o);
      }
    }
    let want = text(current);
    const h = held.get(control);
    if (h && h.value !== want && Date.now() < h.until) want = h.value;
    else held.delete(control);
    if (!busy.has(control) && sel.value !== want) sel.value = want;
  }

  function renderControls(s) {
    buildMenu('variants', 'release-bad', s.variants);
    buildMenu('faults', 'fault', s.faults);
    buildSelect(s, 'strategy', s.strategies, s.strategy);
    buildSelect(s, 'analyzer', s.analyzers, s.analyzer);
    for (const c of document.querySelectorAll('[data-control]')) {
      const name = c.dataset.control;
      const a = availability(s, name);
      c.disabled = !a.enabled || busy.has(name);
      c.classList.toggle('busy', busy.has(name));
      c.title = a.enabled ? text(c.dataset.tip) : a.reason;
    }
    for (const t of document.querySelectorAll('summary[data-menu-toggle]')) {
      const a = availability(s, t.dataset.menuToggle);
      t.classList.toggle('disabled', !a.enabled);
      t.setAttribute('aria-disabled', String(!a.enabled));
      t.title = a.enabled ? '' : a.reason;
      if (!a.enabled) t.parentElement.open = false;
    }
    renderReasons(s);
  }

  // renderReasons says in words why controls are off, one line per reason:
  // a tooltip alone is invisible from the stage.
  function renderReasons(s) {
    const byReason = new Map();
    for (const name of CONTROLS) {
      const a = availability(s, name);
      if (a.enabled) continue;
      const names = byReason.get(a.reason) || [];
      names.push(CONTROL_TITLES[name]);
      byReason.set(a.reason, names);
    }
    const rows = [...byReason.entries()];
    if (unchanged('reasons', rows)) return;
    const ul = $('reasons');
    ul.replaceChildren();
    for (const [reason, names] of rows) {
      const li = el('li');
      li.append(el('span', 'name', names.join(', ') + ':'), ' ', el('span', '', reason));
      ul.append(li);
    }
  }

  function closeMenus(except) {
    for (const d of document.querySelectorAll('details.menu[open]')) if (d !== except) d.open = false;
  }

  // act asks the harness for a control; a refusal or an error is always shown.
  async function act(control, choice, what) {
    if (busy.has(control)) return;
    busy.add(control);
    if (last) renderControls(last);
    let failure = '';
    try {
      const res = await fetch('/api/control/' + encodeURIComponent(control), {
        method: 'POST',
        headers: { 'Content-Type': 'application/json' },
        body: JSON.stringify({ choice }),
        cache: 'no-store',
      });
      const body = dict(await res.json().catch(() => null));
      if (res.ok && body.ok !== false) {
        toast(text(body.message) || what + ': done', 'ok');
        if (control === 'strategy' || control === 'analyzer') held.set(control, { value: choice, until: Date.now() + 3000 });
      } else {
        failure = text(body.error) || 'HTTP ' + res.status;
      }
    } catch (e) {
      failure = 'the harness did not answer (' + text(e && e.message) + ')';
    }
    busy.delete(control);
    if (failure) toast(what + ': ' + failure, 'error');
    renderControls(last || {});
  }

  function toast(message, kind) {
    const box = $('toasts');
    const t = el('div', 'toast ' + kind, message);
    t.title = 'click to dismiss';
    t.addEventListener('click', () => t.remove());
    box.append(t);
    while (box.children.length > 4) box.firstElementChild.remove();
    setTimeout(() => t.remove(), kind === 'error' ? 8000 : 3500);
  }

  function wireControls() {
    document.addEventListener('click', (ev) => {
      const target = ev.target instanceof Element ? ev.target : null;
      const btn = target && target.closest('button[data-control]');
      if (btn) {
        if (btn.disabled) return;
        closeMenus();
        const name = btn.dataset.control;
        const choice = text(btn.dataset.choice);
        act(name, choice, CONTROL_TITLES[name] + (choice ? ' ' + btn.textContent : ''));
        return;
      }
      const toggle = target && target.closest('summary[data-menu-toggle]');
      if (toggle) {
        if (toggle.classList.contains('disabled')) ev.preventDefault();
        else closeMenus(toggle.parentElement);
        return;
      }
      if (!target || !target.closest('.menu')) closeMenus();
    });
    document.addEventListener('keydown', (ev) => {
      if (ev.key === 'Escape') closeMenus();
    });
    for (const sel of document.querySelectorAll('select[data-control]')) {
      sel.addEventListener('change', () => {
        const opt = sel.selectedOptions[0];
        act(sel.dataset.control, sel.value, CONTROL_TITLES[sel.dataset.control] + ' ' + (opt ? opt.textContent : sel.value));
      });
    }
  }

  // ---- the banner ----

  let last = null; // the latest State
  let streaming = false; // a state arrived since the stream last failed

  function renderBanner() {
    let msg = '';
    if (!streaming) msg = last ? 'reconnecting… (lost the harness\u2019s event stream)' : 'connecting to the harness…';
    else if (last && last.connected === false) msg = text(last.notice) || 'reconnecting… (the cluster API server does not answer)';
    const b = $('banner');
    b.textContent = msg;
    b.hidden = !msg;
  }

  // ---- the stream ----

  const renderers = [renderHeader, renderGrid, renderCharts, renderRollout, renderAnalysis, renderRelease, renderHistory, renderControls, renderLog];

  function render(s) {
    for (const r of renderers) {
      // One broken panel must not blank the rest of the stage.
      try {
        r(s);
      } catch (e) {
        console.error('blastradius: drawing', r.name, e);
      }
    }
    renderBanner();
    document.body.dataset.seq = text(s.seq); // tests wait on it
  }

  function onState(ev) {
    let s;
    try {
      s = JSON.parse(ev.data);
    } catch (e) {
      return; // keep drawing the last good state
    }
    if (s === null || typeof s !== 'object') return;
    last = s;
    streaming = true;
    render(s);
  }

  function connect() {
    const source = new EventSource('/events');
    source.addEventListener('state', onState);
    source.addEventListener('error', () => {
      streaming = false;
      renderBanner();
      // The browser retries by itself, except after an HTTP error answer:
      // then start over.
      if (source.readyState === EventSource.CLOSED) {
        source.close();
        setTimeout(connect, 2000);
      }
    });
  }

  let resizePending = false;
  window.addEventListener('resize', () => {
    if (resizePending) return;
    resizePending = true;
    requestAnimationFrame(() => {
      resizePending = false;
      const s = last || {};
      renderGrid(s);
      renderCharts(s);
    });
  });

  wireControls();
  render({});
  connect();
})();
