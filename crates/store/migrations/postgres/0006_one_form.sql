-- One stored form per record (issue 16): the protobuf encoding (pb) is the record; its JSON is
-- derived when asked. `extra` holds what protobuf cannot carry, as a JSON Patch (RFC 6902) from the
-- derived JSON to the document as it was given: explicit empty values (null, "", []) in the main.
-- NULL when the derived JSON is the document. New writes leave `doc` NULL; rows written before this
-- migration keep their JSON in `doc` (readers use it while it is there) until they are rewritten.
-- Keep in step with the other backend.
ALTER TABLE records ADD COLUMN extra BYTEA;
