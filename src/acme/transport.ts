// HTTPS to the ACME server: configures acme-client's shared axios instance (the library's
// documented hook, `acme.axios`) with our trust store and no in-request retries, and records
// what the server last said (problem type, Retry-After) and the last socket error, so failures
// can be explained and backed off by our own schedule. Side effects: mutates acme.axios
// defaults and interceptors (undone by close()); one transport per process at a time.
import https from 'node:https';
import type { Duplex } from 'node:stream';
import tls from 'node:tls';
import * as acme from 'acme-client';

/** An error answer from the ACME server (RFC 8555 §6.7 problem document). */
export interface ServerProblem {
  url: string;
  status: number;
  type: string;
  detail: string;
  /** Retry-After header as sent (RFC 8555 §6.6). */
  retryAfter?: string;
}

export interface JsonReply {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: unknown;
}

export interface AcmeTransport {
  /** The last problem document received, cleared by reset(). */
  lastProblem(): ServerProblem | undefined;
  /** The last connection-level error (refused, DNS, TLS), cleared by reset(). */
  lastSocketError(): string | undefined;
  reset(): void;
  /** Unsigned GET of a JSON resource (directory, renewalInfo) over the same trust store. */
  getJson(url: string): Promise<JsonReply>;
  close(): void;
}

const REQUEST_TIMEOUT_MS = 30_000;

/** `caPem`: extra roots (PEM) trusted beside the system ones, or '' for the system store only. */
export function configureAcmeTransport(caPem: string): AcmeTransport {
  let problem: ServerProblem | undefined;
  let socketError: string | undefined;
  const agent = new RecordingAgent(caPem ? [...tls.rootCertificates, caPem] : undefined, (message) => (socketError = message));

  // acme-client's axios: its interceptor retries 429/5xx and network errors inside the request,
  // sleeping for any Retry-After (rate limits can say hours). Our schedule does that instead.
  const settings = (acme.axios.defaults as unknown as { acmeSettings?: { retryMaxAttempts: number } }).acmeSettings;
  const savedRetries = settings?.retryMaxAttempts;
  if (settings) settings.retryMaxAttempts = 0;
  const savedAgent = acme.axios.defaults.httpsAgent;
  const savedTimeout = acme.axios.defaults.timeout;
  acme.axios.defaults.httpsAgent = agent;
  acme.axios.defaults.timeout = REQUEST_TIMEOUT_MS;
  const interceptor = acme.axios.interceptors.response.use((response) => {
    if (response.status >= 400) {
      const data = (typeof response.data === 'object' && response.data !== null ? response.data : {}) as Record<string, unknown>;
      const retryAfter = response.headers['retry-after'];
      problem = {
        url: String(response.config.url ?? ''),
        status: response.status,
        type: typeof data['type'] === 'string' ? data['type'] : '',
        detail: typeof data['detail'] === 'string' ? data['detail'] : '',
        ...(typeof retryAfter === 'string' ? { retryAfter } : {}),
      };
    }
    return response;
  });

  return {
    lastProblem: () => problem,
    lastSocketError: () => socketError,
    reset: () => {
      problem = undefined;
      socketError = undefined;
    },
    getJson: (url) => getJson(url, agent),
    close: () => {
      acme.axios.interceptors.response.eject(interceptor);
      if (acme.axios.defaults.httpsAgent === agent) {
        acme.axios.defaults.httpsAgent = savedAgent;
        acme.axios.defaults.timeout = savedTimeout;
        if (settings && savedRetries !== undefined) settings.retryMaxAttempts = savedRetries;
      }
      agent.destroy();
    },
  };
}

/** An https.Agent that remembers the last socket error (acme-client loses it on network failures). */
class RecordingAgent extends https.Agent {
  readonly #record: (message: string) => void;

  constructor(ca: string[] | undefined, record: (message: string) => void) {
    super({ keepAlive: true, ...(ca ? { ca } : {}) });
    this.#record = record;
  }

  override createConnection(...args: Parameters<https.Agent['createConnection']>): Duplex | null | undefined {
    const socket = super.createConnection(...args);
    socket?.on('error', (err: NodeJS.ErrnoException) => this.#record(err.code ? `${err.code}: ${err.message}` : err.message));
    return socket;
  }
}

function getJson(url: string, agent: https.Agent): Promise<JsonReply> {
  return new Promise((resolve, reject) => {
    const req = https.get(url, { agent, headers: { accept: 'application/json' }, timeout: REQUEST_TIMEOUT_MS }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('error', reject);
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        let body: unknown = text;
        try {
          body = text === '' ? undefined : JSON.parse(text);
        } catch {
          // not JSON: the caller sees the text
        }
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body });
      });
    });
    req.on('timeout', () => req.destroy(new Error(`no answer from ${url} within ${REQUEST_TIMEOUT_MS / 1000}s`)));
    req.on('error', (err: NodeJS.ErrnoException) => reject(new Error(`cannot reach ${url}: ${err.code ? `${err.code} ` : ''}${err.message}`)));
  });
}
