// The page's presentation rules (src/view.js, src/map.js geometry, src/config.js operator
// settings): the one date format with its time zone, durations and countdowns, the request's
// step bar in every state, when Cancel and Claim become possible (the contracts' `>` checks),
// the terms shown before the wallet prompt (with the requester's dispute bond), the
// duplicate-request lookup, the search circle, the bundled basemap and the operator's map /
// geocoder / explorer / range settings.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseEther } from 'viem';
import { parseConfig, parseExtras } from '../../src/config.js';
import { distanceM } from '../../src/geo.js';
import { circleRing, mapStyle } from '../../src/map.js';
import {
  cancelAvailableAt,
  claimAvailableAt,
  countdown,
  explorerLink,
  fmtDuration,
  fmtTime,
  LIVE_OR_DONE,
  requestsByEc,
  requestSteps,
  short,
  STEPS,
  termsRows,
  utcOffset,
} from '../../src/view.js';
import { basemapGeoJSON } from '../../vite.config.js';

test('one date format: ISO-like, 24-hour, with the UTC offset of the zone', () => {
  const t = Date.UTC(2026, 11, 3, 13, 5, 9) / 1000;
  assert.equal(fmtTime(t, 'UTC'), '2026-12-03 13:05:09 UTC');
  assert.equal(fmtTime(t, 'Europe/Berlin'), '2026-12-03 14:05:09 UTC+01:00');
  assert.equal(fmtTime(t, 'America/New_York'), '2026-12-03 08:05:09 UTC-05:00');
  // Summer time is the zone's offset on that date.
  assert.equal(utcOffset(Date.UTC(2026, 6, 1) / 1000, 'Europe/Berlin'), 'UTC+02:00');
  assert.equal(fmtTime(Date.UTC(2026, 0, 1, 0, 0, 0) / 1000, 'Asia/Kolkata'), '2026-01-01 05:30:00 UTC+05:30');
});

test('durations and countdowns', () => {
  assert.equal(fmtDuration(42), '42 s');
  assert.equal(fmtDuration(310), '5 min 10 s');
  assert.equal(fmtDuration(3600), '1 h');
  assert.equal(fmtDuration(4 * 3600 + 5 * 60 + 7), '4 h 5 min');
  assert.equal(fmtDuration(2 * 86400 + 3 * 3600), '2 d 3 h');
  assert.equal(fmtDuration(7 * 86400), '7 d');
  assert.equal(fmtDuration(-5), '0 s');
  assert.equal(countdown(1000, 700), 'in 5 min');
  assert.equal(countdown(1000, 1090), '1 min 30 s ago');
});

test('hashes: short form, explorer links only where an explorer is configured', () => {
  const tx = `0x${'ab'.repeat(32)}`;
  assert.equal(short(tx), '0xababab…ababab');
  assert.equal(explorerLink('', 'tx', tx), null);
  assert.equal(explorerLink('https://explorer.example/', 'tx', tx), `https://explorer.example/tx/${tx}`);
  assert.equal(explorerLink('https://explorer.example', 'address', '0x1'), 'https://explorer.example/address/0x1');
});

