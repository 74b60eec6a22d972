// The status page's script: polls status/live every 2 s and renders it with DOM calls (never
// innerHTML, so a table name or an error message is always text). Charts are hand-drawn SVG.
'use strict';

const POLL_MS = 2000;
const SVG = 'http://www.w3.org/2000/svg';

/** Element builder: h('td', { class: 'num' }, 'text', child, …); null/undefined children are skipped. */
function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) if (v !== null && v !== undefined && v !== false) el.setAttribute(k, String(v));
  for (const c of children.flat()) if (c !== null && c !== undefined) el.append(c instanceof Node ? c : String(c));
  return el;
}

function s(tag, attrs) {
  const el = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs || {})) el.setAttribute(k, String(v));
  return el;
}

const nf = new Intl.NumberFormat('en');
function num(n) {
  return n === null || n === undefined ? '–' : nf.format(n);
}

function duration(ms) {
  if (ms === null || ms === undefined) return '–';
  const sec = ms / 1000;
  if (sec < 1) return `${Math.round(ms)} ms`;
  if (sec < 90) return `${sec.toFixed(sec < 10 ? 1 : 0)} s`;
  if (sec < 5400) return `${Math.round(sec / 60)} min`;
  if (sec < 172800) return `${(sec / 3600).toFixed(1)} h`;
  return `${(sec / 86400).toFixed(1)} d`;
}

/** A <time> saying how long ago, with the exact time as its datetime and title. */
function ago(atMs, nowMs) {
  if (atMs === null || atMs === undefined) return h('span', { class: 'muted' }, 'never');
  const iso = new Date(atMs).toISOString();
  return h('time', { datetime: iso, title: iso }, `${duration(Math.max(0, nowMs - atMs))} ago`);
}

function clock(atMs) {
  const iso = new Date(atMs).toISOString();
  return h('time', { datetime: iso, title: iso }, new Date(atMs).toLocaleTimeString());
}

const STATE_TEXT = { starting: 'starting', running: 'running', 'caught-up': 'caught up', failing: 'failing' };

function figure(label, value, field) {
  return h('div', {}, h('dt', {}, label), h('dd', { 'data-field': field }, value));
}

/** How much of the Tunnel's stream retention the lag uses: past 50 % (warning) and 80 % (critical) it is marked. */
function retentionFigure(r) {
  if (!r) return figure('retention used', '–', 'retention');
  const text = `${Math.round(r.fraction * 100)} % of ${duration(r.windowSeconds * 1000)}`;
  const title = `${duration(r.headroomSeconds * 1000)} left before unread changes are trimmed`;
  return h(
    'div',
    { class: r.level === 'ok' ? '' : `retention ${r.level}`, title },
    h('dt', {}, 'retention used'),
    h('dd', { 'data-field': 'retention', 'data-level': r.level }, text),
  );
}

/**
 * A line chart of `values` (one per bucket, null = no data) over the window, with a light grid,
 * the maximum on the y axis and the time span on the x axis. `summary` is read by screen readers.
 */
function chart(values, cls, unit, summary) {
  const W = 600;
  const H = 180;
  const L = 60;
  const B = 28;
  const T = 20;
  const present = values.filter((v) => v !== null);
  const max = Math.max(1e-9, ...present);
  const top = niceCeil(max);
  const svg = s('svg', { class: 'chart', viewBox: `0 0 ${W} ${H}`, role: 'img', 'aria-label': summary });
  for (const f of [0, 0.5, 1]) {
    const y = T + (H - B - T) * (1 - f);
    svg.append(s('line', { class: 'grid', x1: L, x2: W, y1: y, y2: y }));
    const t = s('text', { class: 'axis', x: L - 4, y: y + 3, 'text-anchor': 'end' });
    t.textContent = `${formatAxis(top * f)}${f === 1 ? unit : ''}`;
    svg.append(t);
  }
  const label = (x, anchor, text) => {
    const t = s('text', { class: 'axis', x, y: H - 3, 'text-anchor': anchor });
    t.textContent = text;
    svg.append(t);
  };
  const span = (values.length * state.bucketMs) / 60000;
  label(L, 'start', span < 2 ? `-${Math.round(span * 60)} s` : `-${Math.round(span)} min`);
  label(W, 'end', 'now');
  const step = (W - L) / Math.max(1, values.length - 1);
  let d = '';
  values.forEach((v, i) => {
    if (v === null) return;
    const x = (L + i * step).toFixed(1);
    const y = (T + (H - B - T) * (1 - v / top)).toFixed(1);
    // A point with no neighbour is drawn as a dot, a run of points as a line.
    const joined = i > 0 && values[i - 1] !== null;
    const alone = !joined && (i === values.length - 1 || values[i + 1] === null);
    if (alone) svg.append(s('circle', { class: `${cls} dot`, cx: x, cy: y, r: 2.5 }));
    d += `${joined ? 'L' : 'M'}${x},${y} `;
  });
  if (d) svg.append(s('path', { class: cls, d }));
  return svg;
}

