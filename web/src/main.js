// The dashledger page: wallet, search, requests, recovery, download + verification, owner actions.

import './style.css';
import { formatEther, parseEther } from 'viem';
import wasmUrl from '@nucypher/umbral-pre/pkg-bundler/umbral_pre_wasm_bg.wasm?url';
import { abis, Chain, WrongNetworkError } from './chain.js';
import { Cloud, CloudError } from './cloud.js';
import { loadConfig } from './config.js';
import { describeError } from './errors.js';
import { checkLatLon, distanceM, formatDistance, fromMicro, parseLatLon } from './geo.js';
import { addKey, currentKey, exportKeys, findKey, importKeys, loadKeys } from './keystore.js';
import { checkAgainstEvidence, openSealed } from './sealed.js';
import { generateKeyPair, loadUmbral, recoverSessionKey } from './umbral.js';
import { createPicker, MAX_RADIUS, MIN_RADIUS } from './map.js';
import {
  cancelAvailableAt,
  claimAvailableAt,
  countdown,
  explorerLink,
  FieldError,
  fmtTime,
  LIVE_OR_DONE,
  requestsByEc,
  requestSteps,
  short,
  termsRows,
  timeZoneName,
  toLocalInput,
  utcOffset,
} from './view.js';

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
  center: null, // the search centre: chosen on the map, by location, or typed
  results: [],
  sessionKeys: new Map(), // reqc -> Uint8Array (this tab only)
  verified: new Set(), // reqc whose clip was opened and verified in this tab
  mine: new Map(), // ec (lower case) -> [{ reqc, status }] of the connected account
  terms: null, // chain.requestTerms(), once read
  chainOffset: 0, // chain time - this clock, seconds (anvil's evm_increaseTime moves it)
  picker: null,
  searched: false, // a search ran: later moves of the map search again
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
// WAI-ARIA tabs: one tab in the tab order (roving tabindex); arrow keys, Home and End move
// between tabs and select them.
const TABS = ['find', 'requests', 'owner', 'keys'];
function showTab(name, { focus = false } = {}) {
  for (const t of TABS) {
    const tab = $(`tab-${t}`);
    tab.setAttribute('aria-selected', String(t === name));
    tab.tabIndex = t === name ? 0 : -1;
    $(t).hidden = t !== name;
  }
  if (focus) $(`tab-${name}`).focus();
  if (name === 'find') state.picker?.map?.resize();
  if (name === 'requests') refreshRequests();
  if (name === 'owner') refreshOwner();
  if (name === 'keys') renderKeys();
}
for (const t of TABS) {
  $(`tab-${t}`).addEventListener('click', () => showTab(t));
  $(`tab-${t}`).addEventListener('keydown', (ev) => {
    const i = TABS.indexOf(t);
    const j = { ArrowRight: i + 1, ArrowLeft: i - 1, Home: 0, End: TABS.length - 1 }[ev.key];
    if (j === undefined) return;
    ev.preventDefault();
    showTab(TABS[(j + TABS.length) % TABS.length], { focus: true });
  });
}

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
const FIELDS = ['from', 'to', 'place', 'radius'];

/** Marks `field` wrong (aria-invalid, its message under it, named by aria-describedby). */
function fieldError(field, message) {
  const input = $(field);
  const err = $(`${field}-error`);
  const hint = input.getAttribute('aria-describedby')?.split(' ').filter((x) => x !== `${field}-error`) ?? [];
  if (message) {
    input.setAttribute('aria-invalid', 'true');
    input.setAttribute('aria-describedby', [`${field}-error`, ...hint].join(' '));
    err.textContent = message;
    err.hidden = false;
  } else {
    input.removeAttribute('aria-invalid');
    if (hint.length) input.setAttribute('aria-describedby', hint.join(' '));
    else input.removeAttribute('aria-describedby');
    err.textContent = '';
    err.hidden = true;
  }
}
const clearFieldErrors = () => FIELDS.forEach((f) => fieldError(f, ''));

const radiusValue = () => Number($('radius').value) || 500;
const describePin = (r) =>
  `Footage recorded ${fmtTime(r.recordedAt)}${state.center ? `, ${formatDistance(distanceM(state.center.lat, state.center.lon, fromMicro(r.latitude), fromMicro(r.longitude)))} from the centre` : ''}: show its card`;

/** Moves the search centre (the place field shows it) and, with `view`, the picker. */
function setCenter(lat, lon, { view = true, typed = false } = {}) {
  state.center = { lat, lon };
  if (!typed) {
    $('place').value = `${lat.toFixed(6)}, ${lon.toFixed(6)}`;
    // (Not while typing: the change event comes as the Search button is being clicked, and a
    // message vanishing then would move the button from under the pointer.)
    fieldError('place', '');
  }
  if (view) state.picker?.setView(state.center, radiusValue());
}

