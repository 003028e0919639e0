// The dashledger page: wallet, search, requests, recovery, download + verification, owner actions.

import './style.css';
import { formatEther, parseEther } from 'viem';
import wasmUrl from '@nucypher/umbral-pre/pkg-bundler/umbral_pre_wasm_bg.wasm?url';
import { addressOfSecret, Chain, WrongNetworkError } from './chain.js';
import { Cloud, CloudError } from './cloud.js';
import { loadConfig } from './config.js';
import { describeError } from './errors.js';
import { checkLatLon, distanceM, formatDistance, fromMicro, moveM, offsetM, parseLatLon } from './geo.js';
import { addKey, currentKey, exportKeys, findKey, importKeys, loadKeys } from './keystore.js';
import { checkAgainstEvidence, openSealed } from './sealed.js';
import { generateKeyPair, grantKfrag, loadUmbral, publicKeyOf, recoverSessionKey } from './umbral.js';

// --- tiny DOM helpers -------------------------------------------------------------------------
const $ = (id) => document.getElementById(id);
function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith('on')) el.addEventListener(k.slice(2), v);
    else if (k === 'class') el.className = v;
    else if (k === 'testid') el.dataset.testid = v;
    else el.setAttribute(k, v === true ? '' : v);
  }
  for (const c of children.flat()) {
    if (c === null || c === undefined || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}
const short = (a) => (a ? `${a.slice(0, 8)}…${a.slice(-6)}` : '');
const fmtTime = (t) => new Date(t * 1000).toLocaleString(undefined, { dateStyle: 'medium', timeStyle: 'medium' });
const fmtPlace = (latMicro, lonMicro) => `${fromMicro(latMicro).toFixed(6)}, ${fromMicro(lonMicro).toFixed(6)}`;
function setStatus(el, text, kind = '') {
  el.textContent = text;
  el.className = `${el.classList.contains('msg') ? 'msg' : 'status'}${kind ? ` ${kind}` : ''}`;
}
const STATUS_BADGE = {
  Open: 'warn',
  Responded: 'warn',
  Completed: 'ok',
  Claimed: 'ok',
  ResolvedForOwner: 'ok',
  Disputed: 'bad',
  Declined: 'bad',
  Cancelled: 'muted',
  ResolvedForRequester: 'muted',
  DisputeExpired: 'muted',
  Verified: 'ok',
  Pending: 'warn',
  Rejected: 'bad',
};
const badge = (status, testid) => h('span', { class: `badge ${STATUS_BADGE[status] ?? ''}`, testid }, status);

// --- state ------------------------------------------------------------------------------------
const state = {
  config: null,
  chain: null,
  cloud: null,
  account: null,
  networkOk: false,
  center: { lat: 48.8584, lon: 2.2945 },
  results: [],
  sessionKeys: new Map(), // reqc -> Uint8Array (this tab only)
  ownerSecrets: { umbral: '', signing: '' },
  busy: new Set(), // reqc addresses with an action in progress (no re-render)
  notes: new Map(), // 'view:reqc' -> last action message, kept across re-renders
};

/** Restores the last message of a card (cards are rebuilt when their state changes). */
function restoreNote(key, msg) {
  const n = state.notes.get(key);
  if (n) {
    msg.textContent = n.text;
    msg.className = n.cls;
  }
}

function banner(text, kind = 'error') {
  const b = $('banner');
  if (!text) {
    b.hidden = true;
    b.textContent = '';
    return;
  }
  b.hidden = false;
  b.className = `banner${kind === 'info' ? ' info' : ''}`;
  b.textContent = text;
}

// --- tabs -------------------------------------------------------------------------------------
const TABS = ['find', 'requests', 'owner', 'keys'];
function showTab(name) {
  for (const t of TABS) {
    $(`tab-${t}`).setAttribute('aria-selected', String(t === name));
    $(t).hidden = t !== name;
  }
  if (name === 'requests') refreshRequests();
  if (name === 'owner') refreshOwner();
  if (name === 'keys') renderKeys();
}
for (const t of TABS) $(`tab-${t}`).addEventListener('click', () => showTab(t));

// --- wallet -----------------------------------------------------------------------------------
async function updateNetwork() {
  const net = $('network');
  if (!state.chain) return;
  try {
    const id = await state.chain.walletChainId();
    state.networkOk = id === state.config.chainId;
    net.textContent = state.networkOk ? `${state.config.chainName} (${id})` : `wrong network: chain ${id}`;
    net.className = `badge ${state.networkOk ? 'ok' : 'bad'}`;
    $('switch').hidden = state.networkOk;
    if (!state.networkOk) banner(new WrongNetworkError(state.config.chainId, id).message);
    else if ($('banner').dataset.kind !== 'sticky') banner('');
  } catch (e) {
    net.textContent = 'network unknown';
    net.className = 'badge bad';
    banner(describeError(e));
  }
}

async function connect() {
  try {
    state.account = await state.chain.connect();
    $('account').textContent = short(state.account);
    $('account').title = state.account;
    $('connect').textContent = 'Connected';
    $('connect').disabled = true;
    await updateNetwork();
    if (!$('requests').hidden) refreshRequests();
    if (!$('owner').hidden) refreshOwner();
  } catch (e) {
    banner(describeError(e));
  }
}

function walletEvents(provider) {
  provider.on?.('accountsChanged', (accs) => {
    state.account = accs?.[0] ? accs[0] : null;
    state.chain.account = state.account;
    $('account').textContent = state.account ? short(state.account) : '';
    $('connect').disabled = !!state.account;
    $('connect').textContent = state.account ? 'Connected' : 'Connect wallet';
    state.sessionKeys.clear();
    if (!$('requests').hidden) refreshRequests();
    if (!$('owner').hidden) refreshOwner();
  });
  provider.on?.('chainChanged', () => updateNetwork());
}

// --- search -----------------------------------------------------------------------------------
function toLocalInput(d) {
  const p = (n) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())}T${p(d.getHours())}:${p(d.getMinutes())}`;
}

function drawPicker() {
  const svg = $('picker');
  const radius = Number($('radius').value) || 500;
  const ns = 'http://www.w3.org/2000/svg';
  const el = (tag, a, text) => {
    const e = document.createElementNS(ns, tag);
    for (const [k, v] of Object.entries(a)) e.setAttribute(k, v);
    if (text) e.textContent = text;
    return e;
  };
  svg.replaceChildren(
    el('circle', { cx: 0, cy: 0, r: 100, fill: '#e3ecf7', stroke: '#9fb6d6' }),
    el('circle', { cx: 0, cy: 0, r: 50, fill: 'none', stroke: '#b5c8e2', 'stroke-dasharray': '3 3' }),
    el('line', { x1: -100, y1: 0, x2: 100, y2: 0, stroke: '#c9d6e8' }),
    el('line', { x1: 0, y1: -100, x2: 0, y2: 100, stroke: '#c9d6e8' }),
    el('text', { x: 0, y: -88, 'text-anchor': 'middle', 'font-size': 11, fill: '#5b6676' }, 'N'),
    el('text', { x: 70, y: 96, 'font-size': 9, fill: '#5b6676' }, formatDistance(radius)),
    el('circle', { cx: 0, cy: 0, r: 4, fill: '#1f5fbf' }),
  );
  for (const r of state.results) {
    const o = offsetM(state.center.lat, state.center.lon, fromMicro(r.latitude), fromMicro(r.longitude));
    const x = (o.east / radius) * 100;
    const y = (-o.north / radius) * 100;
    if (Math.hypot(x, y) <= 104) {
      const dot = el('circle', { cx: x, cy: y, r: 5, fill: '#ffb703', stroke: '#14213d' });
      dot.append(el('title', {}, `${r.ec} · ${fmtTime(r.recordedAt)}`));
      svg.append(dot);
    }
  }
}

function setCenter(lat, lon) {
  state.center = { lat, lon };
  $('place').value = `${lat.toFixed(6)}, ${lon.toFixed(6)}`;
  drawPicker();
}

$('picker').addEventListener('click', (ev) => {
  const svg = $('picker');
  const rect = svg.getBoundingClientRect();
  const x = ((ev.clientX - rect.left) / rect.width) * 220 - 110;
  const y = ((ev.clientY - rect.top) / rect.height) * 220 - 110;
  const radius = Number($('radius').value) || 500;
  const p = moveM(state.center.lat, state.center.lon, (x / 100) * radius, (-y / 100) * radius);
  setCenter(p.lat, p.lon);
});
$('radius').addEventListener('input', drawPicker);
$('place').addEventListener('change', () => {
  try {
    const p = parseLatLon($('place').value);
    state.center = p;
    drawPicker();
    setStatus($('search-status'), '');
  } catch (e) {
    setStatus($('search-status'), e.message, 'error');
  }
});

async function search(ev) {
  ev?.preventDefault();
  const st = $('search-status');
  let from, to, center, radiusM;
  try {
    from = Math.floor(new Date($('from').value).getTime() / 1000);
    to = Math.floor(new Date($('to').value).getTime() / 1000);
    if (!Number.isFinite(from) || !Number.isFinite(to)) throw new Error('enter both the start and the end of the time range');
    if (to < from) throw new Error('the end of the time range is before its start');
    center = parseLatLon($('place').value);
    checkLatLon(center.lat, center.lon);
    radiusM = Number($('radius').value);
    if (!(radiusM >= 10 && radiusM <= 100000)) throw new Error('the radius must be between 10 m and 100 km');
  } catch (e) {
    setStatus(st, e.message, 'error');
    return;
  }
  state.center = center;
  setStatus(st, 'Searching…');
  let results;
  let note = '';
  try {
    results = await state.cloud.search({ from, to, lat: center.lat, lon: center.lon, radiusM });
  } catch (e) {
    if (!(e instanceof CloudError) || (e.kind !== 'down' && e.status !== 404 && e.status !== 405)) {
      setStatus(st, describeError(e), 'error');
      return;
    }
    // The cloud is down (or has no search yet): search the chain's listings directly.
    note = e.kind === 'down' ? `${e.message} Showing results from the chain instead (no thumbnails).` : 'The cloud has no search API; showing results from the chain (no thumbnails).';
    if (!state.chain) {
      setStatus(st, `${e.message} Connect a wallet to search the chain directly.`, 'error');
      return;
    }
    try {
      const all = await state.chain.listings();
      results = all
        .filter((l) => l.recordedAt >= from && l.recordedAt <= to)
        .filter((l) => distanceM(center.lat, center.lon, fromMicro(l.latitude), fromMicro(l.longitude)) <= radiusM)
        .map((l) => ({ ...l, status: 'Verified', thumbnail: null }));
    } catch (e2) {
      setStatus(st, describeError(e2), 'error');
      return;
    }
  }
  results.sort((a, b) => a.recordedAt - b.recordedAt);
  state.results = results;
  drawPicker();
  renderResults();
  setStatus(st, `${results.length} result${results.length === 1 ? '' : 's'}.${note ? ` ${note}` : ''}`, note ? 'warn' : '');
}
$('search-form').addEventListener('submit', search);

function thumbnail(url) {
  if (!url) return h('div', { class: 'thumb placeholder', role: 'img', 'aria-label': 'no thumbnail' }, 'no thumbnail');
  const img = h('img', { class: 'thumb', src: url, alt: 'Thumbnail of the footage', loading: 'lazy' });
  img.addEventListener('error', () => img.replaceWith(h('div', { class: 'thumb placeholder', role: 'img', 'aria-label': 'thumbnail unavailable' }, 'thumbnail unavailable')));
  return img;
}

function renderResults() {
  const box = $('results');
  if (!state.results.length) {
    box.replaceChildren(h('p', { class: 'empty' }, 'No verified footage in that time and place.'));
    return;
  }
  box.replaceChildren(
    ...state.results.map((r) => {
      const dist = distanceM(state.center.lat, state.center.lon, fromMicro(r.latitude), fromMicro(r.longitude));
      const card = h(
        'article',
        { class: 'card', testid: 'result-card', 'data-ec': r.ec },
        thumbnail(r.thumbnail),
        h('h2', {}, h('span', {}, fmtTime(r.recordedAt)), badge(r.status)),
        h(
          'dl',
          { class: 'facts' },
          h('dt', {}, 'Place'),
          h('dd', {}, fmtPlace(r.latitude, r.longitude)),
          h('dt', {}, 'Distance'),
          h('dd', {}, formatDistance(dist)),
          h('dt', {}, 'Evidence'),
          h('dd', { class: 'mono', title: r.ec }, short(r.ec)),
        ),
      );
      card.append(requestForm(r));
      return card;
    }),
  );
}

function requestForm(r) {
  const reward = h('input', { type: 'number', min: '0', step: 'any', value: '0.01', testid: 'reward', 'aria-label': 'Reward in ETH' });
  const msg = h('p', { class: 'msg', role: 'status', testid: 'request-status' });
  const btn = h('button', { type: 'button', class: 'primary', testid: 'request' }, 'Request this footage');
  btn.addEventListener('click', async () => {
    if (!state.account) return setStatus(msg, 'Connect your wallet first.', 'error');
    let value;
    try {
      value = parseEther(String(reward.value || '0'));
      if (value <= 0n) throw new Error('the reward must be more than zero');
    } catch (e) {
      return setStatus(msg, e.message.startsWith('the') ? e.message : 'enter the reward in ETH, e.g. 0.01', 'error');
    }
    let key = currentKey();
    if (!key) {
      addKey({ secretKey: generateKeyPair().secretKey, label: 'made for a request' });
      key = currentKey();
      renderKeys();
    }
    btn.disabled = true;
    setStatus(msg, 'Confirm the transaction in your wallet…');
    try {
      const { hash, reqc } = await state.chain.createRequest(r.ec, key.publicKey, value, (h0) =>
        setStatus(msg, `Sent: transaction ${h0}. Waiting for it to be mined…`),
      );
      msg.replaceChildren(
        'Request opened: ',
        h('code', { testid: 'new-reqc' }, reqc),
        ' · transaction ',
        h('code', { testid: 'request-tx' }, hash),
        '. Your Umbral key ',
        h('code', {}, short(key.publicKey)),
        ' is needed to recover the footage: export it from the Keys tab.',
      );
      msg.className = 'msg ok';
    } catch (e) {
      setStatus(msg, describeError(e), 'error');
    } finally {
      btn.disabled = false;
    }
  });
  return h('div', { class: 'inline-form' }, h('label', {}, 'Reward (ETH)', reward), btn, msg);
}

// --- my requests ------------------------------------------------------------------------------
let requestsTimer = null;
async function refreshRequests() {
  const st = $('requests-status');
  const list = $('request-list');
  if (!state.account) {
    setStatus(st, 'Connect your wallet to see your requests.');
    list.replaceChildren();
    return;
  }
  try {
    const mine = await state.chain.requestsBy(state.account);
    const infos = await Promise.all(mine.map((m) => state.chain.requestInfo(m.reqc)));
    setStatus(st, mine.length ? `${mine.length} request${mine.length === 1 ? '' : 's'} · updated ${new Date().toLocaleTimeString()}` : '');
    if (!mine.length) {
      list.replaceChildren(h('p', { class: 'empty' }, 'No requests from this account yet. Find footage and request it.'));
      return;
    }
    const existing = new Map([...list.querySelectorAll('[data-reqc]')].map((el) => [el.dataset.reqc, el]));
    const cards = mine.map((m, i) => {
      const info = infos[i];
      const old = existing.get(info.reqc);
      if (old && (state.busy.has(info.reqc) || old.dataset.status === info.status) && old.dataset.owed === String(info.owed)) return old;
      return requestCard(m, info);
    });
    list.replaceChildren(...cards);
  } catch (e) {
    setStatus(st, describeError(e), 'error');
  }
}
function startPolling() {
  clearInterval(requestsTimer);
  requestsTimer = setInterval(() => {
    if (document.hidden) return;
    if (!$('requests').hidden) refreshRequests();
    if (!$('owner').hidden) refreshOwner();
  }, 3000);
}
$('refresh-requests').addEventListener('click', refreshRequests);

function requestCard(m, info) {
  const msg = h('p', { class: 'msg', role: 'status', testid: 'card-status' });
  const actions = h('div', { class: 'actions' });
  const out = h('div', { class: 'result' });
  const card = h(
    'article',
    { class: 'card', testid: 'request-card', 'data-reqc': info.reqc, 'data-status': info.status, 'data-owed': String(info.owed) },
    h('h2', {}, h('span', { class: 'mono', title: info.reqc }, `Request ${short(info.reqc)}`), badge(info.status, 'request-state')),
    h(
      'dl',
      { class: 'facts' },
      h('dt', {}, 'Evidence'),
      h('dd', { class: 'mono', title: info.ec }, short(info.ec)),
      h('dt', {}, 'Reward'),
      h('dd', {}, `${formatEther(info.reward)} ETH`),
      h('dt', {}, info.status === 'Open' ? 'Owner answers by' : info.status === 'Responded' ? 'Confirm or dispute by' : 'Deadline'),
      h('dd', {}, info.status === 'Open' ? fmtTime(info.respondBy) : info.deadline ? fmtTime(info.deadline) : '—'),
      info.owed > 0n ? [h('dt', {}, 'You are owed'), h('dd', {}, `${formatEther(info.owed)} ETH`)] : null,
    ),
    actions,
    msg,
    out,
  );
  restoreNote(`req:${info.reqc}`, msg);
  const act = (label, fn, cls = '', testid) => {
    const b = h('button', { type: 'button', class: cls, testid }, label);
    b.addEventListener('click', async () => {
      state.busy.add(info.reqc);
      for (const x of actions.querySelectorAll('button')) x.disabled = true;
      try {
        await fn();
      } catch (e) {
        setStatus(msg, describeError(e), 'error');
      } finally {
        for (const x of actions.querySelectorAll('button')) x.disabled = false;
        state.busy.delete(info.reqc);
        state.notes.set(`req:${info.reqc}`, { text: msg.textContent, cls: msg.className });
      }
    });
    actions.append(b);
    return b;
  };
  const keyFor = () => {
    const k = findKey(m.requesterUmbralKey);
    if (!k) throw new Error(`this request was made with Umbral key ${m.requesterUmbralKey}, which is not in this browser: import it in the Keys tab`);
    return k;
  };
  const recover = async () => {
    if (state.sessionKeys.has(info.reqc)) return state.sessionKeys.get(info.reqc);
    setStatus(msg, 'Recovering the session key (Umbral re-encryption in your browser)…');
    const [resp, ev] = await Promise.all([state.chain.response(info.reqc), state.chain.evidence(info.ec)]);
    if (!resp) throw new Error('the owner has not responded yet');
    const key = recoverSessionKey({
      requesterSecretKey: keyFor().secretKey,
      ownerUmbralKey: ev.ownerUmbralKey,
      signerKey: resp.signerKey,
      capsule: ev.capsule,
      wrappedKey: ev.wrappedKey,
      kfrag: resp.kfrag,
      keyCommitment: ev.keyCommitment,
    });
    state.sessionKeys.set(info.reqc, key);
    return key;
  };

  if (info.status === 'Responded') {
    act(
      'Recover key',
      async () => {
        try {
          await recover();
        } catch (e) {
          setStatus(msg, `${describeError(e)} — you can dispute this response.`, 'error');
          actions.replaceChildren();
          act('Dispute', async () => {
            setStatus(msg, 'Confirm the dispute in your wallet…');
            const hash = await state.chain.dispute(info.reqc);
            setStatus(msg, `Disputed (transaction ${hash}). The verifier will check the owner's kfrag.`, 'ok');
            refreshRequests();
          }, 'danger', 'dispute');
          return;
        }
        setStatus(msg, "Session key recovered; it matches the EC's keyCommitment. Confirm to pay the owner and unlock the download.", 'ok');
        actions.replaceChildren();
        act('Confirm and pay', async () => {
          setStatus(msg, 'Confirm the transaction in your wallet…');
          const hash = await state.chain.confirm(info.reqc);
          setStatus(msg, `Confirmed (transaction ${hash}). The cloud now releases the download.`, 'ok');
          refreshRequests();
        }, 'primary', 'confirm');
      },
      'primary',
      'recover',
    );
  }
  if (info.status === 'Completed') {
    act('Download and verify', () => downloadAndVerify(info, recover, msg, out), 'primary', 'download');
  }
  if (info.status === 'Open') {
    act('Cancel (after the deadline)', async () => {
      const hash = await state.chain.cancel(info.reqc);
      setStatus(msg, `Cancelled (transaction ${hash}); withdraw your reward.`, 'ok');
      refreshRequests();
    }, '', 'cancel');
  }
  if (info.owed > 0n) {
    act(`Withdraw ${formatEther(info.owed)} ETH`, async () => {
      const hash = await state.chain.withdraw(info.reqc);
      setStatus(msg, `Withdrawn (transaction ${hash}).`, 'ok');
      refreshRequests();
    }, '', 'withdraw');
  }
  return card;
}

