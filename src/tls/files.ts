// The operator's certificate files ([tls] cert_file / key_file): read and parse them into
// CertMaterial, or say which file is wrong and how to fix it. Reads files; writes nothing.
//
//   loadCertFiles(certFile, keyFile, read?) → { ok: true, material } | { ok: false, file, reason }
//   (read: how a file is read, node's readFile unless given; config check passes its own)
import { readFile } from 'node:fs/promises';
import { type CertMaterial, parseMaterial, splitPemCertificates } from './material.ts';

export type Loaded = { ok: true; material: CertMaterial } | { ok: false; file: string; reason: string };

export async function loadCertFiles(
  certFile: string,
  keyFile: string,
  read: (file: string) => Promise<string> = (file) => readFile(file, 'utf8'),
): Promise<Loaded> {
  const certPem = await readText(certFile, 'tls.cert_file', read);
  if (typeof certPem !== 'string') return certPem;
  const keyPem = await readText(keyFile, 'tls.key_file', read);
  if (typeof keyPem !== 'string') return keyPem;

  if (splitPemCertificates(certPem).length === 0) {
    const hint = /PRIVATE KEY-----/.test(certPem) ? ' (it holds a private key: are cert_file and key_file swapped?)' : '';
    return fail(certFile, `tls.cert_file ${certFile} holds no PEM certificate${hint}; point it at the full chain, leaf first (e.g. fullchain.pem)`);
  }
  if (!/-----BEGIN [A-Z ]*PRIVATE KEY-----/.test(keyPem)) {
    const hint = /CERTIFICATE-----/.test(keyPem) ? ' (it holds a certificate: are cert_file and key_file swapped?)' : '';
    return fail(keyFile, `tls.key_file ${keyFile} holds no PEM private key${hint}; point it at the key of the certificate (e.g. privkey.pem)`);
  }
  const material = { certPem, keyPem };
  const parsed = parseMaterial(material);
  if (!parsed.ok) {
    if (parsed.part === 'chain') return fail(certFile, `tls.cert_file ${certFile}: ${parsed.reason}`);
    if (parsed.part === 'key') return fail(keyFile, `tls.key_file ${keyFile}: ${parsed.reason}`);
    return fail(keyFile, `tls.key_file ${keyFile} does not go with tls.cert_file ${certFile}: ${parsed.reason}`);
  }
  return { ok: true, material };
}

async function readText(file: string, key: string, read: (file: string) => Promise<string>): Promise<string | Loaded> {
  try {
    return await read(file);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT')
      return fail(file, `${key} ${file} does not exist; fix the path, or remove cert_file and key_file to use ACME or the self-signed certificate`);
    if (code === 'EACCES' || code === 'EPERM')
      return fail(
        file,
        `${key} ${file} is not readable by this process (permission denied); make it readable by the sealpost user (e.g. group sealpost, mode 0640)`,
      );
    if (code === 'EISDIR') return fail(file, `${key} ${file} is a directory; name the PEM file inside it`);
    return fail(file, `${key} ${file} cannot be read: ${err instanceof Error ? err.message : String(err)}`);
  }
}

function fail(file: string, reason: string): Loaded {
  return { ok: false, file, reason };
}
