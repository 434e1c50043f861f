-- Knowledge base entries and the environment context, both context for diagnosis.

CREATE TABLE knowledge_entries (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    title       TEXT NOT NULL,
    content     TEXT NOT NULL,
    category    TEXT NOT NULL,
    tags        TEXT NOT NULL DEFAULT '[]',
    created_by  INTEGER,
    created_at  TEXT NOT NULL,
    updated_at  TEXT NOT NULL
);
CREATE INDEX knowledge_entries_category ON knowledge_entries (category);

-- One row: the environment described by operators.
CREATE TABLE environment_context (
    id          INTEGER PRIMARY KEY,
    data        TEXT NOT NULL,
    updated_by  INTEGER,
    updated_at  TEXT NOT NULL
);