async function verifyStream(source, totalBytes, key, evidence, out, msg) {
  const bar = h('progress', { max: totalBytes || 1, value: 0, testid: 'progress', 'aria-label': 'Decryption progress' });
  const label = h('span', { class: 'status' }, 'Opening…');
  out.replaceChildren(bar, label);
  const parts = [];
  let result;
  try {
    result = await openSealed(source, key, {
      totalBytes,
      onChunk: (pt) => parts.push(pt),
      onProgress: ({ sealedBytes, chunks }) => {
        if (totalBytes) bar.value = sealedBytes;
        else bar.removeAttribute('value');
        label.textContent = `${chunks} chunk${chunks === 1 ? '' : 's'} · ${(sealedBytes / 1048576).toFixed(2)} MiB${totalBytes ? ` of ${(totalBytes / 1048576).toFixed(2)} MiB` : ''}`;
      },
    });
  } catch (e) {
    parts.length = 0;
    out.append(h('div', { class: 'verdict bad', testid: 'verdict', role: 'alert' }, `Not verified: ${describeError(e)}`));
    setStatus(msg, '');
    return null;
  }
  bar.max = result.sealedLength;
  bar.value = result.sealedLength;
  const problems = checkAgainstEvidence(result, evidence);
  if (problems.length) {
    parts.length = 0;
    out.append(h('div', { class: 'verdict bad', testid: 'verdict', role: 'alert' }, `Not verified: ${problems.join('; ')}`));
    return null;
  }
  const blob = new Blob(parts, { type: 'video/mp4' });
  const url = URL.createObjectURL(blob);
  out.append(
    h('div', { class: 'verdict ok', testid: 'verdict' }, `Verified: Keccak-256 ${result.videoHash} matches the Evidence Contract's videoHash (${result.chunks} chunks, ${result.plaintextLength} bytes).`),
    h('a', { href: url, download: `dashledger-${evidence.ec}.mp4`, class: 'file-button', testid: 'save' }, 'Save video'),
  );
  setStatus(msg, '');
  return result;
}

