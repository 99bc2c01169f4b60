// Enclave's Web UI: a client of the daemon's own API, same origin only.
// Every value from the daemon or a guest reaches the page as text
// (textContent); HTML results are shown only inside a sandboxed iframe.
// The login cookie (HttpOnly) goes along with every request; the page never
// sees the token.

const $ = (id) => document.getElementById(id);
const enc = new TextEncoder();
const dec = new TextDecoder();
const state = { session: null, intents: new Map(), sessions: [], images: new Map(), records: [] };

function el(tag, props = {}, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(props)) {
    if (k === 'text') e.textContent = v;
    else if (k === 'class') e.className = v;
    else if (k.startsWith('data-')) e.setAttribute(k, v);
    else e[k] = v;
  }
  for (const c of children) e.append(c);
  return e;
}

class RpcError extends Error {
  constructor(code, message) { super(message); this.code = code; }
}

// Connect unary call with a JSON body.
async function rpc(method, body = {}, service = 'enclave.v1.Enclave') {
  const r = await fetch(`/${service}/${method}`, {
    method: 'POST', headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify(body), credentials: 'same-origin', cache: 'no-store',
  });
  const text = await r.text();
  let j = {};
  try { j = text ? JSON.parse(text) : {}; } catch { j = { message: text }; }
  if (!r.ok) throw new RpcError(j.code || String(r.status), j.message || text);
  return j;
}

// Connect server streaming: one enveloped request, enveloped responses read as
// they arrive; onMessage gets each message, the end-of-stream error throws.
async function stream(method, body, onMessage) {
  const payload = enc.encode(JSON.stringify(body));
  const req = new Uint8Array(5 + payload.length);
  new DataView(req.buffer).setUint32(1, payload.length);
  req.set(payload, 5);
  const r = await fetch(`/enclave.v1.Enclave/${method}`, {
    method: 'POST', headers: { 'Content-Type': 'application/connect+json' },
    body: req, credentials: 'same-origin', cache: 'no-store',
  });
  if (!r.ok) {
    const text = await r.text();
    let j = {};
    try { j = JSON.parse(text); } catch { j = { message: text }; }
    throw new RpcError(j.code || String(r.status), j.message || text);
  }
  const reader = r.body.getReader();
  let buf = new Uint8Array(0);
  for (;;) {
    const { value, done } = await reader.read();
    if (value) {
      const n = new Uint8Array(buf.length + value.length);
      n.set(buf); n.set(value, buf.length); buf = n;
    }
    while (buf.length >= 5) {
      const flags = buf[0];
      const len = new DataView(buf.buffer, buf.byteOffset).getUint32(1);
      if (buf.length < 5 + len) break;
      const msg = JSON.parse(dec.decode(buf.subarray(5, 5 + len)) || '{}');
      buf = buf.slice(5 + len);
      if (flags & 2) {
        if (msg.error) throw new RpcError(msg.error.code, msg.error.message);
        return;
      }
      onMessage(msg);
    }
    if (done) throw new RpcError('unavailable', 'the stream ended without an end-of-stream message');
  }
}

const b64text = (s) => dec.decode(Uint8Array.from(atob(s || ''), (c) => c.charCodeAt(0)));

function fmtMs(ms) {
  ms = Number(ms || 0);
  if (ms < 1000) return `${ms} ms`;
  const s = Math.round(ms / 1000);
  if (s < 120) return `${s} s`;
  return `${Math.round(s / 60)} min`;
}

function showError(target, e) {
  target.hidden = false;
  target.textContent = `${e.code || 'error'}: ${e.message}`;
}

// ------------------------------------------------------------ panels
for (const b of document.querySelectorAll('nav button')) {
  b.addEventListener('click', () => {
    for (const o of document.querySelectorAll('nav button')) o.classList.toggle('active', o === b);
    for (const p of document.querySelectorAll('.panel')) p.hidden = p.id !== b.dataset.panel;
    if (b.dataset.panel === 'panel-policy') loadPolicy();
    if (b.dataset.panel === 'panel-images') loadImages();
  });
}

