// The page as a person meets it (issue 18), in Debian's Chromium against a real anvil with the
// real contracts: the map (bundled basemap, nothing loaded from other sites, click / drag / keys,
// the radius handle, pins linked to the cards, search again after a move, the user's location,
// place names only with an operator's geocoder), field errors, the range limit, the time zone,
// tabs and map from the keyboard, the focus ring's contrast, the phone layout, the guided request
// card (step bar, countdowns, explorer link) and axe-core on every screen (0 serious or critical
// violations). Screenshots: web/test-results/ux-*.png.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import { deploy, devAccount, startAnvil } from '../support/devnet.js';
import { createAccident } from '../support/evidence.js';
import { launch } from '../support/browser.js';
import { serveDist } from '../support/server.js';
import { assertAccessible, DIST, localInput, openPage, pageConfig, screenshots } from '../support/page.js';

const snap = screenshots('ux-');
const requester = devAccount(2);
const owner = devAccount(1);
const PLACE = { lat: 52.521918, lon: 13.413215 }; // Berlin, Alexanderplatz
const EXPLORER = 'https://explorer.invalid';

let anvil, d, acc, site, geoSite, geocoder, br, now;
const geocoderQueries = [];

before(async () => {
  anvil = await startAnvil();
  d = await deploy(anvil);
  now = Number((await d.pub.getBlock()).timestamp);
  acc = await createAccident(d, owner, { ...PLACE, recordedAt: now - 1800, size: 4000 });
  // An operator's geocoder (Nominatim-style JSON), on another origin as a real one would be.
  geocoder = createServer((req, res) => {
    const q = new URL(req.url, 'http://x').searchParams.get('q');
    geocoderQueries.push(q);
    res.writeHead(200, { 'content-type': 'application/json', 'access-control-allow-origin': '*' });
    res.end(JSON.stringify(/alexanderplatz/i.test(q) ? [{ lat: String(PLACE.lat), lon: String(PLACE.lon), display_name: 'Alexanderplatz, Berlin' }] : []));
  });
  await new Promise((r) => geocoder.listen(0, '127.0.0.1', r));
  const geoUrl = `http://127.0.0.1:${geocoder.address().port}/search?format=json&q={query}`;
  site = await serveDist(DIST, pageConfig(anvil, d, { explorerUrl: EXPLORER }));
  geoSite = await serveDist(DIST, pageConfig(anvil, d, { geocoder: { url: geoUrl } }));
  br = await launch();
});

after(async () => {
  await br?.close();
  await site?.close();
  await geoSite?.close();
  await new Promise((r) => (geocoder ? geocoder.close(r) : r()));
  await anvil?.stop();
});

async function openMapPage(url = site.url, opts = {}) {
  const p = await openPage(br, anvil, url, requester.address, { connect: true, ...opts });
  await p.getByTestId('map').and(p.locator('[data-loaded="true"]')).waitFor({ timeout: 30000 });
  await p.getByTestId('from').fill(localInput(now - 3600));
  await p.getByTestId('to').fill(localInput(now + 600));
  return p;
}
/** Waits for the search status to contain `text`; a timeout names what it says instead. */
async function waitStatus(p, text) {
  try {
    await p.getByTestId('search-status').filter({ hasText: text }).waitFor({ timeout: 15000 });
  } catch (e) {
    throw new Error(`search status never said "${text}": it says "${await p.getByTestId('search-status').textContent()}" (place-error: "${await p.getByTestId('place-error').textContent()}", to-error: "${await p.getByTestId('to-error').textContent()}")`, { cause: e });
  }
}
const placeValue = async (p) => (await p.getByTestId('place').inputValue()).split(',').map(Number);

