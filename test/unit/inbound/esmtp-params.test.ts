// MAIL FROM / RCPT TO parameters: only those of offered extensions, nothing else after the path.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { checkParameters, type Offered } from '../../../src/inbound/esmtp-params.ts';

const both = { smtputf8: true, auth: true };
const mx = { smtputf8: true, auth: false };

test('checkParameters: known parameters pass, unknown get 555 5.5.4, text that is no parameter 501 5.5.4', { timeout: 5000 }, () => {
  const table: { command: 'MAIL' | 'RCPT'; args: Record<string, string | true> | false; offered: Offered; want: number | undefined }[] = [
    // RFC 8689: REQUIRETLS only where it is offered (inside TLS).
    { command: 'MAIL', args: { REQUIRETLS: true }, offered: { ...mx, requiretls: true }, want: undefined },
    { command: 'MAIL', args: { REQUIRETLS: true }, offered: mx, want: 555 },
    { command: 'RCPT', args: { REQUIRETLS: true }, offered: { ...mx, requiretls: true }, want: 555 },
    { command: 'MAIL', args: false, offered: mx, want: undefined },
    { command: 'MAIL', args: { SIZE: '1000', BODY: '8BITMIME' }, offered: mx, want: undefined },
    { command: 'MAIL', args: { SMTPUTF8: true }, offered: mx, want: undefined },
    { command: 'MAIL', args: { SMTPUTF8: true }, offered: { smtputf8: false, auth: false }, want: 555 },
    { command: 'MAIL', args: { AUTH: '<>' }, offered: both, want: undefined },
    { command: 'MAIL', args: { AUTH: '<>' }, offered: mx, want: 555 },
    { command: 'MAIL', args: { FOO: 'bar' }, offered: both, want: 555 },
    { command: 'MAIL', args: { RET: 'HDRS' }, offered: both, want: 555 },
    { command: 'MAIL', args: { '<C@D>': true }, offered: both, want: 501 },
    { command: 'MAIL', args: { SIZE: '10', X_Y: true }, offered: both, want: 501 },
    { command: 'RCPT', args: false, offered: both, want: undefined },
    { command: 'RCPT', args: { '<VICTIM@EXAMPLE.TEST>': true }, offered: both, want: 501 },
    { command: 'RCPT', args: { NOTIFY: 'NEVER' }, offered: both, want: 555 },
    { command: 'RCPT', args: { ORCPT: 'rfc822;a@b' }, offered: both, want: 555 },
    { command: 'RCPT', args: { SIZE: '10' }, offered: both, want: 555 },
  ];
  for (const c of table) {
    const refusal = checkParameters(c.command, c.args, c.offered);
    assert.equal(refusal?.code, c.want, `${c.command} ${JSON.stringify(c.args)}`);
    if (refusal) assert.equal(refusal.enhanced, '5.5.4');
  }
  assert.equal(checkParameters('MAIL', { FOO: 'bar\x01' }, mx)?.text, 'Unsupported option: FOO=bar?');
});
