// SMTP receivers for outbound tests, one per TLS situation an MX can present: real smtp-server
// peers with certificates from a test CA (valid chain, wrong host name, a one-label wildcard under
// a two-label MX name, self-signed, expired, missing intermediate), one without STARTTLS, and a
// raw one whose STARTTLS handshake breaks (it then accepts plaintext mail). Opens sockets.
import { writeFile } from 'node:fs/promises';
import net from 'node:net';
import path from 'node:path';
import type tls from 'node:tls';
import { SMTPServer, type SMTPServerOptions } from 'smtp-server';
import { buildTrust } from '../../src/tls-policy/trust.ts';
import { createCa, issueCert, selfSignedCert, type TestCa, type TestCert } from './certs.ts';
import { type PostfixReceiver, startPostfixReceiver } from './postfix.ts';
import { type Scope, tempDir } from './tmp.ts';

export const RECEIVER_KINDS = ['valid', 'wrong-host', 'wildcard', 'self-signed', 'expired', 'missing-intermediate', 'no-starttls', 'broken-tls'] as const;
export type ReceiverKind = (typeof RECEIVER_KINDS)[number];

export interface Received {
  from: string;
  to: string[];
  body: string;
  /** The transaction ran over TLS. */
  secure: boolean;
  /** MAIL FROM parameters as the receiver parsed them (BODY, SIZE, SMTPUTF8). */
  params: Record<string, unknown>;
  /** The client's address as the receiver saw it (the sender's source address). */
  remoteAddress: string;
}

export interface Receiver {
  kind: ReceiverKind;
  host: string;
  port: number;
  /** The MX host name its certificate is (or is not) meant for. */
  mxName: string;
  messages: Received[];
  /** Connections accepted so far. */
  connections(): number;
  close(): Promise<void>;
}

export interface TestPki {
  root: TestCa;
  intermediate: TestCa;
  /** Trusts `root` only (plus Node's store): what the courier is given. */
  trust: tls.SecureContext;
}

export async function createTestPki(): Promise<TestPki> {
  const root = await createCa('Sealpost Test Root');
  const intermediate = await createCa('Sealpost Test Intermediate', { issuer: root });
  return { root, intermediate, trust: buildTrust(root.certPem) };
}

/** The certificate a kind of receiver presents for `mxName` (undefined: no TLS at all). */
export async function certificateFor(kind: ReceiverKind, mxName: string, pki: TestPki): Promise<{ key: string; cert: string } | undefined> {
  const labels = mxName.split('.');
  const domain = labels.slice(1).join('.');
  const use = (c: TestCert, chain = true) => ({ key: c.keyPem, cert: chain ? c.chainPem : c.certPem });
  switch (kind) {
    case 'valid':
      return use(await issueCert(pki.intermediate, { names: [mxName] }));
    case 'wrong-host':
      return use(await issueCert(pki.intermediate, { names: [`other.${domain}`, domain] }));
    case 'wildcard':
      // "*.parent" covers one label; the MX name is two labels below the parent.
      return use(await issueCert(pki.intermediate, { names: [`*.${labels.slice(2).join('.')}`] }));
    case 'self-signed':
      return use(await selfSignedCert({ names: [mxName] }));
    case 'expired':
      return use(
        await issueCert(pki.intermediate, { names: [mxName], notBefore: new Date(Date.now() - 10 * 86_400_000), notAfter: new Date(Date.now() - 86_400_000) }),
      );
    case 'missing-intermediate':
      return use(await issueCert(pki.intermediate, { names: [mxName] }), false);
    case 'no-starttls':
    case 'broken-tls':
      return undefined;
  }
}

export interface ReceiverOptions {
  host: string;
  port: number;
  mxName: string;
  pki: TestPki;
  /** Extra smtp-server options (size, hideSMTPUTF8, onRcptTo…). */
  server?: Partial<SMTPServerOptions>;
}