let researchTimer = null;
/** The user moved the centre or the radius on the map: show it, and search again if a search ran. */
function pickerChanged({ lat, lon, radius }) {
  setCenter(lat, lon, { view: false });
  $('radius').value = String(radius);
  fieldError('radius', '');
  if (!state.searched) return;
  clearTimeout(researchTimer);
  researchTimer = setTimeout(() => search(), 400);
}

function focusCard(ec) {
  const card = document.querySelector(`[data-testid="result-card"][data-ec="${ec}"]`);
  if (!card) return;
  for (const c of document.querySelectorAll('[data-testid="result-card"]')) c.classList.toggle('active', c === card);
  state.picker?.highlight(ec);
  card.scrollIntoView({ block: 'nearest' });
  card.focus();
}

async function startPicker() {
  state.picker = await createPicker($('picker-box'), {
    center: state.center,
    radius: radiusValue(),
    mapConfig: state.config?.map,
    baseUrl: document.baseURI,
    describe: describePin,
    onChange: pickerChanged,
    onRadiusPreview: (r) => ($('radius').value = String(r)),
    onPin: focusCard,
  });
  state.picker.setResults(state.results);
  $('picker-box').dataset.kind = state.picker.kind;
}

$('radius').addEventListener('change', () => {
  const r = Number($('radius').value);
  if (state.center && r >= MIN_RADIUS && r <= MAX_RADIUS) state.picker?.setView(state.center, r);
});
// Typed coordinates move the map at once; a wrong value is named when searching (an error shown
// on blur would move the Search button under the pointer that is clicking it).
$('place').addEventListener('change', () => {
  try {
    const p = parseLatLon($('place').value);
    setCenter(p.lat, p.lon, { typed: true });
  } catch {
    /* named by search() */
  }
});

/** Coordinates as typed, or — where the operator configured a geocoder — a place name. */
async function resolvePlace(text) {
  try {
    return parseLatLon(text);
  } catch (e) {
    const looksNumeric = /^[\s\d.,;+-]*$/.test(String(text));
    if (looksNumeric || !String(text).trim()) throw e;
    const g = state.config?.geocoder;
    if (!g) throw new Error(`"${String(text).trim()}" is not coordinates, and this site has no place-name search: enter "latitude, longitude" (e.g. 52.5219, 13.4132) or pick the place on the map`);
    $('place-note').textContent = 'Looking the place up…';
    let hits;
    try {
      const resp = await fetch(g.url.replace('{query}', encodeURIComponent(String(text).trim())), { headers: { accept: 'application/json' } });
      if (!resp.ok) throw new Error(`HTTP ${resp.status}`);
      hits = await resp.json();
    } catch (e2) {
      $('place-note').textContent = '';
      throw new Error(`the place-name search at ${new URL(g.url).host} failed (${e2.message}); enter coordinates instead`);
    }
    const hit = Array.isArray(hits) ? hits[0] : hits?.features?.[0];
    const lat = Number(hit?.lat ?? hit?.geometry?.coordinates?.[1]);
    const lon = Number(hit?.lon ?? hit?.geometry?.coordinates?.[0]);
    if (!hit || !Number.isFinite(lat) || !Number.isFinite(lon)) {
      $('place-note').textContent = '';
      throw new Error(`no place called "${String(text).trim()}" found; try another name or enter coordinates`);
    }
    $('place-note').textContent = `Found: ${hit.display_name ?? hit.properties?.name ?? `${lat}, ${lon}`}`;
    return { lat, lon };
  }
}

$('locate').addEventListener('click', () => {
  const note = $('place-note');
  if (!navigator.geolocation) return setStatus(note, 'This browser cannot tell your location; enter it or pick it on the map.', 'error');
  setStatus(note, 'Asking the browser for your location…');
  navigator.geolocation.getCurrentPosition(
    (pos) => {
      setCenter(pos.coords.latitude, pos.coords.longitude);
      setStatus(note, `Centre set to your location (±${Math.round(pos.coords.accuracy)} m). It stays in this page.`, 'ok');
      if (state.searched) search();
    },
    (err) => setStatus(note, err.code === 1 ? 'Location permission was refused; enter the place or pick it on the map.' : `Your location is not available (${err.message}).`, 'error'),
    { enableHighAccuracy: true, timeout: 15000 },
  );
});

