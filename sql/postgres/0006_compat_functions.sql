-- PostgreSQL stand-ins for the Redshift functions the shared analyst views (sql/views/) call, with Redshift's
-- names and meaning, so that one view text serves both warehouses:
--   GETDATE()          the current time, UTC, as TIMESTAMP (no time zone); Redshift's has whole seconds, this
--                      one keeps microseconds (a freshness lag right after a load is not rounded down below zero)
--   CAN_JSON_PARSE(t)  whether t is JSON the warehouse's JSON type accepts (JSONB here, SUPER on Redshift); TAHOE
--                      data may hold NaN, Infinity or lone surrogates, which both refuse
--   JSON_PARSE(t)      t as JSONB (SUPER on Redshift)
CREATE OR REPLACE FUNCTION getdate() RETURNS TIMESTAMP
  LANGUAGE sql STABLE PARALLEL SAFE
  AS $$ SELECT (now() AT TIME ZONE 'UTC')::timestamp $$;

CREATE OR REPLACE FUNCTION can_json_parse(t TEXT) RETURNS BOOLEAN
  LANGUAGE plpgsql IMMUTABLE STRICT PARALLEL SAFE
  AS $$
BEGIN
  PERFORM t::jsonb;
  RETURN TRUE;
EXCEPTION WHEN others THEN
  RETURN FALSE;
END
$$;

CREATE OR REPLACE FUNCTION json_parse(t TEXT) RETURNS JSONB
  LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
  AS $$ SELECT t::jsonb $$;