function niceCeil(v) {
  const p = Math.pow(10, Math.floor(Math.log10(v)));
  for (const m of [1, 2, 5, 10]) if (m * p >= v) return m * p;
  return 10 * p;
}

function formatAxis(v) {
  if (v >= 1000) return `${nf.format(Math.round(v / 100) / 10)}k`;
  return v >= 10 || v === 0 ? String(Math.round(v)) : v.toFixed(1);
}

const state = { bucketMs: 5000 };

function dataTable(caption, columns, rows, empty) {
  if (rows.length === 0) return h('p', { class: 'muted' }, empty);
  return h(
    'div',
    { class: 'scroll', tabindex: 0, role: 'region', 'aria-label': caption },
    h(
      'table',
      {},
      h('caption', { class: 'sr-only' }, caption),
      h(
        'thead',
        {},
        h(
          'tr',
          {},
          columns.map(([label, cls]) => h('th', { scope: 'col', class: cls }, label)),
        ),
      ),
      h(
        'tbody',
        {},
        rows.map((cells) =>
          h(
            'tr',
            {},
            cells.map((c, i) => h('td', { class: columns[i][1] }, c)),
          ),
        ),
      ),
    ),
  );
}

function errorBox(e, nowMs) {
  if (!e) return null;
  const cleared = e.clearedAtMs !== null;
  return h(
    'div',
    { class: `error${cleared ? ' cleared' : ''}`, role: cleared ? null : 'alert', 'data-field': 'last-error' },
    h('p', {}, h('strong', {}, cleared ? 'Last error (recovered) ' : 'Failing: '), h('code', {}, e.code), e.channelId ? ` on channel ${e.channelId}` : ''),
    h('p', {}, e.message),
    h(
      'p',
      { class: 'muted' },
      'since ',
      ago(e.atMs, nowMs),
      ` · ${num(e.failedBatches)} failed batch${e.failedBatches === 1 ? '' : 'es'}`,
      cleared ? [' · recovered ', ago(e.clearedAtMs, nowMs)] : ' · retried every batch interval',
      ' · the code is explained in docs/errors.md',
    ),
  );
}

