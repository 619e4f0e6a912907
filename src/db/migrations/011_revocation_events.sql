-- Up Migration

-- Revocation events for WSO2 API Manager (issue 22, README "Revocation events to API Manager"):
-- a transactional outbox. API Manager's gateway validates JWTs itself and learns of a revocation
-- only from these events, so an event is written in the same transaction as the revocation it
-- announces (both commit or neither does) and deleted only once the receiver answered 2xx.

-- The notify URLs (DCR_APIM_NOTIFY_URL) events are queued for. Every server start writes its own
-- list here (src/repositories/revocation-outbox.ts, syncTargets): the triggers below and the token
-- statements queue one row per URL listed, so with no URL configured nothing is queued at all.
CREATE TABLE revocation_targets (
  url text PRIMARY KEY
);

-- One row per event and URL: each URL has its own delivery state, so one URL's downtime neither
-- blocks nor re-sends another's. `id` is the queue's order; `order_key` (the consumer key, or the
-- subject of a subject event) is what delivery keeps in order per URL. What the event says is
-- stored as facts and rendered into WSO2's JSON at each attempt by one pure function
-- (src/domain/revocation-events.ts), with the same event_id and timestamp every time.
CREATE TABLE revocation_outbox (
  id               bigserial   PRIMARY KEY,
  event_id         uuid        NOT NULL,
  target           text        NOT NULL,
  kind             text        NOT NULL,
  order_key        text        NOT NULL,
  consumer_key     text,
  -- The user: `user` of a token event, `entityId` of a subject event (the form of a token's `sub`).
  subject          text,
  -- A token event's JWT: its jti (never the token itself) and its expiry.
  token_id         uuid,
  token_expires_at timestamptz,
  -- The revocation's instant (its transaction's now()): timeStamp and revocationTime.
  created_at       timestamptz NOT NULL DEFAULT now(),
  -- Failed attempts, and when to try again. A row being delivered is locked by the delivering
  -- transaction (FOR UPDATE): a dispatcher killed mid-delivery loses its connection, and with it
  -- the lock, so the row is due again at once.
  attempts         integer     NOT NULL DEFAULT 0,
  next_attempt_at  timestamptz NOT NULL DEFAULT now(),
  last_status      integer,
  CONSTRAINT revocation_outbox_kind_check CHECK (kind IN ('token', 'consumer_app', 'subject'))
);
-- A URL's queue, oldest first (claims, the size bound, the oldest event's age). No unique index on
-- (event_id, target): event ids are made once per event (queue_revocation_event, the token
-- statements), and every index is one more write on the revocation's path.
CREATE INDEX revocation_outbox_target_idx ON revocation_outbox (target, id);
-- The order check looks for an earlier event of the same key for the same URL that holds it back:
-- one waiting for a retry. Only rows that failed can be, so only they are indexed: a fresh row
-- costs no entry here, and the check never walks a key's backlog.
CREATE INDEX revocation_outbox_retrying_idx ON revocation_outbox (target, order_key, id) WHERE attempts > 0;

-- Queues one event (one row per URL listed, one event_id for all of them).
CREATE FUNCTION queue_revocation_event(p_kind text, p_order_key text, p_consumer_key text, p_subject text)
RETURNS void LANGUAGE plpgsql AS $$
DECLARE
  v_event uuid := gen_random_uuid();
BEGIN
  INSERT INTO revocation_outbox (event_id, target, kind, order_key, consumer_key, subject)
  SELECT v_event, t.url, p_kind, p_order_key, p_consumer_key, p_subject FROM revocation_targets t;
END $$;

-- An app deleted (on any surface, or with its owner), or its secret changed: every token of that
-- consumer key issued before now is refused (WSO2's consumer_app_revocation_event). Re-sealing a
-- secret under a new secret key (`dcr secrets reencrypt`) changes the envelope, not the secret:
-- that statement marks its transaction with dcr.resealing, and no event is queued for it.
CREATE FUNCTION revocation_event_application() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'UPDATE' AND coalesce(current_setting('dcr.resealing', true), '') = 'on' THEN
    RETURN NULL;
  END IF;
  PERFORM queue_revocation_event('consumer_app', OLD.client_id, OLD.client_id, NULL);
  RETURN NULL;
END $$;
CREATE TRIGGER applications_deleted_revocation_event AFTER DELETE ON applications
  FOR EACH ROW EXECUTE FUNCTION revocation_event_application();
CREATE TRIGGER applications_secret_revocation_event AFTER UPDATE OF client_secret_enc ON applications
  FOR EACH ROW WHEN (OLD.client_secret_enc IS DISTINCT FROM NEW.client_secret_enc)
  EXECUTE FUNCTION revocation_event_application();

-- A user deleted or given a new password: every token of that subject issued before now is
-- refused (WSO2's subject_entity_revocation_event). The apps a deleted user owned go with them
-- (migration 006) and queue their own consumer_app events through the trigger above.
CREATE FUNCTION revocation_event_user() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM queue_revocation_event('subject', 'subject:' || OLD.username, NULL, OLD.username);
  RETURN NULL;
END $$;
CREATE TRIGGER users_deleted_revocation_event AFTER DELETE ON users
  FOR EACH ROW EXECUTE FUNCTION revocation_event_user();
CREATE TRIGGER users_password_revocation_event AFTER UPDATE OF password_hash ON users
  FOR EACH ROW WHEN (OLD.password_hash IS DISTINCT FROM NEW.password_hash)
  EXECUTE FUNCTION revocation_event_user();

-- Down Migration

DROP TRIGGER users_password_revocation_event ON users;
DROP TRIGGER users_deleted_revocation_event ON users;
DROP TRIGGER applications_secret_revocation_event ON applications;
DROP TRIGGER applications_deleted_revocation_event ON applications;
DROP FUNCTION revocation_event_user();
DROP FUNCTION revocation_event_application();
DROP FUNCTION queue_revocation_event(text, text, text, text);
DROP TABLE revocation_outbox;
DROP TABLE revocation_targets;
