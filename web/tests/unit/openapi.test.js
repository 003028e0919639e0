// The page's calls to the cloud against the cloud's OpenAPI document (docs/api/openapi.json,
// generated from the Rust code): the calls as described once in src/cloud.js (ENDPOINTS) and
// src/config.js (CONFIG_ENDPOINT), and the requests the client really sends (a recording fetch
// whose answers record which fields the page reads). For each call: the path and method exist,
// every path parameter, query parameter and header sent is declared (values by their schemas) and
// the required ones are sent, a signed call is one the document secures with the signature, every
// JSON body field is in the request schema and the required ones are sent, and every response
// field read is in the response schema ($refs followed into components.schemas). The real cloud
// answers these calls in the e2e tests; this is the contract between the two.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Cloud, CloudError, ENDPOINTS, ERROR_READS } from '../../src/cloud.js';
import { CONFIG_ENDPOINT, loadConfig } from '../../src/config.js';

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
const DOC = JSON.parse(readFileSync(path.join(REPO, 'docs/api/openapi.json'), 'utf8'));

/** Every call of the page: ENDPOINTS by name, and the page's configuration as `config`. */
const CALLS = { ...ENDPOINTS, config: CONFIG_ENDPOINT };

/**
 * Fields the page reads that the document does not declare, left to be settled, listed exactly:
 * once the document declares one (or the page stops reading it), this test asks for it to be
 * removed. (map.tileSize, map.maxZoom and geocoder.attribution were found here and added to the
 * cloud's PageConfig.)
 */
const KNOWN_GAPS = [];

// --- the validator --------------------------------------------------------------------------

/** A schema with its $refs followed. */
function deref(doc, s) {
  for (let i = 0; s?.$ref; i++) {
    const m = /^#\/components\/schemas\/(.+)$/.exec(s.$ref);
    if (!m || !doc.components?.schemas?.[m[1]]) throw new Error(`the document has no schema ${s.$ref}`);
    if (i > 32) throw new Error(`$ref loop at ${s.$ref}`);
    s = doc.components.schemas[m[1]];
  }
  return s;
}

/** The name of a schema for messages: its component name, or "inline schema". */
const schemaName = (s) => (s?.$ref ? s.$ref.split('/').pop() : 'inline schema');

/** The shapes a value of `s` may have: `s` and its oneOf / anyOf / allOf branches, followed. */
function branches(doc, s) {
  s = deref(doc, s);
  if (!s) return [];
  return [s, ...[...(s.oneOf ?? []), ...(s.anyOf ?? []), ...(s.allOf ?? [])].flatMap((b) => branches(doc, b))];
}

const typesOf = (s) => (Array.isArray(s.type) ? s.type : s.type ? [s.type] : []);

/** The schema of property `name` of `s` in any of its branches, or null. */
function property(doc, s, name) {
  for (const b of branches(doc, s)) if (b.properties && Object.hasOwn(b.properties, name)) return b.properties[name];
  return null;
}

/** The element schema of an array schema `s`, or null. */
function itemsOf(doc, s) {
  for (const b of branches(doc, s)) if (b.items) return b.items;
  return null;
}

/** Whether the field 'a.b[].c' exists in schema `s` ('b[]': every element of the array b). */
function hasField(doc, s, dotted) {
  let cur = s;
  for (const part of dotted.split('.')) {
    const [, name, array] = /^([^[\]]+)(\[\])?$/.exec(part) ?? [];
    cur = name ? property(doc, cur, name) : null;
    if (cur && array) cur = itemsOf(doc, cur);
    if (!cur) return false;
  }
  return true;
}

/** The names a `reads` entry stands for: 'map.tileSize|tile_size' → map.tileSize (the cloud's), map.tile_size. */
function readNames(entry) {
  const [first, ...others] = entry.split('|');
  const parent = first.includes('.') ? first.slice(0, first.lastIndexOf('.') + 1) : '';
  return [first, ...others.map((o) => parent + o)];
}