// ------------------------------------------------------------ sessions
let accel = '';
async function loadInfo() {
  try {
    const i = await rpc('GetInfo');
    accel = i.accel || '';
    $('daemon-info').textContent = `enclave ${i.version} · ${accel} · policy ${(i.policyDigest || '').slice(0, 12)}`;
  } catch (e) {
    $('daemon-info').textContent = `not connected: ${e.message}`;
  }
}

function renderSessions(list) {
  const body = $('sessions');
  const rows = [];
  for (const s of list) {
    const id = s.sessionId;
    const deadline = Number(s.deadlineUnixNs || 0);
    const stop = el('button', { text: 'Stop', class: 'stop' });
    stop.addEventListener('click', (ev) => { ev.stopPropagation(); stopSession(id); });
    const tr = el('tr', { 'data-session-id': id, 'data-status': s.status || '' },
      el('td', { text: id }), el('td', { text: s.status || '' }),
      el('td', { text: s.kvm ? 'kvm' : 'tcg' }), el('td', { text: String(s.vcpu || 0) }),
      el('td', { text: String(s.memoryMb || 0) }), el('td', { text: state.images.get(id) || '(default)' }),
      el('td', { text: fmtMs(s.ageMs) }), el('td', { text: Number(s.execsRunning) > 0 ? `${s.execsRunning} running` : fmtMs(s.idleMs) }),
      el('td', { text: deadline ? new Date(deadline / 1e6).toLocaleTimeString() : '-' }), el('td', {}, stop));
    if (id === state.session) tr.classList.add('selected');
    tr.addEventListener('click', () => selectSession(id));
    rows.push(tr);
  }
  body.replaceChildren(...rows);
  if (state.session && !list.some((s) => s.sessionId === state.session)) {
    state.session = null;
    $('session-view').hidden = true;
  }
}

async function pollSessions() {
  try {
    const r = await rpc('ListSessions');
    state.sessions = r.sessions || [];
    renderSessions(state.sessions);
  } catch (e) {
    $('new-session-status').textContent = `listing sessions: ${e.message}`;
  }
}

$('new-session-form').addEventListener('submit', async (ev) => {
  ev.preventDefault();
  const st = $('new-session-status');
  const req = {
    sessionId: $('new-id').value.trim(), vcpu: Number($('new-vcpu').value || 0),
    memoryMb: Number($('new-mem').value || 0), image: $('new-image').value.trim(),
  };
  st.textContent = 'starting…';
  $('new-session').disabled = true;
  try {
    const r = await rpc('StartSession', req);
    state.intents.set(r.sessionId, $('new-intent').value);
    state.images.set(r.sessionId, req.image || '(default)');
    st.textContent = `${r.sessionId}: ${r.status}`;
    await pollSessions();
    selectSession(r.sessionId);
  } catch (e) {
    st.textContent = `refused: ${e.message}`;
  } finally {
    $('new-session').disabled = false;
  }
});

async function stopSession(id) {
  try {
    await rpc('StopSession', { sessionId: id }, 'agent.v1.AgentService');
  } catch (e) {
    $('new-session-status').textContent = `stop ${id}: ${e.message}`;
  }
  pollSessions();
}

function selectSession(id) {
  state.session = id;
  $('session-view').hidden = false;
  $('current-session').textContent = id;
  const intent = state.intents.get(id) || '';
  $('current-intent').textContent = intent ? `intent: ${intent}` : '';
  for (const tr of $('sessions').children) tr.classList.toggle('selected', tr.dataset.sessionId === id);
  loadFiles();
}

// The intent chosen at start goes with every command as the request's context.
function contextJson() {
  const intent = state.intents.get(state.session);
  return intent ? JSON.stringify({ intent: { action_category: intent } }) : '';
}

// ------------------------------------------------------------ output
function out(text, cls) {
  const o = $('output');
  const last = o.lastElementChild;
  if (last && last.tagName === 'SPAN' && last.className === cls) last.textContent += text;
  else o.append(el('span', { class: cls, text }));
}

