-- Inventory and topology: servers (linked to agent hosts by hostname at read time),
-- service groups and the services each server runs in them, nginx upstreams per
-- server, custom service dependencies, and saved topology layouts per user.

CREATE TABLE servers (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    hostname    TEXT NOT NULL UNIQUE,
    ip_address  TEXT,
    label       TEXT,
    os          TEXT,
    tags        TEXT,
    status      TEXT NOT NULL DEFAULT 'unknown',
    last_seen   TEXT,
    created_at  TEXT NOT NULL,
    updated_at  TEXT NOT NULL
);
CREATE INDEX servers_ip ON servers (ip_address);

CREATE TABLE service_groups (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    name        TEXT NOT NULL UNIQUE,
    category    TEXT NOT NULL DEFAULT 'app',
    description TEXT,
    color       TEXT,
    created_at  TEXT NOT NULL,
    updated_at  TEXT NOT NULL
);
CREATE INDEX service_groups_category ON service_groups (category);

CREATE TABLE server_services (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    server_id   INTEGER NOT NULL REFERENCES servers (id) ON DELETE CASCADE,
    group_id    INTEGER NOT NULL REFERENCES service_groups (id) ON DELETE CASCADE,
    port        INTEGER,
    pid         INTEGER,
    status      TEXT NOT NULL DEFAULT 'running',
    cpu_percent REAL NOT NULL DEFAULT 0,
    mem_mb      REAL NOT NULL DEFAULT 0,
    created_at  TEXT NOT NULL,
    updated_at  TEXT NOT NULL
);
-- One instance of a group per server and port; a missing port counts as one value.
CREATE UNIQUE INDEX server_services_unique ON server_services (server_id, group_id, COALESCE(port, -1));
CREATE INDEX server_services_group ON server_services (group_id);

CREATE TABLE nginx_upstreams (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    server_id       INTEGER NOT NULL REFERENCES servers (id) ON DELETE CASCADE,
    upstream_name   TEXT NOT NULL,
    backend_address TEXT NOT NULL,
    weight          INTEGER NOT NULL DEFAULT 1,
    status          TEXT NOT NULL DEFAULT 'up',
    parsed_at       TEXT NOT NULL,
    UNIQUE (server_id, upstream_name, backend_address)
);

CREATE TABLE service_dependencies (
    id                INTEGER PRIMARY KEY AUTOINCREMENT,
    source_service_id INTEGER NOT NULL REFERENCES services (id) ON DELETE CASCADE,
    target_service_id INTEGER NOT NULL REFERENCES services (id) ON DELETE CASCADE,
    dependency_type   TEXT NOT NULL DEFAULT 'calls',
    description       TEXT,
    created_by        INTEGER,
    created_at        TEXT NOT NULL,
    UNIQUE (source_service_id, target_service_id)
);
CREATE INDEX service_dependencies_target ON service_dependencies (target_service_id);

CREATE TABLE topology_layouts (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id     INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    name        TEXT NOT NULL,
    positions   TEXT NOT NULL,
    created_at  TEXT NOT NULL,
    updated_at  TEXT NOT NULL,
    UNIQUE (user_id, name)
);
