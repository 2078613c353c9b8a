-- The protobuf encoding of each record's document (vum.v3 Werkzoekende / Vacature), written with
-- the JSON on every upsert: the vacancy feed and detail requests send it without re-reading JSON.
-- NULL for rows written before this migration (readers fall back to the JSON).
ALTER TABLE records ADD COLUMN pb BLOB;
