// The dashledger cloud's HTTP API (docs/cloud.md): search, thumbnails, signed download.
// Every call goes through `call()`, which turns "no answer" into a CloudError('down').

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

  async health() {
    const r = await this.call('/healthz');
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
      const q = new URLSearchParams({ from: String(from), to: String(to), lat: String(lat), lon: String(lon), radius_m: String(radiusM), limit: '100' });
      if (cursor) q.set('cursor', cursor);
      const body = await (await this.call(`/v1/clips?${q}`)).json();
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
   * Response and its length when known.
   */
  async download({ ec, reqc, account, chainId, sign, offset = 0 }) {
    const url = new URL(`/v1/clips/${ec}/download?reqc=${reqc}`, this.base || location.origin);
    const target = `${url.pathname}${url.search}`;
    const headers = await this.authHeaders({ sign, account, chainId, method: 'GET', target, body: new Uint8Array() });
    if (offset > 0) headers.Range = `bytes=${offset}-`;
    const resp = await this.callAbsolute(url.href, { headers });
    const len = Number(resp.headers.get('content-length') ?? 0) || null;
    return { response: resp, totalBytes: len };
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
