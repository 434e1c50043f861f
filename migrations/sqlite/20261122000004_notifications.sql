-- Notifications: channels, templates, and the outbox that doubles as the delivery log.

CREATE TABLE notification_channels (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    name         TEXT NOT NULL,
    channel_type TEXT NOT NULL,
    config       TEXT NOT NULL,
    is_enabled   BOOLEAN NOT NULL DEFAULT 1,
    created_at   TEXT NOT NULL,
    updated_at   TEXT NOT NULL
);

CREATE TABLE notification_templates (
    id             INTEGER PRIMARY KEY AUTOINCREMENT,
    name           TEXT NOT NULL,
    channel_type   TEXT NOT NULL,
    kind           TEXT NOT NULL DEFAULT 'alert',
    locale         TEXT,
    title_template TEXT,
    body_template  TEXT NOT NULL,
    is_default     BOOLEAN NOT NULL DEFAULT 0,
    is_builtin     BOOLEAN NOT NULL DEFAULT 0,
    created_at     TEXT NOT NULL,
    updated_at     TEXT NOT NULL
);
-- At most one default per channel type and message kind.
CREATE UNIQUE INDEX notification_templates_one_default ON notification_templates (channel_type, kind) WHERE is_default;

-- One row per (message, channel): written before the first attempt (status pending),
-- finished as sent or failed. Pending rows are sent again after a restart.
CREATE TABLE notifications (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    channel_id    INTEGER NOT NULL,
    alert_id      INTEGER,
    run_id        INTEGER,
    kind          TEXT NOT NULL,
    payload       TEXT NOT NULL,
    status        TEXT NOT NULL DEFAULT 'pending',
    response_code INTEGER,
    error         TEXT,
    retries       INTEGER NOT NULL DEFAULT 0,
    external_id   TEXT,
    created_at    TEXT NOT NULL,
    sent_at       TEXT
);
CREATE INDEX notifications_pending ON notifications (id) WHERE status = 'pending';
CREATE INDEX notifications_alert ON notifications (alert_id, id);
CREATE INDEX notifications_run ON notifications (run_id) WHERE run_id IS NOT NULL;
