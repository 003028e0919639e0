// The search area picker: a MapLibre GL JS map (loaded on demand) with the search centre, a
// draggable radius handle and the results as pins, or — where WebGL is unavailable — a plain SVG
// disc with the same keyboard controls. It owns no search state: it reports what the user
// moved through `onChange` and shows what it is given.
//
// The basemap is the page's own (Natural Earth land and borders, built into the page at build
// time: vite.config.js); an operator can set a tile server in config.json (`map`).
//
// Keyboard: the centre marker and the radius handle are buttons; on the centre, arrow keys move
// the centre by a fifth of the radius (Shift: a whole radius); on the handle, arrow keys change
// the radius by 10 % (Shift: 50 %); on the map itself arrow keys pan and +/- zoom (MapLibre).

import { distanceM, formatDistance, fromMicro, moveM, offsetM } from './geo.js';

export const BASEMAP_URL = 'basemap/natural-earth-50m.geojson';
export const MIN_RADIUS = 10;
export const MAX_RADIUS = 100000;
const clampRadius = (r) => Math.min(MAX_RADIUS, Math.max(MIN_RADIUS, Math.round(r / 10) * 10));

/** The MapLibre style: the operator's (config.map) or the bundled basemap. */
export function mapStyle(mapConfig, baseUrl) {
  if (mapConfig?.style) return mapConfig.style;
  if (mapConfig?.tiles) {
    return {
      version: 8,
      sources: {
        tiles: { type: 'raster', tiles: mapConfig.tiles, tileSize: mapConfig.tileSize ?? 256, attribution: mapConfig.attribution ?? '', maxzoom: mapConfig.maxZoom ?? 19 },
      },
      layers: [{ id: 'tiles', type: 'raster', source: 'tiles' }],
    };
  }
  return {
    version: 8,
    sources: {
      ne: { type: 'geojson', data: new URL(BASEMAP_URL, baseUrl).href, attribution: 'Natural Earth (public domain)' },
    },
    layers: [
      { id: 'sea', type: 'background', paint: { 'background-color': '#c9dcec' } },
      { id: 'land', type: 'fill', source: 'ne', filter: ['==', ['get', 'kind'], 'land'], paint: { 'fill-color': '#f4f2ea' } },
      { id: 'coast', type: 'line', source: 'ne', filter: ['==', ['get', 'kind'], 'land'], paint: { 'line-color': '#7d99b3', 'line-width': 0.8 } },
      { id: 'border', type: 'line', source: 'ne', filter: ['==', ['get', 'kind'], 'border'], paint: { 'line-color': '#8a7f93', 'line-width': 1, 'line-dasharray': [3, 2] } },
    ],
  };
}

/** A circle of `radius` metres around (lat, lon) as a GeoJSON polygon ring of `n` points. */
export function circleRing(lat, lon, radius, n = 64) {
  const ring = [];
  for (let i = 0; i <= n; i++) {
    const a = (i / n) * 2 * Math.PI;
    const p = moveM(lat, lon, radius * Math.sin(a), radius * Math.cos(a));
    ring.push([p.lon, p.lat]);
  }
  return ring;
}

export function webglAvailable() {
  try {
    const c = document.createElement('canvas');
    return !!(c.getContext('webgl2') || c.getContext('webgl'));
  } catch {
    return false;
  }
}

/** Arrow-key moves shared by both pickers: returns { east, north } metres or null. */
function arrowMove(ev, step) {
  const d = { ArrowUp: [0, 1], ArrowDown: [0, -1], ArrowLeft: [-1, 0], ArrowRight: [1, 0] }[ev.key];
  return d ? { east: d[0] * step, north: d[1] * step } : null;
}

/**
 * Creates the picker in `container`. Options: center {lat, lon}, radius (m), mapConfig,
 * baseUrl, describe (pin label for a result), onChange({ lat, lon, radius }, how), onPin(ec).
 * Resolves to { kind: 'map' | 'disc', setView(center, radius, { fit }), setResults(results),
 * highlight(ec), element }.
 */
