import { defineConfig } from 'vite';
import { fileURLToPath } from 'node:url';
import { readFileSync } from 'node:fs';
import path from 'node:path';

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

// The built page goes to web/dist; the cloud serves that directory at `/` (with config.json).
export default defineConfig({
  root: fileURLToPath(new URL('.', import.meta.url)),
  base: './',
  publicDir: 'public',
  plugins: [abiOnly()],
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    target: 'es2022',
    assetsInlineLimit: 0,
    sourcemap: false,
  },
  server: {
    host: '127.0.0.1',
    fs: { allow: ['..'] },
  },
});
