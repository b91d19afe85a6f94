# slapd.sh - a slapd of our own for the directory tests (sourced after
# lib.sh): back_mdb, cn=config built with slapadd, on a free loopback
# port.  Write the seed data to $T/seed.ldif before slapd_make.  Skips
# the whole test when slapd, ldap-utils or openssl are missing.
SLAPD=/usr/sbin/slapd
SLAPADD=/usr/sbin/slapadd
SCHEMA=/etc/ldap/schema
SUFFIX=dc=example,dc=com
ADMIN=cn=admin,$SUFFIX
if [ ! -x "$SLAPD" ] || [ ! -x "$SLAPADD" ] || ! command -v ldapmodify >/dev/null ||
    ! command -v openssl >/dev/null; then
	echo "# slapd, ldap-utils or openssl missing: skipped"
	skip "$(basename "$0"): slapd, ldap-utils or openssl missing"
	finish
fi
MODDIR=/usr/lib/ldap
[ -e "$MODDIR/back_mdb.la" ] || MODDIR=$(dirname "$(find /usr/lib -name 'back_mdb*.so*' 2>/dev/null | head -1)")

SLAPD_PIDS=
cleanup() {
	stop_broker
	for p in $SLAPD_PIDS; do
		kill -CONT "$p" 2>/dev/null
		kill -TERM "$p" 2>/dev/null && wait "$p" 2>/dev/null
	done
	rm -rf "$T"
}

# --- the directory ------------------------------------------------------

rand_port() {
	n=$(od -An -N2 -tu2 /dev/urandom | tr -d ' ')
	echo $((20000 + n % 40000))
}

# slapd_make NAME [tls]: config (cn=config via slapadd -n0) and seed data.
slapd_make() {
	dir=$T/$1
	mkdir -p "$dir/slapd.d" "$dir/db"
	{
		cat <<EOF
dn: cn=config
objectClass: olcGlobal
cn: config
olcPidFile: $dir/slapd.pid
EOF
		if [ "${2:-}" = tls ]; then
			cat <<EOF
olcTLSCACertificateFile: $T/pki/ca.crt
olcTLSCertificateFile: $T/pki/server.crt
olcTLSCertificateKeyFile: $T/pki/server.key
EOF
		fi
		cat <<EOF

dn: cn=module{0},cn=config
objectClass: olcModuleList
cn: module{0}
olcModulePath: $MODDIR
olcModuleLoad: back_mdb

dn: cn=schema,cn=config
objectClass: olcSchemaConfig
cn: schema

include: file://$SCHEMA/core.ldif

include: file://$SCHEMA/cosine.ldif

include: file://$SCHEMA/inetorgperson.ldif

include: file://$SCHEMA/nis.ldif

dn: olcDatabase={-1}frontend,cn=config
objectClass: olcDatabaseConfig
objectClass: olcFrontendConfig
olcDatabase: {-1}frontend
olcSizeLimit: 500

dn: olcDatabase={0}config,cn=config
objectClass: olcDatabaseConfig
olcDatabase: {0}config
olcAccess: {0}to * by * none

dn: olcDatabase={1}mdb,cn=config
objectClass: olcDatabaseConfig
objectClass: olcMdbConfig
olcDatabase: {1}mdb
olcSuffix: $SUFFIX
olcDbDirectory: $dir/db
olcDbMaxSize: 33554432
olcRootDN: $ADMIN
olcRootPW: adminpw
olcDbIndex: objectClass eq
olcDbIndex: uid,memberUid,member,uniqueMember eq
olcAccess: {0}to attrs=userPassword by anonymous auth by * none
olcAccess: {1}to * by dn.exact="cn=broker,$SUFFIX" read by * none
EOF
	} >"$dir/config.ldif"
	"$SLAPADD" -n0 -F "$dir/slapd.d" -l "$dir/config.ldif" >"$dir/slapadd.log" 2>&1 &&
	    "$SLAPADD" -n1 -F "$dir/slapd.d" -l "$T/seed.ldif" >>"$dir/slapadd.log" 2>&1 || {
		sed 's/^/# /' "$dir/slapadd.log"
		not_ok "slapadd builds the $1 directory"
		finish
	}
}

# slapd_start NAME: on a free loopback port (kept across restarts); sets
# PORT_NAME and PID_NAME.
slapd_start() {
	dir=$T/$1
	eval "port=\${PORT_$1:-}"
	tries=0
	while [ $tries -lt 20 ]; do
		tries=$((tries + 1))
		[ -n "$port" ] || port=$(rand_port)
		"$SLAPD" -F "$dir/slapd.d" -h "ldap://127.0.0.1:$port/" -d stats \
		    >>"$dir/slapd.log" 2>&1 &
		pid=$!
		i=0
		while [ $i -lt 100 ]; do
			if ! kill -0 "$pid" 2>/dev/null; then break; fi
			if ldapsearch -x -H "ldap://127.0.0.1:$port" -o nettimeout=1 \
			    -b "" -s base >/dev/null 2>&1; then
				SLAPD_PIDS="$SLAPD_PIDS $pid"
				eval "PORT_$1=$port PID_$1=$pid"
				return 0
			fi
			sleep 0.05
			i=$((i + 1))
		done
		kill "$pid" 2>/dev/null; wait "$pid" 2>/dev/null
		# taken (or slow): a new random port, unless this one is ours
		eval "[ -n \"\${PORT_$1:-}\" ]" && sleep 0.2 || port=
	done
	tail -20 "$dir/slapd.log" | sed 's/^/# /'
	not_ok "slapd $1 starts"
	finish
}

slapd_stop() {
	eval "pid=\$PID_$1"
	kill -TERM "$pid" 2>/dev/null; wait "$pid" 2>/dev/null
	SLAPD_PIDS=$(echo "$SLAPD_PIDS" | sed "s/ $pid\b//")
}

ldmod() {	# ldmod NAME < ldif: change the directory NAME as its admin
	eval "port=\$PORT_$1"
	ldapmodify -x -H "ldap://127.0.0.1:$port" -D "$ADMIN" -w adminpw \
	    >>"$T/ldapmodify.log" 2>&1
}

