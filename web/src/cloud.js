// The dashledger cloud's HTTP API (docs/cloud.md): search, thumbnails, signed download.
// Every call is described once in ENDPOINTS, builds its request target with `target()` and goes
// through `call()`, which turns "no answer" into a CloudError('down').

import { getAddress } from 'viem';
import { keccakHex } from './sealed.js';

export class CloudError extends Error {
  constructor(kind, message, status = 0) {
    super(message);
    this.name = 'CloudError';
    this.kind = kind; // 'down' | 'http' | 'format'
    this.status = status;
  }
}

/**
 * Every call the page makes to the cloud, as the OpenAPI document (docs/api/openapi.json) names
 * it; tests/unit/openapi.test.js checks this table, and the requests the client below really
 * sends, against that document. `path`: the path template; `query`: the query parameters the
 * page may send; `headers`: request headers besides the signature; `signed`: the x-dashledger-*
 * signature headers (docs/formats.md); `reads`: the response fields the page reads
 * ('items[].ec_address' = field ec_address of every element of items). Error answers are read
 * as ERROR_READS.
 */
export const ENDPOINTS = {
  health: { method: 'GET', path: '/healthz', reads: [] },
  search: {
    method: 'GET',
    path: '/v1/clips',
    query: ['from', 'to', 'lat', 'lon', 'radius_m', 'limit', 'cursor'],
    reads: ['items', 'items[].ec_address', 'items[].recorded_at', 'items[].lat', 'items[].lon', 'items[].status', 'items[].thumbnails', 'items[].thumbnails.first', 'next_cursor'],
  },
  // An <img> source: the JPEG itself.
  thumbnail: { method: 'GET', path: '/v1/clips/{ec}/thumbnails/{which}', reads: [] },
  // The sealed clip, streamed (its length from Content-Length).
  download: { method: 'GET', path: '/v1/clips/{ec}/download', query: ['reqc'], headers: ['Range'], signed: true, reads: [] },
  // The device's signed records around the EC's segment and its standing, for the evidence
  // bundle's records.bin and device.json (signed like the download).
  records: {
    method: 'GET',
    path: '/v1/clips/{ec}/records',
    query: ['reqc'],
    signed: true,
    reads: ['records', 'device', 'device.address', 'device.status', 'device.registered_at', 'device.status_since', 'device.source'],
  },
};

/** The fields of an error answer the page shows (`{ error, message }`). */
export const ERROR_READS = ['message', 'error'];

/**
 * The request target (path and query) of the ENDPOINTS entry `name`: `params` fill the path
 * template, `query` the query string (undefined and null values are left out). A parameter the
 * table does not list is an error, so nothing undeclared is ever sent.
 */
export function target(name, params = {}, query = {}) {
  const ep = ENDPOINTS[name];
  if (!ep) throw new Error(`no cloud endpoint ${name}`);
  const path = ep.path.replace(/\{(\w+)\}/g, (_, k) => {
    if (params[k] === undefined || params[k] === null) throw new Error(`cloud endpoint ${name} needs the path parameter ${k}`);
    return encodeURIComponent(String(params[k]));
  });
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(query)) {
    if (!(ep.query ?? []).includes(k)) throw new Error(`cloud endpoint ${name} (${ep.method} ${ep.path}) has no query parameter ${k}`);
    if (v !== undefined && v !== null) q.set(k, String(v));
  }
  const qs = q.toString();
  return qs ? `${path}?${qs}` : path;
}

/** A fresh nonce: 32 lower-case hex characters (the format allows 16..=64 of [A-Za-z0-9_-]). */
export function newNonce() {
  const b = crypto.getRandomValues(new Uint8Array(16));
  return Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('');
}

/**
 * The canonical text a wallet signs (EIP-191 personal_sign) to authorise one API request
 * (docs/formats.md, "Signed API requests"; protocol/src/auth.rs): it binds the chain, the
 * method, the exact request target, the body, a single-use nonce and an expiry.
 */
