-- Row-by-row isolation of a refused batch, on the server. The writer stages the
-- refused rows in a temporary table (by the same binary COPY) and calls this function
-- inside the batch's transaction: each staged row is inserted into the target under its
-- own subtransaction, in the order it was staged; a row the server refuses for its
-- content (SQLSTATE classes 22, 23, 54, and any state the writer names in `row_states`)
-- is reported with its ordinal, SQLSTATE, constraint and message and left out, and the
-- other rows stay inserted. Any other error (connection, resources, disk) is raised, so
-- the writer retries the batch rather than dead-letter good rows.
CREATE OR REPLACE FUNCTION hypertick_insert_each(
    target regclass,
    staging regclass,
    column_list text,
    conflict_clause text,
    row_states text[]
) RETURNS TABLE (row_ordinal integer, row_state text, row_constraint text, row_message text)
LANGUAGE plpgsql AS $$
DECLARE
    staged tid;
    counter integer := 0;
    insert_one text := format('INSERT INTO %s (%s) SELECT %s FROM %s WHERE ctid = $1 %s',
                              target, column_list, column_list, staging, conflict_clause);
    state text;
    constraint_text text;
    message_text text;
BEGIN
    -- One COPY into an empty table appends its rows in order, so ctid order is the
    -- order the rows were staged in.
    FOR staged IN EXECUTE format('SELECT ctid FROM %s ORDER BY ctid', staging) LOOP
        BEGIN
            EXECUTE insert_one USING staged;
        EXCEPTION WHEN OTHERS THEN
            GET STACKED DIAGNOSTICS state = RETURNED_SQLSTATE,
                                    constraint_text = CONSTRAINT_NAME,
                                    message_text = MESSAGE_TEXT;
            IF left(state, 2) IN ('22', '23', '54') OR state = ANY (row_states) THEN
                row_ordinal := counter;
                row_state := state;
                row_constraint := nullif(constraint_text, '');
                row_message := message_text;
                RETURN NEXT;
            ELSE
                RAISE;
            END IF;
        END;
        counter := counter + 1;
    END LOOP;
END
$$;
