-- Messages, per-user inboxes (gap-free sequence per user) and delivery records. A delivery
-- record of a push is also its job in the queue: state 'queued' / 'in_flight' until a final
-- state; committed in the same transaction as the message. The attempt log is JSONB so that an
-- attempt is appended in place (`||`) by the one statement that records a batch of outcomes.

ALTER TABLE users ADD COLUMN last_seq BIGINT NOT NULL DEFAULT 0;
ALTER TABLE devices ADD COLUMN acked_seq BIGINT NOT NULL DEFAULT 0;

CREATE TABLE messages (
    app_id     TEXT COLLATE "C" NOT NULL REFERENCES apps (id) ON DELETE CASCADE,
    id         TEXT COLLATE "C" NOT NULL,
    sender     TEXT COLLATE "C" NOT NULL,
    body       TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (app_id, id)
);

CREATE TABLE inbox (
    app_id     TEXT COLLATE "C" NOT NULL,
    user_id    TEXT COLLATE "C" NOT NULL,
    seq        BIGINT NOT NULL,
    message_id TEXT COLLATE "C" NOT NULL,
    PRIMARY KEY (app_id, user_id, seq),
    FOREIGN KEY (app_id, user_id) REFERENCES users (app_id, id) ON DELETE CASCADE
);

CREATE TABLE deliveries (
    id             BIGSERIAL PRIMARY KEY,
    app_id         TEXT COLLATE "C" NOT NULL REFERENCES apps (id) ON DELETE CASCADE,
    message_id     TEXT COLLATE "C" NOT NULL,
    user_id        TEXT COLLATE "C" NOT NULL,
    device_id      TEXT COLLATE "C" NOT NULL,
    decision       TEXT COLLATE "C" NOT NULL,
    reason         TEXT COLLATE "C" NOT NULL,
    certificate_id BIGINT,
    vendor         TEXT COLLATE "C",
    token          TEXT COLLATE "C",
    badge          BIGINT NOT NULL DEFAULT 0,
    sound          TEXT,
    state          TEXT COLLATE "C" NOT NULL,
    attempts       BIGINT NOT NULL DEFAULT 0,
    not_before     BIGINT NOT NULL DEFAULT 0,
    lease_until    BIGINT NOT NULL DEFAULT 0,
    expires_at     BIGINT NOT NULL DEFAULT 0,
    vendor_code    TEXT,
    vendor_msg_id  TEXT,
    attempt_log    JSONB NOT NULL DEFAULT '[]',
    created_at     BIGINT NOT NULL,
    updated_at     BIGINT NOT NULL
);
CREATE INDEX deliveries_message ON deliveries (app_id, message_id);
CREATE INDEX deliveries_device ON deliveries (app_id, user_id, device_id, id);
CREATE INDEX deliveries_due ON deliveries (state, not_before) WHERE state IN ('queued', 'in_flight');
-- Claims take the oldest open jobs first: this index holds only open rows, in id order, so a
-- claim never walks the final ones.
CREATE INDEX deliveries_open ON deliveries (id) WHERE state IN ('queued', 'in_flight');