async function downloadAndVerify(info, recover, msg, out) {
  const key = await recover();
  const ev = await state.chain.evidence(info.ec);
  setStatus(msg, 'Sign the download request in your wallet…');
  const { response, totalBytes } = await state.cloud.download({
    ec: info.ec,
    reqc: info.reqc,
    account: state.account,
    chainId: state.config.chainId,
    sign: (m) => state.chain.signMessage(m),
  });
  setStatus(msg, 'Downloading and opening chunk by chunk…');
  await verifyStream(response, totalBytes, key, ev, out, msg);
}

// "Open a sealed file from disk": for a clip obtained another way (or when the cloud is down).
$('open-file').addEventListener('change', async (ev) => {
  const file = ev.target.files?.[0];
  ev.target.value = '';
  if (!file) return;
  const st = $('requests-status');
  const cards = [...document.querySelectorAll('[data-testid="request-card"]')].filter((c) => ['Completed', 'Responded'].includes(c.dataset.status));
  const reqc = cards.length === 1 ? cards[0].dataset.reqc : prompt('Which request is this file for? (REQC address)', cards[0]?.dataset.reqc ?? '');
  if (!reqc) return;
  try {
    const info = await state.chain.requestInfo(reqc);
    const mine = (await state.chain.requestsBy(state.account)).find((m) => m.reqc.toLowerCase() === reqc.toLowerCase());
    if (!mine) throw new Error(`request ${reqc} is not one of yours`);
    const [resp, ev2] = await Promise.all([state.chain.response(info.reqc), state.chain.evidence(info.ec)]);
    if (!resp) throw new Error('the owner has not responded to this request yet');
    const k = findKey(mine.requesterUmbralKey);
    if (!k) throw new Error(`import Umbral key ${mine.requesterUmbralKey} first`);
    const key =
      state.sessionKeys.get(info.reqc) ??
      recoverSessionKey({
        requesterSecretKey: k.secretKey,
        ownerUmbralKey: ev2.ownerUmbralKey,
        signerKey: resp.signerKey,
        capsule: ev2.capsule,
        wrappedKey: ev2.wrappedKey,
        kfrag: resp.kfrag,
        keyCommitment: ev2.keyCommitment,
      });
    const card = document.querySelector(`[data-reqc="${info.reqc}"]`);
    const out = card?.querySelector('.result') ?? $('request-list');
    const msg = card?.querySelector('.msg') ?? st;
    await verifyStream(file, file.size, key, ev2, out, msg);
  } catch (e) {
    setStatus(st, describeError(e), 'error');
  }
});

