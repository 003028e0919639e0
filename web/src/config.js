// The page's deployment configuration: which chain and contracts, where the cloud is.
// Served beside the page as `config.json` (the cloud writes it from its own configuration).
//
// {
//   "chainId": 31337, "chainName": "anvil (local)", "fromBlock": 0,
//   "contracts": { "evidenceFactory": "0x…", "searchContract": "0x…",
//                  "requestFactory": "0x…", "responseContract": "0x…" },
//   "cloudUrl": "",           // optional; '' = the origin that served the page
//   "map": { "style": "https://tiles.example/style.json" }        // optional, see below
//     or { "tiles": ["https://tiles.example/{z}/{x}/{y}.png"], "attribution": "© …", "maxZoom": 19 },
//   "geocoder": { "url": "https://geocoder.example/search?format=json&q={query}" },  // optional
//   "explorerUrl": "https://explorer.example",                     // optional: /tx/…, /address/…
//   "maxRangeDays": 31                                              // the cloud's search.max_range_secs
// }
//
// Without `map` the page shows its bundled basemap (Natural Earth land and borders, served with
// the page) and loads nothing from any other site; without `geocoder` a place is entered as
// coordinates or picked on the map.

import { getAddress } from 'viem';

const CONTRACT_KEYS = ['evidenceFactory', 'searchContract', 'requestFactory', 'responseContract'];

/**
 * The cloud's `GET /config.json` as this file reads it, checked against the OpenAPI document
 * (docs/api/openapi.json) by tests/unit/openapi.test.js like the calls in cloud.js: the fields
 * parseConfig reads from an answer shaped like the document, each by the cloud's name, then `|`
 * and the other spellings of its last part that parseConfig also tries on such an answer (for the
 * deployment file scripts/devnet writes, or a hand-written file).
 */
export const CONFIG_ENDPOINT = {
  method: 'GET',
  path: '/config.json',
  reads: [
    'chainId',
    'chainName',
    'fromBlock',
    'contracts',
    ...CONTRACT_KEYS.map((k) => `contracts.${k}`),
    'cloudUrl',
    'map',
    'map.style',
    'map.tiles',
    'map.tileSize|tile_size',
    'map.attribution',
    'map.maxZoom|max_zoom',
    'geocoder',
    'geocoder.url',
    'geocoder.attribution',
    'explorerUrl|explorer_url',
    'maxRangeSecs|maxRangeDays|max_range_days',
  ],
};

/** Validates a configuration object; throws naming the first bad field. */
export function parseConfig(raw) {
  if (!raw || typeof raw !== 'object') throw new Error('config.json is not a JSON object');
  const chainId = Number(raw.chainId ?? raw.chain_id);
  if (!Number.isSafeInteger(chainId) || chainId <= 0) throw new Error(`config.json: chainId must be a positive integer, got ${JSON.stringify(raw.chainId)}`);
  const src = raw.contracts ?? raw;
  const contracts = {};
  for (const k of CONTRACT_KEYS) {
    const snake = k.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);
    const v = src[k] ?? src[snake] ?? src[k[0].toUpperCase() + k.slice(1)];
    try {
      contracts[k] = getAddress(v);
    } catch {
      throw new Error(`config.json: contracts.${k} must be an address, got ${JSON.stringify(v)}`);
    }
  }
  return {
    ...parseExtras(raw),
    chainId,
    chainName: raw.chainName ?? raw.chain_name ?? `chain ${chainId}`,
    fromBlock: Number(raw.fromBlock ?? raw.from_block ?? raw.startBlock ?? raw.start_block ?? 0),
    contracts,
    cloudUrl: raw.cloudUrl ?? raw.cloud_url ?? '',
  };
}

export async function loadConfig(url = './config.json') {
  let resp;
  try {
    resp = await fetch(url, { cache: 'no-store' });
  } catch (e) {
    throw new Error(`could not load ${url}: the server that served this page is not reachable (${e?.message ?? e})`);
  }
  if (!resp.ok) throw new Error(`could not load ${url}: HTTP ${resp.status}`);
  let raw;
  try {
    raw = await resp.json();
  } catch {
    throw new Error(`${url} is not valid JSON`);
  }
  return parseConfig(raw);
}

const httpUrl = (v, field) => {
  let u;
  try {
    u = new URL(String(v));
  } catch {
    throw new Error(`config.json: ${field} must be an http(s) URL, got ${JSON.stringify(v)}`);
  }
  if (u.protocol !== 'https:' && u.protocol !== 'http:') throw new Error(`config.json: ${field} must be an http(s) URL, got ${JSON.stringify(v)}`);
  return String(v);
};

/** The optional operator settings: tile server, geocoder, block explorer, search range limit. */
export function parseExtras(raw) {
  const out = { map: null, geocoder: null, explorerUrl: '', maxRangeDays: 31 };
  const m = raw.map;
  if (m !== undefined && m !== null) {
    if (typeof m !== 'object') throw new Error('config.json: map must be an object ({ "style": URL } or { "tiles": [URL…] })');
    if (m.style) out.map = { style: httpUrl(m.style, 'map.style') };
    else if (Array.isArray(m.tiles) && m.tiles.length) {
      out.map = {
        tiles: m.tiles.map((t, i) => httpUrl(t, `map.tiles[${i}]`)),
        tileSize: Number(m.tileSize ?? m.tile_size ?? 256),
        attribution: String(m.attribution ?? ''),
        maxZoom: Number(m.maxZoom ?? m.max_zoom ?? 19),
      };
    } else throw new Error('config.json: map needs "style" (a MapLibre style URL) or "tiles" (raster tile URL templates)');
  }
  const g = raw.geocoder;
  if (g !== undefined && g !== null && g !== '') {
    const url = typeof g === 'string' ? g : g.url;
    if (!String(url ?? '').includes('{query}')) throw new Error('config.json: geocoder.url must contain {query}');
    out.geocoder = { url: httpUrl(url, 'geocoder.url'), attribution: String(g.attribution ?? '') };
  }
  const ex = raw.explorerUrl ?? raw.explorer_url;
  if (ex) out.explorerUrl = httpUrl(ex, 'explorerUrl').replace(/\/+$/, '');
  const days = raw.maxRangeDays ?? raw.max_range_days ?? (raw.maxRangeSecs ?? raw.max_range_secs ? Number(raw.maxRangeSecs ?? raw.max_range_secs) / 86400 : undefined);
  if (days !== undefined) {
    const d = Number(days);
    if (!(d > 0)) throw new Error(`config.json: maxRangeDays must be a positive number, got ${JSON.stringify(days)}`);
    out.maxRangeDays = d;
  }
  return out;
}
