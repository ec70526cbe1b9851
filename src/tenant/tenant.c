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
 * statement's snapshot and cached while the snapshot stays the same (a
 * policy evaluated per row reads the table once), so the next statement
 * sees a mapping changed and committed meanwhile, also inside a READ
 * COMMITTED transaction; a REPEATABLE READ transaction keeps the mapping
 * its snapshot saw, like every other table it reads.
 *
 * vecq.save_rls_state() and vecq.forget_rls_state() keep, in the table
 * vecq.tenant_tables, whether a table had row-level security enabled and
 * forced before vecq.enable_tenant_isolation() changed it, so that
 * vecq.disable_tenant_isolation() puts back what was there.
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
#include "catalog/indexing.h"
#include "catalog/namespace.h"
#include "catalog/objectaddress.h"
#include "catalog/pg_class.h"
#include "catalog/pg_policy.h"
#include "catalog/pg_type_d.h"
#include "fmgr.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "storage/lmgr.h"
#include "storage/proc.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/fmgroids.h"
#include "utils/guc.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/rel.h"
#include "utils/snapmgr.h"
#include "utils/syscache.h"

#include "tenant/tenant.h"

char	   *vecq_tenant = NULL;

/*
 * The mapping looked up last, with what it was read under: the role, the
 * transaction and the snapshot's visibility data.  Two MVCC snapshots of
 * one transaction with equal xmin, xmax, command id and in-progress
 * transaction ids see the same rows, so the cached tenant is what reading
 * the table again would return; a statement whose snapshot differs (a
 * transaction that changed the mapping has committed since, or this one
 * has changed it) reads it again.  A mismatch of equal sets listed in
 * another order only costs a read.
 */
static struct
{
	bool		valid;
	LocalTransactionId lxid;
	Oid			role;
	TransactionId xmin;
	TransactionId xmax;
	CommandId	curcid;
	uint32		xcnt;
	int32		subxcnt;
	bool		suboverflowed;
	TransactionId *xids;		/* xip, then subxip; in TopMemoryContext */
	int			xids_alloc;		/* allocated length of xids */
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

/*
 * The OIDs of vecq's own table vecq.<relname> and of its primary key index,
 * <relname>_pkey.  Errors out if they do not exist (a library newer than
 * the extension's SQL objects).
 */
static void
get_vecq_table(const char *relname, Oid *relid, Oid *indexid)
{
	Oid			nsp = get_namespace_oid("vecq", true);
	char	   *indexname = psprintf("%s_pkey", relname);

	if (!OidIsValid(nsp) ||
		!OidIsValid(*relid = get_relname_relid(relname, nsp)) ||
		!OidIsValid(*indexid = get_relname_relid(indexname, nsp)))
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_TABLE),
				 errmsg("table vecq.%s does not exist", relname),
				 errhint("Run ALTER EXTENSION vecq UPDATE.")));
	pfree(indexname);
}

/*
 * The tenant vecq.tenant_roles maps role to under snapshot, or NULL
 * (palloc'd).  No permission check: tenants need no privilege on the table.
 */
