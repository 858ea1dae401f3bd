// blastradius report: sortable tables, clickable rows and chart hover.
// The page's Content Security Policy admits this script by its hash only.
// It writes nothing but text (textContent), so no data becomes markup.
(function () {
  'use strict';
  var root = document.documentElement;
  window.addEventListener('error', function (e) {
    root.setAttribute('data-status', 'error');
    root.setAttribute('data-error', String((e && e.message) || e));
  });

  function each(list, fn) { Array.prototype.forEach.call(list, fn); }

  function sortTable(table, col, th) {
    var num = th.getAttribute('data-type') === 'num';
    var dir = th.getAttribute('aria-sort') === 'ascending' ? -1 : 1;
    each(th.parentNode.cells, function (c) { c.removeAttribute('aria-sort'); });
    th.setAttribute('aria-sort', dir === 1 ? 'ascending' : 'descending');
    var body = table.tBodies[0];
    var rows = Array.prototype.slice.call(body.rows);
    function key(tr) {
      var td = tr.cells[col];
      if (!td) { return null; }
      var v = td.hasAttribute('data-v') ? td.getAttribute('data-v') : td.textContent.trim();
      if (v === '' || v === '–') { return null; }
      if (num) { var x = parseFloat(v); return isNaN(x) ? null : x; }
      return v.toLowerCase();
    }
    rows.sort(function (a, b) {
      var ka = key(a), kb = key(b);
      if (ka === kb) { return 0; }
      if (ka === null) { return 1; } // not applicable: always last
      if (kb === null) { return -1; }
      return (ka < kb ? -1 : 1) * dir;
    });
    rows.forEach(function (r) { body.appendChild(r); });
  }

  var cache = {};
  function chartData(svg) {
    var id = svg.getAttribute('data-chart');
    if (!(id in cache)) {
      var el = document.getElementById('data-' + id);
      cache[id] = el ? JSON.parse(el.textContent) : null;
    }
    return cache[id];
  }

  function fmt(x) { return x >= 100 ? String(Math.round(x)) : String(Math.round(x * 10) / 10); }

  var tip = document.getElementById('tip');
  function hide(svg) {
    tip.hidden = true;
    var g = svg.querySelector('.guide');
    if (g) { g.setAttribute('visibility', 'hidden'); }
  }
  function hover(svg, e) {
    var d = chartData(svg);
    var r = svg.getBoundingClientRect();
    if (!d || !r.width) { return; }
    var vx = (e.clientX - r.left) * d.vw / r.width;
    if (vx < d.pl || vx > d.pl + d.pw) { hide(svg); return; }
    var t = d.x0 + (vx - d.pl) / d.pw * (d.x1 - d.x0);
    var i = Math.floor((t - d.t0) / d.dt);
    var n = d.req.length ? d.req[0].length : 0;
    var g = svg.querySelector('.guide');
    if (g) {
      g.setAttribute('x1', vx); g.setAttribute('x2', vx); g.setAttribute('visibility', 'visible');
    }
    var lines = ['t = ' + t.toFixed(1) + ' s'];
    if (i >= 0 && i < n) {
      if (d.dt > 1) { lines[0] += ' (mean of ' + (d.t0 + i * d.dt) + '…' + (d.t0 + (i + 1) * d.dt) + ' s)'; }
      for (var j = 0; j < d.names.length; j++) {
        var q = d.req[j][i];
        if (!q) { continue; }
        var p = d.p99[j][i];
        lines.push(d.names[j] + ': ' + fmt(q) + ' req/s, ' + (100 * d.fail[j][i] / q).toFixed(1) + '% failed, p99 ' +
          (p >= 0 ? fmt(p) + ' ms' : '–'));
      }
      if (d.share && d.share[i] >= 0) { lines.push('candidate share ' + d.share[i].toFixed(1) + '%'); }
      if (d.w && d.w.length) { lines.push('configured weight ' + d.w[i] + '%'); }
    }
    tip.textContent = '';
    lines.forEach(function (l) {
      var div = document.createElement('div');
      div.textContent = l;
      tip.appendChild(div);
    });
    tip.hidden = false;
    tip.style.left = Math.max(4, Math.min(e.clientX + 14, window.innerWidth - tip.offsetWidth - 8)) + 'px';
    tip.style.top = Math.min(e.clientY + 14, window.innerHeight - tip.offsetHeight - 8) + 'px';
  }

  function init() {
    each(document.querySelectorAll('table.sortable'), function (table) {
      if (!table.tHead) { return; }
      each(table.tHead.rows[0].cells, function (th, col) {
        th.classList.add('sort');
        th.tabIndex = 0;
        var go = function () { sortTable(table, col, th); };
        th.addEventListener('click', go);
        th.addEventListener('keydown', function (e) {
          if (e.key === 'Enter' || e.key === ' ') { e.preventDefault(); go(); }
        });
      });
    });
    document.addEventListener('click', function (e) {
      var el = e.target;
      if (!el.closest || el.closest('a')) { return; }
      var tr = el.closest('tr[data-target]');
      if (tr) { location.hash = '#' + tr.getAttribute('data-target'); }
    });
    each(document.querySelectorAll('svg.timeline'), function (svg) {
      svg.addEventListener('mousemove', function (e) { hover(svg, e); });
      svg.addEventListener('mouseleave', function () { hide(svg); });
    });
    root.setAttribute('data-ready-ms', String(Math.round(performance.now())));
    if (root.getAttribute('data-status') !== 'error') { root.setAttribute('data-status', 'ok'); }
  }

  init();
}());
