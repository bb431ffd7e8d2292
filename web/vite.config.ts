import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vite';

/**
 * The dashboard: a static React app built into dist/web/, which the `api` role serves at `/`.
 * JSX is compiled by Vite's own esbuild (automatic runtime): the React plugin would add Babel for
 * Fast Refresh only, which a production build never uses. `npm run dev:web` proxies the API to a
 * running Nova (NOVA_API_URL, default http://127.0.0.1:4000).
 */
const api = process.env.NOVA_API_URL ?? 'http://127.0.0.1:4000';

export default defineConfig({
  root: fileURLToPath(new URL('.', import.meta.url)),
  base: '/',
  esbuild: { jsx: 'automatic' },
  build: {
    outDir: fileURLToPath(new URL('../dist/web', import.meta.url)),
    emptyOutDir: true,
    // Hashed names under /assets/: the server caches them for a year, index.html never.
    assetsDir: 'assets',
    target: 'es2022',
  },
  server: {
    proxy: {
      '/api': api,
      '/ws': { target: api.replace(/^http/, 'ws'), ws: true },
    },
  },
});