/** Reads and checks the form; throws FieldError naming the first wrong field. */
async function readSearchForm() {
  const max = state.config?.maxRangeDays ?? 31;
  const from = Math.floor(new Date($('from').value).getTime() / 1000);
  const to = Math.floor(new Date($('to').value).getTime() / 1000);
  if (!Number.isFinite(from)) throw new FieldError('from', 'enter the start of the time range');
  if (!Number.isFinite(to)) throw new FieldError('to', 'enter the end of the time range');
  if (to < from) throw new FieldError('to', 'the end of the time range is before its start');
  if (to - from > max * 86400) throw new FieldError('to', `the time range is ${Math.ceil((to - from) / 86400)} days; search at most ${max} days at a time`);
  let center;
  try {
    if (!$('place').value.trim()) throw new Error('choose the place: click it on the map, use your location, or enter "latitude, longitude"');
    center = await resolvePlace($('place').value);
    checkLatLon(center.lat, center.lon);
  } catch (e) {
    throw new FieldError('place', e.message);
  }
  const radiusM = Number($('radius').value);
  if (!(radiusM >= MIN_RADIUS && radiusM <= MAX_RADIUS)) throw new FieldError('radius', 'the radius must be between 10 m and 100 km');
  return { from, to, center, radiusM };
}

/** Old results go when a search fails: they no longer match what the form says. */
function clearResults() {
  state.results = [];
  state.picker?.setResults([]);
  $('results').replaceChildren();
}

let searchSeq = 0;
async function search(ev) {
  ev?.preventDefault();
  const seq = ++searchSeq;
  const st = $('search-status');
  let q;
  clearFieldErrors();
  try {
    q = await readSearchForm();
  } catch (e) {
    if (seq !== searchSeq) return;
    clearResults();
    if (e instanceof FieldError) {
      fieldError(e.field, e.message);
      if (ev) $(e.field).focus();
    }
    setStatus(st, e.message, 'error');
    return;
  }
  const { from, to, center, radiusM } = q;
  state.center = center;
  state.searched = true;
  state.picker?.setView(center, radiusM, { fit: !!ev });
  setStatus(st, 'Searching…');
  let results;
  let note = '';
  try {
    results = await state.cloud.search({ from, to, lat: center.lat, lon: center.lon, radiusM });
  } catch (e) {
    if (!(e instanceof CloudError) || (e.kind !== 'down' && e.status !== 404 && e.status !== 405)) {
      if (seq !== searchSeq) return;
      clearResults();
      setStatus(st, describeError(e), 'error');
      return;
    }
    // The cloud is down (or has no search yet): search the chain's listings directly.
    note = e.kind === 'down' ? `${e.message} Showing results from the chain instead (no thumbnails).` : 'The cloud has no search API; showing results from the chain (no thumbnails).';
    if (!state.chain) {
      if (seq !== searchSeq) return;
      clearResults();
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
      if (seq !== searchSeq) return;
      clearResults();
      setStatus(st, describeError(e2), 'error');
      return;
    }
  }
  await loadMine();
  if (seq !== searchSeq) return;
  results.sort((a, b) => a.recordedAt - b.recordedAt);
  state.results = results;
  state.picker?.setResults(results);
  renderResults();
  setStatus(st, `${results.length} result${results.length === 1 ? '' : 's'}.${note ? ` ${note}` : ''}`, note ? 'warn' : '');
}
$('search-form').addEventListener('submit', search);

/** The connected account's requests by EC (to mark results already requested). */
async function loadMine() {
  if (!state.chain || !state.account) {
    state.mine = new Map();
    return;
  }
  try {
    const mine = await state.chain.requestsBy(state.account);
    const infos = await Promise.all(mine.map((m) => state.chain.requestInfo(m.reqc).catch(() => null)));
    state.mine = requestsByEc(mine, infos);
  } catch {
    /* keep the last known */
  }
}

function thumbnail(url, alt = 'Thumbnail of the footage') {
  if (!url) return h('div', { class: 'thumb placeholder', role: 'img', 'aria-label': 'no thumbnail' }, 'no thumbnail');
  const img = h('img', { class: 'thumb', src: url, alt, loading: 'lazy' });
  img.addEventListener('error', () => img.replaceWith(h('div', { class: 'thumb placeholder', role: 'img', 'aria-label': 'thumbnail unavailable' }, 'thumbnail unavailable')));
  return img;
}

