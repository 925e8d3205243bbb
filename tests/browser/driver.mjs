// Drives Debian's headless Chromium for tests/browser: one browser, many pages, commanded
// by JSON lines on stdin, answered by JSON lines on stdout ({id, ok, value} or {id, ok:false, error}).
//   {id, cmd:'open', page, url}            a new page (own context: own storage, own mic)
//   {id, cmd:'eval', page, expr}           the value of a JavaScript expression (awaited)
//   {id, cmd:'fill', page, selector, value} types into an input
//   {id, cmd:'click', page, selector}      a real click (a user gesture for Web Audio)
//   {id, cmd:'screenshot', page, path}
//   {id, cmd:'close', page}                closes the tab, running pagehide/beforeunload
//   {id, cmd:'console', page}              console lines and page errors so far
//   {id, cmd:'quit'}
import { chromium } from 'playwright-core';
import { createInterface } from 'node:readline';

const FLAGS = [
  '--headless=new', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync',
  '--disable-features=WebRtcHideLocalIpsWithMdns', '--allow-loopback-in-peer-connection',
  '--use-fake-ui-for-media-stream', '--use-fake-device-for-media-stream',
  '--autoplay-policy=no-user-gesture-required',
];

// playwright-core gives every launch a fresh, temporary user data dir of its own.
const browser = await chromium.launch({
  executablePath: process.env.VAMP_CHROMIUM || '/usr/bin/chromium',
  args: FLAGS,
});
const pages = new Map();
const logs = new Map();

function reply(obj) {
  process.stdout.write(`${JSON.stringify(obj)}\n`);
}

const commands = {
  async open({ page: key, url }) {
    const context = await browser.newContext({ viewport: { width: 900, height: 760 } });
    await context.grantPermissions(['microphone'], { origin: new URL(url).origin });
    const page = await context.newPage();
    const lines = [];
    page.on('console', (m) => lines.push(`${m.type()}: ${m.text()}`));
    page.on('pageerror', (e) => lines.push(`pageerror: ${e.message}`));
    logs.set(key, lines);
    pages.set(key, page);
    await page.goto(url);
    return true;
  },
  async eval({ page, expr }) {
    return pages.get(page).evaluate(expr);
  },
  async fill({ page, selector, value }) {
    await pages.get(page).fill(selector, value);
    return true;
  },
  async click({ page, selector }) {
    await pages.get(page).click(selector);
    return true;
  },
  async screenshot({ page, path }) {
    await pages.get(page).screenshot({ path, fullPage: true });
    return path;
  },
  async close({ page: key }) {
    const page = pages.get(key);
    pages.delete(key);
    await page.close({ runBeforeUnload: true });
    await page.context().close();
    return true;
  },
  async console({ page }) {
    return logs.get(page) ?? [];
  },
  async quit() {
    await browser.close();
    return true;
  },
};

const rl = createInterface({ input: process.stdin });
for await (const line of rl) {
  let request;
  try {
    request = JSON.parse(line);
    const value = await commands[request.cmd](request);
    reply({ id: request.id, ok: true, value: value ?? null });
  } catch (err) {
    reply({ id: request?.id ?? null, ok: false, error: String(err?.stack || err) });
  }
  if (request?.cmd === 'quit') break;
}
process.exit(0);