// --- owner ------------------------------------------------------------------------------------
$('owner-umbral').addEventListener('input', (e) => (state.ownerSecrets.umbral = e.target.value.trim()));
$('owner-signing').addEventListener('input', (e) => (state.ownerSecrets.signing = e.target.value.trim()));
$('refresh-owner').addEventListener('click', refreshOwner);

async function refreshOwner() {
  const st = $('owner-status');
  const list = $('owner-list');
  if (!state.account) {
    setStatus(st, 'Connect the owner wallet to see requests for your footage.');
    list.replaceChildren();
    return;
  }
  try {
    const reqs = await state.chain.requestsFor(state.account);
    const infos = await Promise.all(reqs.map((r) => state.chain.requestInfo(r.reqc)));
    const pending = infos.filter((i) => i.status === 'Open').length;
    setStatus(st, reqs.length ? `${pending} pending · ${reqs.length} in all · updated ${new Date().toLocaleTimeString()}` : '');
    if (!reqs.length) {
      list.replaceChildren(h('p', { class: 'empty' }, 'No requests for footage owned by this account.'));
      return;
    }
    const existing = new Map([...list.querySelectorAll('[data-reqc]')].map((el) => [el.dataset.reqc, el]));
    list.replaceChildren(
      ...reqs.map((r, i) => {
        const old = existing.get(infos[i].reqc);
        if (old && (state.busy.has(infos[i].reqc) || old.dataset.status === infos[i].status) && old.dataset.owed === String(infos[i].owed)) return old;
        return ownerCard(r, infos[i]);
      }),
    );
  } catch (e) {
    setStatus(st, describeError(e), 'error');
  }
}