/** A hash or address: short, the whole value in the title, a copy button, an explorer link. */
function hashView(value, kind = 'tx', testid) {
  const link = explorerLink(state.config?.explorerUrl, kind, value);
  const copy = h('button', { type: 'button', class: 'copy', 'aria-label': `Copy ${kind === 'tx' ? 'transaction hash' : 'address'} ${value}`, testid: testid ? `${testid}-copy` : undefined }, 'Copy');
  copy.addEventListener('click', async () => {
    try {
      await navigator.clipboard.writeText(value);
      copy.textContent = 'Copied';
    } catch {
      copy.textContent = 'Select and copy';
    }
    setTimeout(() => (copy.textContent = 'Copy'), 2000);
  });
  return h(
    'span',
    { class: 'hash' },
    h('code', { title: value, testid, 'data-full': value }, short(value)),
    copy,
    link ? h('a', { href: link, target: '_blank', rel: 'noopener noreferrer', testid: testid ? `${testid}-link` : undefined }, 'explorer') : null,
  );
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
      const mine = state.mine.get(r.ec.toLowerCase()) ?? [];
      const showOnMap = h('button', { type: 'button', class: 'link', testid: 'show-on-map' }, 'Show on map');
      showOnMap.addEventListener('click', () => {
        state.picker?.highlight(r.ec);
        $('picker-box').scrollIntoView({ block: 'nearest' });
      });
      const card = h(
        'article',
        { class: 'card', testid: 'result-card', 'data-ec': r.ec, tabindex: '-1', 'aria-label': `Footage recorded ${fmtTime(r.recordedAt)}` },
        thumbnail(r.thumbnail),
        h('h2', {}, h('span', {}, fmtTime(r.recordedAt)), badge(r.status)),
        h(
          'dl',
          { class: 'facts' },
          h('dt', {}, 'Place'),
          h('dd', {}, fmtPlace(r.latitude, r.longitude), ' ', showOnMap),
          h('dt', {}, 'Distance'),
          h('dd', {}, formatDistance(dist)),
          h('dt', {}, 'Evidence'),
          h('dd', { class: 'mono', title: r.ec }, short(r.ec)),
        ),
        mine.length
          ? h(
              'p',
              { class: 'already', testid: 'already-requested' },
              'You already requested this: ',
              ...mine.flatMap((m, i) => [i ? ', ' : '', badge(m.status)]),
              ' — ',
              h('a', { href: '#requests', testid: 'see-my-requests', onclick: (e) => (e.preventDefault(), showTab('requests', { focus: true })) }, 'see My requests'),
            )
          : null,
      );
      card.append(requestForm(r));
      return card;
    }),
  );
}

/** Asks in a modal dialog; resolves true for "ok". */
function ask(title, body, okLabel) {
  const dlg = $('confirm-dialog');
  $('confirm-title').textContent = title;
  $('confirm-body').replaceChildren(...body);
  dlg.querySelector('[data-testid="confirm-ok"]').textContent = okLabel;
  return new Promise((resolve) => {
    dlg.addEventListener('close', () => resolve(dlg.returnValue === 'ok'), { once: true });
    dlg.returnValue = '';
    dlg.showModal();
  });
}

function termsList(reward) {
  return h('dl', { class: 'facts terms', testid: 'terms' }, ...termsRows(state.terms, reward).flatMap(([k, v]) => [h('dt', {}, k), h('dd', {}, v)]));
}

function requestForm(r) {
  const reward = h('input', { type: 'number', min: '0', step: 'any', value: '0.01', testid: 'reward', 'aria-label': 'Reward in ETH' });
  const msg = h('p', { class: 'msg', role: 'status', testid: 'request-status' });
  const btn = h('button', { type: 'button', class: 'primary', testid: 'request' }, 'Request this footage');
  const terms = h('details', { class: 'terms-box', open: true }, h('summary', {}, 'Terms of a request'), termsList(null));
  const showTerms = () => terms.replaceChildren(h('summary', {}, 'Terms of a request'), termsList(null));
  if (!state.terms && state.chain) state.chain.requestTerms().then((t) => ((state.terms = t), showTerms()), () => {});
  btn.addEventListener('click', async () => {
    if (!state.account) return setStatus(msg, 'Connect your wallet first.', 'error');
    let value;
    try {
      value = parseEther(String(reward.value || '0'));
      if (value <= 0n) throw new Error('the reward must be more than zero');
    } catch (e) {
      return setStatus(msg, e.message.startsWith('the') ? e.message : 'enter the reward in ETH, e.g. 0.01', 'error');
    }
    // Money wasted by accident: a second request for a clip already requested asks first.
    await loadMine();
    const mine = (state.mine.get(r.ec.toLowerCase()) ?? []).filter((m) => LIVE_OR_DONE.has(m.status));
    if (mine.length) {
      const ok = await ask(
        'You already requested this footage',
        [
          h('p', {}, `Your request${mine.length === 1 ? ' is' : 's are'} ${mine.map((m) => m.status).join(', ')}. Another request opens a second Request Contract with a second reward of ${formatEther(value)} ETH.`),
          termsList(value),
        ],
        `Open another request (${formatEther(value)} ETH)`,
      );
      if (!ok) return setStatus(msg, 'Nothing sent. Your request is in My requests.', '');
    }
    let key = currentKey();
    if (!key) {
      addKey({ secretKey: generateKeyPair().secretKey, label: 'made for a request' });
      key = currentKey();
      renderKeys();
    }
    btn.disabled = true;
    setStatus(msg, `Confirm the transaction in your wallet (reward ${formatEther(value)} ETH)…`);
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
      await loadMine();
    } catch (e) {
      setStatus(msg, describeError(e), 'error');
    } finally {
      btn.disabled = false;
    }
  });
  return h('div', { class: 'inline-form' }, terms, h('label', {}, 'Reward (ETH)', reward), btn, msg);
}

