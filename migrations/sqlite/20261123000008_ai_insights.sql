-- AI insights: the stored results of log analyses and root-cause analyses, with the
-- engine that produced them and a review status.

CREATE TABLE ai_insights (
    id               INTEGER PRIMARY KEY AUTOINCREMENT,
    insight_type     TEXT NOT NULL,
    severity         TEXT NOT NULL,
    title            TEXT NOT NULL,
    summary          TEXT NOT NULL,
    details          TEXT NOT NULL,
    engine           TEXT NOT NULL,
    status           TEXT NOT NULL DEFAULT 'new',
    related_host_id  INTEGER,
    related_alert_id INTEGER,
    created_by       INTEGER,
    created_at       TEXT NOT NULL,
    updated_at       TEXT NOT NULL
);
CREATE INDEX ai_insights_created ON ai_insights (created_at);
CREATE INDEX ai_insights_status ON ai_insights (status, severity);