/** Problems of one value against a schema (types, patterns, bounds, enums, object fields). */
function valueProblems(doc, s, v, at) {
  const all = branches(doc, s);
  const types = all.flatMap(typesOf);
  const kind = v === null ? 'null' : Array.isArray(v) ? 'array' : typeof v;
  if (types.length) {
    const ok = types.some((t) => t === kind || (t === 'integer' && Number.isInteger(v)) || (t === 'number' && kind === 'number'));
    if (!ok) return [`${at} is ${JSON.stringify(v)}, not ${types.join(' or ')}`];
  }
  if (v === null) return [];
  const out = [];
  for (const b of all) {
    if (b.enum && !b.enum.includes(v)) out.push(`${at} is ${JSON.stringify(v)}, not one of ${b.enum.join(', ')}`);
    if (b.pattern && typeof v === 'string' && !new RegExp(b.pattern).test(v)) out.push(`${at} is ${JSON.stringify(v)}, not matching ${b.pattern}`);
    if (typeof v === 'number') {
      if (b.minimum !== undefined && v < b.minimum) out.push(`${at} is ${v}, below the minimum ${b.minimum}`);
      if (b.maximum !== undefined && v > b.maximum) out.push(`${at} is ${v}, above the maximum ${b.maximum}`);
      if (b.exclusiveMinimum !== undefined && v <= b.exclusiveMinimum) out.push(`${at} is ${v}, not above ${b.exclusiveMinimum}`);
    }
  }
  if (kind === 'object') {
    for (const [k, x] of Object.entries(v)) {
      const p = property(doc, s, k);
      if (!p) out.push(`${at}.${k} is not in the schema (${schemaName(s)})`);
      else out.push(...valueProblems(doc, p, x, `${at}.${k}`));
    }
    for (const b of all) for (const r of b.required ?? []) if (!Object.hasOwn(v, r)) out.push(`${at}.${r} is required (${schemaName(s)}) but missing`);
  }
  if (kind === 'array') {
    const items = itemsOf(doc, s);
    if (items) v.forEach((x, i) => out.push(...valueProblems(doc, items, x, `${at}[${i}]`)));
  }
  return out;
}

/** A query, path or header value (text) as its schema's type, for valueProblems. */
function typed(doc, s, text) {
  const types = branches(doc, s).flatMap(typesOf);
  if ((types.includes('integer') || types.includes('number')) && !types.includes('string')) return text.trim() !== '' && Number.isFinite(Number(text)) ? Number(text) : text;
  if (types.includes('boolean') && (text === 'true' || text === 'false')) return text === 'true';
  return text;
}

function operationOf(doc, call) {
  const item = doc.paths?.[call.path];
  const op = item?.[call.method.toLowerCase()];
  return { item, op, params: op ? [...(item.parameters ?? []), ...(op.parameters ?? [])] : [] };
}

/** Whether a security scheme is the protocol's signed request (x-dashledger-* headers). */
const isSignature = (scheme) => scheme?.type === 'apiKey' && scheme.in === 'header' && /^x-dashledger-/i.test(scheme.name ?? '');

/**
 * The problems of one call description ({ method, path, query, headers, signed, body, reads })
 * against the document, each naming the call and the field.
 */