static char *
read_mapping(Oid role, Snapshot snapshot)
{
	Oid			relid;
	Oid			indexid;
	Relation	rel;
	SysScanDesc scan;
	ScanKeyData key;
	HeapTuple	tup;
	char	   *tenant = NULL;

	get_vecq_table("tenant_roles", &relid, &indexid);
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

/* Whether snapshot sees what the one the cached mapping was read with saw. */
static bool
same_snapshot(Snapshot snapshot)
{
	return snapshot->snapshot_type == SNAPSHOT_MVCC &&
		snapshot->xmin == mapped.xmin &&
		snapshot->xmax == mapped.xmax &&
		snapshot->curcid == mapped.curcid &&
		snapshot->xcnt == mapped.xcnt &&
		snapshot->subxcnt == mapped.subxcnt &&
		snapshot->suboverflowed == mapped.suboverflowed &&
		(snapshot->xcnt == 0 ||
		 memcmp(snapshot->xip, mapped.xids,
				snapshot->xcnt * sizeof(TransactionId)) == 0) &&
		(snapshot->subxcnt == 0 ||
		 memcmp(snapshot->subxip, mapped.xids + snapshot->xcnt,
				snapshot->subxcnt * sizeof(TransactionId)) == 0);
}

/*
 * Keep snapshot's visibility data in mapped for same_snapshot().  Returns
 * false for a snapshot that is not MVCC (the cache is then not used).
 */
static bool
remember_snapshot(Snapshot snapshot)
{
	int			n;

	if (snapshot->snapshot_type != SNAPSHOT_MVCC)
		return false;
	n = snapshot->xcnt + Max(snapshot->subxcnt, 0);
	if (n > mapped.xids_alloc)
	{
		int			alloc = Max(n, 64);

		if (mapped.xids)
			pfree(mapped.xids);
		mapped.xids = NULL;
		mapped.xids_alloc = 0;
		mapped.xids = MemoryContextAlloc(TopMemoryContext,
										 alloc * sizeof(TransactionId));
		mapped.xids_alloc = alloc;
	}
	if (snapshot->xcnt > 0)
		memcpy(mapped.xids, snapshot->xip, snapshot->xcnt * sizeof(TransactionId));
	if (snapshot->subxcnt > 0)
		memcpy(mapped.xids + snapshot->xcnt, snapshot->subxip,
			   snapshot->subxcnt * sizeof(TransactionId));
	mapped.xmin = snapshot->xmin;
	mapped.xmax = snapshot->xmax;
	mapped.curcid = snapshot->curcid;
	mapped.xcnt = snapshot->xcnt;
	mapped.subxcnt = snapshot->subxcnt;
	mapped.suboverflowed = snapshot->suboverflowed;
	return true;
}

PG_FUNCTION_INFO_V1(vecq_current_tenant);
Datum
vecq_current_tenant(PG_FUNCTION_ARGS)
{
	Oid			role = GetUserId();
	LocalTransactionId lxid = MyProc->lxid;
	Snapshot	snapshot;

	if (vecq_tenant != NULL && vecq_tenant[0] != '\0')
		PG_RETURN_TEXT_P(cstring_to_text(vecq_tenant));

	snapshot = ActiveSnapshotSet() ? GetActiveSnapshot() : GetTransactionSnapshot();
	if (!mapped.valid || mapped.lxid != lxid || mapped.role != role ||
		!same_snapshot(snapshot))
	{
		char	   *tenant = read_mapping(role, snapshot);

		mapped.valid = false;
		if (mapped.tenant)
			pfree(mapped.tenant);
		mapped.tenant = NULL;
		if (tenant)
			mapped.tenant = MemoryContextStrdup(TopMemoryContext, tenant);
		mapped.role = role;
		mapped.lxid = lxid;
		mapped.valid = remember_snapshot(snapshot);
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

/*
 * Check that the current user owns the table relid and take the
 * AccessExclusiveLock that ALTER TABLE ... ROW LEVEL SECURITY and
 * CREATE/DROP POLICY take anyway, so that what is read next (the table's
 * row-level security flags, its policies, its row in vecq.tenant_tables)
 * cannot change until the transaction ends.
 */
static void
lock_owned_table(Oid relid)
{
	char		relkind = get_rel_relkind(relid);

	if (relkind == '\0')
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_TABLE),
				 errmsg("relation with OID %u does not exist", relid)));
	if (!pg_class_ownercheck(relid, GetUserId()))
		aclcheck_error(ACLCHECK_NOT_OWNER, get_relkind_objtype(relkind),
					   get_rel_name(relid));
	LockRelationOid(relid, AccessExclusiveLock);
	/* dropped while we waited for the lock */
	if (!SearchSysCacheExists1(RELOID, ObjectIdGetDatum(relid)))
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_TABLE),
				 errmsg("relation with OID %u does not exist", relid)));
}

/* Whether relid has a policy named vecq_tenant_isolation. */
static bool
has_vecq_policy(Oid relid)
{
	Relation	rel;
	SysScanDesc scan;
	ScanKeyData key[2];
	bool		found;

	rel = table_open(PolicyRelationId, AccessShareLock);
	ScanKeyInit(&key[0], Anum_pg_policy_polrelid, BTEqualStrategyNumber,
				F_OIDEQ, ObjectIdGetDatum(relid));
	ScanKeyInit(&key[1], Anum_pg_policy_polname, BTEqualStrategyNumber,
				F_NAMEEQ, CStringGetDatum("vecq_tenant_isolation"));
	scan = systable_beginscan(rel, PolicyPolrelidPolnameIndexId, true, NULL, 2, key);
	found = HeapTupleIsValid(systable_getnext(scan));
	systable_endscan(scan);
	table_close(rel, AccessShareLock);
	return found;
}

