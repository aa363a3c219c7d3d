-- One-time codes sent before the chip masked them are still in outbox.payload in clear:
-- an authentication template's parameters (the code in the body and in the copy-code /
-- URL button) become the mask the chip now journals (actors.chip.wire.SECRET_MASK),
-- keeping each parameter's type and name, which reports read. The POST of those messages
-- is long done; nothing re-sends from the stored payload.
UPDATE outbox SET payload = jsonb_set(payload, '{template,components}', (
    SELECT jsonb_agg(
        CASE WHEN jsonb_typeof(c -> 'parameters') = 'array' THEN
            jsonb_set(c, '{parameters}', coalesce((
                SELECT jsonb_agg((
                    SELECT jsonb_object_agg(k, CASE WHEN k IN ('type', 'parameter_name')
                                                    THEN v ELSE to_jsonb('••••••'::text) END)
                    FROM jsonb_each(p) AS e(k, v)
                ) ORDER BY j)
                FROM jsonb_array_elements(c -> 'parameters') WITH ORDINALITY AS q(p, j)
            ), '[]'::jsonb))
        ELSE c END
        ORDER BY i)
    FROM jsonb_array_elements(payload -> 'template' -> 'components') WITH ORDINALITY AS x(c, i)
))
WHERE kind = 'template'
  AND decision ->> 'category' LIKE 'authentication%'
  AND jsonb_typeof(payload -> 'template' -> 'components') = 'array'
  AND jsonb_array_length(payload -> 'template' -> 'components') > 0;
