// The SMTP client's wire rules: they live in src/wire/smtp.ts, shared with the LMTP client (local/).
export * from '../wire/smtp.ts';
