/*-------------------------------------------------------------------------
 *
 * tenant.c
 *	  Who the current tenant is, for the row-level security policies that
 *	  vecq.enable_tenant_isolation() creates (sql/vecq--0.2.0--0.3.0.sql):
 *
 *		col = vecq.current_tenant()::coltype
 *
 * vecq.current_tenant() returns, in this order:
 *	  1. the setting vecq.tenant, if it is not empty.  It is PGC_SUSET: only
 *		 superusers and roles granted SET on it (GRANT SET ON PARAMETER
 *		 vecq.tenant TO pooler, PostgreSQL 15) may set it, so a pooled
 *		 session's tenant is set by the trusted role that runs the pool and
 *		 the application's SQL cannot change it (SET, SET LOCAL, set_config,
 *		 RESET and function SET clauses are all checked the same way);
 *	  2. the tenant mapped to the current role (current_user) in the table
 *		 vecq.tenant_roles, read here directly: tenants need no privilege on
 *		 it and cannot read other tenants' names from it;
 *	  3. NULL: "col = NULL" is never true, so a session with no tenant sees
 *		 no rows, never all of them.
 *
 * The function is STABLE: within one statement it returns one value, and
 * the planner may use "col = vecq.current_tenant()::coltype" as an index
 * condition (the HNSW key column, a B-tree).  The mapping is read with the
 * statement's snapshot and cached for the rest of the statement (a policy
 * evaluated per row reads the table once).
 *
 * src/tenant/tenant.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/genam.h"
#include "access/table.h"
#include "access/xact.h"
#include "catalog/heap.h"
#include "catalog/namespace.h"
#include "catalog/objectaddress.h"
#include "catalog/pg_type_d.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "storage/proc.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/fmgroids.h"
#include "utils/guc.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/rel.h"
#include "utils/snapmgr.h"

#include "tenant/tenant.h"

char	   *vecq_tenant = NULL;

/* the mapping looked up last: valid for one statement of one role */
static struct
{
	bool		valid;
	LocalTransactionId lxid;
	CommandId	cid;
	Oid			role;
	char	   *tenant;			/* in TopMemoryContext, or NULL */
} mapped;

void
TenantInit(void)
{
	DefineCustomStringVariable("vecq.tenant",
							   "Sets the tenant whose rows this session sees in tables with vecq tenant isolation.",
							   "Only superusers and roles granted SET on this parameter can set it. "
							   "When empty, the tenant mapped to the current role in vecq.tenant_roles applies, "
							   "and with none, no rows.",
							   &vecq_tenant,
							   "",
							   PGC_SUSET,
							   0,
							   NULL, NULL, NULL);
}

/* The tenant vecq.tenant_roles maps role to, or NULL (palloc'd). */
static char *
read_mapping(Oid role)
{
	Oid			nsp = get_namespace_oid("vecq", true);
	Oid			relid;
	Oid			indexid;
	Relation	rel;
	SysScanDesc scan;
	ScanKeyData key;
	HeapTuple	tup;
	char	   *tenant = NULL;
	Snapshot	snapshot;

	if (!OidIsValid(nsp) ||
		!OidIsValid(relid = get_relname_relid("tenant_roles", nsp)) ||
		!OidIsValid(indexid = get_relname_relid("tenant_roles_pkey", nsp)))
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_TABLE),
				 errmsg("table vecq.tenant_roles does not exist"),
				 errhint("Run ALTER EXTENSION vecq UPDATE.")));

	snapshot = ActiveSnapshotSet() ? GetActiveSnapshot() : GetTransactionSnapshot();
	rel = table_open(relid, AccessShareLock);
	ScanKeyInit(&key, 1, BTEqualStrategyNumber, F_OIDEQ, ObjectIdGetDatum(role));
	scan = systable_beginscan(rel, indexid, true, snapshot, 1, &key);
	tup = systable_getnext(scan);
	if (HeapTupleIsValid(tup))
	{
		bool		isnull;
		Datum		d = heap_getattr(tup, 2, RelationGetDescr(rel), &isnull);

		if (!isnull)
			tenant = TextDatumGetCString(d);
	}
	systable_endscan(scan);
	table_close(rel, AccessShareLock);
	return tenant;
}

PG_FUNCTION_INFO_V1(vecq_current_tenant);
Datum
vecq_current_tenant(PG_FUNCTION_ARGS)
{
	Oid			role = GetUserId();
	LocalTransactionId lxid = MyProc->lxid;
	CommandId	cid = GetCurrentCommandId(false);

	if (vecq_tenant != NULL && vecq_tenant[0] != '\0')
		PG_RETURN_TEXT_P(cstring_to_text(vecq_tenant));

	if (!mapped.valid || mapped.lxid != lxid || mapped.cid != cid || mapped.role != role)
	{
		char	   *tenant = read_mapping(role);

		if (mapped.tenant)
			pfree(mapped.tenant);
		mapped.tenant = tenant ? MemoryContextStrdup(TopMemoryContext, tenant) : NULL;
		mapped.role = role;
		mapped.lxid = lxid;
		mapped.cid = cid;
		mapped.valid = true;
	}
	if (mapped.tenant == NULL)
		PG_RETURN_NULL();
	PG_RETURN_TEXT_P(cstring_to_text(mapped.tenant));
}

/*
 * vecq.clear_column_statistics(tbl, col): remove the planner statistics
 * ANALYZE gathered for one column (pg_statistic rows), for the table's
 * owner.  enable_tenant_isolation() sets the tenant column's statistics
 * target to 0 and calls this: otherwise EXPLAIN's row estimates for
 * "tenant_id = 'other'" would tell a tenant how many rows another tenant
 * has (PostgreSQL uses statistics for leakproof operators such as "=",
 * with row-level security too).
 */
PG_FUNCTION_INFO_V1(vecq_clear_column_statistics);
Datum
vecq_clear_column_statistics(PG_FUNCTION_ARGS)
{
	Oid			relid = PG_GETARG_OID(0);
	Name		col = PG_GETARG_NAME(1);
	AttrNumber	attnum;

	if (!pg_class_ownercheck(relid, GetUserId()))
		aclcheck_error(ACLCHECK_NOT_OWNER, get_relkind_objtype(get_rel_relkind(relid)),
					   get_rel_name(relid));
	attnum = get_attnum(relid, NameStr(*col));
	if (attnum == InvalidAttrNumber)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_COLUMN),
				 errmsg("column \"%s\" of relation \"%s\" does not exist",
						NameStr(*col), get_rel_name(relid))));
	RemoveStatistics(relid, attnum);
	PG_RETURN_VOID();
}