export async function createPicker(container, opts) {
  if (webglAvailable()) {
    try {
      return await mapPicker(container, opts);
    } catch (e) {
      console.warn('map unavailable, using the disc picker:', e?.message ?? e);
    }
  }
  return discPicker(container, opts);
}

function button(cls, label, testid) {
  const b = document.createElement('button');
  b.type = 'button';
  b.className = cls;
  b.setAttribute('aria-label', label);
  b.dataset.testid = testid;
  return b;
}

async function mapPicker(container, opts) {
  const [{ default: maplibregl }, { default: workerUrl }] = await Promise.all([
    import('maplibre-gl').then((m) => ({ default: m })),
    import('maplibre-gl/dist/maplibre-gl-worker.mjs?worker&url'),
    import('maplibre-gl/dist/maplibre-gl.css'),
  ]);
  maplibregl.setWorkerUrl(workerUrl);
  let center = opts.center ? { ...opts.center } : null;
  let radius = opts.radius;
  const el = document.createElement('div');
  el.className = 'map';
  el.dataset.testid = 'map';
  container.replaceChildren(el);
  const map = new maplibregl.Map({
    container: el,
    style: mapStyle(opts.mapConfig, opts.baseUrl),
    center: center ? [center.lon, center.lat] : [10, 30],
    zoom: center ? 13 : 1,
    attributionControl: { compact: false },
    dragRotate: false,
    pitchWithRotate: false,
    touchPitch: false,
    maxPitch: 0,
    cooperativeGestures: false,
    locale: { 'Map.Title': 'Map of the search area' },
  });
  map.touchZoomRotate.disableRotation();
  map.addControl(new maplibregl.NavigationControl({ showCompass: false }), 'top-right');
  map.addControl(new maplibregl.ScaleControl({ unit: 'metric' }), 'bottom-left');
  const canvas = map.getCanvas();
  canvas.setAttribute('aria-label', 'Map of the search area. Arrow keys pan, plus and minus zoom, Enter puts the search centre in the middle of the map; or click a place.');
  canvas.addEventListener('keydown', (ev) => {
    if (ev.key !== 'Enter' && ev.key !== ' ') return;
    ev.preventDefault();
    const c = map.getCenter();
    center = { lat: c.lat, lon: c.lng };
    changed('keys');
  });

  // Centre marker (drag, or arrow keys) and the radius handle on the circle's east edge.
  const centreEl = button('map-centre', '', 'map-centre');
  const handleEl = button('map-handle', '', 'radius-handle');
  const centre = new maplibregl.Marker({ element: centreEl, draggable: true });
  const handle = new maplibregl.Marker({ element: handleEl, draggable: true });
  const labelCentre = () =>
    centreEl.setAttribute('aria-label', `Search centre ${center.lat.toFixed(5)}, ${center.lon.toFixed(5)}: drag, or arrow keys to move it (Shift: by a whole radius)`);
  const labelHandle = () => handleEl.setAttribute('aria-label', `Search radius ${formatDistance(radius)}: drag, or arrow keys to change it (Shift: faster)`);

  const area = () =>
    center
      ? { type: 'Feature', properties: {}, geometry: { type: 'Polygon', coordinates: [circleRing(center.lat, center.lon, radius)] } }
      : { type: 'FeatureCollection', features: [] };
  let shown = false;
  const place = () => {
    if (!center) return;
    if (!shown) {
      centre.setLngLat([center.lon, center.lat]).addTo(map);
      handle.setLngLat([center.lon, center.lat]).addTo(map);
      shown = true;
    }
    centre.setLngLat([center.lon, center.lat]);
    const e = moveM(center.lat, center.lon, radius, 0);
    handle.setLngLat([e.lon, e.lat]);
    map.getSource('area')?.setData(area());
    labelCentre();
    labelHandle();
  };
  const bounds = () => {
    const ring = circleRing(center.lat, center.lon, radius, 16);
    const lons = ring.map((p) => p[0]);
    const lats = ring.map((p) => p[1]);
    return [
      [Math.min(...lons), Math.min(...lats)],
      [Math.max(...lons), Math.max(...lats)],
    ];
  };
  const fit = (animate = false) => center && map.fitBounds(bounds(), { padding: 36, animate, maxZoom: 18 });
  const changed = (how) => {
    const first = !shown;
    place();
    if (first) fit(false);
    opts.onChange?.({ ...center, radius }, how);
  };

  map.on('load', () => {
    map.addSource('area', { type: 'geojson', data: area() });
    map.addLayer({ id: 'area-fill', type: 'fill', source: 'area', paint: { 'fill-color': '#1f5fbf', 'fill-opacity': 0.12 } });
    map.addLayer({ id: 'area-line', type: 'line', source: 'area', paint: { 'line-color': '#1f5fbf', 'line-width': 2 } });
    el.dataset.loaded = 'true';
  });
  map.on('click', (e) => {
    center = { lat: e.lngLat.lat, lon: e.lngLat.lng };
    changed('click');
  });
  centre.on('drag', () => {
    const p = centre.getLngLat();
    center = { lat: p.lat, lon: p.lng };
    place();
  });
  centre.on('dragend', () => changed('drag'));
  handle.on('drag', () => {
    if (!center) return;
    const p = handle.getLngLat();
    radius = clampRadius(distanceM(center.lat, center.lon, p.lat, p.lng));
    map.getSource('area')?.setData(area());
    labelHandle();
    opts.onRadiusPreview?.(radius);
  });
  handle.on('dragend', () => changed('radius'));
  centreEl.addEventListener('keydown', (ev) => {
    const m = arrowMove(ev, ev.shiftKey ? radius : radius / 5);
    if (!m) return;
    ev.preventDefault();
    ev.stopPropagation();
    center = moveM(center.lat, center.lon, m.east, m.north);
    map.easeTo({ center: [center.lon, center.lat], duration: 0 });
    changed('keys');
  });
  handleEl.addEventListener('keydown', (ev) => {
    const f = { ArrowUp: 1, ArrowRight: 1, ArrowDown: -1, ArrowLeft: -1 }[ev.key];
    if (!f) return;
    ev.preventDefault();
    ev.stopPropagation();
    radius = clampRadius(radius * (1 + f * (ev.shiftKey ? 0.5 : 0.1)));
    changed('keys');
  });
  for (const m of [centreEl, handleEl]) m.addEventListener('click', (ev) => ev.stopPropagation());

  let pins = [];
  place();
  fit();
  await new Promise((resolve) => (map.loaded() ? resolve() : map.once('load', resolve)));
  return {
    kind: 'map',
    element: el,
    map,
    setView(c, r, { fit: doFit = true } = {}) {
      center = { ...c };
      radius = r;
      place();
      if (doFit) fit(false);
    },
    setResults(results) {
      for (const p of pins) p.remove();
      pins = results.map((r) => {
        const b = button('map-pin', opts.describe?.(r) ?? r.ec, 'pin');
        b.dataset.ec = r.ec;
        b.addEventListener('click', (ev) => {
          ev.stopPropagation();
          opts.onPin?.(r.ec);
        });
        return new maplibregl.Marker({ element: b, anchor: 'bottom', offset: [0, -16] }).setLngLat([fromMicro(r.longitude), fromMicro(r.latitude)]).addTo(map);
      });
    },
    highlight(ec) {
      for (const p of pins) p.getElement().classList.toggle('active', p.getElement().dataset.ec === ec);
      const pin = pins.find((p) => p.getElement().dataset.ec === ec);
      if (pin) map.easeTo({ center: pin.getLngLat(), duration: 0 });
    },
  };
}

