-- Transparency of the client file (matchgate report): whether a profile lists education (the
-- other completeness measures have columns already), and what every import and push counted per
-- municipality. Counts only: no id, no postcode below PC4. Keep in step with the other backend.
ALTER TABLE records ADD COLUMN opleiding BIGINT;              -- 1: arbeidsmarktkwalificatie.opleiding present
UPDATE records SET opleiding = 1
 WHERE kind = 'werkzoekende' AND doc IS NOT NULL
   AND jsonb_typeof(doc::jsonb -> 'arbeidsmarktkwalificatie' -> 'opleiding') = 'array'
   AND jsonb_array_length(doc::jsonb -> 'arbeidsmarktkwalificatie' -> 'opleiding') > 0;

CREATE TABLE import_runs (
    run_id  BIGSERIAL PRIMARY KEY,
    kind    TEXT    NOT NULL,
    origin  TEXT    NOT NULL,                 -- 'ingest' | 'push'
    at_ms   BIGINT  NOT NULL
);
CREATE TABLE import_counts (
    run_id        BIGINT  NOT NULL,
    municipality  TEXT    NOT NULL,           -- CBS code GM....; 'onbekend' when the PC4 is in no table
    measure       TEXT    NOT NULL,           -- offered accepted no_consent filtered rejected shared_after rejected_rule warning
    rule          TEXT    NOT NULL,           -- the rule id for rejected_rule and warning, else ''
    n             BIGINT  NOT NULL,
    PRIMARY KEY (run_id, municipality, measure, rule)
);
