-- Herald's embedded schema. Times are milliseconds since the Unix epoch; JSON is stored as text;
-- secret values are sealed (AES-256-GCM) blobs, never clear text.

CREATE TABLE meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);

CREATE TABLE apps (
    id         TEXT PRIMARY KEY,
    name       TEXT NOT NULL,
    secret     BLOB NOT NULL,
    created_at BIGINT NOT NULL
);

CREATE TABLE certificates (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    app_id       TEXT NOT NULL REFERENCES apps (id) ON DELETE CASCADE,
    vendor       TEXT NOT NULL,
    name         TEXT NOT NULL,
    enabled      BOOLEAN NOT NULL,
    click_action TEXT NOT NULL,
    defaults     TEXT NOT NULL,
    base_url     TEXT,
    fields       TEXT NOT NULL,
    secret_names TEXT NOT NULL,
    secrets      BLOB NOT NULL,
    created_at   BIGINT NOT NULL,
    updated_at   BIGINT NOT NULL,
    UNIQUE (app_id, name)
);

CREATE TABLE users (
    app_id        TEXT NOT NULL REFERENCES apps (id) ON DELETE CASCADE,
    id            TEXT NOT NULL,
    nickname      TEXT,
    avatar_url    TEXT,
    push_settings TEXT,
    created_at    BIGINT NOT NULL,
    PRIMARY KEY (app_id, id)
);

CREATE TABLE devices (
    app_id         TEXT NOT NULL,
    user_id        TEXT NOT NULL,
    device_id      TEXT NOT NULL,
    platform       TEXT NOT NULL,
    state          TEXT NOT NULL,
    certificate_id BIGINT REFERENCES certificates (id),
    vendor         TEXT,
    token          TEXT,
    badge          BIGINT NOT NULL DEFAULT 0,
    updated_at     BIGINT NOT NULL,
    PRIMARY KEY (app_id, user_id, device_id),
    FOREIGN KEY (app_id, user_id) REFERENCES users (app_id, id) ON DELETE CASCADE
);

-- A push token belongs to exactly one device of an app.
CREATE UNIQUE INDEX devices_token ON devices (app_id, token) WHERE token IS NOT NULL;
CREATE INDEX devices_certificate ON devices (certificate_id) WHERE certificate_id IS NOT NULL;

CREATE TABLE chat_groups (
    app_id     TEXT NOT NULL REFERENCES apps (id) ON DELETE CASCADE,
    id         TEXT NOT NULL,
    name       TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (app_id, id)
);

CREATE TABLE group_members (
    app_id   TEXT NOT NULL,
    group_id TEXT NOT NULL,
    user_id  TEXT NOT NULL,
    PRIMARY KEY (app_id, group_id, user_id),
    FOREIGN KEY (app_id, group_id) REFERENCES chat_groups (app_id, id) ON DELETE CASCADE,
    FOREIGN KEY (app_id, user_id) REFERENCES users (app_id, id) ON DELETE CASCADE
);
CREATE INDEX group_members_user ON group_members (app_id, user_id);