// --- my requests ------------------------------------------------------------------------------
const nowChain = () => Math.floor(Date.now() / 1000) + state.chainOffset;

/** Chain time can run ahead of this clock (a test chain's evm_increaseTime): follow the last block. */
async function syncChainTime() {
  try {
    const t = await state.chain.now();
    state.chainOffset = Math.max(state.chainOffset, t - Math.floor(Date.now() / 1000));
  } catch {
    /* keep the last offset */
  }
}

/** Every second: countdowns, and buttons that become available at a time ([data-available-at]). */
function tick() {
  const now = nowChain();
  for (const el of document.querySelectorAll('[data-deadline]')) el.textContent = countdown(Number(el.dataset.deadline), now);
  for (const b of document.querySelectorAll('button[data-available-at]')) {
    const at = Number(b.dataset.availableAt);
    const ready = now >= at;
    if (b.dataset.busy === 'true') continue;
    b.disabled = !ready;
    b.textContent = ready ? b.dataset.readyLabel : `${b.dataset.waitLabel} available at ${fmtTime(at)} (${countdown(at, now)})`;
  }
}
setInterval(tick, 1000);

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
    const [mine] = await Promise.all([state.chain.requestsBy(state.account), syncChainTime()]);
    const infos = await Promise.all(mine.map((m) => state.chain.requestInfo(m.reqc)));
    state.mine = requestsByEc(mine, infos);
    setStatus(st, mine.length ? `${mine.length} request${mine.length === 1 ? '' : 's'} · updated ${fmtTime(Math.floor(Date.now() / 1000))}` : '');
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
    tick();
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

function stepBar(status, reqc) {
  const { steps, note } = requestSteps(status, { verified: state.verified.has(reqc) });
  const current = steps.findIndex((s) => s.state === 'current');
  return h(
    'div',
    { class: 'stepper-wrap' },
    h(
      'ol',
      { class: 'steps', testid: 'steps', 'aria-label': 'Progress of this request' },
      ...steps.map((s, i) =>
        h('li', { class: `step ${s.state}`, 'data-state': s.state, 'aria-current': i === current ? 'step' : undefined }, h('span', { class: 'visually-hidden' }, `${s.state === 'done' ? 'done' : s.state === 'failed' ? 'stopped' : s.state === 'current' ? 'now' : 'to come'}: `), s.label),
      ),
    ),
    note ? h('p', { class: 'hint', testid: 'steps-note' }, note) : null,
  );
}

/** "2026-12-03 14:05:09 UTC+01:00 (in 4 min)" with a live countdown. */
const deadlineView = (t, testid) => h('span', {}, fmtTime(t), ' (', h('span', { 'data-deadline': String(t), testid }, countdown(t, nowChain())), ')');

/** A button disabled until chain time `at`: "<wait> available at …", then `ready`. */
function timedButton(b, at, waitLabel, readyLabel) {
  b.dataset.availableAt = String(at);
  b.dataset.waitLabel = waitLabel;
  b.dataset.readyLabel = readyLabel;
  const ready = nowChain() >= at;
  b.disabled = !ready;
  b.textContent = ready ? readyLabel : `${waitLabel} available at ${fmtTime(at)} (${countdown(at, nowChain())})`;
  return b;
}

