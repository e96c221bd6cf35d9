// Headless Chromium (Debian `chromium`) for tests that look at a page as a browser does: the DOM
// after parsing (--dump-dom) and a PNG of the window (--screenshot). Every background service that
// would call out (updates, sync, safe browsing, metrics, field trials) is off, and the tests run
// under netless anyway, so it reaches loopback only. Side effects: a temp profile, removed after.
import path from 'node:path';
import { type RunResult, run } from './proc.ts';
import { makeTempDir, removeTempDir } from './tmp.ts';

const QUIET = [
  '--headless',
  '--no-sandbox', // root in a test container: the setuid sandbox cannot start
  '--disable-gpu',
  '--no-first-run',
  '--no-default-browser-check',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--disable-extensions',
  '--disable-default-apps',
  '--disable-domain-reliability',
  '--disable-client-side-phishing-detection',
  '--disable-breakpad',
  '--disable-features=Translate,OptimizationHints,MediaRouter,DialMediaRouteProvider,CertificateTransparencyComponentUpdater,AutofillServerCommunication',
  '--metrics-recording-only',
  '--safebrowsing-disable-auto-update',
  '--password-store=basic',
  '--use-mock-keychain',
  '--hide-scrollbars',
  '--force-device-scale-factor=1',
];

export interface ChromiumOptions {
  /** Window size, CSS pixels (default 1000 × 1400). */
  width?: number;
  height?: number;
  /** Accept the server's certificate whatever it is (a self-signed one in a test). */
  insecure?: boolean;
  timeoutMs?: number;
}

async function chromium(url: string, mode: string[], options: ChromiumOptions): Promise<RunResult> {
  const profile = await makeTempDir('sealpost-chromium-');
  try {
    const args = [
      ...QUIET,
      `--user-data-dir=${profile}`,
      `--window-size=${options.width ?? 1000},${options.height ?? 1400}`,
      ...(options.insecure ? ['--ignore-certificate-errors'] : []),
      ...mode,
      url,
    ];
    // HOME in the profile: nothing is written into the real one.
    return await run('chromium', args, { timeoutMs: options.timeoutMs ?? 60_000, env: { ...process.env, HOME: profile } });
  } finally {
    await removeTempDir(profile);
  }
}

/** The serialized DOM of `url` once loaded. Rejects when Chromium fails. */
export async function dumpDom(url: string, options: ChromiumOptions = {}): Promise<string> {
  const r = await chromium(url, ['--dump-dom'], options);
  if (r.code !== 0) throw new Error(`chromium --dump-dom ${url}: exit ${r.code}\n${r.stderr.slice(-2000)}`);
  return r.stdout;
}

/** A PNG of the window showing `url`, written to `file`. */
export async function screenshot(url: string, file: string, options: ChromiumOptions = {}): Promise<void> {
  const r = await chromium(url, [`--screenshot=${path.resolve(file)}`], options);
  if (r.code !== 0) throw new Error(`chromium --screenshot ${url}: exit ${r.code}\n${r.stderr.slice(-2000)}`);
}
