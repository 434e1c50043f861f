-- Incidents (seed 001): one row per problem, ids INC-YYYYMMDD-NNN, and their timelines.

CREATE TABLE incidents (
    id             TEXT PRIMARY KEY,
    day            TEXT NOT NULL,
    seq            INTEGER NOT NULL,
    title          TEXT NOT NULL,
    status         TEXT NOT NULL,
    severity       TEXT NOT NULL,
    category       TEXT NOT NULL,
    description    TEXT NOT NULL DEFAULT '',
    source         TEXT NOT NULL,
    fingerprint    TEXT NOT NULL,
    service        TEXT,
    namespace      TEXT,
    host_id        INTEGER,
    alert_id       INTEGER,
    diagnosis_json TEXT,
    proposal_json  TEXT,
    execution_json TEXT,
    resolution     TEXT,
    event_count    INTEGER NOT NULL DEFAULT 0,
    created_at     TEXT NOT NULL,
    updated_at     TEXT NOT NULL,
    resolved_at    TEXT
);
-- The per-day sequence is unique, so concurrent creation retries instead of colliding.
CREATE UNIQUE INDEX incidents_day_seq ON incidents (day, seq);
-- While an incident is not resolved, a repeat of its alert is a duplicate_alert event.
CREATE UNIQUE INDEX incidents_open_fingerprint ON incidents (fingerprint) WHERE status <> 'resolved';
CREATE INDEX incidents_alert ON incidents (alert_id);
CREATE INDEX incidents_created ON incidents (created_at);

CREATE TABLE incident_events (
    incident_id TEXT NOT NULL REFERENCES incidents (id) ON DELETE CASCADE,
    seq         INTEGER NOT NULL,
    type        TEXT NOT NULL,
    data        TEXT NOT NULL,
    at          TEXT NOT NULL,
    PRIMARY KEY (incident_id, seq)
);
