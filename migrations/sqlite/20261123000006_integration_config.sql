-- Overrides set with PUT /api/config (seed 001); the configuration file gives defaults.
CREATE TABLE integration_config (
    key         TEXT PRIMARY KEY,
    value       TEXT NOT NULL,
    updated_by  INTEGER,
    updated_at  TEXT NOT NULL
);
