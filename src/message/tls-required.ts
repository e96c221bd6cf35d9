// The RFC 8689 §5 TLS-Required header field of a message (pure): "TLS-Required: No" asks the
// relays to deliver the message even when the recipient domain's TLS policy (MTA-STS, DANE)
// cannot be met. The field is read as every other check reads fields (header-fields.ts).
//
//   asksTlsOptional(block) → true for a `TLS-Required: No` field (the value case-insensitive)
import { headerFields } from './header-fields.ts';

/** `block`: the header block (body.ts headerBlock). RFC 8689 §5: the only value is "No". */
export function asksTlsOptional(block: Buffer): boolean {
  for (const field of headerFields(block.toString('latin1'))) {
    if (
      field.name === 'tls-required' &&
      field.value
        .replace(/\r\n[ \t]*/g, ' ')
        .trim()
        .toLowerCase() === 'no'
    )
      return true;
  }
  return false;
}
