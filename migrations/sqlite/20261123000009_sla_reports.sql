-- SLA rules (one per service), the violations service actors record, and operations
-- reports. A scheduled report's (type, period start) is unique, so the scheduler can
-- claim a period exactly once across restarts and nodes.

CREATE TABLE sla_rules (
    id                 INTEGER PRIMARY KEY AUTOINCREMENT,
    service_id         INTEGER NOT NULL UNIQUE REFERENCES services (id) ON DELETE CASCADE,
    name               TEXT NOT NULL,
    target_percent     REAL NOT NULL,
    calculation_window TEXT NOT NULL,
    created_at         TEXT NOT NULL,
    updated_at         TEXT NOT NULL
);

-- Violations outlive their rule (history); they go with their service.
CREATE TABLE sla_violations (
    id               INTEGER PRIMARY KEY AUTOINCREMENT,
    sla_rule_id      INTEGER NOT NULL,
    service_id       INTEGER NOT NULL REFERENCES services (id) ON DELETE CASCADE,
    started_at       TEXT NOT NULL,
    ended_at         TEXT,
    duration_seconds INTEGER,
    description      TEXT NOT NULL,
    created_at       TEXT NOT NULL,
    UNIQUE (sla_rule_id, started_at)
);
CREATE INDEX sla_violations_started ON sla_violations (started_at);
CREATE INDEX sla_violations_service ON sla_violations (service_id, started_at);

CREATE TABLE reports (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    title        TEXT NOT NULL,
    report_type  TEXT NOT NULL,
    period_start TEXT NOT NULL,
    period_end   TEXT NOT NULL,
    timezone     TEXT NOT NULL,
    status       TEXT NOT NULL,
    summary      TEXT NOT NULL DEFAULT '',
    content      TEXT NOT NULL DEFAULT '',
    body         TEXT NOT NULL DEFAULT '{}',
    engine       TEXT NOT NULL DEFAULT 'rules',
    scheduled    BOOLEAN NOT NULL DEFAULT FALSE,
    generated_by INTEGER,
    created_at   TEXT NOT NULL,
    completed_at TEXT
);
CREATE UNIQUE INDEX reports_scheduled_period ON reports (report_type, period_start) WHERE scheduled;
CREATE INDEX reports_created ON reports (created_at);
