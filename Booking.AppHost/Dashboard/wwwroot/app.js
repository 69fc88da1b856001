// The dashboard UI: hash routes over the AppHost's JSON API. No framework, no external assets.
const page = document.getElementById('page');
let timer = null;

const esc = value => String(value ?? '').replace(/[&<>"']/g, c => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' }[c]));
const json = async url => { const r = await fetch(url); if (!r.ok) throw new Error(`${url}: ${r.status}`); return r.json(); };
const ms = value => value < 1 ? `${value.toFixed(2)} ms` : value < 1000 ? `${value.toFixed(1)} ms` : `${(value / 1000).toFixed(2)} s`;
const time = iso => new Date(iso).toLocaleTimeString(undefined, { hour12: false }) + '.' + String(new Date(iso).getMilliseconds()).padStart(3, '0');
const query = () => new URLSearchParams(location.hash.split('?')[1] ?? '');
const every = (ms, fn) => { timer = setInterval(fn, ms); };

async function resourceNames() {
  return (await json('/api/resources')).filter(r => r.type === 'project').map(r => r.name);
}

const routes = {
  async resources() {
    const draw = async () => {
      const resources = await json('/api/resources');
      page.innerHTML = `<h1>Resources</h1><table id="resources"><thead><tr><th>Name</th><th>Type</th><th>State</th><th>Health</th><th>Restarts</th><th>Endpoints</th><th>Waits for</th><th></th></tr></thead><tbody>${
        resources.map(r => `<tr data-resource="${esc(r.name)}"><td>${esc(r.name)}</td><td>${esc(r.type)}</td><td>${esc(r.state)}</td>
          <td class="${r.health === 'Healthy' ? 'healthy' : 'unhealthy'}">${esc(r.health)}</td><td>${r.restarts}</td>
          <td>${r.endpoints.map(e => e.startsWith('http') ? `<a href="${esc(e)}">${esc(e)}</a>` : esc(e)).join('<br>')}</td>
          <td>${esc(r.waitsFor.join(', '))}</td><td><a href="#/console?resource=${encodeURIComponent(r.name)}">console</a></td></tr>`).join('')}</tbody></table>`;
    };
    await draw();
    every(2000, draw);
  },

  async console() {
    const names = (await json('/api/resources')).map(r => r.name);
    const chosen = query().get('resource') ?? names.find(n => n === 'booking-api') ?? names[0];
    page.innerHTML = `<h1>Console logs</h1><div class="filters"><select id="console-resource">${
      names.map(n => `<option ${n === chosen ? 'selected' : ''}>${esc(n)}</option>`).join('')}</select><span class="muted">live</span></div><pre class="console" id="console"></pre>`;
    document.getElementById('console-resource').onchange = e => { location.hash = `#/console?resource=${encodeURIComponent(e.target.value)}`; };
    const pre = document.getElementById('console');
    const draw = async () => {
      const atBottom = pre.scrollTop + pre.clientHeight >= pre.scrollHeight - 10;
      pre.textContent = (await json(`/api/console/${encodeURIComponent(chosen)}`)).join('\n');
      if (atBottom) pre.scrollTop = pre.scrollHeight;
    };
    await draw();
    every(1000, draw);
  },

  async logs() {
    const q = query();
    const names = await resourceNames();
    page.innerHTML = `<h1>Structured logs</h1><form class="filters" id="log-filters">
      <select name="resource"><option value="">all resources</option>${names.map(n => `<option ${n === q.get('resource') ? 'selected' : ''}>${esc(n)}</option>`).join('')}</select>
      <select name="level">${['', 'Debug', 'Information', 'Warning', 'Error'].map(l => `<option value="${l}" ${l === (q.get('level') ?? '') ? 'selected' : ''}>${l || 'any level'}</option>`).join('')}</select>
      <input name="text" placeholder="text" value="${esc(q.get('text') ?? '')}"><input name="traceId" placeholder="trace id" value="${esc(q.get('traceId') ?? '')}">
      <button>Filter</button></form><table id="logs"><thead><tr><th>Time</th><th>Resource</th><th>Level</th><th>Category</th><th>Message</th><th>Trace</th></tr></thead><tbody></tbody></table>`;
    document.getElementById('log-filters').onsubmit = e => {
      e.preventDefault();
      location.hash = '#/logs?' + new URLSearchParams([...new FormData(e.target)].filter(([, v]) => v)).toString();
    };
    const draw = async () => {
      const logs = await json('/api/logs?' + q.toString());
      page.querySelector('#logs tbody').innerHTML = logs.map(l => `<tr><td>${time(l.time)}</td><td>${esc(l.resource)}</td>
        <td class="${l.level === 'Error' || l.level === 'Critical' ? 'error' : ''}">${esc(l.level)}</td><td class="muted">${esc(l.category)}</td>
        <td>${esc(l.message)}</td><td>${l.traceId ? `<a href="#/traces/${l.traceId}">${l.traceId.slice(0, 8)}</a>` : ''}</td></tr>`).join('');
    };
    await draw();
    every(2000, draw);
  },

  async traces() {
    const q = query();
    const names = await resourceNames();
    page.innerHTML = `<h1>Traces</h1><form class="filters" id="trace-filters">
      <select name="resource"><option value="">all resources</option>${names.map(n => `<option ${n === q.get('resource') ? 'selected' : ''}>${esc(n)}</option>`).join('')}</select>
      <input name="name" placeholder="span name" value="${esc(q.get('name') ?? '')}">
      <input name="minDurationMs" placeholder="min ms" size="6" value="${esc(q.get('minDurationMs') ?? '')}">
      <label><input type="checkbox" name="error" value="true" ${q.get('error') === 'true' ? 'checked' : ''}> errors only</label>
      <button>Filter</button></form>
      <table id="traces"><thead><tr><th>Start</th><th>Name</th><th>Resources</th><th>Duration</th><th>Spans</th><th>Error</th></tr></thead><tbody></tbody></table>`;
    document.getElementById('trace-filters').onsubmit = e => {
      e.preventDefault();
      location.hash = '#/traces?' + new URLSearchParams([...new FormData(e.target)].filter(([, v]) => v)).toString();
    };
    const draw = async () => {
      const traces = await json('/api/traces?' + q.toString());
      page.querySelector('#traces tbody').innerHTML = traces.map(t => `<tr class="clickable" data-trace-id="${t.traceId}" onclick="location.hash='#/traces/${t.traceId}'">
        <td>${time(t.start)}</td><td>${esc(t.rootName)}</td><td class="resource">${esc(t.resources.join(', '))}</td><td>${ms(t.durationMs)}</td>
        <td>${t.spanCount}</td><td class="error">${t.hasError ? 'error' : ''}</td></tr>`).join('');
    };
    await draw();
    every(3000, draw);
  },

  async trace(traceId) {
    const spans = await json(`/api/traces/${traceId}`);
    const ids = new Set(spans.map(s => s.spanId));
    const children = new Map();
    for (const s of spans) {
      const parent = s.parentSpanId && ids.has(s.parentSpanId) ? s.parentSpanId : null;
      if (!children.has(parent)) children.set(parent, []);
      children.get(parent).push(s);
    }
    const ordered = [];
    const walk = (parent, depth) => (children.get(parent) ?? []).sort((a, b) => a.start.localeCompare(b.start)).forEach(s => { ordered.push([s, depth]); walk(s.spanId, depth + 1); });
    walk(null, 0);
    const start = Math.min(...spans.map(s => Date.parse(s.start)));
    const end = Math.max(...spans.map(s => Date.parse(s.start) + s.durationMs));
    const total = Math.max(end - start, 1);
    page.innerHTML = `<h1>Trace <code>${esc(traceId)}</code> <span class="muted">${spans.length} spans, ${ms(end - start)}</span></h1>
      <p><a href="#/logs?traceId=${traceId}">logs of this trace</a></p><div class="waterfall" id="waterfall">${ordered.map(([s, depth]) => {
        const kind = s.scope === 'Booking.Lua' ? 'lua' : s.scope === 'Booking.Saga' ? 'saga' : '';
        const left = ((Date.parse(s.start) - start) / total) * 100;
        const width = Math.max((s.durationMs / total) * 100, 0.2);
        return `<div class="row" data-span-name="${esc(s.name)}" data-span-id="${s.spanId}" onclick="document.getElementById('attr-${s.spanId}').hidden ^= true">
          <div class="label" style="padding-left:${0.4 + depth * 1}rem"><span class="resource">${esc(s.resource)}</span> ${esc(s.name)} <span class="muted">${ms(s.durationMs)}</span></div>
          <div class="track"><div class="bar ${kind} ${s.isError ? 'err' : ''}" style="left:${left}%;width:${width}%"></div></div></div>
          <table class="attributes" id="attr-${s.spanId}" hidden><tr><th>scope</th><td>${esc(s.scope)}</td></tr><tr><th>kind</th><td>${esc(s.kind)}</td></tr>
          ${s.statusMessage ? `<tr><th>status</th><td class="error">${esc(s.statusMessage)}</td></tr>` : ''}
          ${Object.entries(s.attributes).map(([k, v]) => `<tr><th>${esc(k)}</th><td>${esc(v)}</td></tr>`).join('')}</table>`;
      }).join('')}</div>`;
  },

  async metrics() {
    const q = query();
    const draw = async () => {
      const series = (await json('/api/metrics')).filter(s => q.get('all') === 'true' || s.name.startsWith('booking.'));
      const byName = Map.groupBy(series, s => s.name);
      page.innerHTML = `<h1>Metrics <span class="muted">meter "Booking"${q.get('all') === 'true' ? ' and all others' : ''}</span>
        <a class="muted" href="#/metrics${q.get('all') === 'true' ? '' : '?all=true'}">${q.get('all') === 'true' ? 'Booking only' : 'show all'}</a></h1>${
        [...byName].map(([name, list]) => `<div class="metric" data-metric="${esc(name)}"><h2>${esc(name)} <span class="muted">${esc(list[0].unit)} ${esc(list[0].kind)} - ${esc(list[0].description)}</span></h2>${
          list.map(s => {
            const values = s.points.map(p => p.value);
            const last = s.points.at(-1);
            const label = s.kind === 'histogram' ? `count ${last?.count ?? 0}, mean ${(last?.value ?? 0).toFixed(2)}` : `${(last?.value ?? 0).toFixed(2)}`;
            return `<div class="series"><span>${esc(s.resource)} ${esc(s.attributes)}</span><span>${label}</span>${spark(values)}</div>`;
          }).join('')}</div>`).join('') || '<p class="muted">No metrics yet: services export every 5 s.</p>'}`;
    };
    await draw();
    every(5000, draw);
  },
};

function spark(values) {
  if (values.length < 2) return '<span></span>';
  const max = Math.max(...values), min = Math.min(...values), span = max - min || 1;
  const points = values.map((v, i) => `${(i / (values.length - 1)) * 200},${28 - ((v - min) / span) * 26}`).join(' ');
  return `<svg width="200" height="30"><polyline fill="none" stroke="#5b7cfa" stroke-width="1.5" points="${points}"/></svg>`;
}

async function route() {
  clearInterval(timer);
  const path = location.hash.replace(/^#\//, '').split('?')[0] || 'resources';
  const [name, arg] = path.split('/');
  document.querySelectorAll('header nav a').forEach(a => a.classList.toggle('active', a.dataset.nav === name));
  try {
    if (name === 'traces' && arg) await routes.trace(arg);
    else await (routes[name] ?? routes.resources)();
  } catch (error) {
    page.innerHTML = `<p class="error">${esc(error.message)}</p>`;
  }
}

window.addEventListener('hashchange', route);
route();
