-- Every plugin call diagnosis makes, for usage_count, avg_duration and success_rate.
CREATE TABLE plugin_calls (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    plugin      TEXT NOT NULL,
    incident_id TEXT,
    duration_ms INTEGER NOT NULL,
    success     BOOLEAN NOT NULL,
    at          TEXT NOT NULL
);
CREATE INDEX plugin_calls_plugin ON plugin_calls (plugin);
