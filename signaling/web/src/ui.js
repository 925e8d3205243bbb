// The page's DOM: a lobby form without ?vamp=, otherwise peers, takes and controls.
// Renders from a state snapshot at most every RENDER_MS, so a burst of chunks costs one render.

const RENDER_MS = 100;

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (key.startsWith('on')) node.addEventListener(key.slice(2), value);
    else if (key === 'dataset') Object.assign(node.dataset, value);
    else if (value !== null && value !== undefined && value !== false) node.setAttribute(key, value);
  }
  node.append(...children.flat().filter((c) => c !== null && c !== undefined));
  return node;
}

function seconds(frames, rate) {
  return `${(frames / rate).toFixed(2)} s`;
}

let mounted = null;
let timer = null;

function takeRow(t, api) {
  const total = t.length ?? t.frames;
  const percent = t.length ? Math.floor((100 * t.frames) / t.length) : null;
  const statusText = t.own
    ? (t.length === null ? 'recording…' : `recorded · confirmed by ${t.confirmedBy.length ? t.confirmedBy.join(', ') : 'nobody yet'}`)
    : { complete: 'complete ✓ SHA-256 verified', corrupt: 'corrupt ✗ SHA-256 mismatch', incomplete: t.length === null ? 'arriving…' : `${percent}%` }[t.status];
  return el('li', { class: `take ${t.status}`, dataset: { takeId: t.takeId, owner: t.owner, status: t.status, sha256: t.sha256 ?? '', confirmedBy: t.confirmedBy.join(',') } },
    el('div', { class: 'take-head' },
      el('span', { class: 'owner' }, t.own ? `${t.owner} (you)` : t.owner),
      el('code', { class: 'take-id', title: t.takeId }, t.takeId.slice(0, 8)),
      el('span', { class: 'duration' }, seconds(t.frames, t.sampleRate)),
      el('button', { class: 'play', onclick: () => api.play(t.takeId), disabled: t.frames === 0 }, t.playing ? '▶ Playing' : '▶ Play')),
    el('progress', { max: Math.max(total, 1), value: t.frames }),
    el('div', { class: 'take-status' }, statusText,
      t.sha256 ? el('code', { class: 'sha', title: t.sha256 }, ` sha256 ${t.sha256.slice(0, 16)}…`) : null));
}

function render() {
  timer = null;
  if (!mounted) return;
  const { state, api, parts } = mounted;
  const s = state();
  const peers = s.peers.length
    ? s.peers.map((p) => el('li', { class: `peer ${p.state}`, dataset: { peer: p.name ?? '', state: p.state } },
      el('span', { class: 'dot' }), p.name ?? '(connecting…)', el('small', {}, ` ${p.state}`)))
    : [el('li', { class: 'empty' }, 'nobody else yet: share this page’s address')];
  const takes = s.takes.length
    ? s.takes.map((t) => takeRow(t, api))
    : [el('li', { class: 'empty' }, 'no takes yet')];
  parts.me.replaceChildren('you are ', el('b', {}, s.name), ' · ', el('span', { class: `status ${s.status}` }, s.status),
    ` · sound ${s.sound} `, s.sound === 'off' ? el('button', { onclick: () => { api.enableSound(); schedule(); } }, 'Enable sound') : '');
  parts.error.hidden = !s.error;
  parts.error.textContent = s.error ?? '';
  const recording = s.recording !== null;
  parts.record.textContent = recording ? '■ Stop' : '● Record';
  parts.record.classList.toggle('recording', recording);
  parts.peersTitle.textContent = `Peers (${s.peers.filter((p) => p.state === 'open').length})`;
  parts.peers.replaceChildren(...peers);
  parts.takesTitle.textContent = `Takes (${s.takes.length})`;
  parts.takes.replaceChildren(...takes);
  parts.log.replaceChildren(...s.log.slice(-8).map((line) => el('li', {}, line)));
}

export function schedule() {
  if (timer === null) timer = setTimeout(render, RENDER_MS);
}

export const ui = {
  schedule,
  mount({ state, api }) {
    // Controls are built once (a re-render must never reset what the user is typing);
    // render() only refreshes the parts that show state.
    const s = state();
    const parts = {
      me: el('div', { class: 'me' }),
      error: el('p', { class: 'error', hidden: true }),
      duration: el('input', { id: 'duration', type: 'number', min: '0', step: '0.5', placeholder: '∞' }),
      peersTitle: el('h2'), peers: el('ul', { class: 'peers' }),
      takesTitle: el('h2'), takes: el('ul', { class: 'takes' }),
      log: el('ol'),
    };
    parts.record = el('button', {
      id: 'record',
      onclick: () => (state().recording !== null ? api.stop() : api.record(Number(parts.duration.value) || null)),
    });
    document.getElementById('app').replaceChildren(
      el('header', {}, el('h1', {}, 'vamp ', el('span', { class: 'vamp-name' }, s.vamp)), parts.me),
      parts.error,
      el('section', { class: 'controls' }, parts.record, el('label', {}, ' stop after ', parts.duration, ' s')),
      el('section', {}, parts.peersTitle, parts.peers),
      el('section', {}, parts.takesTitle, parts.takes),
      el('section', { class: 'log' }, el('h2', {}, 'Log'), parts.log),
    );
    mounted = { state, api, parts };
    render();
  },
  showLobby() {
    const root = document.getElementById('app');
    root.replaceChildren(
      el('h1', {}, 'vamp'),
      el('p', {}, 'Record together: join a vamp by name, with the terminal peers and other browsers in it.'),
      el('form', { method: 'get', class: 'lobby' },
        el('label', {}, 'vamp ', el('input', { name: 'vamp', required: true, placeholder: 'my-band' })),
        el('label', {}, 'your name ', el('input', { name: 'name', placeholder: 'optional' })),
        el('button', { type: 'submit' }, 'Join')),
    );
  },
};
