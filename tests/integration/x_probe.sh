. "$(dirname "$0")/lib.sh"
pg_start
mkdir -m 0700 $T/d
printf '{"state_dir":"%s","socket":"%s","store":{"backend":"postgres","conninfo_file":"%s"}}' $T/d $T/s $PG_CONNINFO > $T/c.json
"$BROKERD" -c $T/c.json --migrate
BROKER_TEST_PG_CONNINFO=$PG_CONNINFO $BUILD/tests/test_store --jobs 1 2>&1 | tail -4
finish
