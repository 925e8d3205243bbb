// Builds the page into dist/: one bundle of src/main.js (with simple-peer and
// socket.io-client from node_modules), the AudioWorklet module, index.html and style.css.
// simple-peer is written for Node: its Buffer, process and events come from the npm
// polyfills (buffer, process, events) through esbuild's inject/alias.
import { build } from 'esbuild';
import { copyFile, mkdir, rm } from 'node:fs/promises';

const dist = new URL('./dist/', import.meta.url);
await rm(dist, { recursive: true, force: true });
await mkdir(dist, { recursive: true });
await build({
  entryPoints: ['src/main.js'],
  bundle: true,
  format: 'iife',
  platform: 'browser',
  target: ['chrome100', 'firefox100', 'safari15'],
  outfile: 'dist/vamp.js',
  inject: ['src/node-shims.js'],
  define: { global: 'globalThis' },
  minify: true,
  sourcemap: true,
  logLevel: 'warning',
});
// The worklet runs in its own global scope, so it is served as its own file.
for (const file of ['capture-worklet.js', 'index.html', 'style.css']) {
  await copyFile(new URL(`./src/${file}`, import.meta.url), new URL(file, dist));
}
console.log('built signaling/web/dist');
