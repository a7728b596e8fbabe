-- exchange 1.0 -> 1.1: place_orders for JSON sent as text.
\echo Use "ALTER EXTENSION exchange UPDATE TO '1.1'" to load this file. \quit

-- place_orders(jsonb)'s twin for JSON sent as text, as a gateway sends a
-- document (and as an untyped literal or parameter resolves: the string
-- category is preferred).  The same orders, checks, rows and errors; the
-- common documents (no backslash escapes, no negative numbers or
-- exponents) are read without building a jsonb, whose input function was
-- most of the call's time; any other text goes through jsonb_in as before.
CREATE FUNCTION exchange.place_orders(orders text)
    RETURNS TABLE (ordinal int, order_id bigint, status exchange.order_status,
                   executed_quantity numeric, remaining_quantity numeric,
                   average_price numeric, error_code text, error_message text)
    AS 'MODULE_PATHNAME', 'place_orders_text' LANGUAGE C VOLATILE;

REVOKE ALL ON FUNCTION exchange.place_orders(text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION exchange.place_orders(text) TO exchange_trader;