let page;
test('the map: bundled basemap only, nothing loaded from another site', async () => {
  const origins = new Set();
  page = await openPage(br, anvil, site.url, requester.address, { connect: false });
  page.on('request', (r) => origins.add(new URL(r.url()).origin));
  await page.reload();
  await page.waitForSelector('body[data-ready="true"]');
  await page.getByTestId('map').and(page.locator('[data-loaded="true"]')).waitFor({ timeout: 30000 });
  assert.equal(await page.getByTestId('picker-box').getAttribute('data-kind'), 'map');
  // The basemap's land and borders came with the page.
  const basemap = await page.evaluate(async () => (await fetch('basemap/natural-earth-50m.geojson')).json());
  assert.deepEqual([...new Set(basemap.features.map((f) => f.properties.kind))].sort(), ['border', 'land']);
  const pageOrigin = new URL(site.url).origin;
  origins.delete('null'); // blob: and data: URLs (the map's worker)
  assert.deepEqual([...origins], [pageOrigin], 'every request went to the page\'s own origin');
  await page.getByTestId('connect').click();
  await page.getByTestId('network').filter({ hasText: String(anvil.chainId) }).waitFor();
  await page.getByTestId('from').fill(localInput(now - 3600));
  await page.getByTestId('to').fill(localInput(now + 600));
  await snap(page, 'map-world');
  await assertAccessible(page, 'find: the map before a place is chosen');
});

test('field errors: on the field, focused, old results cleared; the 31-day limit; the time zone shown', async () => {
  const p = page;
  assert.match(await p.getByTestId('tz').textContent(), /^\(times in (UTC|.+, UTC[+-]\d\d:\d\d)\)$/);
  assert.match(await p.getByTestId('range-hint').textContent(), /At most 31 days/);
  // No place yet: named on the place field, which gets the focus.
  await p.getByTestId('search').click();
  await p.getByTestId('place-error').filter({ hasText: 'choose the place' }).waitFor();
  assert.equal(await p.getByTestId('place').getAttribute('aria-invalid'), 'true');
  assert.match(await p.getByTestId('place').getAttribute('aria-describedby'), /\bplace-error\b/);
  assert.equal(await p.evaluate(() => document.activeElement?.id), 'place');
  await snap(p, 'field-error-place');
  await assertAccessible(p, 'find: a field error');
  // A good search, then a range over 31 days: refused before searching, old results gone.
  await p.getByTestId('place').fill(`${PLACE.lat}, ${PLACE.lon}`);
  await p.getByTestId('search').click();
  await waitStatus(p, '1 result');
  assert.equal(await p.getByTestId('place').getAttribute('aria-invalid'), null);
  assert.equal(await p.getByTestId('result-card').count(), 1);
  await p.getByTestId('from').fill(localInput(now - 40 * 86400));
  await p.getByTestId('search').click();
  await p.getByTestId('to-error').filter({ hasText: 'search at most 31 days at a time' }).waitFor();
  assert.equal(await p.getByTestId('to').getAttribute('aria-invalid'), 'true');
  assert.equal(await p.evaluate(() => document.activeElement?.id), 'to');
  assert.equal(await p.getByTestId('result-card').count(), 0, 'the old results were cleared');
  assert.equal(await p.getByTestId('pin').count(), 0, 'and their pins');
  // End before start: named on "To".
  await p.getByTestId('from').fill(localInput(now + 3600));
  await p.getByTestId('search').click();
  await p.getByTestId('to-error').filter({ hasText: 'before its start' }).waitFor();
  await p.getByTestId('from').fill(localInput(now - 3600));
  // A radius out of range: on the radius field.
  await p.getByTestId('radius').fill('5');
  await p.getByTestId('search').click();
  await p.getByTestId('radius-error').filter({ hasText: 'between 10 m and 100 km' }).waitFor();
  assert.equal(await p.evaluate(() => document.activeElement?.id), 'radius');
  await p.getByTestId('radius').fill('500');
  await p.getByTestId('search').click();
  await waitStatus(p, '1 result');
  assert.equal(await p.getByTestId('to').getAttribute('aria-invalid'), null);
});