function requestCard(m, info) {
  const msg = h('p', { class: 'msg', role: 'status', testid: 'card-status' });
  const actions = h('div', { class: 'actions' });
  const out = h('div', { class: 'result' });
  const clip = h('div', { class: 'clip' });
  const card = h(
    'article',
    { class: 'card', testid: 'request-card', 'data-reqc': info.reqc, 'data-status': info.status, 'data-owed': String(info.owed) },
    clip,
    h('h2', {}, h('span', { class: 'mono', title: info.reqc }, `Request ${short(info.reqc)}`), badge(info.status, 'request-state')),
    stepBar(info.status, info.reqc),
    h(
      'dl',
      { class: 'facts' },
      h('dt', {}, 'Evidence'),
      h('dd', {}, hashView(info.ec, 'address')),
      h('dt', {}, 'Reward'),
      h('dd', {}, `${formatEther(info.reward)} ETH`),
      info.status === 'Open' ? [h('dt', {}, 'Owner answers by'), h('dd', {}, deadlineView(info.respondBy, 'respond-countdown'))] : null,
      info.status === 'Responded' ? [h('dt', {}, 'Confirm or dispute by'), h('dd', {}, deadlineView(info.deadline, 'confirm-countdown'))] : null,
      info.status === 'Disputed' && info.deadline ? [h('dt', {}, 'Verifier resolves by'), h('dd', {}, deadlineView(info.deadline))] : null,
      m.txHash ? [h('dt', {}, 'Opened in'), h('dd', {}, hashView(m.txHash, 'tx', 'open-tx'))] : null,
      info.owed > 0n ? [h('dt', {}, 'You are owed'), h('dd', {}, `${formatEther(info.owed)} ETH`)] : null,
    ),
    actions,
    msg,
    out,
  );
  restoreNote(`req:${info.reqc}`, msg);
  // The clip: its thumbnail (from the cloud), time and place (from the Evidence Contract).
  state.chain.evidence(info.ec).then(
    (ev) =>
      clip.replaceChildren(
        thumbnail(state.cloud.thumbnailUrl(info.ec, 'first'), `First frame of the footage recorded ${fmtTime(ev.recordedAt)}`),
        h('p', { class: 'clip-facts', testid: 'clip-facts' }, `Recorded ${fmtTime(ev.recordedAt)} at ${fmtPlace(ev.latitude, ev.longitude)}`),
      ),
    () => {},
  );
  const act = (label, fn, cls = '', testid) => {
    const b = h('button', { type: 'button', class: cls, testid }, label);
    b.addEventListener('click', async () => {
      state.busy.add(info.reqc);
      const buttons = [...actions.querySelectorAll('button')];
      for (const x of buttons) {
        x.disabled = true;
        x.dataset.busy = 'true';
      }
      try {
        await fn();
      } catch (e) {
        setStatus(msg, describeError(e), 'error');
      } finally {
        for (const x of buttons) {
          x.disabled = false;
          delete x.dataset.busy;
        }
        state.busy.delete(info.reqc);
        state.notes.set(`req:${info.reqc}`, { text: msg.textContent, cls: msg.className });
        tick();
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
  const RECOVERED = "Session key recovered; it matches the EC's keyCommitment.";
  const confirmPay = async () => {
    setStatus(msg, `${RECOVERED} Confirm the payment in your wallet…`, 'ok');
    const hash = await state.chain.confirm(info.reqc);
    msg.replaceChildren(`${RECOVERED} Confirmed and paid (transaction `, hashView(hash, 'tx', 'confirm-tx'), '). The cloud now releases the download.');
    msg.className = 'msg ok';
    refreshRequests();
  };

  if (info.status === 'Responded') {
    // Recover and confirm are one action: the key is checked against the EC's keyCommitment in
    // the browser before anything is paid; a bad answer offers Dispute instead.
    act(
      'Recover key and pay',
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
        try {
          await confirmPay();
        } catch (e) {
          // Rejected in the wallet, or a network hiccup: the key is kept; pay again from here.
          setStatus(msg, `${RECOVERED} ${describeError(e)}`, 'error');
          actions.replaceChildren();
          act('Confirm and pay', confirmPay, 'primary', 'confirm');
        }
      },
      'primary',
      'recover',
    );
  }
  if (info.status === 'Completed') {
    act('Download and verify', () => downloadAndVerify(info, recover, msg, out), 'primary', 'download');
  }
  if (info.status === 'Open') {
    const b = act('', async () => {
      const hash = await state.chain.cancel(info.reqc);
      setStatus(msg, `Cancelled (transaction ${hash}); withdraw your reward.`, 'ok');
      refreshRequests();
    }, '', 'cancel');
    timedButton(b, cancelAvailableAt(info), 'Cancel', 'Cancel (the owner did not answer in time)');
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

async function verifyStream(source, totalBytes, key, evidence, out, msg, reqc) {
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
    h('video', { src: url, controls: true, preload: 'metadata', class: 'player', testid: 'player', 'aria-label': `The verified footage recorded ${fmtTime(evidence.recordedAt)}` }),
    h('a', { href: url, download: `dashledger-${evidence.ec}.mp4`, class: 'file-button', testid: 'save' }, 'Save video'),
    bundleOffer(blob, evidence, reqc),
  );
  setStatus(msg, '');
  if (reqc) {
    state.verified.add(reqc);
    const card = out.closest('[data-reqc]');
    card?.querySelector('.stepper-wrap')?.replaceWith(stepBar('Completed', reqc));
  }
  return result;
}

let bundleIds = 0;
/**
 * "Save evidence bundle": the verified clip with the chain's proofs and a report in one zip
 * (`dashledger-bundle/1`, the file `dashledger-requester bundle` writes), made in the browser by
 * bundle.js, loaded only when pressed. The page's own checks run before the file is offered;
 * on any failure nothing is saved and the message names what failed.
 */
function bundleOffer(blob, evidence, reqc) {
  const id = `bundle-status-${++bundleIds}`;
  const hintId = `${id}-hint`;
  const status = h('span', { class: 'status', role: 'status', id, testid: 'bundle-status' });
  const button = h('button', { type: 'button', testid: 'save-bundle', 'aria-describedby': `${hintId} ${id}` }, 'Save evidence bundle');
  button.addEventListener('click', async () => {
    button.disabled = true;
    button.setAttribute('aria-busy', 'true');
    setStatus(status, 'Loading the bundle maker…');
    try {
      const { makeBundle } = await import('./bundle.js');
      const clip = new Uint8Array(await blob.arrayBuffer());
      // The device's records: from the cloud, signed by the wallet like the download.
      const fetchRecords =
        state.cloud && reqc && state.account
          ? () => state.cloud.deviceRecords({ ec: evidence.ec, reqc, account: state.account, chainId: state.config.chainId, sign: (m) => state.chain.signMessage(m) })
          : null;
      const b = await makeBundle({ chain: state.chain, abis, cloud: state.cloud, ec: evidence.ec, reqc, clip, fetchRecords, progress: (t) => setStatus(status, t) });
      const zipUrl = URL.createObjectURL(new Blob([b.zip], { type: 'application/zip' }));
      const a = h('a', { href: zipUrl, download: b.fileName, hidden: true });
      document.body.append(a);
      a.click();
      a.remove();
      setTimeout(() => URL.revokeObjectURL(zipUrl), 60_000);
      setStatus(
        status,
        `Saved ${b.fileName} (${b.files.size} files, ${(b.zip.length / 1048576).toFixed(2)} MiB). The page's checks held: ${b.checks.map((c) => c.name).join(', ')}. Anyone can check it offline with dashledger-verify ${b.fileName}.${b.hasRecords ? '' : " It has no device records (records.bin): dashledger-verify lists them as not checked."}`,
        'ok',
      );
    } catch (e) {
      setStatus(status, `No bundle saved: ${e?.name === 'BundleError' ? e.message : describeError(e)}`, 'error');
    } finally {
      button.disabled = false;
      button.removeAttribute('aria-busy');
    }
  });
  return h(
    'div',
    { class: 'bundle-offer', testid: 'bundle-offer' },
    h('p', { class: 'hint', id: hintId }, 'The evidence bundle is one zip file for a lawyer, insurer or court: this clip, its per-second frame proofs, the Evidence Contract and the chain proofs it was created and verified, the dashcam\'s signed records (your wallet signs the request for them), and a report (HTML and PDF). Anyone can check it with dashledger-verify, without trusting this page or the cloud.'),
    h('div', { class: 'actions' }, button, status),
  );
}

/** The owner's download link from the response, offered when the cloud cannot serve the clip. */
async function ownerLinkNote(info, cloudProblem) {
  const resp = await state.chain.response(info.reqc).catch(() => null);
  const link = resp?.downloadLink;
  const parts = [`${cloudProblem} `];
  if (link && /^https?:\/\//.test(link)) {
    parts.push(
      "The owner's own download link: ",
      h('a', { href: link, rel: 'noopener noreferrer', target: '_blank', testid: 'owner-link' }, link),
      ' — save the sealed file it gives, then open it here with "Open a sealed file from disk…" (it is checked the same way).',
    );
  } else parts.push('The owner gave no other download link; try again later.');
  return parts;
}

async function downloadAndVerify(info, recover, msg, out) {
  const key = await recover();
  const ev = await state.chain.evidence(info.ec);
  // The cloud first: no wallet signature is asked for a download that cannot happen.
  setStatus(msg, 'Checking the cloud…');
  try {
    await state.cloud.health();
  } catch (e) {
    msg.replaceChildren(...(await ownerLinkNote(info, describeError(e))));
    msg.className = 'msg error';
    return;
  }
  setStatus(msg, 'Sign the download request in your wallet…');
  let dl;
  try {
    dl = await state.cloud.download({
      ec: info.ec,
      reqc: info.reqc,
      account: state.account,
      chainId: state.config.chainId,
      sign: (mm) => state.chain.signMessage(mm),
    });
  } catch (e) {
    if (e instanceof CloudError && e.kind === 'down') {
      msg.replaceChildren(...(await ownerLinkNote(info, describeError(e))));
      msg.className = 'msg error';
      return;
    }
    throw e;
  }
  setStatus(msg, 'Downloading and opening chunk by chunk…');
  await verifyStream(dl.response, dl.totalBytes, key, ev, out, msg, info.reqc);
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
    await verifyStream(file, file.size, key, ev2, out, msg, info.reqc);
  } catch (e) {
    setStatus(st, describeError(e), 'error');
  }
});

// --- owner ------------------------------------------------------------------------------------
// No secret key is ever entered here: approving needs the owner's Umbral key and the EC's owner
// key, which the dashcam agent keeps in its keystore (`dashledger-agent approve REQC`). The
// connected wallet, when it owns an EC itself, can decline, claim and withdraw.
$('refresh-owner').addEventListener('click', refreshOwner);

async function refreshOwner() {
  const st = $('owner-status');
  const list = $('owner-list');
  if (!state.account) {
    setStatus(st, 'Connect the owner wallet to see requests for footage it owns.');
    list.replaceChildren();
    return;
  }
  try {
    const [reqs] = await Promise.all([state.chain.requestsFor(state.account), syncChainTime()]);
    const infos = await Promise.all(reqs.map((r) => state.chain.requestInfo(r.reqc)));
    const pending = infos.filter((i) => i.status === 'Open').length;
    setStatus(st, reqs.length ? `${pending} pending · ${reqs.length} in all · updated ${fmtTime(Math.floor(Date.now() / 1000))}` : '');
    if (!reqs.length) {
      list.replaceChildren(h('p', { class: 'empty' }, 'No requests for footage owned by this account. Footage recorded by a dashcam agent is owned by per-accident keys in the agent: use its owner commands.'));
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
    tick();
  } catch (e) {
    setStatus(st, describeError(e), 'error');
  }
}

function ownerCard(r, info) {
  const msg = h('p', { class: 'msg', role: 'status', testid: 'card-status' });
  const actions = h('div', { class: 'actions' });
  const expired = info.status === 'Open' && nowChain() > info.respondBy;
  const card = h(
    'article',
    { class: 'card', testid: 'owner-card', 'data-reqc': info.reqc, 'data-status': info.status, 'data-owed': String(info.owed) },
    h('h2', {}, h('span', { class: 'mono', title: info.reqc }, `Request ${short(info.reqc)}`), badge(info.status, 'request-state')),
    h(
      'dl',
      { class: 'facts' },
      h('dt', {}, 'Evidence'),
      h('dd', {}, hashView(info.ec, 'address')),
      h('dt', {}, 'Requester'),
      h('dd', {}, hashView(info.requester, 'address')),
      h('dt', {}, 'Reward'),
      h('dd', {}, `${formatEther(info.reward)} ETH`),
      info.status === 'Open' ? [h('dt', {}, 'Answer by'), h('dd', {}, deadlineView(info.respondBy, 'answer-countdown'))] : null,
      info.status === 'Responded' ? [h('dt', {}, 'Requester confirms by'), h('dd', {}, deadlineView(info.deadline))] : null,
      info.owed > 0n ? [h('dt', {}, 'You are owed'), h('dd', {}, `${formatEther(info.owed)} ETH`)] : null,
    ),
    info.status === 'Open'
      ? expired
        ? h('p', { class: 'msg error', testid: 'owner-expired' }, `expired: the owner's response deadline passed (${fmtTime(info.respondBy)}); the requester can cancel.`)
        : h('p', { class: 'hint', testid: 'approve-with-agent' }, 'Approve from your dashcam agent: ', h('code', {}, `dashledger-agent approve ${info.reqc}`))
      : null,
    actions,
    msg,
  );
  restoreNote(`owner:${info.reqc}`, msg);
  const act = (label, fn, cls = '', testid) => {
    const b = h('button', { type: 'button', class: cls, testid }, label);
    b.addEventListener('click', async () => {
      state.busy.add(info.reqc);
      const buttons = [...card.querySelectorAll('.actions button')];
      for (const x of buttons) {
        x.disabled = true;
        x.dataset.busy = 'true';
      }
      try {
        await fn();
      } catch (e) {
        setStatus(msg, describeError(e), 'error');
      } finally {
        for (const x of buttons) {
          x.disabled = false;
          delete x.dataset.busy;
        }
        state.busy.delete(info.reqc);
        state.notes.set(`owner:${info.reqc}`, { text: msg.textContent, cls: msg.className });
        tick();
      }
    });
    actions.append(b);
    return b;
  };
  if (info.status === 'Open') {
    act('Decline', async () => {
      const hash = await state.chain.decline(info.reqc);
      setStatus(msg, `Declined (transaction ${hash}).`, 'ok');
      refreshOwner();
    }, 'danger', 'decline');
  }
  if (info.status === 'Responded') {
    const b = act('', async () => {
      const hash = await state.chain.claim(info.reqc);
      setStatus(msg, `Claimed (transaction ${hash}).`, 'ok');
      refreshOwner();
    }, '', 'claim');
    timedButton(b, claimAvailableAt(info), 'Claim', 'Claim (the confirm window is over)');
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
    ...keys.map((k, i) => h('li', {}, h('code', {}, k.publicKey), ` · ${fmtTime(Math.floor(new Date(k.created).getTime() / 1000))}${i === 0 ? ' · current' : ''}`)),
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
  const t0 = Math.floor(now.getTime() / 1000);
  const zone = timeZoneName();
  $('tz').textContent = zone === 'UTC' || zone === 'Etc/UTC' ? '(times in UTC)' : `(times in ${zone}, ${utcOffset(t0)})`;
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
  $('range-hint').textContent = `At most ${state.config.maxRangeDays} days from start to end.`;
  if (state.config.geocoder) {
    $('place-label').textContent = 'Place (a name, or latitude, longitude in degrees)';
    $('place').placeholder = 'Alexanderplatz, Berlin — or 52.521918, 13.413215';
  }
  startPicker().catch((e) => setStatus($('place-note'), `The map could not start: ${e.message}`, 'error'));
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
