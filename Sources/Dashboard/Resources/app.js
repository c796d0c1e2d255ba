// fsdfs dashboard. Plain JavaScript, no libraries: it polls the master's /ui/api/ and draws
// the pages. Every field of every reply is treated as optional, so an older or newer master
// still gets a page (a missing figure shows as "–", a missing chart is left out).
'use strict';

(function () {
  const POLL_MS = 3000;
  const HISTORY_MS = 10000;

  const state = {
    csrf: null,
    page: 'overview',
    prefix: '',
    range: 3600,
    files: [],
    next: null,
    extraPages: 0,
    lastHistory: 0,
    history: [],
    overview: null,
    events: [],
    lastEvent: null,
    uploading: false,
    timer: null,
  };

  // ---------------------------------------------------------------- helpers

  const $ = (selector) => document.querySelector(selector);

  /** Makes an element; text children are text nodes (never parsed as HTML). */
  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [key, value] of Object.entries(attrs || {})) {
      if (value === undefined || value === null || value === false) continue;
      if (key === 'class') node.className = value;
      else if (key === 'text') node.textContent = value;
      else if (key.startsWith('on')) node.addEventListener(key.slice(2), value);
      else node.setAttribute(key, value === true ? '' : String(value));
    }
    for (const child of children.flat()) {
      if (child === null || child === undefined || child === false) continue;
      node.append(child instanceof Node ? child : document.createTextNode(String(child)));
    }
    return node;
  }

  const SVG = 'http://www.w3.org/2000/svg';
  function svg(tag, attrs, ...children) {
    const node = document.createElementNS(SVG, tag);
    for (const [key, value] of Object.entries(attrs || {})) {
      if (key === 'text') node.textContent = value;
      else node.setAttribute(key, String(value));
    }
    for (const child of children) if (child) node.append(child);
    return node;
  }

  const isNum = (value) => typeof value === 'number' && isFinite(value);

  function fmtBytes(bytes) {
    if (!isNum(bytes)) return '–';
    const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB'];
    let value = bytes;
    let unit = 0;
    while (Math.abs(value) >= 1024 && unit < units.length - 1) { value /= 1024; unit += 1; }
    return unit === 0 ? `${bytes} B` : `${value.toFixed(value < 10 ? 1 : value < 100 ? 1 : 0)} ${units[unit]}`;
  }

  function fmtCount(value) {
    return isNum(value) ? value.toLocaleString('en-US') : '–';
  }

  function fmtKn(kn) {
    if (!isNum(kn)) return 'n/a';
    return kn > 0 ? `+${kn}` : kn < 0 ? `−${-kn}` : '0';
  }

  function fmtDuration(seconds) {
    if (!isNum(seconds)) return '–';
    const total = Math.round(seconds);
    if (total < 60) return `${total} s`;
    if (total < 3600) return `${Math.floor(total / 60)} min ${total % 60} s`;
    if (total < 86400) return `${Math.floor(total / 3600)} h ${Math.floor(total / 60) % 60} min`;
    return `${Math.floor(total / 86400)} d ${Math.floor(total / 3600) % 24} h`;
  }

  function fmtAgo(epochSeconds) {
    if (!isNum(epochSeconds)) return '–';
    const seconds = Math.max(0, Date.now() / 1000 - epochSeconds);
    if (seconds < 5) return 'just now';
    return `${fmtDuration(seconds)} ago`;
  }

  function fmtTime(epochSeconds, withDate, withSeconds) {
    const date = new Date(epochSeconds * 1000);
    const time = date.toLocaleTimeString([], { hour: '2-digit', minute: '2-digit', second: withDate || withSeconds ? '2-digit' : undefined, hour12: false });
    return withDate ? `${date.toLocaleDateString([], { month: 'short', day: 'numeric' })} ${time}` : time;
  }

  /** The page's level for a K − N value: risk below 0, exact at 0, spare above. */
  function levelOf(kn) {
    if (!isNum(kn)) return 'unknown';
    return kn < 0 ? 'risk' : kn === 0 ? 'exact' : 'spare';
  }

  function meaningOf(overview) {
    if (overview.meaning) return overview.meaning;
    const kn = overview.minKn;
    if (!isNum(kn)) return 'The store is empty.';
    if (kn < 0) return `${overview.underReplicated ?? 'Some'} file(s) have fewer copies than their policy asks for.`;
    if (kn === 0) return 'Every file has exactly the copies its policy asks for, with no spare.';
    return `Every file has at least ${kn} more copies than its policy asks for.`;
  }

  const SHORT_WORDS = { spare: 'healthy, with spare copies', exact: 'no spare copies', risk: 'files at risk', empty: 'no files yet', unknown: '' };

  // ---------------------------------------------------------------- API

  class ApiError extends Error {
    constructor(status, message, code) { super(message); this.status = status; this.code = code; }
  }

  async function api(path, options) {
    const init = Object.assign({ credentials: 'same-origin', headers: {} }, options || {});
    if (init.method && init.method !== 'GET') init.headers['X-CSRF-Token'] = state.csrf || '';
    const response = await fetch(`api/${path}`, init);
    if (response.status === 401) {
      location.href = 'login';
      throw new ApiError(401, 'Logged out', 'login_required');
    }
    const text = await response.text();
    let body = null;
    try { body = text ? JSON.parse(text) : null; } catch (_) { body = null; }
    if (!response.ok) {
      throw new ApiError(response.status, (body && body.error) || `HTTP ${response.status}`, body && body.code);
    }
    return body;
  }

  function showBanner(message, level) {
    const banner = $('#banner');
    if (!message) { banner.hidden = true; return; }
    banner.textContent = message;
    banner.className = `banner${level === 'risk' ? ' banner-risk' : ''}`;
    banner.hidden = false;
  }

  // ---------------------------------------------------------------- navigation

  function parseHash() {
    const hash = location.hash.replace(/^#\/?/, '');
    const [page, query] = hash.split('?');
    const params = new URLSearchParams(query || '');
    return { page: ['overview', 'nodes', 'at-risk', 'events', 'files'].includes(page) ? page : 'overview', params };
  }

  function route() {
    const { page, params } = parseHash();
    const prefix = page === 'files' ? (params.get('prefix') || '') : state.prefix;
    const changedPrefix = prefix !== state.prefix;
    state.page = page;
    state.prefix = prefix;
    if (changedPrefix) { state.files = []; state.next = null; state.extraPages = 0; }
    for (const section of document.querySelectorAll('.page')) section.hidden = section.id !== `page-${page}`;
    for (const link of document.querySelectorAll('.tabs a')) link.classList.toggle('active', link.dataset.page === page);
    document.title = `${{ overview: 'Overview', nodes: 'Nodes', 'at-risk': 'At risk', events: 'Events', files: 'Files' }[page]} · fsdfs`;
    if (page === 'files') {
      $('#prefix-input').value = state.prefix;
      if (!state.uploading && !$('#upload-path').dataset.edited) suggestUploadPath();
    }
    refresh();
  }

  function goToPrefix(prefix) {
    location.hash = prefix ? `#/files?prefix=${encodeURIComponent(prefix)}` : '#/files';
  }

  // ---------------------------------------------------------------- polling

  async function refresh() {
    clearTimeout(state.timer);
    try {
      const jobs = [refreshOverview()];
      if (state.page === 'overview' && Date.now() - state.lastHistory > HISTORY_MS) jobs.push(refreshHistory());
      if (state.page === 'nodes') jobs.push(refreshNodes());
      if (state.page === 'at-risk') jobs.push(refreshAtRisk());
      if (state.page === 'events') jobs.push(refreshEvents());
      if (state.page === 'files') jobs.push(refreshFiles());
      await Promise.all(jobs);
      $('#updated').textContent = `updated ${new Date().toLocaleTimeString([], { hour12: false })}`;
      showBanner(bannerText(state.overview), state.overview && state.overview.safeMode ? 'warn' : 'risk');
    } catch (error) {
      if (error.status !== 401) {
        $('#updated').textContent = `cannot reach the master (${error.message}); retrying`;
      }
    } finally {
      state.timer = setTimeout(refresh, document.hidden ? POLL_MS * 5 : POLL_MS);
    }
  }

  function bannerText(overview) {
    if (!overview) return null;
    const parts = [];
    const safe = overview.safeMode;
    if (safe) {
      let text = `Safe mode since ${safe.since || '?'}: ${safe.reason || ''}. Nothing is removed or evicted`;
      if (Array.isArray(safe.waitingFor) && safe.waitingFor.length) text += `; waiting for ${safe.waitingFor.join(', ')}`;
      parts.push(`${text}. End it with: fsdfsd safe-mode leave`);
    }
    if (isNum(overview.refusedNodes) && overview.refusedNodes > 0) {
      parts.push(`${overview.refusedNodes} node(s) were refused: they belong to another swarm.`);
    }
    return parts.join(' ');
  }

  // ---------------------------------------------------------------- overview

  async function refreshOverview() {
    const overview = await api('overview');
    state.overview = overview || {};
    renderHealth(state.overview);
    if (state.page === 'overview') renderOverview(state.overview);
  }

  function renderHealth(overview) {
    const level = overview.health || (isNum(overview.minKn) ? levelOf(overview.minKn) : 'empty');
    const pill = $('#health-pill');
    pill.className = `pill pill-${level}`;
    $('#health-figure').textContent = `min(K−N) ${isNum(overview.minKn) ? fmtKn(overview.minKn) : 'n/a'}`;
    $('#health-words').textContent = SHORT_WORDS[level] || '';
    pill.title = meaningOf(overview);
    if (overview.master) $('#master-address').textContent = overview.master;
    const count = $('#risk-count');
    const under = overview.underReplicated;
    count.hidden = !(isNum(under) && under > 0);
    count.textContent = isNum(under) ? fmtCount(under) : '';
  }

  function renderOverview(overview) {
    const level = overview.health || (isNum(overview.minKn) ? levelOf(overview.minKn) : 'empty');
    $('#hero').className = `card hero hero-${level}`;
    $('#ov-minkn').textContent = isNum(overview.minKn) ? fmtKn(overview.minKn) : 'n/a';
    $('#ov-meaning').textContent = meaningOf(overview);
    $('#ov-files').textContent = fmtCount(overview.files);
    $('#ov-bytes').textContent = fmtBytes(overview.bytes);
    const under = $('#ov-under');
    under.textContent = fmtCount(overview.underReplicated);
    under.classList.toggle('stat-risk', isNum(overview.underReplicated) && overview.underReplicated > 0);
    $('#ov-nodes').textContent = isNum(overview.nodesAlive) ? `${overview.nodesAlive} / ${overview.nodesTotal ?? '?'}` : '–';
    const used = overview.used;
    const quota = overview.quota;
    const share = isNum(used) && isNum(quota) && quota > 0 ? Math.min(1, used / quota) : 0;
    $('#ov-capacity-text').textContent = isNum(used) && isNum(quota) ? `${fmtBytes(used)} of ${fmtBytes(quota)} (${Math.round(share * 100)}%)` : '';
    setBar($('#ov-capacity-bar'), share);

    const replication = overview.replication || {};
    $('#ov-inflight').textContent = fmtCount(replication.copiesInFlight);
    $('#ov-backlog').textContent = fmtBytes(replication.backlogBytes);
    $('#ov-rate').textContent = isNum(replication.bytesPerSecond) ? `${fmtBytes(Math.round(replication.bytesPerSecond))}/s` : '–';
    const eta = $('#ov-eta');
    const stuck = overview.stuck || replication.stuck || replication.paused;
    eta.classList.toggle('stuck', Boolean(stuck));
    if (stuck) eta.textContent = `Stuck: ${stuck}`;
    else if (!(replication.backlogBytes > 0)) eta.textContent = isNum(overview.minKn) ? 'Nothing to copy: every file has its copies.' : 'Nothing to copy yet.';
    else if (isNum(replication.etaSeconds)) eta.textContent = `Backlog cleared in about ${fmtDuration(replication.etaSeconds)} at the current rate.`;
    else if (replication.copiesInFlight > 0) eta.textContent = 'Copies are under way; the rate is being measured.';
    else eta.textContent = 'No copy under way. If this lasts, the nodes that are up may have no room or be too few for these files (see At risk).';

    renderHistogram(overview.histogram);
    renderChart();
  }

  function setBar(fill, share) {
    fill.style.width = `${Math.max(0, Math.min(100, share * 100)).toFixed(1)}%`;
    fill.classList.toggle('bar-high', share >= 0.8 && share < 0.95);
    fill.classList.toggle('bar-full', share >= 0.95);
  }

  async function refreshHistory() {
    const points = await api(`history?seconds=${state.range}&points=360`);
    state.history = Array.isArray(points) ? points : [];
    state.lastHistory = Date.now();
    renderChart();
  }

  /** The health chart: backlog as an area (right axis), min(K − N) as a step line (left axis). */
  function renderChart() {
    const box = $('#chart');
    const samples = state.history.filter((s) => isNum(s.t));
    const overview = state.overview || {};
    // The live figure as the last point, so the line reaches "now".
    if (isNum(overview.minKn) || overview.replication) {
      samples.push({ t: Date.now() / 1000, minKn: overview.minKn, backlogBytes: (overview.replication || {}).backlogBytes || 0 });
    }
    box.replaceChildren();
    if (samples.length < 2 || !samples.some((s) => isNum(s.minKn))) {
      box.append(el('div', { class: 'chart-empty', text: 'Collecting samples: the master records one every 10 seconds.' }));
      return;
    }
    const width = Math.max(280, box.clientWidth || 600);
    const height = 176;
    const pad = { left: 34, right: 62, top: 10, bottom: 24 };
    const plotW = width - pad.left - pad.right;
    const plotH = height - pad.top - pad.bottom;
    const now = Date.now() / 1000;
    // From the first sample kept (a master that started recently has less than the range).
    const t0 = Math.max(now - state.range, samples[0].t);
    const tx = (t) => pad.left + ((t - t0) / (now - t0)) * plotW;

    const kns = samples.map((s) => s.minKn).filter(isNum);
    let knLow = Math.min(0, ...kns) - 1;
    let knHigh = Math.max(1, ...kns) + 1;
    if (knHigh - knLow < 3) knHigh = knLow + 3;
    const ky = (kn) => pad.top + ((knHigh - kn) / (knHigh - knLow)) * plotH;

    const backlogMax = Math.max(1, ...samples.map((s) => s.backlogBytes || 0));
    const by = (bytes) => pad.top + plotH - (bytes / backlogMax) * plotH;

    const root = svg('svg', { viewBox: `0 0 ${width} ${height}`, role: 'img', 'aria-label': 'min(K − N) and replication backlog over time' });
    root.style.height = `${height}px`;
    // Grid and left axis: one line per K − N value when there are few.
    const step = Math.max(1, Math.ceil((knHigh - knLow) / 6));
    for (let kn = Math.ceil(knLow); kn <= knHigh; kn += step) {
      root.append(svg('line', { class: kn === 0 ? 'zero-line' : 'grid-line', x1: pad.left, x2: pad.left + plotW, y1: ky(kn), y2: ky(kn) }));
      root.append(svg('text', { x: pad.left - 8, y: ky(kn) + 4, 'text-anchor': 'end', text: fmtKn(kn) }));
    }
    // Right axis: backlog.
    const anyBacklog = samples.some((s) => (s.backlogBytes || 0) > 0);
    for (const share of anyBacklog ? [0, 0.5, 1] : [0]) {
      root.append(svg('text', { x: pad.left + plotW + 8, y: by(backlogMax * share) + 4, text: share === 0 ? '0 B' : fmtBytes(Math.round(backlogMax * share)) }));
    }
    // Time axis.
    const ticks = 5;
    for (let i = 0; i <= ticks; i += 1) {
      const t = t0 + ((now - t0) * i) / ticks;
      root.append(svg('text', { x: tx(t), y: height - 6, 'text-anchor': i === 0 ? 'start' : i === ticks ? 'end' : 'middle', text: i === ticks ? 'now' : fmtTime(t, false, now - t0 < 900) }));
    }
    // Backlog area.
    let area = `M ${tx(samples[0].t)} ${by(0)}`;
    let level = 0;
    for (const s of samples) {
      area += ` L ${tx(s.t)} ${by(level)} L ${tx(s.t)} ${by(s.backlogBytes || 0)}`;
      level = s.backlogBytes || 0;
    }
    area += ` L ${tx(samples[samples.length - 1].t)} ${by(0)} Z`;
    root.append(svg('path', { class: 'backlog-area', d: area }));
    // min(K − N) as steps; a gap where the master had no figure.
    let line = '';
    let previous = null;
    for (const s of samples) {
      if (!isNum(s.minKn)) { previous = null; continue; }
      if (previous === null) line += ` M ${tx(s.t)} ${ky(s.minKn)}`;
      else line += ` L ${tx(s.t)} ${ky(previous)} L ${tx(s.t)} ${ky(s.minKn)}`;
      previous = s.minKn;
    }
    root.append(svg('path', { class: 'kn-line', d: line.trim() }));
    box.append(root);
  }

  /** Files per K − N value as bars: red below 0, amber at 0, green above. */
  function renderHistogram(buckets) {
    const box = $('#histogram');
    const note = $('#histogram-note');
    box.replaceChildren();
    if (!Array.isArray(buckets)) {
      note.textContent = '';
      box.append(el('div', { class: 'chart-empty', text: 'This master does not report the distribution of K − N.' }));
      return;
    }
    if (buckets.length === 0) {
      note.textContent = '';
      box.append(el('div', { class: 'chart-empty', text: 'No files yet.' }));
      return;
    }
    const total = buckets.reduce((sum, b) => sum + (b.files || 0), 0);
    note.textContent = `${fmtCount(total)} file${total === 1 ? '' : 's'}`;
    const width = Math.max(240, box.clientWidth || 400);
    const height = 176;
    const pad = { left: 10, right: 10, top: 22, bottom: 26 };
    const plotW = width - pad.left - pad.right;
    const plotH = height - pad.top - pad.bottom;
    const most = Math.max(1, ...buckets.map((b) => b.files || 0));
    const slot = plotW / buckets.length;
    const barW = Math.min(64, slot * 0.7);
    const root = svg('svg', { viewBox: `0 0 ${width} ${height}`, role: 'img', 'aria-label': 'Number of files for each value of K − N' });
    root.style.height = `${height}px`;
    root.append(svg('line', { class: 'grid-line', x1: pad.left, x2: pad.left + plotW, y1: pad.top + plotH, y2: pad.top + plotH }));
    buckets.forEach((bucket, i) => {
      const files = bucket.files || 0;
      const h = Math.max(files > 0 ? 2 : 0, (files / most) * plotH);
      const x = pad.left + slot * i + (slot - barW) / 2;
      const y = pad.top + plotH - h;
      const bar = svg('rect', { class: `bar-${levelOf(bucket.kn)}`, x, y, width: barW, height: h, rx: 3 });
      bar.append(svg('title', { text: `K − N ${fmtKn(bucket.kn)}: ${fmtCount(files)} files` }));
      root.append(bar);
      root.append(svg('text', { class: 'bar-count', x: x + barW / 2, y: y - 6, 'text-anchor': 'middle', text: fmtCount(files) }));
      root.append(svg('text', { x: x + barW / 2, y: height - 8, 'text-anchor': 'middle', text: `${fmtKn(bucket.kn)}` }));
    });
    box.append(root);
  }

  // ---------------------------------------------------------------- nodes

  async function refreshNodes() {
    const nodes = await api('nodes');
    const body = $('#nodes-table tbody');
    const list = Array.isArray(nodes) ? nodes : [];
    const up = list.filter((n) => (n.state || (n.alive ? 'up' : 'down')) === 'up').length;
    $('#nodes-summary').textContent = `${up} of ${list.length} up`;
    if (list.length === 0) {
      body.replaceChildren(el('tr', { class: 'empty' }, el('td', { colspan: 8, text: 'No node has joined yet.' })));
      return;
    }
    body.replaceChildren(...list.map((node) => {
      const nodeState = node.state || (node.alive === false ? 'down' : 'up');
      const stateBadge = { up: 'badge-ok', drained: 'badge-ok', silent: 'badge-warn', draining: 'badge-warn', maintenance: 'badge-warn', down: 'badge-risk' }[nodeState] || 'badge-muted';
      let stateNote = '';
      if (node.drain && nodeState === 'draining') {
        stateNote = node.drain.blocked ? `cannot finish: ${node.drain.blocked}` : `${fmtCount(node.drain.filesLeft)} files (${fmtBytes(node.drain.bytesLeft)}) left`;
      } else if (nodeState === 'drained') {
        stateNote = 'can be stopped';
      } else if (nodeState === 'maintenance' && node.maintenanceUntil) {
        stateNote = `until ${node.maintenanceUntil.replace('T', ' ').replace(/\.\d+/, '').replace('Z', ' UTC')}`;
      }
      const share = isNum(node.used) && isNum(node.quota) && node.quota > 0 ? node.used / node.quota : 0;
      const fill = el('div', { class: 'bar-fill' });
      setBar(fill, share);
      return el('tr', { 'data-address': node.address },
        el('td', { 'data-label': 'State' }, el('div', {}, el('span', { class: `badge ${stateBadge}`, text: nodeState }),
          stateNote ? el('div', { class: 'muted small', text: stateNote }) : null)),
        el('td', { 'data-label': 'Node' }, el('div', {}, el('div', { class: 'mono', text: node.address || '?' }), el('div', { class: 'node-id', text: String(node.id || '').slice(0, 8) }))),
        el('td', { 'data-label': 'Space', class: 'col-space' }, el('div', { class: 'space' },
          el('div', { class: 'space-text' }, el('span', { text: `${fmtBytes(node.used)} of ${fmtBytes(node.quota)}` }), el('span', { class: 'muted', text: `${Math.round(share * 100)}%` })),
          el('div', { class: 'bar' }, fill))),
        el('td', { 'data-label': 'Files', class: 'num', text: fmtCount(node.files) }),
        el('td', { 'data-label': 'Load', class: 'num', text: isNum(node.load) ? node.load.toFixed(2) : '–' }),
        el('td', { 'data-label': 'Last report', text: fmtAgo(node.lastReport) }),
        el('td', { 'data-label': 'Max K−N', class: 'num', text: isNum(node.maxKn) ? fmtKn(node.maxKn) : '–' }),
        el('td', { 'data-label': 'Scrub' }, scrubText(node.scrub, node.unaccountedFiles)));
    }));
  }

  function scrubText(scrub, unaccounted) {
    const parts = [];
    if (!scrub) parts.push(el('span', { class: 'muted', text: 'not reported' }));
    else {
      const current = scrub.current;
      if (current && current.filesTotal) {
        parts.push(el('span', { text: `pass ${current.number}: ${Math.floor((100 * (current.bytesDone || 0)) / Math.max(1, current.bytesTotal || 1))}%` }));
      } else if (scrub.lastPass && isNum(scrub.lastPass.ended)) {
        parts.push(el('span', { text: `last pass ${fmtAgo(scrub.lastPass.ended)}` }));
      } else {
        parts.push(el('span', { class: 'muted', text: 'no full pass yet' }));
      }
      const problems = (scrub.corrupt || 0) + (scrub.missing || 0);
      if (problems > 0) parts.push(' ', el('span', { class: 'badge badge-risk', text: `${scrub.corrupt || 0} corrupt, ${scrub.missing || 0} missing` }));
    }
    if (isNum(unaccounted) && unaccounted > 0) parts.push(' ', el('span', { class: 'badge badge-warn', text: `${unaccounted} unaccounted` }));
    return el('div', {}, ...parts);
  }

  // ---------------------------------------------------------------- files at risk

  function knBadge(file) {
    const k = file.k;
    const n = file.n;
    const level = isNum(k) && isNum(n) ? (k < n ? 'badge-risk' : k === n ? 'badge-ok' : 'badge-ok') : 'badge-muted';
    return el('span', { class: `badge ${level}`, text: `${isNum(k) ? k : '?'} / ${isNum(n) ? n : '?'}` });
  }

  function holderChips(holders) {
    if (!Array.isArray(holders) || holders.length === 0) return el('span', { class: 'muted', text: 'none up' });
    return el('div', { class: 'chips' }, holders.map((h) => el('span', { class: 'chip', text: h })));
  }

  async function refreshAtRisk() {
    const files = await api('at-risk?limit=200');
    const list = Array.isArray(files) ? files : [];
    const body = $('#risk-table tbody');
    if (list.length === 0) {
      body.replaceChildren(el('tr', { class: 'empty' }, el('td', { colspan: 6, text: 'No file is below its replica count.' })));
      return;
    }
    body.replaceChildren(...list.map((file) => el('tr', {},
      el('td', { 'data-label': 'Path', class: 'path', text: file.path }),
      el('td', { 'data-label': 'Size', class: 'num', text: fmtBytes(file.size) }),
      el('td', { 'data-label': 'K / N' }, knBadge(file)),
      el('td', { 'data-label': 'K − N', class: 'num', text: fmtKn(isNum(file.kn) ? file.kn : file.k - file.n) }),
      el('td', { 'data-label': 'Holders' }, holderChips(file.holders)),
      el('td', { 'data-label': 'Why', class: 'small', text: file.message || '' }))));
  }

  // ---------------------------------------------------------------- events

  async function refreshEvents() {
    const after = state.lastEvent === null ? '' : `&after=${state.lastEvent}`;
    const reply = await api(`events?limit=200${after}`);
    const fresh = Array.isArray(reply) ? reply : (reply && Array.isArray(reply.events) ? reply.events : []);
    for (const event of fresh) {
      if (isNum(event.id) && (state.lastEvent === null || event.id > state.lastEvent)) state.lastEvent = event.id;
    }
    state.events = fresh.concat(state.events).slice(0, 500);
    state.events.sort((a, b) => (b.id || 0) - (a.id || 0));
    const list = $('#events-list');
    if (state.events.length === 0) {
      list.replaceChildren(el('li', { class: 'empty-note', text: 'No events recorded yet.' }));
      return;
    }
    list.replaceChildren(...state.events.map((event) => {
      const level = { error: 'badge-risk', warning: 'badge-warn', notice: 'badge-warn' }[event.level] || 'badge-muted';
      return el('li', {},
        el('span', { class: 'when', text: isNum(event.at) ? fmtTime(event.at, true) : '' }),
        el('span', {}, el('span', { class: `badge ${level}`, text: event.kind || event.level || 'info' })),
        el('span', { class: 'msg', text: event.message || '' }));
    }));
  }

  // ---------------------------------------------------------------- files

  async function refreshFiles() {
    // Reload everything shown so far, so K, N and holders stay live.
    const pages = 1 + state.extraPages;
    let files = [];
    let next = null;
    let after = null;
    for (let i = 0; i < pages; i += 1) {
      const query = `files?limit=100&prefix=${encodeURIComponent(state.prefix)}${after ? `&after=${encodeURIComponent(after)}` : ''}`;
      const page = await api(query);
      files = files.concat(Array.isArray(page && page.files) ? page.files : []);
      next = page && page.next ? page.next : null;
      if (!next) break;
      after = next;
    }
    state.files = files;
    state.next = next;
    renderFiles();
  }

  function renderFiles() {
    renderCrumbs();
    const prefix = state.prefix;
    const folderPrefix = prefix === '' || prefix.endsWith('/') ? prefix : null;
    const folders = new Map();
    if (folderPrefix !== null) {
      for (const file of state.files) {
        const rest = String(file.path).slice(folderPrefix.length);
        const slash = rest.indexOf('/');
        if (slash > 0) {
          const name = rest.slice(0, slash + 1);
          folders.set(name, (folders.get(name) || 0) + 1);
        }
      }
    }
    $('#folders').replaceChildren(...[...folders.entries()].map(([name, count]) =>
      el('a', { class: 'folder', href: `#/files?prefix=${encodeURIComponent(folderPrefix + name)}`, title: `${count}${state.next ? '+' : ''} files` }, name)));

    const body = $('#files-table tbody');
    if (state.files.length === 0) {
      body.replaceChildren(el('tr', { class: 'empty' }, el('td', { colspan: 5, text: prefix ? `No file starts with “${prefix}”.` : 'The store is empty: upload a file above.' })));
    } else {
      body.replaceChildren(...state.files.map(fileRow));
    }
    $('#files-more').hidden = !state.next;
  }

  function fileRow(file) {
    const shown = folderRelative(String(file.path));
    return el('tr', { 'data-path': file.path, 'data-k': file.k, 'data-n': file.n },
      el('td', { 'data-label': 'Path', class: 'path', title: file.path }, shown),
      el('td', { 'data-label': 'Size', class: 'num', text: fmtBytes(file.size) }),
      el('td', { 'data-label': 'K / N' }, knBadge(file)),
      el('td', { 'data-label': 'Holders' }, holderChips(file.holders)),
      el('td', { 'data-label': '', class: 'actions-col' }, el('div', { class: 'row-actions' },
        el('a', { class: 'btn btn-small download', href: `api/download?path=${encodeURIComponent(file.path)}`, download: String(file.path).split('/').pop() }, 'Download'),
        el('button', { type: 'button', class: 'btn btn-small btn-link-danger delete', onclick: () => confirmDelete(file.path) }, 'Delete'))));
  }

  function folderRelative(path) {
    const prefix = state.prefix;
    if (prefix && prefix.endsWith('/') && path.startsWith(prefix)) return [el('span', { class: 'muted', text: prefix }), path.slice(prefix.length)];
    return [path];
  }

  function renderCrumbs() {
    const crumbs = $('#crumbs');
    const parts = [el('a', { href: '#/files', text: 'All files' })];
    const prefix = state.prefix;
    const segments = prefix.split('/');
    let built = '';
    segments.forEach((segment, i) => {
      if (segment === '' && i === segments.length - 1) return;
      built += segment + (i < segments.length - 1 ? '/' : '');
      parts.push(el('span', { class: 'sep', text: '/' }));
      const last = i === segments.length - 1 || (i === segments.length - 2 && segments[segments.length - 1] === '');
      parts.push(last ? el('span', { text: segment + (i < segments.length - 1 ? '' : '*') }) : el('a', { href: `#/files?prefix=${encodeURIComponent(built)}`, text: segment }));
    });
    crumbs.replaceChildren(...parts);
  }

  const dialog = () => $('#confirm-delete');

  function confirmDelete(path) {
    $('#delete-path').textContent = path;
    dialog().dataset.path = path;
    dialog().returnValue = '';
    dialog().showModal();
  }

  async function onDialogClose() {
    const box = dialog();
    if (box.returnValue !== 'delete') return;
    const path = box.dataset.path;
    try {
      const reply = await api(`files?path=${encodeURIComponent(path)}`, { method: 'DELETE' });
      const pending = reply && reply.pending > 0 ? `; ${reply.pending} node(s) will remove their copy when they are back` : '';
      setUploadStatus(`Deleted ${path}${pending}.`, false);
      state.files = state.files.filter((f) => f.path !== path);
      renderFiles();
      refresh();
    } catch (error) {
      setUploadStatus(`Could not delete ${path}: ${error.message}`, true);
    }
  }

  // ---------------------------------------------------------------- upload

  function suggestUploadPath() {
    const input = $('#file-input');
    const file = input.files && input.files[0];
    const folder = state.prefix && state.prefix.endsWith('/') ? state.prefix : state.prefix.includes('/') ? state.prefix.slice(0, state.prefix.lastIndexOf('/') + 1) : '';
    $('#upload-path').value = file ? folder + file.name : '';
    updateUploadButton();
  }

  function updateUploadButton() {
    const input = $('#file-input');
    $('#upload-button').disabled = state.uploading || !(input.files && input.files[0]) || !$('#upload-path').value.trim();
  }

  function setUploadStatus(text, isError) {
    const status = $('#upload-status');
    status.textContent = text;
    status.classList.toggle('error', Boolean(isError));
  }

  function setProgress(share, phase) {
    const bar = $('#upload-progress');
    bar.hidden = false;
    const percent = Math.max(0, Math.min(100, Math.floor(share * 100)));
    bar.setAttribute('aria-valuenow', String(percent));
    bar.dataset.phase = phase;
    bar.classList.toggle('done', phase === 'done');
    bar.classList.toggle('failed', phase === 'failed');
    bar.querySelector('.progress-fill').style.width = `${percent}%`;
  }

  async function startUpload() {
    const file = $('#file-input').files[0];
    const path = $('#upload-path').value.trim().replace(/^\/+/, '');
    if (!file || !path) return;
    state.uploading = true;
    updateUploadButton();
    try {
      setProgress(0, 'hashing');
      setUploadStatus(`Computing the checksum of ${file.name}…`, false);
      const sha256 = await hashFile(file, (done) => {
        setProgress(done / Math.max(1, file.size), 'hashing');
        setUploadStatus(`Computing the checksum… ${Math.floor((100 * done) / Math.max(1, file.size))}%`, false);
      });
      setProgress(0, 'uploading');
      const stored = await send(file, path, sha256);
      setProgress(1, 'done');
      setUploadStatus(`Stored ${stored.path || path} (${fmtBytes(stored.size)}): K=${stored.k ?? 1}, replication continues.`, false);
      $('#upload-path').dataset.edited = '';
      goToPrefixOf(path);
      refresh();
    } catch (error) {
      setProgress(1, 'failed');
      setUploadStatus(`Upload failed: ${error.message}`, true);
    } finally {
      state.uploading = false;
      updateUploadButton();
    }
  }

  function goToPrefixOf(path) {
    const folder = path.includes('/') ? path.slice(0, path.lastIndexOf('/') + 1) : '';
    if (state.prefix && !path.startsWith(state.prefix)) goToPrefix(folder);
  }

  /** PUT with XMLHttpRequest, for its upload progress events. */
  function send(file, path, sha256) {
    return new Promise((resolve, reject) => {
      const xhr = new XMLHttpRequest();
      const started = Date.now();
      xhr.open('PUT', `api/upload?path=${encodeURIComponent(path)}`);
      xhr.setRequestHeader('X-CSRF-Token', state.csrf || '');
      xhr.setRequestHeader('X-Content-SHA256', sha256);
      xhr.setRequestHeader('Content-Type', 'application/octet-stream');
      xhr.upload.onprogress = (event) => {
        if (!event.lengthComputable) return;
        setProgress(event.loaded / Math.max(1, event.total), 'uploading');
        const rate = event.loaded / Math.max(0.001, (Date.now() - started) / 1000);
        setUploadStatus(`Uploading ${Math.floor((100 * event.loaded) / Math.max(1, event.total))}% · ${fmtBytes(Math.round(rate))}/s`, false);
      };
      xhr.upload.onload = () => {
        setProgress(1, 'storing');
        setUploadStatus('Uploaded 100%; the node is verifying and storing it…', false);
      };
      xhr.onload = () => {
        let body = null;
        try { body = JSON.parse(xhr.responseText); } catch (_) { body = null; }
        if (xhr.status === 401) { location.href = 'login'; reject(new Error('logged out')); return; }
        if (xhr.status >= 200 && xhr.status < 300) resolve(body || {});
        else reject(new Error((body && body.error) || `HTTP ${xhr.status}`));
      };
      xhr.onerror = () => reject(new Error('the connection to the master broke'));
      xhr.send(file);
    });
  }

  // ---------------------------------------------------------------- SHA-256
  // The node checks every upload against the SHA-256 its request was signed with, so the page
  // computes it before sending. Web Crypto cannot hash a stream and is missing on plain-HTTP
  // origins other than localhost, hence this small implementation (FIPS 180-4).

  const K256 = new Uint32Array([
    0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
    0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
    0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
    0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
    0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
    0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
    0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
    0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
  ]);

  class Sha256 {
    constructor() {
      this.h = new Uint32Array([0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19]);
      this.w = new Uint32Array(64);
      this.block = new Uint8Array(64);
      this.filled = 0;
      this.length = 0;
    }

    update(bytes) {
      let offset = 0;
      this.length += bytes.length;
      if (this.filled > 0) {
        const take = Math.min(64 - this.filled, bytes.length);
        this.block.set(bytes.subarray(0, take), this.filled);
        this.filled += take;
        offset = take;
        if (this.filled < 64) return;
        this.compress(this.block, 0);
        this.filled = 0;
      }
      for (; offset + 64 <= bytes.length; offset += 64) this.compress(bytes, offset);
      if (offset < bytes.length) {
        this.block.set(bytes.subarray(offset), 0);
        this.filled = bytes.length - offset;
      }
    }

    compress(bytes, offset) {
      const w = this.w;
      for (let i = 0; i < 16; i += 1) {
        const j = offset + i * 4;
        w[i] = (bytes[j] << 24) | (bytes[j + 1] << 16) | (bytes[j + 2] << 8) | bytes[j + 3];
      }
      for (let i = 16; i < 64; i += 1) {
        const a = w[i - 15];
        const b = w[i - 2];
        const s0 = ((a >>> 7) | (a << 25)) ^ ((a >>> 18) | (a << 14)) ^ (a >>> 3);
        const s1 = ((b >>> 17) | (b << 15)) ^ ((b >>> 19) | (b << 13)) ^ (b >>> 10);
        w[i] = (w[i - 16] + s0 + w[i - 7] + s1) | 0;
      }
      const h = this.h;
      let a = h[0], b = h[1], c = h[2], d = h[3], e = h[4], f = h[5], g = h[6], k = h[7];
      for (let i = 0; i < 64; i += 1) {
        const S1 = ((e >>> 6) | (e << 26)) ^ ((e >>> 11) | (e << 21)) ^ ((e >>> 25) | (e << 7));
        const ch = (e & f) ^ (~e & g);
        const t1 = (k + S1 + ch + K256[i] + w[i]) | 0;
        const S0 = ((a >>> 2) | (a << 30)) ^ ((a >>> 13) | (a << 19)) ^ ((a >>> 22) | (a << 10));
        const maj = (a & b) ^ (a & c) ^ (b & c);
        const t2 = (S0 + maj) | 0;
        k = g; g = f; f = e; e = (d + t1) | 0; d = c; c = b; b = a; a = (t1 + t2) | 0;
      }
      h[0] += a; h[1] += b; h[2] += c; h[3] += d; h[4] += e; h[5] += f; h[6] += g; h[7] += k;
    }

    hex() {
      const bits = this.length * 8;
      const tail = new Uint8Array(this.filled < 56 ? 64 : 128);
      tail.set(this.block.subarray(0, this.filled));
      tail[this.filled] = 0x80;
      const view = new DataView(tail.buffer);
      view.setUint32(tail.length - 8, Math.floor(bits / 0x100000000));
      view.setUint32(tail.length - 4, bits >>> 0);
      for (let offset = 0; offset < tail.length; offset += 64) this.compress(tail, offset);
      return Array.from(this.h, (word) => word.toString(16).padStart(8, '0')).join('');
    }
  }

  async function hashFile(file, onProgress) {
    const hasher = new Sha256();
    const chunk = 4 * 1024 * 1024;
    for (let offset = 0; offset < file.size; offset += chunk) {
      const bytes = new Uint8Array(await file.slice(offset, offset + chunk).arrayBuffer());
      hasher.update(bytes);
      onProgress(Math.min(file.size, offset + chunk));
    }
    return hasher.hex();
  }

  // ---------------------------------------------------------------- start

  async function logout() {
    try { await api('../logout', { method: 'POST' }); } catch (_) { /* going to the login page anyway */ }
    location.href = 'login';
  }

  async function start() {
    const session = await api('session');
    state.csrf = session && session.csrf;
    if (session && session.master) $('#master-address').textContent = session.master;

    $('#logout').addEventListener('click', logout);
    $('#file-input').addEventListener('change', () => {
      const file = $('#file-input').files[0];
      $('#file-name').textContent = file ? `${file.name} (${fmtBytes(file.size)})` : 'Choose a file…';
      $('#upload-path').dataset.edited = '';
      suggestUploadPath();
      setUploadStatus('', false);
      $('#upload-progress').hidden = true;
    });
    $('#upload-path').addEventListener('input', () => { $('#upload-path').dataset.edited = '1'; updateUploadButton(); });
    $('#upload-button').addEventListener('click', startUpload);
    $('#files-more').addEventListener('click', () => { state.extraPages += 1; refresh(); });
    $('#prefix-form').addEventListener('submit', (event) => { event.preventDefault(); goToPrefix($('#prefix-input').value.trim()); });
    $('#prefix-input').addEventListener('search', () => goToPrefix($('#prefix-input').value.trim()));
    dialog().addEventListener('close', onDialogClose);
    for (const button of document.querySelectorAll('#range button')) {
      button.addEventListener('click', () => {
        state.range = Number(button.dataset.seconds);
        for (const other of document.querySelectorAll('#range button')) other.classList.toggle('active', other === button);
        state.lastHistory = 0;
        refresh();
      });
    }
    let resizeTimer = null;
    window.addEventListener('resize', () => {
      clearTimeout(resizeTimer);
      resizeTimer = setTimeout(() => { if (state.overview && state.page === 'overview') renderOverview(state.overview); }, 150);
    });
    document.addEventListener('visibilitychange', () => { if (!document.hidden) refresh(); });
    window.addEventListener('hashchange', route);
    route();
  }

  // For tests and the curious: the page's own SHA-256.
  window.fsdfsSha256 = (bytes) => { const h = new Sha256(); h.update(bytes); return h.hex(); };

  document.addEventListener('DOMContentLoaded', () => {
    start().catch((error) => showBanner(`The dashboard could not start: ${error.message}`, 'risk'));
  });
})();
