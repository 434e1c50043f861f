-- Agent ingestion: hosts, metrics, services and checks, databases and their metrics,
-- logs (with an FTS5 trigram index), and the database targets agents collect from.

CREATE TABLE hosts (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    hostname        TEXT NOT NULL UNIQUE,
    display_name    TEXT,
    ip_address      TEXT,
    private_ip      TEXT,
    public_ip       TEXT,
    os              TEXT,
    os_version      TEXT,
    arch            TEXT,
    cpu_cores       INTEGER,
    memory_total_mb INTEGER,
    agent_version   TEXT,
    tags            TEXT,
    group_name      TEXT,
    network_info    TEXT,
    disk_partitions TEXT,
    status          TEXT NOT NULL DEFAULT 'online',
    agent_token_id  INTEGER REFERENCES agent_tokens (id) ON DELETE SET NULL,
    last_heartbeat  TEXT,
    status_changed_at TEXT,
    created_at      TEXT NOT NULL,
    updated_at      TEXT NOT NULL
);
CREATE INDEX hosts_status ON hosts (status);
CREATE INDEX hosts_group ON hosts (group_name);

CREATE TABLE host_metrics (
    id                   INTEGER PRIMARY KEY AUTOINCREMENT,
    host_id              INTEGER NOT NULL REFERENCES hosts (id) ON DELETE CASCADE,
    cpu_percent          REAL,
    cpu_load_1           REAL,
    cpu_load_5           REAL,
    cpu_load_15          REAL,
    memory_used_mb       REAL,
    memory_percent       REAL,
    disk_used_mb         REAL,
    disk_total_mb        REAL,
    disk_percent         REAL,
    net_bytes_sent       REAL,
    net_bytes_recv       REAL,
    net_send_rate_kb     REAL,
    net_recv_rate_kb     REAL,
    net_packet_loss_rate REAL,
    agent_cpu_percent    REAL,
    agent_memory_rss_mb  REAL,
    agent_thread_count   REAL,
    agent_uptime_seconds REAL,
    agent_open_files     REAL,
    recorded_at          TEXT NOT NULL
);
CREATE INDEX host_metrics_host_time ON host_metrics (host_id, recorded_at);
CREATE INDEX host_metrics_time ON host_metrics (recorded_at);

CREATE TABLE services (
    id                INTEGER PRIMARY KEY AUTOINCREMENT,
    host_id           INTEGER NOT NULL REFERENCES hosts (id) ON DELETE CASCADE,
    name              TEXT NOT NULL,
    type              TEXT NOT NULL,
    target            TEXT NOT NULL,
    check_interval    INTEGER NOT NULL,
    timeout           INTEGER NOT NULL,
    category          TEXT NOT NULL,
    status            TEXT NOT NULL DEFAULT 'unknown',
    last_error        TEXT,
    last_check_at     TEXT,
    status_changed_at TEXT,
    created_at        TEXT NOT NULL,
    updated_at        TEXT NOT NULL,
    UNIQUE (host_id, name)
);

CREATE TABLE service_checks (
    id               INTEGER PRIMARY KEY AUTOINCREMENT,
    service_id       INTEGER NOT NULL REFERENCES services (id) ON DELETE CASCADE,
    status           TEXT NOT NULL,
    response_time_ms REAL,
    status_code      INTEGER,
    error            TEXT,
    checked_at       TEXT NOT NULL
);
CREATE INDEX service_checks_service_time ON service_checks (service_id, checked_at);
CREATE INDEX service_checks_time ON service_checks (checked_at);

CREATE TABLE monitored_databases (
    id                  INTEGER PRIMARY KEY AUTOINCREMENT,
    host_id             INTEGER NOT NULL REFERENCES hosts (id) ON DELETE CASCADE,
    name                TEXT NOT NULL,
    db_type             TEXT NOT NULL,
    status              TEXT NOT NULL DEFAULT 'unknown',
    slow_queries_detail TEXT,
    last_metric_at      TEXT,
    created_at          TEXT NOT NULL,
    updated_at          TEXT NOT NULL,
    UNIQUE (host_id, name, db_type)
);

CREATE TABLE db_metrics (
    id                       INTEGER PRIMARY KEY AUTOINCREMENT,
    database_id              INTEGER NOT NULL REFERENCES monitored_databases (id) ON DELETE CASCADE,
    connections_total        REAL,
    connections_active       REAL,
    connections_max          REAL,
    database_size_mb         REAL,
    slow_queries             REAL,
    tables_count             REAL,
    transactions_committed   REAL,
    transactions_rolled_back REAL,
    qps                      REAL,
    tablespace_used_pct      REAL,
    lock_waits               REAL,
    deadlocks                REAL,
    extra                    TEXT,
    recorded_at              TEXT NOT NULL
);
CREATE INDEX db_metrics_db_time ON db_metrics (database_id, recorded_at);
CREATE INDEX db_metrics_time ON db_metrics (recorded_at);

CREATE TABLE logs (
    id        INTEGER PRIMARY KEY AUTOINCREMENT,
    host_id   INTEGER NOT NULL REFERENCES hosts (id) ON DELETE CASCADE,
    service   TEXT,
    source    TEXT,
    level     TEXT NOT NULL,
    message   TEXT NOT NULL,
    timestamp TEXT NOT NULL
);
CREATE INDEX logs_time ON logs (timestamp);
CREATE INDEX logs_host_time ON logs (host_id, timestamp);

-- Trigram tokens give substring search in any language (Chinese included) for queries
-- of three or more characters; shorter queries fall back to LIKE.
CREATE VIRTUAL TABLE logs_fts USING fts5 (message, content = 'logs', content_rowid = 'id', tokenize = 'trigram');
CREATE TRIGGER logs_fts_insert AFTER INSERT ON logs BEGIN
    INSERT INTO logs_fts (rowid, message) VALUES (new.id, new.message);
END;
CREATE TRIGGER logs_fts_delete AFTER DELETE ON logs BEGIN
    INSERT INTO logs_fts (logs_fts, rowid, message) VALUES ('delete', old.id, old.message);
END;

CREATE TABLE db_targets (
    id                  INTEGER PRIMARY KEY AUTOINCREMENT,
    host_id             INTEGER NOT NULL REFERENCES hosts (id) ON DELETE CASCADE,
    db_type             TEXT NOT NULL,
    db_host             TEXT NOT NULL,
    db_port             INTEGER NOT NULL,
    db_name             TEXT NOT NULL,
    username            TEXT NOT NULL,
    password            TEXT NOT NULL,
    interval_sec        INTEGER NOT NULL,
    connect_timeout_sec INTEGER NOT NULL,
    is_active           BOOLEAN NOT NULL DEFAULT 1,
    extra_config        TEXT,
    created_at          TEXT NOT NULL,
    updated_at          TEXT NOT NULL
);
CREATE INDEX db_targets_host ON db_targets (host_id);