function ownerCard(r, info) {
  const msg = h('p', { class: 'msg', role: 'status', testid: 'card-status' });
  const actions = h('div', { class: 'actions' });
  const card = h(
    'article',
    { class: 'card', testid: 'owner-card', 'data-reqc': info.reqc, 'data-status': info.status, 'data-owed': String(info.owed) },
    h('h2', {}, h('span', { class: 'mono', title: info.reqc }, `Request ${short(info.reqc)}`), badge(info.status, 'request-state')),
    h(
      'dl',
      { class: 'facts' },
      h('dt', {}, 'Evidence'),
      h('dd', { class: 'mono', title: info.ec }, short(info.ec)),
      h('dt', {}, 'Requester'),
      h('dd', { class: 'mono', title: info.requester }, short(info.requester)),
      h('dt', {}, 'Reward'),
      h('dd', {}, `${formatEther(info.reward)} ETH`),
      h('dt', {}, info.status === 'Open' ? 'Answer by' : 'Deadline'),
      h('dd', {}, info.status === 'Open' ? fmtTime(info.respondBy) : info.deadline ? fmtTime(info.deadline) : '—'),
      info.owed > 0n ? [h('dt', {}, 'You are owed'), h('dd', {}, `${formatEther(info.owed)} ETH`)] : null,
    ),
    actions,
    msg,
  );
  restoreNote(`owner:${info.reqc}`, msg);
  const act = (label, fn, cls = '', testid) => {
    const b = h('button', { type: 'button', class: cls, testid }, label);
    b.addEventListener('click', async () => {
      state.busy.add(info.reqc);
      for (const x of card.querySelectorAll('button')) x.disabled = true;
      try {
        await fn();
      } catch (e) {
        setStatus(msg, describeError(e), 'error');
      } finally {
        for (const x of card.querySelectorAll('button')) x.disabled = false;
        state.busy.delete(info.reqc);
        state.notes.set(`owner:${info.reqc}`, { text: msg.textContent, cls: msg.className });
      }
    });
    actions.append(b);
    return b;
  };
  if (info.status === 'Open') {
    const deposit = h('input', { type: 'number', min: '0', step: 'any', testid: 'deposit', 'aria-label': 'Deposit in ETH' });
    const link = h('input', { type: 'text', testid: 'download-link', 'aria-label': 'Download link', value: `${state.cloud.label}/v1/clips/${info.ec}/download?reqc=${info.reqc}` });
    state.chain.requestTerms().then((t) => (deposit.value = formatEther(t.minDeposit)), () => {});
    card.insertBefore(h('div', { class: 'inline-form' }, h('label', {}, 'Deposit (ETH, at least the minimum)', deposit), h('label', {}, 'Download link', link)), actions);
    act('Approve (send kfrag)', async () => {
      const { umbral, signing } = state.ownerSecrets;
      if (!umbral || !signing) throw new Error('enter your owner Umbral secret key and the EC owner signing key above');
      let signerAddr;
      try {
        signerAddr = addressOfSecret(signing);
      } catch {
        throw new Error('the EC owner signing key is not a valid 32-byte secp256k1 secret');
      }
      if (signerAddr.toLowerCase() !== info.owner.toLowerCase()) {
        throw new Error(`the signing key belongs to ${signerAddr}, but this EC's owner is ${info.owner}`);
      }
      const ev = await state.chain.evidence(info.ec);
      const pk = publicKeyOf(umbral);
      if (pk.toLowerCase() !== ev.ownerUmbralKey.toLowerCase()) {
        throw new Error(`that Umbral secret key's public key is ${pk}, but the EC was wrapped for ${ev.ownerUmbralKey}`);
      }
      setStatus(msg, 'Making the kfrag in your browser…');
      const { kfrag, signerKey } = grantKfrag({ ownerSecretKey: umbral, signerSecretKey: signing, requesterPublicKey: r.requesterUmbralKey });
      let value;
      try {
        value = parseEther(String(deposit.value || '0'));
      } catch {
        throw new Error('enter the deposit in ETH, e.g. 0.01');
      }
      setStatus(msg, 'Confirm the transaction in your wallet…');
      const hash = await state.chain.respond(info.reqc, kfrag, signerKey, link.value.trim(), value);
      setStatus(msg, `Approved (transaction ${hash}). The requester can now recover the key.`, 'ok');
      refreshOwner();
    }, 'primary', 'approve');
    act('Decline', async () => {
      const hash = await state.chain.decline(info.reqc);
      setStatus(msg, `Declined (transaction ${hash}).`, 'ok');
      refreshOwner();
    }, 'danger', 'decline');
  }
  if (info.status === 'Responded') {
    act('Claim (after the confirm window)', async () => {
      const hash = await state.chain.claim(info.reqc);
      setStatus(msg, `Claimed (transaction ${hash}).`, 'ok');
      refreshOwner();
    }, '', 'claim');
  }
  if (info.owed > 0n) {
    act(`Withdraw ${formatEther(info.owed)} ETH`, async () => {
      const hash = await state.chain.withdraw(info.reqc);
      setStatus(msg, `Withdrawn (transaction ${hash}).`, 'ok');
      refreshOwner();
    }, 'primary', 'withdraw');
  }
  return card;
}

