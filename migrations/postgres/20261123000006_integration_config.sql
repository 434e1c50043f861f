-- Overrides set with PUT /api/config (seed 001); the configuration file gives defaults.
CREATE TABLE integration_config (
    key         TEXT PRIMARY KEY,
    value       TEXT NOT NULL,
    updated_by  BIGINT,
    updated_at  TIMESTAMPTZ NOT NULL
);
