-- Messages, per-user inboxes (gap-free sequence per user) and delivery records. A delivery
-- record of a push is also its job in the queue: state 'queued' / 'in_flight' until a final
-- state; committed in the same transaction as the message.

ALTER TABLE users ADD COLUMN last_seq BIGINT NOT NULL DEFAULT 0;
ALTER TABLE devices ADD COLUMN acked_seq BIGINT NOT NULL DEFAULT 0;

CREATE TABLE messages (
    app_id     TEXT NOT NULL REFERENCES apps (id) ON DELETE CASCADE,
    id         TEXT NOT NULL,
    sender     TEXT NOT NULL,
    body       TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (app_id, id)
);

CREATE TABLE inbox (
    app_id     TEXT NOT NULL,
    user_id    TEXT NOT NULL,
    seq        BIGINT NOT NULL,
    message_id TEXT NOT NULL,
    PRIMARY KEY (app_id, user_id, seq),
    FOREIGN KEY (app_id, user_id) REFERENCES users (app_id, id) ON DELETE CASCADE
);

CREATE TABLE deliveries (
    id             INTEGER PRIMARY KEY AUTOINCREMENT,
    app_id         TEXT NOT NULL REFERENCES apps (id) ON DELETE CASCADE,
    message_id     TEXT NOT NULL,
    user_id        TEXT NOT NULL,
    device_id      TEXT NOT NULL,
    decision       TEXT NOT NULL,
    reason         TEXT NOT NULL,
    certificate_id BIGINT,
    vendor         TEXT,
    token          TEXT,
    badge          BIGINT NOT NULL DEFAULT 0,
    sound          TEXT,
    state          TEXT NOT NULL,
    attempts       INTEGER NOT NULL DEFAULT 0,
    not_before     BIGINT NOT NULL DEFAULT 0,
    lease_until    BIGINT NOT NULL DEFAULT 0,
    expires_at     BIGINT NOT NULL DEFAULT 0,
    vendor_code    TEXT,
    vendor_msg_id  TEXT,
    attempt_log    TEXT NOT NULL DEFAULT '[]',
    created_at     BIGINT NOT NULL,
    updated_at     BIGINT NOT NULL
);
CREATE INDEX deliveries_message ON deliveries (app_id, message_id);
CREATE INDEX deliveries_device ON deliveries (app_id, user_id, device_id, id);
CREATE INDEX deliveries_due ON deliveries (state, not_before) WHERE state IN ('queued', 'in_flight');
