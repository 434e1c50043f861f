-- Alerting: rules (one actor each) and alerts (one open alert per rule and target).

CREATE TABLE alert_rules (
    id                       INTEGER PRIMARY KEY AUTOINCREMENT,
    name                     TEXT NOT NULL,
    description              TEXT,
    rule_type                TEXT NOT NULL,
    metric                   TEXT,
    operator                 TEXT NOT NULL DEFAULT '>',
    threshold                REAL,
    severity                 TEXT NOT NULL DEFAULT 'warning',
    duration_seconds         INTEGER NOT NULL DEFAULT 0,
    cooldown_seconds         INTEGER NOT NULL DEFAULT 300,
    continuous_alert         BOOLEAN NOT NULL DEFAULT 0,
    silence_start            TEXT,
    silence_end              TEXT,
    target_type              TEXT NOT NULL DEFAULT 'host',
    target_filter            TEXT,
    log_keyword              TEXT,
    log_level                TEXT,
    log_service              TEXT,
    db_metric_name           TEXT,
    db_id                    INTEGER,
    notification_channel_ids TEXT,
    is_builtin               BOOLEAN NOT NULL DEFAULT 0,
    is_enabled               BOOLEAN NOT NULL DEFAULT 1,
    created_at               TEXT NOT NULL,
    updated_at               TEXT NOT NULL
);

CREATE TABLE alerts (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    rule_id         INTEGER REFERENCES alert_rules (id) ON DELETE SET NULL,
    target_key      TEXT NOT NULL,
    host_id         INTEGER,
    service_id      INTEGER,
    database_id     INTEGER,
    severity        TEXT NOT NULL,
    status          TEXT NOT NULL,
    title           TEXT NOT NULL,
    message         TEXT,
    metric_value    REAL,
    threshold       REAL,
    source          TEXT NOT NULL DEFAULT 'rule',
    fingerprint     TEXT,
    labels          TEXT,
    fired_at        TEXT NOT NULL,
    resolved_at     TEXT,
    acknowledged_at TEXT,
    acknowledged_by INTEGER,
    created_at      TEXT NOT NULL
);
-- Never two open alerts for the same rule and target, or the same external fingerprint.
CREATE UNIQUE INDEX alerts_one_open_per_rule_target ON alerts (rule_id, target_key) WHERE status <> 'resolved' AND rule_id IS NOT NULL;
CREATE UNIQUE INDEX alerts_one_open_per_fingerprint ON alerts (fingerprint) WHERE status <> 'resolved' AND fingerprint IS NOT NULL;
CREATE INDEX alerts_status ON alerts (status, fired_at);
CREATE INDEX alerts_host ON alerts (host_id, fired_at);
CREATE INDEX alerts_fired ON alerts (fired_at);
