-- Herald's scale-out schema: the embedded schema with PostgreSQL types. Times are milliseconds
-- since the Unix epoch; JSON is stored as text (read back byte for byte, as on SQLite); secret
-- values are sealed (AES-256-GCM) blobs, never clear text. Identifier columns use the "C"
-- collation so lists sort byte-wise, as SQLite sorts them, whatever the database's locale.

CREATE TABLE meta (
    key   TEXT COLLATE "C" PRIMARY KEY,
    value TEXT NOT NULL
);

CREATE TABLE apps (
    id         TEXT COLLATE "C" PRIMARY KEY,
    name       TEXT NOT NULL,
    secret     BYTEA NOT NULL,
    created_at BIGINT NOT NULL
);

CREATE TABLE certificates (
    id           BIGSERIAL PRIMARY KEY,
    app_id       TEXT COLLATE "C" NOT NULL REFERENCES apps (id) ON DELETE CASCADE,
    vendor       TEXT COLLATE "C" NOT NULL,
    name         TEXT COLLATE "C" NOT NULL,
    enabled      BOOLEAN NOT NULL,
    click_action TEXT NOT NULL,
    defaults     TEXT NOT NULL,
    base_url     TEXT,
    fields       TEXT NOT NULL,
    secret_names TEXT NOT NULL,
    secrets      BYTEA NOT NULL,
    created_at   BIGINT NOT NULL,
    updated_at   BIGINT NOT NULL,
    UNIQUE (app_id, name)
);

CREATE TABLE users (
    app_id        TEXT COLLATE "C" NOT NULL REFERENCES apps (id) ON DELETE CASCADE,
    id            TEXT COLLATE "C" NOT NULL,
    nickname      TEXT,
    avatar_url    TEXT,
    push_settings TEXT,
    created_at    BIGINT NOT NULL,
    PRIMARY KEY (app_id, id)
);

CREATE TABLE devices (
    app_id         TEXT COLLATE "C" NOT NULL,
    user_id        TEXT COLLATE "C" NOT NULL,
    device_id      TEXT COLLATE "C" NOT NULL,
    platform       TEXT COLLATE "C" NOT NULL,
    state          TEXT COLLATE "C" NOT NULL,
    certificate_id BIGINT REFERENCES certificates (id),
    vendor         TEXT COLLATE "C",
    token          TEXT COLLATE "C",
    badge          BIGINT NOT NULL DEFAULT 0,
    updated_at     BIGINT NOT NULL,
    PRIMARY KEY (app_id, user_id, device_id),
    FOREIGN KEY (app_id, user_id) REFERENCES users (app_id, id) ON DELETE CASCADE
);

-- A push token belongs to exactly one device of an app.
CREATE UNIQUE INDEX devices_token ON devices (app_id, token) WHERE token IS NOT NULL;
CREATE INDEX devices_certificate ON devices (certificate_id) WHERE certificate_id IS NOT NULL;

CREATE TABLE chat_groups (
    app_id     TEXT COLLATE "C" NOT NULL REFERENCES apps (id) ON DELETE CASCADE,
    id         TEXT COLLATE "C" NOT NULL,
    name       TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (app_id, id)
);

CREATE TABLE group_members (
    app_id   TEXT COLLATE "C" NOT NULL,
    group_id TEXT COLLATE "C" NOT NULL,
    user_id  TEXT COLLATE "C" NOT NULL,
    PRIMARY KEY (app_id, group_id, user_id),
    FOREIGN KEY (app_id, group_id) REFERENCES chat_groups (app_id, id) ON DELETE CASCADE,
    FOREIGN KEY (app_id, user_id) REFERENCES users (app_id, id) ON DELETE CASCADE
);
CREATE INDEX group_members_user ON group_members (app_id, user_id);