export function canonicalText({ chainId, method, path, body = new Uint8Array(), nonce, expires }) {
  if (!/^[A-Za-z0-9_-]{16,64}$/.test(nonce)) throw new Error('nonce must be 16-64 characters of [A-Za-z0-9_-]');
  if (!/^[A-Za-z]+$/.test(method)) throw new Error(`method ${method} must be ASCII letters`);
  if (!path.startsWith('/') || /[\s\x00-\x1f\x7f]/.test(path)) throw new Error(`path ${path} must start with '/' and contain no spaces or control characters`);
  return [
    'dashledger API request v1',
    `chain-id: ${chainId}`,
    `method: ${method.toUpperCase()}`,
    `path: ${path}`,
    `body-keccak256: ${keccakHex(body)}`,
    `nonce: ${nonce}`,
    `expires: ${expires}`,
  ].join('\n');
}

export class Cloud {
  /** @param baseUrl '' for the same origin the page came from */
  constructor(baseUrl = '') {
    this.base = baseUrl.replace(/\/+$/, '');
  }

  get label() {
    return this.base || (typeof location !== 'undefined' ? location.origin : 'the cloud');
  }

  async call(path, init = {}) {
    let resp;
    try {
      resp = await fetch(`${this.base}${path}`, init);
    } catch (e) {
      throw new CloudError('down', `The cloud at ${this.label} is not reachable (${e?.message ?? e}). Try again later.`);
    }
    if (resp.status === 502 || resp.status === 503 || resp.status === 504) {
      throw new CloudError('down', `The cloud at ${this.label} is down (HTTP ${resp.status}). Try again later.`, resp.status);
    }
    if (!resp.ok && resp.status !== 206) {
      let detail = '';
      try {
        const body = await resp.json();
        detail = body?.message ?? body?.error ?? JSON.stringify(body);
      } catch {
        /* not JSON */
      }
      throw new CloudError('http', `The cloud refused ${path.split('?')[0]}: HTTP ${resp.status}${detail ? ` — ${detail}` : ''}`, resp.status);
    }
    return resp;
  }

  /** The ENDPOINTS entry `name` on this cloud: `target(name, params, query)` with its method. */
  async request(name, { params, query, headers } = {}) {
    return this.call(target(name, params, query), { method: ENDPOINTS[name].method, ...(headers ? { headers } : {}) });
  }

  async health() {
    const r = await this.request('health');
    return r.json();
  }

  /**
   * Verified clips recorded in [from, to] (unix seconds) within radiusM metres of (lat, lon)
   * (degrees): GET /v1/clips, following next_cursor up to `max` hits. Returns
   * [{ ec, recordedAt, latitude, longitude, status, thumbnail }] with coordinates in
   * micro-degrees as on-chain.
   */
  async search({ from, to, lat, lon, radiusM, max = 500 }) {
    const out = [];
    let cursor = null;
    do {
      // No `limit`: the cloud's default page fits its own `search.max_page_size`; the cursor
      // brings the rest.
      const query = { from, to, lat, lon, radius_m: radiusM, cursor };
      const body = await (await this.request('search', { query })).json();
      if (!Array.isArray(body?.items)) throw new CloudError('format', 'the cloud sent search results in an unexpected shape (no items)');
      for (const it of body.items) {
        let ec;
        try {
          ec = getAddress(it.ec_address); // checksummed, as the chain's results are
        } catch {
          throw new CloudError('format', `the cloud sent a search result whose ec_address is not an address: ${JSON.stringify(it.ec_address)}`);
        }
        out.push({
          ec,
          recordedAt: Number(it.recorded_at),
          latitude: Math.round(Number(it.lat) * 1e6),
          longitude: Math.round(Number(it.lon) * 1e6),
          status: it.status ? it.status[0].toUpperCase() + it.status.slice(1) : 'Verified',
          thumbnail: it.thumbnails?.first ? this.url(it.thumbnails.first) : null,
        });
      }
      cursor = body.next_cursor ?? null;
    } while (cursor && out.length < max);
    return out;
  }