function checkCall(name, call, doc = DOC, errorReads = ERROR_READS) {
  const where = `${name} (${call.method} ${call.path})`;
  const { item, op, params } = operationOf(doc, call);
  if (!op) return [`${where}: ${item ? `the document has no ${call.method} for this path` : 'the path is not in the document'}`];
  const out = [];
  const declared = (kind) => params.filter((p) => p.in === kind);
  for (const [, k] of call.path.matchAll(/\{(\w+)\}/g)) if (!declared('path').some((p) => p.name === k)) out.push(`${where}: path parameter {${k}} is not declared`);
  const query = call.query ?? [];
  for (const q of query) if (!declared('query').some((p) => p.name === q)) out.push(`${where}: query parameter ${q} is not declared`);
  for (const p of declared('query')) if (p.required && !query.includes(p.name)) out.push(`${where}: required query parameter ${p.name} is not sent`);
  const headers = (call.headers ?? []).map((x) => x.toLowerCase());
  for (const hd of headers) if (!declared('header').some((p) => p.name.toLowerCase() === hd)) out.push(`${where}: header ${hd} is not declared`);
  for (const p of declared('header')) if (p.required && !headers.includes(p.name.toLowerCase())) out.push(`${where}: required header ${p.name} is not sent`);

  const security = op.security ?? doc.security ?? [];
  const schemes = doc.components?.securitySchemes ?? {};
  const optional = !security.length || security.some((r) => !Object.keys(r).length);
  if (call.signed && !security.some((r) => Object.keys(r).some((k) => isSignature(schemes[k])))) out.push(`${where}: the page signs it (x-dashledger-*) but the document declares no signature for it`);
  if (!call.signed && !optional) out.push(`${where}: the document requires ${security.map((r) => Object.keys(r).join('+')).join(' or ')}, which the page does not send`);

  const bodySchema = op.requestBody?.content?.['application/json']?.schema;
  if (call.body) {
    if (!bodySchema) out.push(`${where}: the page sends a JSON body, the document declares none`);
    else {
      for (const f of call.body) if (!hasField(doc, bodySchema, f)) out.push(`${where}: body field ${f} is not in the request schema (${schemaName(bodySchema)})`);
      for (const r of deref(doc, bodySchema).required ?? []) if (!call.body.includes(r)) out.push(`${where}: required body field ${r} is not sent (${schemaName(bodySchema)})`);
    }
  } else if (op.requestBody?.required) out.push(`${where}: the document requires a request body, the page sends none`);

  const responses = Object.entries(op.responses ?? {});
  const okSchemas = responses.filter(([c]) => /^2/.test(c)).map(([, r]) => r.content?.['application/json']?.schema).filter(Boolean);
  for (const entry of call.reads ?? []) {
    const [f] = readNames(entry);
    if (!okSchemas.length) out.push(`${where}: the page reads ${f}, but no success answer is JSON`);
    else if (!okSchemas.some((s) => hasField(doc, s, f))) out.push(`${where}: response field ${f} is not in the response schema (${okSchemas.map(schemaName).join(', ')})`);
  }
  for (const [code, r] of responses) {
    const s = r.content?.['application/json']?.schema;
    if (/^2/.test(code) || !s) continue;
    for (const f of errorReads) if (!hasField(doc, s, f)) out.push(`${where}: error answer ${code} has no field ${f} (${schemaName(s)})`);
  }
  return out;
}

/** A path template as a regular expression, each {parameter} a group. */
const templateRegex = (t) => new RegExp(`^${t.replace(/[.*+?^$()|[\]\\]/g, '\\$&').replace(/\{\w+\}/g, '([^/]+)')}$`);

