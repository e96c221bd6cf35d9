// The parameters allowed after the path of MAIL FROM and RCPT TO (pure). RFC 5321 §4.1.1.2 and
// §4.1.1.3: only esmtp-params (esmtp-keyword ["=" esmtp-value], §4.1.2) follow the path, and only
// those of extensions the server offered (§4.1.1.11). smtp-server keeps anything after the path as
// an "argument" and goes on, so "RCPT TO:<alice@…> <victim@…>" was accepted for alice; like
// Postfix's smtpd, such a command is now refused:
//   501 5.5.4  text that is no parameter at all (RFC 5321 §4.2.3: syntax error in parameters)
//   555 5.5.4  a parameter of an extension we do not offer (RFC 5321 §4.1.1.11), as Postfix's
//              "Unsupported option"
// Offered for MAIL: SIZE (RFC 1870), BODY (RFC 6152), SMTPUTF8 (RFC 6531) when advertised, AUTH
// (RFC 4954 §5) where AUTH is, REQUIRETLS (RFC 8689 §4.1) inside TLS. For RCPT: nothing; DSN's NOTIFY and ORCPT (RFC 3461) are not
// offered (smtp-server's hideDSN).
//
//   checkParameters('MAIL' | 'RCPT', args, offered) → undefined | { code, enhanced, text }

export interface Offered {
  smtputf8: boolean;
  auth: boolean;
  /** RFC 8689 §3: REQUIRETLS is offered only once TLS is up. */
  requiretls?: boolean;
}

export interface ParamRefusal {
  code: 501 | 555;
  enhanced: '5.5.4';
  text: string;
}

/** RFC 5321 §4.1.2: esmtp-keyword = (ALPHA / DIGIT) *(ALPHA / DIGIT / "-"); smtp-server upper-cases it. */
const KEYWORD = /^[A-Z0-9][A-Z0-9-]*$/;

/** `args`: smtp-server's parsed parameters (upper-case keys, xtext-decoded values), false for none. */
export function checkParameters(command: 'MAIL' | 'RCPT', args: Readonly<Record<string, string | true>> | false, offered: Offered): ParamRefusal | undefined {
  if (!args) return undefined;
  const known =
    command === 'MAIL'
      ? ['SIZE', 'BODY', ...(offered.smtputf8 ? ['SMTPUTF8'] : []), ...(offered.auth ? ['AUTH'] : []), ...(offered.requiretls ? ['REQUIRETLS'] : [])]
      : [];
  for (const [key, value] of Object.entries(args)) {
    if (!KEYWORD.test(key))
      return { code: 501, enhanced: '5.5.4', text: `Syntax error in parameters after the ${command === 'MAIL' ? 'sender' : 'recipient'} address` };
    if (!known.includes(key)) return { code: 555, enhanced: '5.5.4', text: `Unsupported option: ${shown(key, value)}` };
  }
  return undefined;
}

/** The parameter as the client sent it, printable and bounded, for the reply. */
function shown(key: string, value: string | true): string {
  const text = value === true ? key : `${key}=${value}`;
  return text.replace(/[^\x21-\x7e]/g, '?').slice(0, 80);
}
