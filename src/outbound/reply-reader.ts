// The SMTP client's reply reader: it lives in src/wire/reply-reader.ts, shared with the LMTP client (local/).
export * from '../wire/reply-reader.ts';