/*
 * Open vecq.tenant_tables with RowExclusiveLock (no permission check: the
 * callers check that the user owns the table the row is about) and return
 * the row of relid, a copy, or NULL.
 */
static HeapTuple
find_rls_state(Oid relid, Relation *rel)
{
	Oid			stateid;
	Oid			indexid;
	Snapshot	snapshot;
	SysScanDesc scan;
	ScanKeyData key;
	HeapTuple	tup;

	get_vecq_table("tenant_tables", &stateid, &indexid);
	*rel = table_open(stateid, RowExclusiveLock);
	/* the row of a table we hold locked: the latest committed one, or ours */
	snapshot = RegisterSnapshot(GetLatestSnapshot());
	ScanKeyInit(&key, 1, BTEqualStrategyNumber, F_OIDEQ, ObjectIdGetDatum(relid));
	scan = systable_beginscan(*rel, indexid, true, snapshot, 1, &key);
	tup = systable_getnext(scan);
	if (HeapTupleIsValid(tup))
		tup = heap_copytuple(tup);
	systable_endscan(scan);
	UnregisterSnapshot(snapshot);
	return tup;
}

/*
 * vecq.save_rls_state(tbl): for enable_tenant_isolation(), before it
 * changes anything.  Checks that the current user owns tbl, locks it, and
 * records in vecq.tenant_tables whether row-level security is enabled and
 * forced on it now, unless tbl is isolated already (it has vecq's policy
 * and a row), whose row keeps the state from before isolation.  A row
 * without the policy is left from a table dropped since, whose OID tbl
 * reuses, or from a policy dropped by hand: it is replaced.
 */
PG_FUNCTION_INFO_V1(vecq_save_rls_state);
Datum
vecq_save_rls_state(PG_FUNCTION_ARGS)
{
	Oid			relid = PG_GETARG_OID(0);
	Relation	rel;
	HeapTuple	old;
	HeapTuple	classtup;
	Form_pg_class classform;
	Datum		values[3];
	bool		nulls[3] = {false, false, false};

	lock_owned_table(relid);
	old = find_rls_state(relid, &rel);
	if (old == NULL || !has_vecq_policy(relid))
	{
		classtup = SearchSysCache1(RELOID, ObjectIdGetDatum(relid));
		if (!HeapTupleIsValid(classtup))
			elog(ERROR, "cache lookup failed for relation %u", relid);
		classform = (Form_pg_class) GETSTRUCT(classtup);
		values[0] = ObjectIdGetDatum(relid);
		values[1] = BoolGetDatum(classform->relrowsecurity);
		values[2] = BoolGetDatum(classform->relforcerowsecurity);
		ReleaseSysCache(classtup);

		if (old != NULL)
			CatalogTupleDelete(rel, &old->t_self);
		CatalogTupleInsert(rel, heap_form_tuple(RelationGetDescr(rel), values, nulls));
	}
	table_close(rel, RowExclusiveLock);
	PG_RETURN_VOID();
}

/*
 * vecq.forget_rls_state(tbl, OUT found, OUT rls_enabled, OUT rls_forced):
 * for disable_tenant_isolation(), before it changes anything.  Checks that
 * the current user owns tbl, locks it, removes its row from
 * vecq.tenant_tables and returns what the row said (found false and NULLs
 * without one).
 */
PG_FUNCTION_INFO_V1(vecq_forget_rls_state);
Datum
vecq_forget_rls_state(PG_FUNCTION_ARGS)
{
	Oid			relid = PG_GETARG_OID(0);
	Relation	rel;
	HeapTuple	old;
	TupleDesc	tupdesc;
	Datum		values[3];
	bool		nulls[3] = {false, true, true};

	if (get_call_result_type(fcinfo, NULL, &tupdesc) != TYPEFUNC_COMPOSITE)
		elog(ERROR, "return type must be a row type");

	lock_owned_table(relid);
	old = find_rls_state(relid, &rel);
	values[0] = BoolGetDatum(old != NULL);
	if (old != NULL)
	{
		values[1] = heap_getattr(old, 2, RelationGetDescr(rel), &nulls[1]);
		values[2] = heap_getattr(old, 3, RelationGetDescr(rel), &nulls[2]);
		CatalogTupleDelete(rel, &old->t_self);
	}
	table_close(rel, RowExclusiveLock);
	PG_RETURN_DATUM(HeapTupleGetDatum(heap_form_tuple(BlessTupleDesc(tupdesc),
													  values, nulls)));
}