// --- keys -------------------------------------------------------------------------------------
function renderKeys() {
  const keys = loadKeys();
  $('current-key').textContent = keys[0]?.publicKey ?? 'none yet (one is made with your first request)';
  $('key-list').replaceChildren(
    ...keys.map((k, i) => h('li', {}, h('code', {}, k.publicKey), ` · ${new Date(k.created).toLocaleString()}${i === 0 ? ' · current' : ''}`)),
  );
}
$('gen-key').addEventListener('click', () => {
  addKey({ secretKey: generateKeyPair().secretKey });
  renderKeys();
  setStatus($('keys-status'), 'New key pair made and stored in this browser. Export your keys now.', 'ok');
});
$('export-keys').addEventListener('click', () => {
  const blob = new Blob([exportKeys()], { type: 'application/json' });
  const a = h('a', { href: URL.createObjectURL(blob), download: 'dashledger-umbral-keys.json' });
  document.body.append(a);
  a.click();
  a.remove();
  setStatus($('keys-status'), 'Exported: keep dashledger-umbral-keys.json somewhere safe; it holds secret keys.', 'ok');
});
function doImport(text) {
  try {
    const n = importKeys(text);
    renderKeys();
    setStatus($('keys-status'), `Imported ${n} key${n === 1 ? '' : 's'}.`, 'ok');
  } catch (e) {
    setStatus($('keys-status'), e.message, 'error');
  }
}
$('import-paste').addEventListener('click', () => doImport($('import-text').value));
$('import-file').addEventListener('change', async (ev) => {
  const f = ev.target.files?.[0];
  ev.target.value = '';
  if (f) doImport(await f.text());
});