function richResult(bundle) {
  const o = $('output');
  const type = bundle.mimeType || '';
  if (type === 'image/png' || type === 'image/jpeg') {
    o.append(el('img', { src: `data:${type};base64,${bundle.data || ''}`, alt: type, class: 'result' }));
  } else if (type === 'text/html') {
    // No scripts, no same-origin: the HTML cannot reach this page or the API.
    const f = el('iframe', { class: 'result', title: 'HTML result' });
    f.setAttribute('sandbox', '');
    f.setAttribute('referrerpolicy', 'no-referrer');
    f.srcdoc = b64text(bundle.data);
    o.append(f);
  } else {
    out(`[${type}]\n${b64text(bundle.data)}\n`, 'text');
  }
}

function denied(e) {
  const d = $('denial');
  d.hidden = false;
  const title = e.code === 'permission_denied' ? 'Denied by the policy' : (e.code || 'error');
  // The message carries the policy's reasons, as text.
  d.replaceChildren(el('strong', { text: title }), el('div', { class: 'reasons', text: String(e.message) }));
}

$('run').addEventListener('click', async () => {
  if (!state.session) return;
  $('output').replaceChildren();
  $('denial').hidden = true;
  $('run').disabled = true;
  try {
    await stream('RunCode', { sessionId: state.session, code: $('code').value }, (ev) => {
      if (ev.stdout !== undefined) out(ev.stdout, 'stdout');
      else if (ev.stderr !== undefined) out(ev.stderr, 'stderr');
      else if (ev.text !== undefined) out(`${ev.text}\n`, 'text');
      else if (ev.data) richResult(ev.data);
      else if (ev.error) out(`${ev.error.traceback || `${ev.error.name}: ${ev.error.value}`}\n`, 'stderr');
      else if (ev.done) out(`[done in ${ev.done.durationMs || 0} ms${ev.done.timedOut ? ', timed out' : ''}]\n`, 'meta');
    });
  } catch (e) {
    denied(e);
  } finally {
    $('run').disabled = false;
    loadFiles();
  }
});

// A command line split on spaces, with '...' and "..." grouping.
function splitArgs(s) {
  const args = [];
  const re = /"([^"]*)"|'([^']*)'|(\S+)/g;
  let m;
  while ((m = re.exec(s)) !== null) args.push(m[1] ?? m[2] ?? m[3]);
  return args;
}

$('exec').addEventListener('click', async () => {
  if (!state.session) return;
  $('output').replaceChildren();
  $('denial').hidden = true;
  $('exec').disabled = true;
  try {
    await stream('Exec', { sessionId: state.session, argv: splitArgs($('command').value), contextJson: contextJson() }, (ev) => {
      if (ev.stdout !== undefined) out(b64text(ev.stdout), 'stdout');
      else if (ev.stderr !== undefined) out(b64text(ev.stderr), 'stderr');
      else if (ev.exit) out(`[exit ${ev.exit.exitCode || 0}${ev.exit.signal ? ` signal ${ev.exit.signal}` : ''}${ev.exit.timedOut ? ' timed out' : ''}]\n`, 'meta');
    });
  } catch (e) {
    denied(e);
  } finally {
    $('exec').disabled = false;
    loadFiles();
  }
});

// ------------------------------------------------------------ files
const filesUrl = (name) => `/v1/sessions/${encodeURIComponent(state.session)}/files/workspace/${encodeURIComponent(name)}`;

async function loadFiles() {
  if (!state.session) return;
  const ul = $('files');
  try {
    const r = await rpc('ListFiles', { sessionId: state.session, path: '/workspace' });
    ul.replaceChildren(...(r.entries || []).map((f) => {
      const li = el('li', { 'data-name': f.name, 'data-type': f.type || '' });
      if (f.type === 'file') {
        li.append(el('a', { href: filesUrl(f.name), download: f.name, text: f.name }));
      } else {
        li.append(el('span', { text: `${f.name}/` }));
      }
      li.append(el('span', { class: 'muted', text: ` ${f.size || 0} B` }));
      return li;
    }));
  } catch (e) {
    ul.replaceChildren(el('li', { class: 'error', text: `${e.code}: ${e.message}` }));
  }
}