test('the step bar: requested → owner answered → key recovered and paid → verified, and where it stopped', () => {
  const states = (status, o) => requestSteps(status, o).steps.map((s) => s.state);
  assert.deepEqual(requestSteps('Open').steps.map((s) => s.label), STEPS);
  assert.deepEqual(states('Open'), ['done', 'current', 'todo', 'todo']);
  assert.deepEqual(states('Responded'), ['done', 'done', 'current', 'todo']);
  assert.deepEqual(states('Completed'), ['done', 'done', 'done', 'current']);
  assert.deepEqual(states('Completed', { verified: true }), ['done', 'done', 'done', 'done']);
  assert.deepEqual(states('Declined'), ['done', 'failed', 'todo', 'todo']);
  assert.match(requestSteps('Declined').note, /refunded/);
  assert.deepEqual(states('Cancelled'), ['done', 'failed', 'todo', 'todo']);
  assert.deepEqual(states('Claimed'), ['done', 'done', 'failed', 'todo']);
  // Where the dispute bond went (docs/contracts.md, "The request game").
  assert.match(requestSteps('ResolvedForRequester').note, /reward, the owner's deposit and your dispute bond are yours/);
  assert.match(requestSteps('ResolvedForOwner').note, /owner is paid the reward and your dispute bond/);
  assert.match(requestSteps('DisputeExpired').note, /owner is paid the reward and keeps the deposit; your dispute bond is returned/);
  assert.ok(requestSteps('Disputed').note);
});

test('Cancel after the response deadline, Claim after the confirm window (the contracts refuse `<=`)', () => {
  assert.equal(cancelAvailableAt({ status: 'Open', respondBy: 1000, deadline: 0 }), 1001);
  assert.equal(cancelAvailableAt({ status: 'Responded', respondBy: 1000, deadline: 2000 }), null);
  assert.equal(claimAvailableAt({ status: 'Responded', respondBy: 1000, deadline: 2000 }), 2001);
  assert.equal(claimAvailableAt({ status: 'Open', respondBy: 1000, deadline: 0 }), null);
});

test('the terms before the wallet prompt name the reward, both windows, the minimum deposit and the refunds', () => {
  const rows = Object.fromEntries(termsRows({ minDeposit: parseEther('0.01'), responseWindow: 86400, confirmWindow: 3 * 86400 }, parseEther('0.05')));
  assert.match(rows.Reward, /^0\.05 ETH/);
  assert.match(rows["Owner's response window"], /^1 d: .*deposit of at least 0\.01 ETH/);
  assert.match(rows['Confirm or dispute window'], /^3 d after the owner answers/);
  assert.match(rows.Refunds, /declines.*cancel.*dispute.*claim/s);
  assert.deepEqual(termsRows(null, null), []);
});

test("the terms name the requester's dispute bond: how much, when it is paid, when it comes back or is lost", () => {
  const terms = { minDeposit: parseEther('0.01'), disputeBond: parseEther('0.005'), responseWindow: 86400, confirmWindow: 2 * 86400, resolveWindow: 3 * 86400 };
  const list = termsRows(terms, parseEther('0.05'));
  assert.deepEqual(
    list.map(([k]) => k),
    ['Reward', "Owner's response window", 'Confirm or dispute window', 'Dispute bond', 'Refunds'],
  );
  const rows = Object.fromEntries(list);
  // B = minDeposit / 2, paid with `dispute` (the page sends the REQC's disputeBond()).
  assert.match(rows['Dispute bond'], /^0\.005 ETH \(half the minimum deposit\), paid only if you dispute, with the dispute transaction\./);
  // Back if the verifier rules for the requester or not at all (resolveBy); lost if it rules for the owner.
  assert.match(rows['Dispute bond'], /Returned to you if the verifier finds the owner's key fragment wrong, or does not rule within 3 d \(the owner is then paid the reward and keeps the deposit\)/);
  assert.match(rows['Dispute bond'], /lost to the owner if the verifier finds the key fragment valid\.$/);
  assert.match(rows.Refunds, /If a dispute goes your way, the reward and the owner's deposit, and your bond back\./);
  // Terms without a bond: no bond row.
  assert.ok(!termsRows({ ...terms, disputeBond: undefined }, null).some(([k]) => k === 'Dispute bond'));
});

test('the account\'s requests by Evidence Contract, for the duplicate-request guard', () => {
  const ec = '0xAbC0000000000000000000000000000000000001';
  const mine = [
    { reqc: '0x01', ec },
    { reqc: '0x02', ec: ec.toLowerCase() },
    { reqc: '0x03', ec: '0x0000000000000000000000000000000000000002' },
  ];
  const by = requestsByEc(mine, [{ status: 'Completed' }, { status: 'Cancelled' }, null]);
  assert.deepEqual(by.get(ec.toLowerCase()), [
    { reqc: '0x01', status: 'Completed' },
    { reqc: '0x02', status: 'Cancelled' },
  ]);
  assert.deepEqual(by.get('0x0000000000000000000000000000000000000002'), [{ reqc: '0x03', status: 'Open' }]);
  // A refunded request does not make another one a waste; a live or paid one does.
  assert.equal(LIVE_OR_DONE.has('Cancelled'), false);
  assert.equal(LIVE_OR_DONE.has('Declined'), false);
  for (const s of ['Open', 'Responded', 'Completed', 'Claimed']) assert.ok(LIVE_OR_DONE.has(s), s);
});

test('the search circle is the radius all round', () => {
  const ring = circleRing(52.52, 13.41, 500, 32);
  assert.equal(ring.length, 33);
  assert.deepEqual(ring[0], ring[32]);
  for (const [lon, lat] of ring) assert.ok(Math.abs(distanceM(52.52, 13.41, lat, lon) - 500) < 1, `${distanceM(52.52, 13.41, lat, lon)} m`);
});

test('the bundled basemap: Natural Earth land and borders, small, no other site in the default style', () => {
  const text = basemapGeoJSON();
  assert.ok(text.length < 1_300_000, `${text.length} bytes`);
  const fc = JSON.parse(text);
  assert.deepEqual([...new Set(fc.features.map((f) => f.properties.kind))].sort(), ['border', 'land']);
  const style = mapStyle(null, 'http://127.0.0.1:8080/app/');
  assert.equal(style.sources.ne.data, 'http://127.0.0.1:8080/app/basemap/natural-earth-50m.geojson');
  assert.deepEqual(Object.keys(style.sources), ['ne']);
  assert.ok(!('glyphs' in style) && !('sprite' in style), 'no fonts or sprites to fetch');
  // An operator's tile server or style replaces it.
  assert.equal(mapStyle({ style: 'https://tiles.example/style.json' }), 'https://tiles.example/style.json');
  const raster = mapStyle({ tiles: ['https://tiles.example/{z}/{x}/{y}.png'], attribution: '© tiles', tileSize: 256, maxZoom: 19 });
  assert.deepEqual(raster.sources.tiles.tiles, ['https://tiles.example/{z}/{x}/{y}.png']);
});

test('config.json: the operator\'s map, geocoder, explorer and range limit; defaults load nothing from elsewhere', () => {
  const base = { chainId: 31337, contracts: Object.fromEntries(['evidenceFactory', 'searchContract', 'requestFactory', 'responseContract'].map((k) => [k, `0x${'12'.repeat(20)}`])) };
  const c = parseConfig(base);
  assert.deepEqual([c.map, c.geocoder, c.explorerUrl, c.maxRangeDays], [null, null, '', 31]);
  const full = parseConfig({
    ...base,
    map: { tiles: ['https://tiles.example/{z}/{x}/{y}.png'], attribution: '© x' },
    geocoder: { url: 'https://geo.example/search?format=json&q={query}' },
    explorer_url: 'https://explorer.example/',
    max_range_secs: 7 * 86400,
  });
  assert.equal(full.map.tiles[0], 'https://tiles.example/{z}/{x}/{y}.png');
  assert.equal(full.geocoder.url, 'https://geo.example/search?format=json&q={query}');
  assert.equal(full.explorerUrl, 'https://explorer.example');
  assert.equal(full.maxRangeDays, 7);
  assert.throws(() => parseExtras({ geocoder: { url: 'https://geo.example/search' } }), /must contain \{query\}/);
  assert.throws(() => parseExtras({ map: { style: 'javascript:alert(1)' } }), /map\.style must be an http\(s\) URL/);
  assert.throws(() => parseExtras({ map: {} }), /needs "style".*or "tiles"/);
  assert.throws(() => parseExtras({ maxRangeDays: 0 }), /positive number/);
});
