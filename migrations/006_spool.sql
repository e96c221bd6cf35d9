-- Large bodies live in spool files (data_dir/spool/<spool>, queue/spool.ts): such a row keeps in
-- body only our trace fields and the message's header block, and the rest of the message is the
-- file from byte spool_offset on. queue/store.ts writes the file's name here only after the file
-- and its directory are fsync'd, and removes the file when the row goes.
ALTER TABLE messages ADD COLUMN spool TEXT;                                -- file name, or NULL: body is all
ALTER TABLE messages ADD COLUMN spool_offset INTEGER NOT NULL DEFAULT 0;   -- where the rest starts in the file
