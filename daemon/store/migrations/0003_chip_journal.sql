-- The chip journal: quality transitions carry the whole state after the change (so a
-- restart rebuilds it from transitions alone, never from samples).
ALTER TABLE quality_transitions
    ADD COLUMN cause text NOT NULL DEFAULT 'poll',
    ADD COLUMN data jsonb NOT NULL DEFAULT '{}';

-- Aliases are learnt from Meta (wa_id as reported, BSUID) before any contact row exists;
-- the alias table is the contact book's journal, so it needs no foreign key.
ALTER TABLE contact_aliases DROP CONSTRAINT contact_aliases_wa_id_fkey;
ALTER TABLE contact_aliases DROP CONSTRAINT contact_aliases_kind_check;
ALTER TABLE contact_aliases ADD CONSTRAINT contact_aliases_kind_check
    CHECK (kind IN ('phone', 'ninth_digit', 'bsuid', 'wa_id'));
