-- TLS reports (RFC 8460) other domains send about us, parsed on delivery to a [[domain]]
-- tlsrpt_rua mailbox, for `sealpost tls-report`, `status` and `mta-sts show`. tlsrpt/store.ts is
-- the only writer. A report is stored once per (organization, report-id): the same report
-- delivered twice (two recipients, a retry) is one row.
CREATE TABLE tls_reports (
  id INTEGER PRIMARY KEY,
  organization TEXT NOT NULL,           -- "organization-name"
  report_id TEXT NOT NULL,              -- "report-id"
  contact TEXT NOT NULL,                -- "contact-info"
  start_at INTEGER NOT NULL,            -- "date-range" start, unix ms
  end_at INTEGER NOT NULL,              -- "date-range" end, unix ms
  received_at INTEGER NOT NULL,         -- unix ms of the delivery that stored it
  queue_id TEXT NOT NULL,               -- the message it came in
  UNIQUE (organization, report_id)
) STRICT;
CREATE INDEX tls_reports_start ON tls_reports (start_at);

-- One row per "policies" entry of a report: the policy applied and its session counts.
CREATE TABLE tls_report_policies (
  id INTEGER PRIMARY KEY,
  report INTEGER NOT NULL REFERENCES tls_reports (id) ON DELETE CASCADE,
  policy_type TEXT NOT NULL,            -- sts | tlsa | no-policy-found
  policy_domain TEXT NOT NULL,          -- lowercase
  mx_hosts TEXT NOT NULL,               -- JSON array of "mx-host"
  successes INTEGER NOT NULL,           -- total-successful-session-count
  failures INTEGER NOT NULL             -- total-failure-session-count
) STRICT;
CREATE INDEX tls_report_policies_report ON tls_report_policies (report);

-- One row per "failure-details" entry: the result type and where it happened.
CREATE TABLE tls_report_failures (
  policy INTEGER NOT NULL REFERENCES tls_report_policies (id) ON DELETE CASCADE,
  result_type TEXT NOT NULL,
  sending_mta_ip TEXT NOT NULL,         -- '' when not given
  receiving_mx TEXT NOT NULL,
  receiving_ip TEXT NOT NULL,
  sessions INTEGER NOT NULL,            -- failed-session-count
  reason_code TEXT NOT NULL
) STRICT;
CREATE INDEX tls_report_failures_policy ON tls_report_failures (policy);
