-- A message whose sender was told once that it is delayed (queue.delay_warning) is not told again.
ALTER TABLE messages ADD COLUMN delay_notice_sent INTEGER NOT NULL DEFAULT 0;