  /** An absolute URL for a path on this cloud. */
  url(p) {
    return /^https?:\/\//.test(p) ? p : `${this.base}${p}`;
  }

  /** The URL of a listed clip's thumbnail ('first' or 'last'), for an <img>. */
  thumbnailUrl(ec, which = 'first') {
    return this.url(target('thumbnail', { ec, which }));
  }

  /**
   * The four x-dashledger-* headers for one request. `sign(text)` is the wallet's
   * personal_sign; `target` is the path and query exactly as sent.
   */
  async authHeaders({ sign, account, chainId, method, target, body }) {
    const nonce = newNonce();
    const expires = Math.floor(Date.now() / 1000) + 240;
    const text = canonicalText({ chainId, method, path: target, body, nonce, expires });
    const signature = await sign(text);
    return {
      'x-dashledger-address': account,
      'x-dashledger-nonce': nonce,
      'x-dashledger-expires': String(expires),
      'x-dashledger-signature': signature,
    };
  }

  /**
   * Downloads the sealed clip of a Completed request (signed by the requester's wallet) from this
   * cloud's route `GET /v1/clips/{ec}/download?reqc=…`. The owner's `downloadLink` is not
   * followed: a signed request only ever goes to the cloud the page trusts. Returns the streaming
   * Response and its length when known. A cloud URL with a path (`https://host/dashledger`,
   * behind a proxy that strips it) keeps that path in the URL fetched; the signature covers the
   * route as the cloud sees it (`/v1/clips/…`).
   */
  async download({ ec, reqc, account, chainId, sign, offset = 0 }) {
    const { method } = ENDPOINTS.download;
    const signed = target('download', { ec }, { reqc });
    const url = new URL(`${this.base}${signed}`, typeof location !== 'undefined' ? location.origin : undefined);
    const headers = await this.authHeaders({ sign, account, chainId, method, target: signed, body: new Uint8Array() });
    if (offset > 0) headers.Range = `bytes=${offset}-`;
    const resp = await this.callAbsolute(url.href, { method, headers });
    const len = Number(resp.headers.get('content-length') ?? 0) || null;
    return { response: resp, totalBytes: len };
  }

  /**
   * The device's signed evidence records around the EC's segment and the device's standing, for
   * a Completed request (signed by the requester's wallet), from `GET /v1/clips/{ec}/records`:
   * { records: Uint8Array (161 bytes each), device: { address, status, registered_at,
   * status_since, source } } as the cloud recorded it.
   */
  async deviceRecords({ ec, reqc, account, chainId, sign }) {
    const { method } = ENDPOINTS.records;
    const signed = target('records', { ec }, { reqc });
    const url = new URL(`${this.base}${signed}`, typeof location !== 'undefined' ? location.origin : undefined);
    const headers = await this.authHeaders({ sign, account, chainId, method, target: signed, body: new Uint8Array() });
    let body;
    try {
      body = await (await this.callAbsolute(url.href, { method, headers })).json();
    } catch (e) {
      if (e instanceof CloudError) throw e;
      throw new CloudError('format', "the cloud's answer with the device's records is not JSON");
    }
    const hex = body?.records;
    const d = body?.device;
    if (typeof hex !== 'string' || !/^0x([0-9a-fA-F]{2})*$/.test(hex) || !d || typeof d !== 'object') {
      throw new CloudError('format', "the cloud sent the device's records in an unexpected shape");
    }
    const records = new Uint8Array((hex.length - 2) / 2);
    for (let i = 0; i < records.length; i++) records[i] = parseInt(hex.slice(2 + 2 * i, 4 + 2 * i), 16);
    const device = { address: d.address, status: d.status, registered_at: d.registered_at, status_since: d.status_since, source: d.source };
    return { records, device };
  }

  async callAbsolute(url, init) {
    const saved = this.base;
    try {
      this.base = '';
      return await this.call(url, init);
    } finally {
      this.base = saved;
    }
  }
}