test('the map: pins linked to the cards; click, keys and the radius handle move the search, which runs again', async () => {
  const p = page;
  const pin = p.getByTestId('pin');
  await pin.waitFor();
  assert.equal(await pin.count(), 1);
  assert.equal(await pin.getAttribute('data-ec'), acc.ec);
  assert.match(await pin.getAttribute('aria-label'), /Footage recorded \d{4}-\d\d-\d\d .*: show its card/);
  await pin.click();
  const card = p.getByTestId('result-card').first();
  assert.match(await card.getAttribute('class'), /\bactive\b/);
  assert.equal(await card.evaluate((c) => c === document.activeElement), true);
  await snap(p, 'map-results');
  await assertAccessible(p, 'find: results on the map');
  // Keyboard: the centre marker moves by a fifth of the radius per arrow key, and searches again.
  const [lat0, lon0] = await placeValue(p);
  await p.getByTestId('map-centre').focus();
  await p.keyboard.press('ArrowRight');
  const [lat1, lon1] = await placeValue(p);
  assert.ok(Math.abs(lat1 - lat0) < 1e-6, `latitude kept (${lat0} → ${lat1})`);
  const eastM = (lon1 - lon0) * (Math.PI / 180) * 6371008.8 * Math.cos((lat0 * Math.PI) / 180);
  assert.ok(Math.abs(eastM - 100) < 2, `moved ${eastM} m east`);
  await p.getByTestId('search-status').filter({ hasText: 'Searching' }).or(p.getByTestId('search-status').filter({ hasText: '1 result' })).waitFor();
  // The radius handle: arrow keys, then a mouse drag.
  await p.getByTestId('radius-handle').focus();
  await p.keyboard.press('ArrowUp');
  assert.equal(await p.getByTestId('radius').inputValue(), '550');
  const hb = await p.getByTestId('radius-handle').boundingBox();
  await p.mouse.move(hb.x + hb.width / 2, hb.y + hb.height / 2);
  await p.mouse.down();
  await p.mouse.move(hb.x + hb.width / 2 + 60, hb.y + hb.height / 2, { steps: 6 });
  await p.mouse.up();
  const r = Number(await p.getByTestId('radius').inputValue());
  assert.ok(r > 600, `the radius grew to ${r} m`);
  // A click on the map moves the centre there.
  const mb = await p.getByTestId('map').boundingBox();
  await p.mouse.click(mb.x + mb.width * 0.25, mb.y + mb.height * 0.5);
  const [, lon2] = await placeValue(p);
  assert.ok(lon2 < lon1, `the click west of the centre moved it west (${lon1} → ${lon2})`);
  // The map itself: arrow keys pan, Enter puts the centre in the middle of the map.
  const canvas = p.locator('.maplibregl-canvas');
  await canvas.focus();
  await p.keyboard.press('ArrowLeft');
  await p.waitForTimeout(400);
  await p.keyboard.press('Enter');
  const [, lon3] = await placeValue(p);
  assert.notEqual(lon3, lon2);
  // Back to the accident: searching again finds it.
  await p.getByTestId('place').fill(`${PLACE.lat}, ${PLACE.lon}`);
  await p.getByTestId('radius').fill('500');
  await p.getByTestId('search').click();
  await waitStatus(p, '1 result');
  await snap(p, 'map-keyboard');
});

test('the user\'s location, on request only', async () => {
  const where = { latitude: 48.2082, longitude: 16.3738 }; // Vienna
  const p = await openMapPage(site.url, { contextOptions: { geolocation: { ...where, accuracy: 20 }, permissions: ['geolocation'] } });
  assert.equal(await p.getByTestId('place').inputValue(), '', 'no location is taken without asking');
  await p.getByTestId('locate').click();
  await p.getByTestId('place-note').filter({ hasText: 'Centre set to your location' }).waitFor();
  const [lat, lon] = await placeValue(p);
  assert.ok(Math.abs(lat - where.latitude) < 1e-5 && Math.abs(lon - where.longitude) < 1e-5, `${lat}, ${lon}`);
  await snap(p, 'my-location');
  await p.context().close();
});

test('place names: refused without a geocoder, looked up where the operator configured one', async () => {
  const p = page;
  await p.getByTestId('place').fill('Alexanderplatz');
  await p.getByTestId('search').click();
  await p.getByTestId('place-error').filter({ hasText: 'this site has no place-name search' }).waitFor();
  assert.equal(geocoderQueries.length, 0);
  const g = await openMapPage(geoSite.url);
  assert.match(await g.locator('#place-label').textContent(), /a name, or latitude, longitude/);
  await g.getByTestId('place').fill('Alexanderplatz');
  await g.getByTestId('search').click();
  await waitStatus(g, '1 result');
  assert.deepEqual(geocoderQueries, ['Alexanderplatz']);
  assert.match(await g.getByTestId('place-note').textContent(), /Found: Alexanderplatz, Berlin/);
  await g.getByTestId('place').fill('Nowhere at all');
  await g.getByTestId('search').click();
  await g.getByTestId('place-error').filter({ hasText: 'no place called "Nowhere at all" found' }).waitFor();
  await snap(g, 'geocoder');
  await g.context().close();
  await page.getByTestId('place').fill(`${PLACE.lat}, ${PLACE.lon}`);
});

