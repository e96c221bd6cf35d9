// Dates in mail headers (pure).

/** RFC 5322 §3.3 date-time in UTC: "Mon, 23 Nov 2026 10:54:14 +0000". */
export function rfc5322Date(ms: number): string {
  return new Date(ms).toUTCString().replace(/GMT$/, '+0000');
}
