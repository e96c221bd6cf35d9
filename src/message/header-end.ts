// The end of a header block (RFC 5322 §2.1: the first empty line, CRLF CRLF) in bytes that arrive
// in chunks, the blank line possibly split across them (pure).
//
//   new HeaderEnd().push(chunk) → true once the blank line has been seen
const BLANK = '\r\n\r\n';

export class HeaderEnd {
  /** The bytes seen so far. */
  bytes = 0;
  private found = false;
  /** The last 3 bytes seen: a blank line split over chunks. */
  private recent: Buffer = Buffer.alloc(0);

  push(chunk: Buffer): boolean {
    if (this.found || chunk.length === 0) return this.found;
    this.bytes += chunk.length;
    this.found = chunk.indexOf(BLANK) >= 0 || (this.recent.length > 0 && Buffer.concat([this.recent, chunk.subarray(0, 3)]).indexOf(BLANK) >= 0);
    const around = Buffer.concat([this.recent, chunk.subarray(Math.max(0, chunk.length - 3))]);
    this.recent = around.subarray(Math.max(0, around.length - 3));
    return this.found;
  }
}