/** Without WebGL: the SVG disc (north up, rings at ½ and 1 × radius), usable with the keyboard. */
function discPicker(container, opts) {
  let center = opts.center ? { ...opts.center } : { lat: 0, lon: 0 };
  let radius = opts.radius;
  let results = [];
  let active = null;
  const ns = 'http://www.w3.org/2000/svg';
  const svg = document.createElementNS(ns, 'svg');
  svg.setAttribute('viewBox', '-110 -110 220 220');
  svg.setAttribute('class', 'picker');
  svg.setAttribute('tabindex', '0');
  svg.setAttribute('role', 'application');
  svg.dataset.testid = 'picker';
  const legend = document.createElement('div');
  legend.className = 'picker-legend';
  legend.textContent = 'No map here (WebGL unavailable): N ↑ · rings at ½ and 1 × radius · arrow keys move the centre, + and − change the radius';
  container.replaceChildren(svg, legend);
  const el = (tag, a, text) => {
    const e = document.createElementNS(ns, tag);
    for (const [k, v] of Object.entries(a)) e.setAttribute(k, v);
    if (text) e.textContent = text;
    return e;
  };
  const draw = () => {
    svg.setAttribute('aria-label', `Search area: centre ${center.lat.toFixed(5)}, ${center.lon.toFixed(5)}, radius ${formatDistance(radius)}, ${results.length} results. Arrow keys move the centre; plus and minus change the radius.`);
    svg.replaceChildren(
      el('circle', { cx: 0, cy: 0, r: 100, fill: '#e3ecf7', stroke: '#9fb6d6' }),
      el('circle', { cx: 0, cy: 0, r: 50, fill: 'none', stroke: '#b5c8e2', 'stroke-dasharray': '3 3' }),
      el('line', { x1: -100, y1: 0, x2: 100, y2: 0, stroke: '#c9d6e8' }),
      el('line', { x1: 0, y1: -100, x2: 0, y2: 100, stroke: '#c9d6e8' }),
      el('text', { x: 0, y: -88, 'text-anchor': 'middle', 'font-size': 11, fill: '#4a5463' }, 'N'),
      el('text', { x: 62, y: 96, 'font-size': 9, fill: '#4a5463' }, formatDistance(radius)),
      el('circle', { cx: 0, cy: 0, r: 4, fill: '#1f5fbf' }),
    );
    for (const r of results) {
      const o = offsetM(center.lat, center.lon, fromMicro(r.latitude), fromMicro(r.longitude));
      const x = (o.east / radius) * 100;
      const y = (-o.north / radius) * 100;
      if (Math.hypot(x, y) > 104) continue;
      const dot = el('circle', { cx: x, cy: y, r: r.ec === active ? 7 : 5, fill: '#ffb703', stroke: '#14213d', 'data-ec': r.ec, 'data-testid': 'pin' });
      dot.append(el('title', {}, opts.describe?.(r) ?? r.ec));
      dot.addEventListener('click', (ev) => {
        ev.stopPropagation();
        opts.onPin?.(r.ec);
      });
      svg.append(dot);
    }
  };
  svg.addEventListener('click', (ev) => {
    const rect = svg.getBoundingClientRect();
    const x = ((ev.clientX - rect.left) / rect.width) * 220 - 110;
    const y = ((ev.clientY - rect.top) / rect.height) * 220 - 110;
    center = moveM(center.lat, center.lon, (x / 100) * radius, (-y / 100) * radius);
    draw();
    opts.onChange?.({ ...center, radius }, 'click');
  });
  svg.addEventListener('keydown', (ev) => {
    const m = arrowMove(ev, ev.shiftKey ? radius : radius / 5);
    const f = { '+': 1, '=': 1, '-': -1, _: -1 }[ev.key];
    if (!m && !f) return;
    ev.preventDefault();
    if (m) center = moveM(center.lat, center.lon, m.east, m.north);
    else radius = clampRadius(radius * (1 + f * 0.1));
    draw();
    opts.onChange?.({ ...center, radius }, 'keys');
  });
  draw();
  return {
    kind: 'disc',
    element: svg,
    setView(c, r) {
      center = { ...c };
      radius = r;
      draw();
    },
    setResults(rs) {
      results = rs;
      draw();
    },
    highlight(ec) {
      active = ec;
      draw();
    },
  };
}
