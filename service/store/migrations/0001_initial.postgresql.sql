-- Feedback, issued cards and the JWT replay cache. No patient identifiers anywhere.
CREATE TABLE feedback (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    idempotency_key TEXT NOT NULL UNIQUE,
    card_uuid TEXT NOT NULL,
    service_id TEXT NOT NULL,
    outcome TEXT NOT NULL CHECK (outcome IN ('accepted', 'overridden')),
    override_reason_system TEXT,
    override_reason_code TEXT,
    override_reason_display TEXT,
    override_comment TEXT,
    accepted_suggestions TEXT NOT NULL DEFAULT '[]',
    outcome_at TIMESTAMPTZ NOT NULL,
    received_at TIMESTAMPTZ NOT NULL,
    source TEXT NOT NULL DEFAULT 'ehr'
);
CREATE INDEX feedback_card_uuid ON feedback (card_uuid);
CREATE INDEX feedback_received_at ON feedback (received_at);

CREATE TABLE issued_cards (
    card_uuid TEXT PRIMARY KEY,
    topic TEXT,
    service_id TEXT NOT NULL,
    issued_at TIMESTAMPTZ NOT NULL
);
CREATE INDEX issued_cards_issued_at ON issued_cards (issued_at);

CREATE TABLE jwt_replay (
    iss TEXT NOT NULL,
    jti TEXT NOT NULL,
    expires_at TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (iss, jti)
);
CREATE INDEX jwt_replay_expires_at ON jwt_replay (expires_at);