/** The document's path template a request path matches for `method` (fewest parameters first), or null. */
function templateOf(doc, method, pathname) {
  const hits = Object.keys(doc.paths ?? {}).filter((t) => doc.paths[t][method.toLowerCase()] && templateRegex(t).test(pathname));
  hits.sort((a, b) => (a.match(/\{/g) ?? []).length - (b.match(/\{/g) ?? []).length);
  return hits[0] ?? null;
}

const STANDARD_HEADERS = new Set(['accept', 'content-type', 'content-length', 'cache-control']);

/**
 * The problems of one request the page sent ({ method, url, headers, body }) as call `name`
 * (its table entry `call`): against the document, and against the table (which must say what
 * is sent).
 */
function checkRequest(name, req, call, doc = DOC) {
  const method = (req.method ?? 'GET').toUpperCase();
  const u = new URL(req.url, 'http://page.invalid/');
  const where = `${name} (sent ${method} ${u.pathname}${u.search})`;
  const tpl = templateOf(doc, method, u.pathname);
  if (!tpl) return [`${where}: matches no ${method} path of the document`];
  if (call && tpl !== call.path) return [`${where}: is ${tpl} in the document, not the table's ${call.path}`];
  const { params, op } = operationOf(doc, { method, path: tpl });
  const out = [];
  const declared = (kind) => params.filter((p) => p.in === kind);
  const names = [...tpl.matchAll(/\{(\w+)\}/g)].map((m) => m[1]);
  const values = templateRegex(tpl).exec(u.pathname).slice(1);
  names.forEach((k, i) => {
    const p = declared('path').find((x) => x.name === k);
    if (!p) out.push(`${where}: path parameter {${k}} is not declared`);
    else out.push(...valueProblems(doc, p.schema, typed(doc, p.schema, decodeURIComponent(values[i])), `path parameter ${k}`).map((m) => `${where}: ${m}`));
  });
  for (const [k, v] of u.searchParams) {
    const p = declared('query').find((x) => x.name === k);
    if (!p) out.push(`${where}: query parameter ${k} is not declared`);
    else out.push(...valueProblems(doc, p.schema, typed(doc, p.schema, v), `query parameter ${k}`).map((m) => `${where}: ${m}`));
    if (call && !(call.query ?? []).includes(k)) out.push(`${where}: query parameter ${k} is not in the table`);
  }
  for (const p of declared('query')) if (p.required && !u.searchParams.has(p.name)) out.push(`${where}: required query parameter ${p.name} is not sent`);
  const schemes = doc.components?.securitySchemes ?? {};
  const signed = (op.security ?? []).some((r) => Object.keys(r).some((k) => isSignature(schemes[k])));
  const sentHeaders = [...new Headers(req.headers ?? {}).keys()];
  for (const hd of sentHeaders) {
    if (STANDARD_HEADERS.has(hd)) continue;
    if (/^x-dashledger-/.test(hd)) {
      if (!signed) out.push(`${where}: sends the signature header ${hd}, but the document declares no signature for it`);
      if (call && !call.signed) out.push(`${where}: sends the signature header ${hd}, but the table does not say signed`);
      continue;
    }
    if (!declared('header').some((p) => p.name.toLowerCase() === hd)) out.push(`${where}: header ${hd} is not declared`);
    if (call && !(call.headers ?? []).some((x) => x.toLowerCase() === hd)) out.push(`${where}: header ${hd} is not in the table`);
  }
  if (signed && !sentHeaders.includes('x-dashledger-signature')) out.push(`${where}: the document requires the signature, the page sends no x-dashledger-signature`);
  if (req.body !== undefined && req.body !== null) {
    const s = op.requestBody?.content?.['application/json']?.schema;
    let body;
    try {
      body = JSON.parse(typeof req.body === 'string' ? req.body : new TextDecoder().decode(req.body));
    } catch {
      body = undefined;
    }
    if (!s) out.push(`${where}: sends a body, the document declares no JSON body`);
    else if (body === undefined) out.push(`${where}: sends a body that is not JSON`);
    else out.push(...valueProblems(doc, s, body, 'body').map((m) => `${where}: ${m}`));
  }
  return out;
}

/** Recorded reads the table does not list: each read must be one of the names of a `reads` entry. */
function unlistedReads(name, reads, entries) {
  const listed = new Set(entries.flatMap(readNames));
  return [...reads].filter((r) => !listed.has(r)).map((r) => `${name}: the page reads ${r}, which its table does not list`);
}

// --- the recording fetch --------------------------------------------------------------------

/** `value` wrapped so that every field read is added to `reads` as 'a.b[].c'. */
function recording(value, reads, prefix = '') {
  if (value === null || typeof value !== 'object') return value;
  return new Proxy(value, {
    get(t, k, r) {
      // Symbols, array internals and the promise machinery's `then` are not the page reading.
      if (typeof k === 'symbol' || k === 'then') return Reflect.get(t, k, r);
      if (Array.isArray(t)) return /^\d+$/.test(k) ? recording(t[k], reads, `${prefix}[]`) : Reflect.get(t, k, r);
      const p = prefix ? `${prefix}.${k}` : k;
      reads.add(p);
      return recording(Reflect.get(t, k, r), reads, p);
    },
  });
}

/**
 * Replaces fetch while `fn` runs: `answer(req)` gives { status, json } or { status, bytes,
 * headers }. Returns the requests, each with its answer's status and the fields read from
 * the answer (`reads`).
 */
async function withRecordingFetch(answer, fn) {
  const sent = [];
  const saved = globalThis.fetch;
  globalThis.fetch = async (input, init = {}) => {
    const req = { method: (init.method ?? 'GET').toUpperCase(), url: String(input), headers: new Headers(init.headers ?? {}), body: init.body ?? null, reads: new Set() };
    sent.push(req);
    const a = answer(req);
    const status = a.status ?? 200;
    req.status = status;
    return {
      ok: status >= 200 && status < 300,
      status,
      headers: new Headers(a.headers ?? (a.json !== undefined ? { 'content-type': 'application/json' } : {})),
      json: async () => {
        if (a.json === undefined) throw new SyntaxError('not JSON');
        return recording(structuredClone(a.json), req.reads);
      },
      body: a.bytes ? new Response(a.bytes).body : null,
    };
  };
  try {
    await fn();
  } finally {
    globalThis.fetch = saved;
  }
  return sent;
}

/** The JSON schema of the answer `status` of a call, for checking the test's samples. */
function answerSchema(call, status) {
  return operationOf(DOC, call).op?.responses?.[String(status)]?.content?.['application/json']?.schema;
}

const EC = '0x5FbDB2315678afecb367f032d93F642f64180aa3';
const REQC = '0xa16E02E87b7454126E5E10d957A927A7F5B5d2be';
const hit = (i) => ({
  ec_address: EC.toLowerCase(),
  recorded_at: 1764770000 + i,
  lat: 52.52,
  lon: 13.405,
  status: 'verified',
  thumbnails: { first: `/v1/clips/${EC}/thumbnails/first`, last: `/v1/clips/${EC}/thumbnails/last` },
});
const CONFIG_BASE = {
  chainId: 31337,
  chainName: 'anvil (local)',
  fromBlock: 0,
  contracts: {
    evidenceFactory: EC,
    searchContract: '0xe7f1725E7734CE288F8367e1Bb143E90bb3F0512',
    requestFactory: '0xCafac3dD18aC6c6e92c921884f9E4176737C052c',
    responseContract: REQC,
  },
  cloudUrl: '',
  maxRangeSecs: 31 * 86400,
};
/** What the cloud answers, shaped like the document (checked below). */
const SAMPLES = {
  health: { status: 200, json: { status: 'ok' } },
  searchFirst: { status: 200, json: { items: [hit(0), hit(1)], next_cursor: 'page-2' } },
  searchLast: { status: 200, json: { items: [hit(2)], next_cursor: null } },
  searchRefused: { status: 400, json: { error: 'range_too_long', message: 'the time range is longer than 31 days' } },
  configStyle: {
    status: 200,
    json: { ...CONFIG_BASE, map: { style: 'https://tiles.example/style.json' }, geocoder: { url: 'https://geo.example/search?format=json&q={query}' }, explorerUrl: 'https://explorer.example' },
  },
  configTiles: { status: 200, json: { ...CONFIG_BASE, map: { tiles: ['https://tiles.example/{z}/{x}/{y}.png'], attribution: '© tiles' } } },
  download: { status: 200, bytes: new Uint8Array(64), headers: { 'content-length': '64', 'content-type': 'application/octet-stream' } },
  records: {
    status: 200,
    json: { device: { address: EC.toLowerCase(), status: 'approved', registered_at: 1764760000, status_since: 1764760000, source: 'the operator of this cloud' }, segment_seq: 0, records: `0x${'ab'.repeat(161)}` },
  },
  downloadRange: { status: 206, bytes: new Uint8Array(32), headers: { 'content-length': '32', 'content-type': 'application/octet-stream' } },
};
const SAMPLE_CALL = { health: 'health', searchFirst: 'search', searchLast: 'search', searchRefused: 'search', configStyle: 'config', configTiles: 'config' };

/** Runs every call of the page against the recording fetch; returns [{ name, req }]. */
async function recordAll() {
  const cloud = new Cloud('http://cloud.test/');
  const sign = async () => `0x${'11'.repeat(65)}`;
  const runs = [];
  const run = async (name, answer, fn) => {
    for (const req of await withRecordingFetch(answer, fn)) runs.push({ name, req });
  };
  await run('health', () => SAMPLES.health, () => cloud.health());
  await run(
    'search',
    (req) => (new URL(req.url).searchParams.get('cursor') ? SAMPLES.searchLast : SAMPLES.searchFirst),
    async () => assert.equal((await cloud.search({ from: 1764769000, to: 1764772600, lat: 52.52, lon: 13.405, radiusM: 500 })).length, 3),
  );
  await run('search', () => SAMPLES.searchRefused, () => assert.rejects(cloud.search({ from: 1, to: 2, lat: 0, lon: 0, radiusM: 1 }), (e) => e instanceof CloudError && /longer than 31 days/.test(e.message)));
  await run('download', () => SAMPLES.download, async () => assert.equal((await cloud.download({ ec: EC, reqc: REQC, account: EC, chainId: 31337, sign })).totalBytes, 64));
  await run('download', () => SAMPLES.downloadRange, () => cloud.download({ ec: EC, reqc: REQC, account: EC, chainId: 31337, sign, offset: 32 }));
  await run('records', () => SAMPLES.records, async () => assert.equal((await cloud.deviceRecords({ ec: EC, reqc: REQC, account: EC, chainId: 31337, sign })).records.length, 161));
  await run('config', () => SAMPLES.configStyle, async () => assert.equal((await loadConfig()).map.style, 'https://tiles.example/style.json'));
  await run('config', () => SAMPLES.configTiles, async () => assert.equal((await loadConfig()).map.tiles.length, 1));
  // The thumbnails are <img> sources: requested by the browser, not by fetch.
  for (const which of ['first', 'last']) runs.push({ name: 'thumbnail', req: { method: 'GET', url: cloud.thumbnailUrl(EC, which), reads: new Set() } });
  return runs;
}

// --- the tests ------------------------------------------------------------------------------

test('every call in the tables exists in the OpenAPI document with what the page sends and reads', () => {
  assert.ok(Object.keys(DOC.paths ?? {}).length > 0, 'docs/api/openapi.json has no paths');
  const problems = Object.entries(CALLS).flatMap(([name, call]) => checkCall(name, call));
  const unexpected = problems.filter((p) => !KNOWN_GAPS.includes(p));
  assert.deepEqual(unexpected, [], `the page and docs/api/openapi.json disagree:\n${unexpected.join('\n')}`);
  const settled = KNOWN_GAPS.filter((g) => !problems.includes(g));
  assert.deepEqual(settled, [], `settled, remove from KNOWN_GAPS:\n${settled.join('\n')}`);
});

test('the requests the client really sends match the document and the tables, and it reads only what they list', async () => {
  const runs = await recordAll();
  const problems = [];
  const read = new Map();
  for (const { name, req } of runs) {
    const call = CALLS[name];
    problems.push(...checkRequest(name, req, call));
    const isError = (req.status ?? 200) >= 400;
    problems.push(...unlistedReads(isError ? `${name} (error answer)` : name, req.reads, isError ? ERROR_READS : call.reads));
    if (!isError) read.set(name, new Set([...(read.get(name) ?? []), ...req.reads]));
  }
  assert.deepEqual(problems, [], `the requests the page sends:\n${problems.join('\n')}`);
  // Every call was made, and every entry of a table is really read (no stale entries).
  assert.deepEqual([...new Set(runs.map((r) => r.name))].sort(), Object.keys(CALLS).sort());
  for (const [name, call] of Object.entries(CALLS)) {
    const stale = (call.reads ?? []).filter((e) => !readNames(e).some((n) => read.get(name)?.has(n)));
    assert.deepEqual(stale, [], `${name}: listed in its table but never read`);
  }
  // The search followed next_cursor, the ranged download asked for the rest.
  const searches = runs.filter((r) => r.name === 'search').map((r) => new URL(r.req.url).searchParams);
  assert.deepEqual(searches.map((q) => q.get('cursor')), [null, 'page-2', null]);
  const downloads = runs.filter((r) => r.name === 'download').map((r) => r.req.headers);
  assert.deepEqual(downloads.map((hd) => hd.get('range')), [null, 'bytes=32-']);
  for (const hd of downloads) for (const k of ['address', 'nonce', 'expires', 'signature']) assert.ok(hd.get(`x-dashledger-${k}`), `download: x-dashledger-${k}`);
});

test("the test's sample answers are shaped like the document (so the reads recorded on them mean something)", () => {
  const problems = [];
  for (const [k, call] of Object.entries(SAMPLE_CALL)) {
    const { status, json } = SAMPLES[k];
    const s = answerSchema(CALLS[call], status);
    if (!s) problems.push(`${k}: ${call} declares no JSON answer ${status}`);
    else problems.push(...valueProblems(DOC, s, json, `${k}`));
  }
  assert.deepEqual(problems, []);
});

test('the validator reports a wrong path, method, parameter, header, signature, body field or response field', () => {
  const search = ENDPOINTS.search;
  const has = (problems, re) => assert.ok(problems.some((p) => re.test(p)), `expected ${re} in:\n${problems.join('\n')}`);
  has(checkCall('clipz', { method: 'GET', path: '/v1/clip', reads: [] }), /^clipz \(GET \/v1\/clip\): the path is not in the document$/);
  has(checkCall('post', { ...search, method: 'POST' }), /^post \(POST \/v1\/clips\): the document has no POST for this path$/);
  has(checkCall('search', { ...search, query: [...search.query, 'radius'] }), /^search \(GET \/v1\/clips\): query parameter radius is not declared$/);
  has(checkCall('search', { ...search, query: search.query.filter((q) => q !== 'to') }), /^search \(GET \/v1\/clips\): required query parameter to is not sent$/);
  has(checkCall('search', { ...search, reads: ['items[].ec'] }), /^search \(GET \/v1\/clips\): response field items\[\]\.ec is not in the response schema \(Page\)$/);
  has(checkCall('search', { ...search, reads: ['items[].thumbnails.middle'] }), /response field items\[\]\.thumbnails\.middle is not in/);
  has(checkCall('search', { ...search, reads: ['next_cursor.x'] }), /response field next_cursor\.x is not in/);
  has(checkCall('search', { ...search, headers: ['X-Colour'] }), /^search \(GET \/v1\/clips\): header x-colour is not declared$/);
  has(checkCall('health', { ...ENDPOINTS.health, signed: true }), /^health \(GET \/healthz\): the page signs it .* declares no signature/);
  has(checkCall('download', { ...ENDPOINTS.download, signed: false }), /^download .*: the document requires signedRequest, which the page does not send$/);
  has(checkCall('download', { ...ENDPOINTS.download, reads: ['size'] }), /^download .*: the page reads size, but no success answer is JSON$/);
  has(checkCall('health', ENDPOINTS.health, DOC, ['reason']).concat(checkCall('search', search, DOC, ['reason'])), /^search .*: error answer 400 has no field reason \(ErrorBody\)$/);
  const register = { method: 'POST', path: '/v1/admin/devices', body: ['address', 'colour'], reads: ['address'] };
  has(checkCall('register', register), /^register \(POST \/v1\/admin\/devices\): body field colour is not in the request schema \(RegisterDevice\)$/);
  has(checkCall('register', { ...register, body: ['label'] }), /^register .*: required body field address is not sent \(RegisterDevice\)$/);
  has(checkCall('register', { ...register, body: undefined }), /^register .*: the document requires a request body, the page sends none$/);
  has(checkCall('health', { ...ENDPOINTS.health, body: ['x'] }), /^health .*: the page sends a JSON body, the document declares none$/);

  const sent = (url, extra = {}) => ({ method: 'GET', url, ...extra });
  has(checkRequest('search', sent('http://c/v1/clips?from=1&to=2&radius=5'), search), /^search \(sent GET \/v1\/clips\?from=1&to=2&radius=5\): query parameter radius is not declared$/);
  has(checkRequest('search', sent('http://c/v1/clips?from=1&to=2&radius=5'), search), /query parameter radius is not in the table$/);
  has(checkRequest('search', sent('http://c/v1/clips?from=1'), search), /required query parameter to is not sent$/);
  has(checkRequest('search', sent('http://c/v1/clips?from=1&to=2&lat=north'), search), /query parameter lat is "north", not number$/);
  has(checkRequest('search', sent('http://c/v1/clips?from=1&to=2&lat=91'), search), /query parameter lat is 91, above the maximum 90$/);
  has(checkRequest('search', sent('http://c/v1/clipz?from=1&to=2'), search), /matches no GET path of the document$/);
  has(checkRequest('search', sent(`http://c/v1/clips/${EC}`), search), /is \/v1\/clips\/\{ec\} in the document, not the table's \/v1\/clips$/);
  has(checkRequest('thumbnail', sent('http://c/v1/clips/0x12/thumbnails/first'), ENDPOINTS.thumbnail), /path parameter ec is "0x12", not matching/);
  has(checkRequest('thumbnail', sent(`http://c/v1/clips/${EC}/thumbnails/middle`), ENDPOINTS.thumbnail), /path parameter which is "middle", not matching/);
  has(checkRequest('download', sent(`http://c/v1/clips/${EC}/download?reqc=${REQC}`), ENDPOINTS.download), /the document requires the signature, the page sends no x-dashledger-signature$/);
  has(checkRequest('search', sent('http://c/v1/clips?from=1&to=2', { headers: { 'x-dashledger-signature': '0x' } }), search), /sends the signature header x-dashledger-signature, but the document declares no signature/);
  has(checkRequest('search', sent('http://c/v1/clips?from=1&to=2', { headers: { 'x-colour': 'red' } }), search), /header x-colour is not declared$/);
  const post = (body) => ({ method: 'POST', url: 'http://c/v1/admin/devices', body: JSON.stringify(body) });
  has(checkRequest('register', post({ address: EC, colour: 'red' }), register), /^register \(sent POST \/v1\/admin\/devices\): body\.colour is not in the schema \(RegisterDevice\)$/);
  has(checkRequest('register', post({ label: 'x' }), register), /body\.address is required \(RegisterDevice\) but missing$/);
  has(checkRequest('health', { method: 'GET', url: 'http://c/healthz', body: '{}' }, ENDPOINTS.health), /sends a body, the document declares no JSON body$/);

  // Reads recorded on an answer: a field the table does not list is reported.
  const reads = new Set();
  const body = recording({ items: [{ ec_address: EC, extra: 1 }], next_cursor: null }, reads);
  for (const it of body.items) void [it.ec_address, it.extra];
  assert.deepEqual([...reads].sort(), ['items', 'items[].ec_address', 'items[].extra']);
  assert.deepEqual(unlistedReads('search', reads, search.reads), ['search: the page reads items[].extra, which its table does not list']);
  assert.deepEqual(readNames('map.tileSize|tile_size'), ['map.tileSize', 'map.tile_size']);

  // A sample answer with a field the document does not have.
  assert.deepEqual(valueProblems(DOC, { $ref: '#/components/schemas/Hit' }, { ...hit(0), speed: 3 }, 'hit'), ['hit.speed is not in the schema (Hit)']);
});

test('a cloud URL with a path keeps it for every call; a download signs the route the cloud sees; search leaves the page size to the cloud', async () => {
  const cloud = new Cloud('http://cloud.test/dashledger/');
  const texts = [];
  const sign = async (text) => {
    texts.push(text);
    return `0x${'11'.repeat(65)}`;
  };
  const downloads = await withRecordingFetch(
    () => SAMPLES.download,
    () => cloud.download({ ec: EC, reqc: REQC, account: EC, chainId: 31337, sign }),
  );
  assert.equal(downloads.length, 1);
  const url = new URL(downloads[0].url);
  assert.equal(`${url.origin}${url.pathname}${url.search}`, `http://cloud.test/dashledger/v1/clips/${EC}/download?reqc=${REQC}`);
  assert.equal(texts.length, 1);
  assert.ok(texts[0].split('\n').includes(`path: /v1/clips/${EC}/download?reqc=${REQC}`), texts[0]);
  const searches = await withRecordingFetch(
    () => SAMPLES.searchLast,
    () => cloud.search({ from: 1764769000, to: 1764772600, lat: 52.52, lon: 13.405, radiusM: 500 }),
  );
  const s = new URL(searches[0].url);
  assert.equal(s.pathname, '/dashledger/v1/clips');
  assert.equal(s.searchParams.has('limit'), false, s.search);
});
