-- Remediation: custom runbooks, runs and every transition of a run.

CREATE TABLE custom_runbooks (
    id                INTEGER PRIMARY KEY AUTOINCREMENT,
    name              TEXT NOT NULL UNIQUE,
    description       TEXT NOT NULL DEFAULT '',
    match_alert_types TEXT NOT NULL DEFAULT '[]',
    trigger_keywords  TEXT NOT NULL DEFAULT '[]',
    risk_level        TEXT NOT NULL,
    safety_checks     TEXT NOT NULL DEFAULT '[]',
    steps             TEXT NOT NULL,
    verify_steps      TEXT NOT NULL DEFAULT '[]',
    is_active         BOOLEAN NOT NULL DEFAULT 1,
    created_by        INTEGER,
    created_at        TEXT NOT NULL,
    updated_at        TEXT NOT NULL
);

CREATE TABLE remediation_runs (
    id                  INTEGER PRIMARY KEY AUTOINCREMENT,
    alert_id            INTEGER NOT NULL,
    host_id             INTEGER,
    status              TEXT NOT NULL,
    risk_level          TEXT NOT NULL,
    runbook_name        TEXT NOT NULL,
    -- The runbook as run: commands rendered for the alert.
    runbook_json        TEXT NOT NULL,
    diagnosis_json      TEXT,
    command_results_json TEXT NOT NULL DEFAULT '[]',
    verification_passed BOOLEAN,
    blocked_reason      TEXT,
    triggered_by        TEXT NOT NULL,
    triggered_by_user   INTEGER,
    executor            TEXT NOT NULL,
    approved_by         INTEGER,
    approved_at         TEXT,
    approval_comment    TEXT,
    approval_deadline   TEXT,
    started_at          TEXT NOT NULL,
    executed_at         TEXT,
    completed_at        TEXT,
    created_at          TEXT NOT NULL,
    updated_at          TEXT NOT NULL
);
-- One run in progress per alert: a second trigger is refused (409).
CREATE UNIQUE INDEX remediation_runs_one_active ON remediation_runs (alert_id)
    WHERE status IN ('pending', 'pending_approval', 'approved', 'executing');
CREATE INDEX remediation_runs_created ON remediation_runs (created_at);
CREATE INDEX remediation_runs_host ON remediation_runs (host_id, created_at);

CREATE TABLE remediation_events (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    run_id      INTEGER NOT NULL REFERENCES remediation_runs (id) ON DELETE CASCADE,
    from_status TEXT,
    to_status   TEXT NOT NULL,
    actor       TEXT NOT NULL,
    actor_id    INTEGER,
    comment     TEXT,
    reason      TEXT,
    at          TEXT NOT NULL
);
CREATE INDEX remediation_events_run ON remediation_events (run_id, id);
CREATE INDEX remediation_events_auto ON remediation_events (to_status, actor, at);
