-- Messages accepted per certificate and vendor day, by every node together: the count the
-- daily quota is checked against, kept across restarts. Days older than a week are deleted by
-- retention.
CREATE TABLE quota_usage (
    app_id         TEXT COLLATE "C" NOT NULL,
    certificate_id BIGINT NOT NULL REFERENCES certificates (id) ON DELETE CASCADE,
    day            BIGINT NOT NULL,
    used           BIGINT NOT NULL,
    PRIMARY KEY (app_id, certificate_id, day)
);