// --- start ------------------------------------------------------------------------------------
async function start() {
  const now = new Date();
  $('to').value = toLocalInput(now);
  $('from').value = toLocalInput(new Date(now.getTime() - 24 * 3600 * 1000));
  setCenter(state.center.lat, state.center.lon);
  try {
    await loadUmbral(wasmUrl);
  } catch (e) {
    banner(`Umbral (WASM) failed to load: ${e.message}`);
  }
  renderKeys();
  try {
    state.config = await loadConfig();
  } catch (e) {
    banner(e.message);
    $('connect').disabled = true;
    return;
  }
  state.cloud = new Cloud(state.config.cloudUrl);
  const provider = window.ethereum;
  if (!provider) {
    $('network').textContent = 'no wallet';
    $('connect').disabled = true;
    banner('No Ethereum wallet found in this browser (window.ethereum). Install one to request footage; search works without it.', 'info');
  } else {
    state.chain = new Chain(provider, state.config);
    walletEvents(provider);
    await updateNetwork();
    const accs = await provider.request({ method: 'eth_accounts' }).catch(() => []);
    if (accs?.length) await connect();
  }
  $('connect').addEventListener('click', connect);
  $('switch').addEventListener('click', async () => {
    try {
      await state.chain.switchNetwork();
      await updateNetwork();
    } catch (e) {
      banner(describeError(e));
    }
  });
  startPolling();
  document.body.dataset.ready = 'true';
}
start();

// Exposed for debugging and tests (no secrets).
window.dashledger = { state: () => ({ account: state.account, networkOk: state.networkOk, results: state.results.length }) };