test('tabs: arrow keys, Home and End; the focus ring has at least 3:1 contrast', async () => {
  const p = page;
  await p.getByTestId('tab-find').click();
  await p.getByTestId('tab-find').focus();
  await p.keyboard.press('ArrowRight');
  assert.equal(await p.getByTestId('tab-requests').getAttribute('aria-selected'), 'true');
  assert.equal(await p.evaluate(() => document.activeElement?.id), 'tab-requests');
  assert.equal(await p.getByTestId('tab-requests').getAttribute('tabindex'), '0');
  assert.equal(await p.getByTestId('tab-find').getAttribute('tabindex'), '-1');
  assert.equal(await p.locator('#requests').isVisible(), true);
  await p.keyboard.press('End');
  assert.equal(await p.evaluate(() => document.activeElement?.id), 'tab-keys');
  await p.keyboard.press('ArrowRight');
  assert.equal(await p.evaluate(() => document.activeElement?.id), 'tab-find', 'wraps around');
  await p.keyboard.press('ArrowLeft');
  assert.equal(await p.evaluate(() => document.activeElement?.id), 'tab-keys');
  await p.keyboard.press('Home');
  assert.equal(await p.evaluate(() => document.activeElement?.id), 'tab-find');
  // Focus ring: the outline colour against the background behind it, by the WCAG formula.
  for (const id of ['tab-find', 'search', 'place', 'locate', 'reward']) {
    const target = id === 'reward' ? p.getByTestId('result-card').first().getByTestId('reward') : p.getByTestId(id);
    if (id === 'reward') {
      await p.getByTestId('tab-find').click();
      await p.getByTestId('search').click();
      await waitStatus(p, '1 result');
    }
    // Keyboard focus (focus-visible): Tab into the element from the one before it.
    await target.focus();
    await p.keyboard.press('Shift+Tab');
    await p.keyboard.press('Tab');
    assert.equal(await target.evaluate((el) => el === document.activeElement), true, `${id} focused by Tab`);
    const ratio = await target.evaluate((el) => {
      const cs = getComputedStyle(el);
      const rgb = (c) => c.match(/[\d.]+/g).slice(0, 3).map(Number);
      const lum = ([r, g, b]) => [r, g, b].map((v) => ((v /= 255) <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4)).reduce((a, v, i) => a + v * [0.2126, 0.7152, 0.0722][i], 0);
      let bgEl = el.parentElement;
      let bg = 'rgba(0, 0, 0, 0)';
      while (bgEl && (bg = getComputedStyle(bgEl).backgroundColor).endsWith(', 0)')) bgEl = bgEl.parentElement;
      if (bg.endsWith(', 0)')) bg = 'rgb(255, 255, 255)';
      const [a, b] = [lum(rgb(cs.outlineColor)), lum(rgb(bg))].sort((x, y) => y - x);
      return { ratio: (a + 0.05) / (b + 0.05), style: cs.outlineStyle, width: parseFloat(cs.outlineWidth) };
    });
    assert.equal(ratio.style, 'solid', `${id} shows a focus ring`);
    assert.ok(ratio.width >= 2, `${id}: ring ${ratio.width}px`);
    assert.ok(ratio.ratio >= 3, `${id}: focus ring contrast ${ratio.ratio.toFixed(2)}:1`);
  }
  await snap(p, 'focus-ring');
});