function tableSection(t, nowMs, startedAtMs) {
  const secs = state.bucketMs / 1000;
  // A daemon younger than the window: chart its life (at least a minute), not empty minutes before it.
  const born = t.series.findIndex((b) => b.startMs + state.bucketMs > startedAtMs);
  const series = t.series.slice(Math.max(0, Math.min(born, t.series.length - 12)));
  const last = series.length - 1;
  // The current bucket is still filling: its rate is over the seconds elapsed so far.
  const rates = series.map((b, i) => b.rows / (i === last ? Math.max(1, (nowMs - b.startMs) / 1000) : secs));
  const recent = rates.slice(-12).reduce((a, b) => a + b, 0) / Math.min(12, rates.length);
  const lags = series.map((b) => b.lagSeconds);
  const id = `t-${t.table.replace(/[^A-Za-z0-9_-]/g, '_')}`;
  const maxLag = Math.max(0, ...lags.filter((v) => v !== null));
  return h(
    'section',
    { class: 'table', 'aria-labelledby': id, 'data-table': t.table },
    h('h2', { id }, t.table, h('span', { class: `badge ${t.state}`, 'data-field': 'state' }, STATE_TEXT[t.state] || t.state)),
    h(
      'dl',
      { class: 'figures' },
      figure('mode', t.mode, 'mode'),
      figure('lake version', num(t.lakeVersion), 'lake-version'),
      figure('rows landed', num(t.rowsLanded), 'rows'),
      figure('commits', num(t.commits), 'commits'),
      figure('records read', num(t.recordsRead), 'records'),
      figure('rows/s (last min)', recent < 10 ? recent.toFixed(1) : num(Math.round(recent)), 'rate'),
      figure('lag', t.lagSeconds === null ? '–' : duration(t.lagSeconds * 1000), 'lag'),
      retentionFigure(t.retention),
      figure('last good batch', ago(t.lastSuccessMs, nowMs), 'last-success'),
      figure('failed batches', num(t.failedBatches), 'failed-batches'),
      figure('tunnel stage', t.stage || '–', 'stage'),
    ),
    errorBox(t.lastError, nowMs),
    h(
      'div',
      { class: 'charts' },
      h(
        'figure',
        {},
        h('figcaption', {}, 'Rows landed per second'),
        chart(
          rates,
          'rows',
          '/s',
          `Rows landed per second over the last ${Math.round(series.length * secs)} seconds; about ${Math.round(recent)} per second in the last minute`,
        ),
      ),
      h(
        'figure',
        {},
        h('figcaption', {}, 'Lag: age of the newest change landed'),
        chart(lags, 'lag', 's', `Lag over the last ${Math.round(series.length * secs)} seconds; at most ${duration(maxLag * 1000)}`),
      ),
    ),
    h('h3', {}, 'Channels'),
    dataTable(
      `Channels of ${t.table}`,
      [['channel'], ['type'], ['state'], ['owner'], ['position (txn)', 'num'], ['finished'], ['checkpointed'], ['lag', 'num']],
      t.channels.map((c) => [
        h('code', {}, c.channelId),
        c.type || '–',
        c.state || '–',
        c.owner || h('span', { class: 'muted' }, 'none'),
        num(c.committedSeq),
        c.finished === null ? '–' : c.finished ? 'yes' : 'no',
        c.checkpointed === null ? '–' : c.checkpointed ? 'yes' : 'not yet',
        c.lagSeconds === null ? '–' : duration(c.lagSeconds * 1000),
      ]),
      'No channel yet.',
    ),
    h('h3', {}, 'Recent commits'),
    dataTable(
      `Recent commits of ${t.table}`,
      [['time'], ['version', 'num'], ['rows', 'num'], ['records', 'num'], ['channels', 'num'], ['batch took', 'num']],
      t.recentCommits.slice(0, 8).map((c) => [clock(c.atMs), num(c.version), num(c.rows), num(c.records), num(c.channels), duration(c.durationMs)]),
      'No commit since the daemon started.',
    ),
    h('h3', {}, 'Maintenance'),
    dataTable(
      `Maintenance runs of ${t.table}`,
      [['time'], ['task'], ['outcome'], ['files', 'num'], ['took', 'num'], ['error']],
      t.maintenance.recentRuns.slice(0, 8).map((r) => [clock(r.atMs), r.task, r.outcome, num(r.files), duration(r.durationMs), r.error || '']),
      'No maintenance run since the daemon started.',
    ),
    h('h3', {}, 'Dead letters'),
    t.deadLetters.length === 0
      ? h('p', { class: 'muted', 'data-field': 'dead-letters' }, 'None since the daemon started.')
      : h(
          'ul',
          { 'data-field': 'dead-letters' },
          t.deadLetters.map((d) => h('li', {}, `${num(d.count)} × ${d.reason}`)),
          h('li', { class: 'muted' }, 'kept under the table folder in _otslake/dead-letters/'),
        ),
  );
}

function render(data) {
  state.bucketMs = data.bucketMs;
  const up = duration(data.nowMs - data.startedAtMs);
  const w = data.workers;
  document.getElementById('daemon').textContent =
    `daemon ${data.state}${data.ready ? ', ready' : `, not ready (${data.notReadyReason})`} · up ${up} · ` +
    `workers ${w.running}/${w.capacity} busy, ${w.waiting} waiting · ${data.tables.length} table${data.tables.length === 1 ? '' : 's'}`;
  const main = document.getElementById('tables');
  main.replaceChildren(...data.tables.map((t) => tableSection(t, data.nowMs, data.startedAtMs)));
  main.setAttribute('aria-busy', 'false');
  const u = document.getElementById('updated');
  u.textContent = new Date().toLocaleTimeString();
  u.setAttribute('datetime', new Date().toISOString());
}

let failingSince = null;

async function poll() {
  try {
    const res = await fetch('status/live', { cache: 'no-store' });
    if (!res.ok) throw new Error(`HTTP ${res.status}`);
    render(await res.json());
    failingSince = null;
  } catch (err) {
    failingSince = failingSince || Date.now();
    document.getElementById('daemon').textContent =
      `The daemon does not answer (${err.message}) since ${new Date(failingSince).toLocaleTimeString()}; retrying.`;
  } finally {
    setTimeout(poll, document.hidden ? POLL_MS * 5 : POLL_MS);
  }
}

poll();
