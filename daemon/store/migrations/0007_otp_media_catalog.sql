-- 0007: one-time passcodes, shift confirmations, the media cache, catalog items and the
-- window keeper's marks.

-- One pending code per (contact, purpose): a second shift is another purpose, so it never
-- overwrites the first (behaviour.md 15.5 #31). The code itself is never stored: only a
-- scrypt hash under a per-row salt. ``contact`` is the contact's key (wa_id or BSUID),
-- so every spelling of one phone shares its attempts and its lockout.
CREATE TABLE otp_codes (
    contact       text NOT NULL,
    purpose       text NOT NULL,
    salt          bytea NOT NULL,
    code_hash     bytea NOT NULL,
    issued_at     timestamptz NOT NULL,
    expires_at    timestamptz NOT NULL,
    attempts      integer NOT NULL DEFAULT 0 CHECK (attempts >= 0),
    consumed_at   timestamptz,
    locked_until  timestamptz,
    window_start  timestamptz NOT NULL,
    window_sends  integer NOT NULL DEFAULT 1 CHECK (window_sends >= 0),
    chip          text,
    outbox_id     bigint,
    PRIMARY KEY (contact, purpose)
);

-- A shift offered to a contact with a UTILITY template; the quick-reply payload carries
-- the shift id and ``nonce``, so only a tap on this very message by this contact counts.
CREATE TABLE shift_confirmations (
    shift_id     text NOT NULL,
    contact      text NOT NULL,
    nonce        text NOT NULL UNIQUE,
    chip         text NOT NULL,
    state        text NOT NULL DEFAULT 'pending'
                 CHECK (state IN ('pending', 'confirmed', 'declined', 'failed')),
    outbox_id    bigint,
    sent_at      timestamptz NOT NULL DEFAULT now(),
    answered_at  timestamptz,
    answer_wamid text,
    PRIMARY KEY (shift_id, contact)
);

-- Uploaded media per phone number (a media id belongs to the number that uploaded it) or
-- per app (resumable-upload handles for template headers), by content hash.
CREATE TABLE media_cache (
    owner       text NOT NULL,
    sha256      text NOT NULL,
    kind        text NOT NULL CHECK (kind IN ('media', 'handle')),
    media_id    text NOT NULL,
    mime_type   text NOT NULL,
    uploaded_at timestamptz NOT NULL,
    expires_at  timestamptz NOT NULL,
    PRIMARY KEY (owner, sha256, kind)
);

-- What metad last pushed to each catalog item, so the next push sends only changes and
-- a listing that closed (or disappeared) is marked out of stock.
CREATE TABLE catalog_items (
    catalog_id   text NOT NULL,
    retailer_id  text NOT NULL,
    listing_id   text NOT NULL,
    fingerprint  text NOT NULL,
    availability text NOT NULL,
    pushed_at    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (catalog_id, retailer_id)
);

-- Conversations the operator wants kept: one follow-up per window, before it closes.
CREATE TABLE keeper_marks (
    chip       text NOT NULL REFERENCES chips (phone_number_id) ON DELETE CASCADE,
    contact    text NOT NULL,
    marked_at  timestamptz NOT NULL DEFAULT now(),
    last_kept  timestamptz,
    last_result text,
    PRIMARY KEY (chip, contact)
);