test('the guided request card: thumbnail slot, time and place, step bar, countdown, Cancel time, explorer link; axe on every tab', async () => {
  const p = page;
  await p.getByTestId('tab-find').click();
  await p.getByTestId('search').click();
  await waitStatus(p, '1 result');
  const card = p.getByTestId('result-card').first();
  // The terms before the wallet prompt.
  assert.match(await card.getByTestId('terms').textContent(), /Owner's response window.*Confirm or dispute window.*Refunds/s);
  await card.getByTestId('reward').fill('0.01');
  await card.getByTestId('request').click();
  await card.getByTestId('new-reqc').waitFor();
  const reqc = (await card.getByTestId('new-reqc').textContent()).trim();
  await p.getByTestId('tab-requests').click();
  const rc = p.locator(`[data-reqc="${reqc}"]`);
  await rc.getByTestId('request-state').filter({ hasText: 'Open' }).waitFor();
  await rc.getByTestId('clip-facts').waitFor();
  assert.match(await rc.getByTestId('clip-facts').textContent(), /^Recorded \d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC.* at 52\.521918, 13\.413215$/);
  assert.deepEqual(await rc.getByTestId('steps').locator('li').evaluateAll((li) => li.map((l) => l.textContent.replace(/^[^:]*: /, ''))), ['Requested', 'Owner answered', 'Key recovered and paid', 'Verified']);
  assert.match(await rc.getByTestId('respond-countdown').textContent(), /^in \d/);
  assert.equal(await rc.getByTestId('cancel').isDisabled(), true);
  assert.match(await rc.getByTestId('cancel').textContent(), /^Cancel available at /);
  const tx = await rc.getByTestId('open-tx').getAttribute('data-full');
  assert.match(tx, /^0x[0-9a-f]{64}$/);
  assert.match(await rc.getByTestId('open-tx').textContent(), /^0x[0-9a-f]{6}…[0-9a-f]{6}$/);
  assert.equal(await rc.getByTestId('open-tx-link').getAttribute('href'), `${EXPLORER}/tx/${tx}`);
  await snap(p, 'request-card');
  await assertAccessible(p, 'my requests: a request card');
  // The duplicate-request dialog.
  await p.getByTestId('tab-find').click();
  await p.getByTestId('search').click();
  await card.getByTestId('already-requested').waitFor();
  await card.getByTestId('request').click();
  await p.getByTestId('confirm-dialog').waitFor();
  await snap(p, 'duplicate-dialog');
  await assertAccessible(p, 'find: the duplicate-request dialog');
  await p.getByTestId('confirm-cancel').click();
  await card.getByTestId('request-status').filter({ hasText: 'Nothing sent' }).waitFor();
  // Owner and Keys tabs.
  await p.getByTestId('tab-owner').click();
  await p.getByTestId('owner-list').filter({ hasText: 'No requests for footage owned by this account' }).waitFor();
  await snap(p, 'owner-tab');
  await assertAccessible(p, 'owner tab');
  await p.getByTestId('tab-keys').click();
  await snap(p, 'keys-tab');
  await assertAccessible(p, 'keys tab');
});

test('phone (390 × 844): Search is on the first screen; axe on the phone layout', async () => {
  const p = await openPage(br, anvil, site.url, requester.address, { connect: true, contextOptions: { viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true } });
  await p.getByTestId('map').waitFor({ timeout: 30000 });
  const box = await p.getByTestId('search').boundingBox();
  assert.ok(box.y + box.height <= 844, `Search ends at ${Math.round(box.y + box.height)} px, the screen at 844 px`);
  const wide = await p.evaluate(() =>
    [...document.querySelectorAll('body *')]
      .filter((e) => e.getBoundingClientRect().right > 391 && e.offsetParent !== null)
      .map((e) => `${e.tagName.toLowerCase()}${e.id ? `#${e.id}` : ''}.${e.className} (${Math.round(e.getBoundingClientRect().right)})`)
      .slice(0, 8),
  );
  assert.deepEqual(wide, [], 'no sideways scrolling');
  await p.screenshot({ path: `${DIST}/../test-results/ux-phone-first-screen.png` });
  await assertAccessible(p, 'phone: find');
  await p.getByTestId('from').fill(localInput(now - 3600));
  await p.getByTestId('to').fill(localInput(now + 600));
  await p.getByTestId('place').fill(`${PLACE.lat}, ${PLACE.lon}`);
  await p.getByTestId('search').click();
  await waitStatus(p, '1 result');
  await snap(p, 'phone-results');
  await assertAccessible(p, 'phone: results');
  await p.context().close();
});
