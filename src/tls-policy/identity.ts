// Kept for callers outside tls-policy (outbound/starttls.ts): the one RFC 6125 matcher and
// certNames live in src/tls/names.ts; import them from there.
export { type CertNames, certNames, checkCertName, nameMatches } from '../tls/names.ts';
