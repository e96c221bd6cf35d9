// The benchmark's Haraka queue plugin: writes each accepted message into one Maildir (tmp/, fsync,
// rename into new/) before Haraka answers 250, so it is on disk like the other servers' mail.
// Haraka has no Maildir delivery of its own; this is the smallest durable local delivery.
'use strict';
const fs = require('node:fs');
const path = require('node:path');

let seq = 0;

exports.register = function () {
  this.dir = this.config.get('bench_maildir', 'data')[0];
};

exports.hook_queue = function (next, connection) {
  const name = `${Date.now()}.P${process.pid}Q${seq++}.haraka`;
  const tmp = path.join(this.dir, 'tmp', name);
  // flush: fsync before the file is closed.
  const ws = fs.createWriteStream(tmp, { flush: true });
  let failed = false;
  ws.on('error', () => {
    failed = true;
    next(DENYSOFT, 'Maildir write failed');
  });
  ws.on('close', () => {
    if (failed) return;
    fs.rename(tmp, path.join(this.dir, 'new', name), (e) => (e ? next(DENYSOFT, 'rename failed') : next(OK)));
  });
  connection.transaction.message_stream.pipe(ws, { line_endings: '\n' });
};
