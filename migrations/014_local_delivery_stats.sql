-- Local deliveries (Maildir, LMTP) counted per hour, delivery agent and outcome, for the status
-- page's "messages per hour by outcome" and `sealpost status`: remote ones are read from attempts,
-- local ones leave no attempts row. One count per recipient. local/delivery-stats.ts is the only
-- writer. Rows older than 30 days go.
CREATE TABLE local_delivery_stats (
  hour INTEGER NOT NULL,                -- unix ms at the start of the hour (UTC)
  agent TEXT NOT NULL,                  -- maildir | lmtp (Postfix's delivery agents)
  outcome TEXT NOT NULL,                -- delivered | deferred | bounced
  recipients INTEGER NOT NULL,
  PRIMARY KEY (hour, agent, outcome)
) STRICT;