async function upload(files) {
  for (const f of files) {
    const r = await fetch(filesUrl(f.name), { method: 'PUT', body: f, credentials: 'same-origin' });
    if (!r.ok) {
      let msg = await r.text();
      try { msg = JSON.parse(msg).message || msg; } catch { /* text */ }
      denied({ code: r.status === 403 ? 'permission_denied' : String(r.status), message: msg });
    }
  }
  loadFiles();
}

$('upload').addEventListener('change', (ev) => upload([...ev.target.files]));
$('refresh-files').addEventListener('click', loadFiles);
const drop = $('drop');
drop.addEventListener('dragover', (ev) => { ev.preventDefault(); drop.classList.add('over'); });
drop.addEventListener('dragleave', () => drop.classList.remove('over'));
drop.addEventListener('drop', (ev) => {
  ev.preventDefault();
  drop.classList.remove('over');
  upload([...ev.dataTransfer.files]);
});

// ------------------------------------------------------------ audit
const MAX_AUDIT = 2000;

function auditVisible(li) {
  const s = $('filter-session').value.trim();
  const k = $('filter-kind').value.trim().toUpperCase();
  const d = $('filter-decision').value;
  return (!s || li.dataset.session === s) && (!k || li.dataset.kind.includes(k)) &&
    (!d || (d === '-' ? li.dataset.decision === '' : li.dataset.decision === d));
}

function parseMaybe(s) {
  try { return typeof s === 'string' ? JSON.parse(s) : s; } catch { return s; }
}

function addRecord(rec) {
  if (rec.type && rec.type !== 'record') return;
  state.records.push(rec);
  const details = parseMaybe(rec.details) || {};
  const reasons = parseMaybe(rec.reasons) || [];
  const action = details.action || '';
  const li = el('li', {
    'data-kind': rec.kind || '', 'data-decision': rec.decision || '', 'data-session': rec.session || '',
    'data-action': action, 'data-seq': String(rec.seq), class: `rec ${rec.decision || ''}`,
  });
  const summary = el('div', { class: 'summary' },
    el('span', { class: 'seq', text: `#${rec.seq}` }), el('span', { class: 'kind', text: rec.kind || '' }),
    el('span', { class: 'action', text: action }), el('span', { class: 'decision', text: rec.decision || '' }),
    el('span', { class: 'session', text: rec.session || '' }),
    el('span', { class: 'reason', text: Array.isArray(reasons) ? reasons.join('; ') : String(reasons) }));
  const full = el('pre', { class: 'details', hidden: true,
    text: JSON.stringify({ ...rec, reasons, details }, null, 2) });
  summary.addEventListener('click', () => { full.hidden = !full.hidden; });
  li.append(summary, full);
  li.hidden = !auditVisible(li);
  const list = $('audit');
  list.prepend(li);
  while (list.children.length > MAX_AUDIT) list.lastElementChild.remove();
  if (state.records.length > MAX_AUDIT) state.records.shift();
}

function connectAudit() {
  const ws = new WebSocket(`ws://${location.host}/ws/audit?since_seq=0`);
  $('audit-state').textContent = 'connecting…';
  ws.addEventListener('open', () => { $('audit-state').textContent = 'live'; });
  ws.addEventListener('message', (m) => {
    try { addRecord(JSON.parse(m.data)); } catch { /* not a record */ }
  });
  ws.addEventListener('close', () => {
    $('audit-state').textContent = 'disconnected; reconnecting…';
    setTimeout(() => { $('audit').replaceChildren(); state.records = []; connectAudit(); }, 3000);
  });
}

for (const id of ['filter-session', 'filter-kind', 'filter-decision']) {
  for (const ev of ['input', 'change']) {
    $(id).addEventListener(ev, () => { for (const li of $('audit').children) li.hidden = !auditVisible(li); });
  }
}