export async function startReceiver(kind: ReceiverKind, options: ReceiverOptions): Promise<Receiver> {
  if (kind === 'broken-tls') return startBrokenTls(options);
  const messages: Received[] = [];
  let connections = 0;
  const tlsMaterial = await certificateFor(kind, options.mxName, options.pki);
  const server = new SMTPServer({
    name: options.mxName,
    authOptional: true,
    disabledCommands: ['AUTH'],
    ...(tlsMaterial ? tlsMaterial : { hideSTARTTLS: true }),
    logger: false,
    onConnect(_session, callback) {
      connections++;
      callback();
    },
    onData(stream, session, callback) {
      const chunks: Buffer[] = [];
      stream.on('data', (c: Buffer) => chunks.push(c));
      stream.on('end', () => {
        const from = session.envelope.mailFrom;
        messages.push({
          from: from ? from.address : '',
          to: session.envelope.rcptTo.map((r) => r.address),
          body: Buffer.concat(chunks).toString('utf8'),
          secure: session.secure,
          params: from ? { ...(from.args as Record<string, unknown>) } : {},
          remoteAddress: session.remoteAddress,
        });
        callback();
      });
    },
    ...options.server,
  });
  server.on('error', () => {});
  await new Promise<void>((resolve, reject) => {
    server.server.once('error', reject);
    server.listen(options.port, options.host, () => resolve());
  });
  return {
    kind,
    host: options.host,
    port: options.port,
    mxName: options.mxName,
    messages,
    connections: () => connections,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

/** Offers STARTTLS, answers 220, then sends bytes that are not TLS and hangs up; plaintext mail works. */
async function startBrokenTls(options: ReceiverOptions): Promise<Receiver> {
  const messages: Received[] = [];
  let connections = 0;
  const sockets = new Set<net.Socket>();
  const server = net.createServer((socket) => {
    connections++;
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => socket.destroy());
    let buffer = '';
    let inData = false;
    let envelope: Received = { from: '', to: [], body: '', secure: false, params: {}, remoteAddress: socket.remoteAddress ?? '' };
    const reply = (text: string): boolean => socket.write(`${text}\r\n`);
    reply(`220 ${options.mxName} ESMTP broken-tls`);
    socket.on('data', (chunk) => {
      buffer += chunk.toString('latin1');
      for (let nl = buffer.indexOf('\r\n'); nl !== -1; nl = buffer.indexOf('\r\n')) {
        const line = buffer.slice(0, nl);
        buffer = buffer.slice(nl + 2);
        if (inData) {
          if (line === '.') {
            inData = false;
            messages.push(envelope);
            envelope = { from: '', to: [], body: '', secure: false, params: {}, remoteAddress: socket.remoteAddress ?? '' };
            reply('250 2.0.0 queued');
          } else envelope.body += `${line.startsWith('..') ? line.slice(1) : line}\r\n`;
          continue;
        }
        const verb = line.slice(0, 4).toUpperCase();
        if (verb === 'EHLO') reply(`250-${options.mxName}\r\n250-PIPELINING\r\n250-8BITMIME\r\n250 STARTTLS`);
        else if (verb === 'HELO') reply(`250 ${options.mxName}`);
        else if (line.toUpperCase() === 'STARTTLS') {
          reply('220 2.0.0 go ahead');
          socket.end('this is not a TLS server hello\r\n');
          return;
        } else if (verb === 'MAIL') {
          envelope.from = /<(.*)>/.exec(line)?.[1] ?? '';
          reply('250 2.1.0 ok');
        } else if (verb === 'RCPT') {
          envelope.to.push(/<(.*)>/.exec(line)?.[1] ?? '');
          reply('250 2.1.5 ok');
        } else if (verb === 'DATA') {
          inData = true;
          reply('354 go on');
        } else if (verb === 'RSET') reply('250 2.0.0 ok');
        else if (verb === 'QUIT') {
          reply('221 2.0.0 bye');
          socket.end();
        } else reply('502 5.5.2 what?');
      }
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host, () => resolve());
  });
  return {
    kind: 'broken-tls',
    host: options.host,
    port: options.port,
    mxName: options.mxName,
    messages,
    connections: () => connections,
    close: () =>
      new Promise((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}

/**
 * A real Postfix receiver on a loopback address with a certificate for `mxName` from the test
 * PKI's intermediate (chain included), STARTTLS offered (`may`). Stopped when `scope` ends.
 */
export async function startPostfixTlsReceiver(
  scope: Scope,
  pki: TestPki,
  options: { name: string; mxName: string; host: string; port: number; domains: readonly string[] },
): Promise<PostfixReceiver> {
  const dir = await tempDir(scope);
  const cert = await issueCert(pki.intermediate, { names: [options.mxName], keyType: 'rsa-2048' });
  await writeFile(path.join(dir, 'cert.pem'), cert.chainPem);
  await writeFile(path.join(dir, 'key.pem'), cert.keyPem, { mode: 0o600 });
  const receiver = await startPostfixReceiver(scope, {
    name: options.name,
    hostname: options.mxName,
    listen: { host: options.host, port: options.port },
    domains: options.domains,
    tls: { level: 'may', certFile: path.join(dir, 'cert.pem'), keyFile: path.join(dir, 'key.pem') },
    // Postfix refuses an inet_interfaces address that no interface carries (only 127.0.0.1 does);
    // "all" skips that check while master.cf still binds the one address.
    mainCf: { inet_interfaces: 'all' },
  });
  scope.after(() => receiver.stop());
  return receiver;
}
