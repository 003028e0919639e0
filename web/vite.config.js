import { defineConfig } from 'vite';
import { fileURLToPath } from 'node:url';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { createRequire } from 'node:module';

// Forge artifacts in protocol/abi/ carry bytecode the page never needs: keep only `abi`.
function abiOnly() {
  const prefix = '\0dashledger-abi:';
  return {
    name: 'dashledger-abi-only',
    enforce: 'pre',
    resolveId(source, importer) {
      if (!/protocol\/abi\/[^/]+\.json$/.test(source) || !importer) return null;
      return `${prefix}${path.resolve(path.dirname(importer), source)}.abi.js`;
    },
    load(id) {
      if (!id.startsWith(prefix)) return null;
      const file = id.slice(prefix.length, -'.abi.js'.length);
      this.addWatchFile(file);
      const { abi } = JSON.parse(readFileSync(file, 'utf8'));
      if (!Array.isArray(abi)) this.error(`${file} has no "abi" array (run scripts/gen-abi)`);
      return `export const abi = ${JSON.stringify(abi)};\nexport default { abi };\n`;
    },
  };
}

// The bundled basemap: Natural Earth 1:50m land and country borders (public domain, from the
// `world-atlas` npm package) turned into one small GeoJSON file at build time, so the map shows
// something without loading anything from another site. Coordinates rounded to 0.01° (~1 km),
// which is below what the 1:50m data resolves.
export function basemapGeoJSON() {
  const require = createRequire(import.meta.url);
  const { feature, mesh } = require('topojson-client');
  const topo = require('world-atlas/countries-50m.json');
  const pt = ([x, y]) => [Math.round(x * 1e2) / 1e2, Math.round(y * 1e2) / 1e2];
  // A line or ring rounded, without the repeated points rounding makes.
  const line = (l) => l.map(pt).filter((p, i, a) => i === 0 || p[0] !== a[i - 1][0] || p[1] !== a[i - 1][1]);
  const rings = (poly) => poly.map(line).filter((r) => r.length >= 4);
  const simplify = (g) => {
    if (g.type === 'Polygon') return { type: 'MultiPolygon', coordinates: [rings(g.coordinates)].filter((p) => p.length) };
    if (g.type === 'MultiPolygon') return { type: 'MultiPolygon', coordinates: g.coordinates.map(rings).filter((p) => p.length) };
    if (g.type === 'MultiLineString') return { type: 'MultiLineString', coordinates: g.coordinates.map(line).filter((l) => l.length >= 2) };
    return g;
  };
  const land = feature(topo, topo.objects.land);
  const features = [
    ...(land.features ?? [land]).map((f) => ({ type: 'Feature', properties: { kind: 'land' }, geometry: simplify(f.geometry) })),
    { type: 'Feature', properties: { kind: 'border' }, geometry: simplify(mesh(topo, topo.objects.countries, (a, b) => a !== b)) },
  ];
  return JSON.stringify({ type: 'FeatureCollection', features });
}
export const BASEMAP_FILE = 'basemap/natural-earth-50m.geojson';

function basemap() {
  let text = null;
  const get = () => (text ??= basemapGeoJSON());
  return {
    name: 'dashledger-basemap',
    generateBundle() {
      this.emitFile({ type: 'asset', fileName: BASEMAP_FILE, source: get() });
    },
    configureServer(server) {
      server.middlewares.use(`/${BASEMAP_FILE}`, (_req, res) => {
        res.setHeader('content-type', 'application/geo+json');
        res.end(get());
      });
    },
  };
}

// The built page goes to web/dist; the cloud serves that directory at `/` (with config.json).
export default defineConfig({
  root: fileURLToPath(new URL('.', import.meta.url)),
  base: './',
  publicDir: 'public',
  plugins: [abiOnly(), basemap()],
  worker: { format: 'es' },
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    target: 'es2022',
    assetsInlineLimit: 0,
    sourcemap: false,
    // MapLibre GL JS (1.1 MB) is its own chunk, loaded only when the map starts.
    chunkSizeWarningLimit: 1200,
  },
  server: {
    host: '127.0.0.1',
    fs: { allow: ['..'] },
  },
});