$('verify-audit').addEventListener('click', async () => {
  const r = $('verify-result');
  r.textContent = 'verifying…';
  r.className = 'status';
  try {
    const v = await rpc('VerifyAudit');
    if (v.ok) {
      r.textContent = `OK: ${v.records || 0} records, ${v.checkpoints || 0} checkpoints; head ${v.headHash || ''}; root ${v.rootHash || ''}`;
      r.className = 'status ok';
    } else {
      r.textContent = `FAIL at seq ${v.failSeq || 0}: ${v.reason || ''}`;
      r.className = 'status fail';
    }
    r.dataset.ok = v.ok ? 'true' : 'false';
  } catch (e) {
    r.textContent = `${e.code}: ${e.message}`;
    r.className = 'status fail';
  }
});

$('export-audit').addEventListener('click', () => {
  const lines = state.records.filter((rec) => {
    const li = $('audit').querySelector(`[data-seq="${rec.seq}"]`);
    return li && !li.hidden;
  }).map((rec) => JSON.stringify(rec)).join('\n');
  const a = $('export-link');
  if (a.href) URL.revokeObjectURL(a.href);
  a.href = URL.createObjectURL(new Blob([`${lines}\n`], { type: 'application/x-ndjson' }));
  a.hidden = false;
  a.click();
});

// ------------------------------------------------------------ policy
async function loadPolicy() {
  const info = $('policy-info');
  try {
    const p = await rpc('GetPolicy');
    const dl = [];
    for (const [k, v] of [['digest', p.digest], ['source', p.origin], ['files', String(p.fileCount || 0)],
      ['tests', `${p.testCount || 0} passed when the bundle was loaded (a bundle whose tests fail is refused)`]]) {
      dl.push(el('dt', { text: k }), el('dd', { text: v || '' }));
    }
    info.replaceChildren(...dl);
    const files = p.files || [];
    const sel = $('policy-files');
    sel.replaceChildren(...files.map((f, i) => el('option', { value: String(i), text: f.path })));
    const show = () => { $('policy-source').textContent = files.length ? files[Number(sel.value)].text : '(the source is shown for the built-in constitution only)'; };
    sel.onchange = show;
    const main = files.findIndex((f) => f.path.endsWith('.rego') && !f.path.endsWith('_test.rego'));
    if (main >= 0) sel.value = String(main);
    show();
  } catch (e) {
    info.replaceChildren(el('dd', { class: 'error', text: `${e.code}: ${e.message}` }));
  }
}

$('policy-eval').addEventListener('click', async () => {
  const res = $('policy-result');
  try {
    const r = await rpc('EvalPolicy', { inputJson: $('policy-input').value });
    res.textContent = `${r.allow ? 'ALLOW' : 'DENY'} (${r.outcome})\n${r.decisionJson}`;
    res.className = r.allow ? 'ok' : 'fail';
  } catch (e) {
    res.textContent = `${e.code}: ${e.message}`;
    res.className = 'fail';
  }
});

// ------------------------------------------------------------ images
async function loadImages() {
  const box = $('images');
  try {
    const r = await rpc('ListImages');
    box.replaceChildren(...(r.images || []).map((im) => {
      const t = el('table', {}, el('tr', {}, el('th', { text: 'role' }), el('th', { text: 'path' }),
        el('th', { text: 'size' }), el('th', { text: 'sha256' })));
      for (const f of im.files || []) {
        t.append(el('tr', {}, el('td', { text: f.role }), el('td', { text: f.path }),
          el('td', { text: String(f.size || 0) }), el('td', { class: 'hash', text: f.sha256 })));
      }
      return el('div', { class: 'image', 'data-image': im.name },
        el('h3', { text: `${im.name} ${im.id || ''}` }),
        el('p', { text: im.error ? im.error : `source ${im.source} · created ${im.created} · ${im.packages || 0} packages` }),
        el('p', { class: 'signature', text: im.signature ? `signature: ${im.signature}` : '' }), t);
    }));
  } catch (e) {
    box.replaceChildren(el('p', { class: 'error', text: `${e.code}: ${e.message}` }));
  }
}

loadInfo();
pollSessions();
setInterval(pollSessions, 2000);
connectAudit();
