// The header gate: nothing until the header block has ended (the blank line possibly split over
// chunks) or grown past HEADER_LIMIT, then once what it was: the bytes so far, the header block
// and whether a signature covers the body; nothing after that, nor after clear().
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { HEADER_LIMIT, HeaderGate, type HeaderSeen } from '../../../src/mailauth/header-gate.ts';

const signed = 'DKIM-Signature: v=1; a=rsa-sha256; d=a.test; s=s; h=from; bh=x; b=y\r\nFrom: a@a.test\r\n\r\nbody\r\n';
const arc = 'ARC-Message-Signature: i=1; a=rsa-sha256; d=a.test; s=s; h=from; bh=x; b=y\r\nFrom: a@a.test\r\n\r\nbody\r\n';
const unsigned = 'From: a@a.test\r\nSubject: hi\r\n\r\nbody\r\n';

/** Pushes the chunks; each push's answer, summarized. */
function run(chunks: string[]): (string | undefined)[] {
  const gate = new HeaderGate();
  return chunks.map((c) => describe(gate.push(Buffer.from(c))));
}
function describe(seen: HeaderSeen | undefined): string | undefined {
  if (!seen) return undefined;
  if (seen.kind === 'too-long') return `too-long ${seen.start.length}`;
  return `ended ${seen.signed ? 'signed' : 'unsigned'} header=${seen.header.length} start=${seen.start.length}`;
}

test('the header block, its end found once, in one chunk or split over several', () => {
  const cases: { name: string; chunks: string[]; want: (string | undefined)[] }[] = [
    { name: 'unsigned, one chunk', chunks: [unsigned], want: ['ended unsigned header=31 start=37'] },
    { name: 'DKIM-signed', chunks: [signed], want: [`ended signed header=${signed.indexOf('\r\n\r\n') + 4} start=${signed.length}`] },
    { name: 'ARC message signature', chunks: [arc], want: [`ended signed header=${arc.indexOf('\r\n\r\n') + 4} start=${arc.length}`] },
    { name: 'blank line split over chunks', chunks: ['From: a@a.test\r\n\r', '\nbody'], want: [undefined, 'ended unsigned header=18 start=22'] },
    { name: 'nothing after the end', chunks: [unsigned, 'more body\r\n'], want: ['ended unsigned header=31 start=37', undefined] },
    { name: 'an empty chunk is no news', chunks: ['From: a@a.test\r\n', '', '\r\n'], want: [undefined, undefined, 'ended unsigned header=18 start=18'] },
  ];
  for (const c of cases) assert.deepEqual(run(c.chunks), c.want, c.name);
});

test('a header block longer than HEADER_LIMIT is given up once, with the bytes so far', () => {
  const line = `X-Long: ${'a'.repeat(1000)}\r\n`;
  const gate = new HeaderGate();
  const answers: (string | undefined)[] = [];
  let pushed = 0;
  while (pushed < HEADER_LIMIT + 2 * line.length) {
    answers.push(describe(gate.push(Buffer.from(line))));
    pushed += line.length;
  }
  const given = answers.filter((a) => a !== undefined);
  assert.equal(given.length, 1);
  assert.match(given[0] ?? '', /^too-long \d+$/);
  assert.ok(Number(given[0]?.split(' ')[1]) >= HEADER_LIMIT);
});

test('after clear() nothing is looked at', () => {
  const gate = new HeaderGate();
  assert.equal(gate.push(Buffer.from('From: a@a.test\r\n')), undefined);
  gate.clear();
  assert.equal(gate.push(Buffer.from('\r\nbody')), undefined);
});
