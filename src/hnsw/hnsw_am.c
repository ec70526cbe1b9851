/*-------------------------------------------------------------------------
 *
 * hnsw_am.c
 *	  The HNSW access method handler, its reloptions, GUCs, opclass support
 *	  functions and validation.
 *
 * src/hnsw/hnsw_am.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/amvalidate.h"
#include "access/reloptions.h"
#include "catalog/pg_amop.h"
#include "catalog/pg_amproc.h"
#include "catalog/pg_opclass.h"
#include "catalog/pg_type.h"
#include "commands/progress.h"
#include "commands/vacuum.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/lsyscache.h"
#include "utils/regproc.h"
#include "utils/rel.h"
#include "utils/syscache.h"

#include "hnsw/hnsw.h"

int			hnsw_ef_search = HNSW_DEFAULT_EF_SEARCH;
int			hnsw_iterative_scan = HNSW_ITERATIVE_SCAN_STRICT;
int			hnsw_key_exact_scan_limit = -1;
int			hnsw_partitioned_build = HNSW_PARTITIONED_AUTO;
int			hnsw_max_scan_tuples = -1;

static relopt_kind hnsw_relopt_kind;

static relopt_enum_elt_def quantization_options[] = {
	{"none", HNSW_FORMAT_FLOAT4},
	{"sq8", HNSW_FORMAT_SQ8},
	{"bit", HNSW_FORMAT_BIT},
	{NULL}
};

static const struct config_enum_entry iterative_scan_options[] = {
	{"off", HNSW_ITERATIVE_SCAN_OFF, false},
	{"relaxed_order", HNSW_ITERATIVE_SCAN_RELAXED, false},
	{"strict_order", HNSW_ITERATIVE_SCAN_STRICT, false},
	{NULL, 0, false}
};

static const struct config_enum_entry partitioned_build_options[] = {
	{"off", HNSW_PARTITIONED_OFF, false},
	{"auto", HNSW_PARTITIONED_AUTO, false},
	{"on", HNSW_PARTITIONED_ON, false},
	{NULL, 0, false}
};

/* Register reloptions and GUCs; called once from _PG_init. */
void
HnswInit(void)
{
	hnsw_relopt_kind = add_reloption_kind();
	add_int_reloption(hnsw_relopt_kind, "m",
					  "Maximum number of neighbors per element on levels above 0 (twice that on level 0)",
					  HNSW_DEFAULT_M, HNSW_MIN_M, HNSW_MAX_M, AccessExclusiveLock);
	add_int_reloption(hnsw_relopt_kind, "ef_construction",
					  "Size of the candidate list when building the graph",
					  HNSW_DEFAULT_EF_CONSTRUCTION, HNSW_MIN_EF_CONSTRUCTION,
					  HNSW_MAX_EF_CONSTRUCTION, AccessExclusiveLock);
	add_enum_reloption(hnsw_relopt_kind, "quantization",
					   "How elements store their vector: none (float4), sq8 (8-bit codes) or bit (1-bit codes)",
					   quantization_options, HNSW_FORMAT_FLOAT4,
					   "Valid values are \"none\", \"sq8\" and \"bit\".",
					   AccessExclusiveLock);

	DefineCustomIntVariable("hnsw.ef_search",
							"Sets the size of the candidate list of an HNSW index scan.",
							"Larger values find more of the true nearest neighbors and take longer.",
							&hnsw_ef_search,
							HNSW_DEFAULT_EF_SEARCH, HNSW_MIN_EF_SEARCH, HNSW_MAX_EF_SEARCH,
							PGC_USERSET, 0, NULL, NULL, NULL);
	DefineCustomEnumVariable("hnsw.iterative_scan",
							 "Sets whether an HNSW index scan continues past ef_search candidates.",
							 "With relaxed_order or strict_order, a scan whose rows are filtered out "
							 "after the index keeps searching, so LIMIT k can return k rows; "
							 "strict_order never returns a row farther than a later one.",
							 &hnsw_iterative_scan,
							 HNSW_ITERATIVE_SCAN_STRICT, iterative_scan_options,
							 PGC_USERSET, 0, NULL, NULL, NULL);
	DefineCustomIntVariable("hnsw.max_scan_tuples",
							"Sets the most index elements an iterative HNSW scan visits; -1 for no limit.",
							"With a limit, the scan ends after visiting this many elements, even if it has returned fewer "
							"rows than asked for.  The default, -1, lets it go on until it has every row asked for "
							"or has visited the whole graph.",
							&hnsw_max_scan_tuples,
							-1, -1, INT_MAX,
							PGC_USERSET, 0, NULL, NULL, NULL);
	MarkGUCPrefixReserved("hnsw");
	DefineCustomIntVariable("vecq.key_exact_scan_limit",
							"Sets the most elements of one key an HNSW scan reads whole instead of searching the graph.",
							"A scan with \"key = value\" on an index with a key column reads all elements of that key "
							"when there are at most this many, and returns them in exact order; -1 chooses from "
							"the key's share of the index and hnsw.ef_search.",
							&hnsw_key_exact_scan_limit,
							-1, -1, INT_MAX,
							PGC_USERSET, 0, NULL, NULL, NULL);
	DefineCustomEnumVariable("vecq.hnsw_partitioned_build",
							 "Sets whether an HNSW graph that does not fit in maintenance_work_mem is built in partitions that do.",
							 "Instead of inserting the rows past maintenance_work_mem one at a time, the build "
							 "splits the rows into partitions, builds each in memory and joins them.  auto "
							 "does so when a partition holds at least 20,000 rows (smaller ones cost recall), "
							 "on whenever the graph does not fit, off never.",
							 &hnsw_partitioned_build,
							 HNSW_PARTITIONED_AUTO, partitioned_build_options,
							 PGC_USERSET, 0, NULL, NULL, NULL);
}

static bytea *
hnswoptions(Datum reloptions, bool validate)
{
	static const relopt_parse_elt tab[] = {
		{"m", RELOPT_TYPE_INT, offsetof(HnswOptions, m)},
		{"ef_construction", RELOPT_TYPE_INT, offsetof(HnswOptions, ef_construction)},
		{"quantization", RELOPT_TYPE_ENUM, offsetof(HnswOptions, quantization)},
	};

	return (bytea *) build_reloptions(reloptions, validate, hnsw_relopt_kind,
									  sizeof(HnswOptions), tab, lengthof(tab));
}

int
HnswGetM(Relation index)
{
	HnswOptions *opts = (HnswOptions *) index->rd_options;

	return opts ? opts->m : HNSW_DEFAULT_M;
}

int
HnswGetEfConstruction(Relation index)
{
	HnswOptions *opts = (HnswOptions *) index->rd_options;

	return opts ? opts->ef_construction : HNSW_DEFAULT_EF_CONSTRUCTION;
}

HnswFormat
HnswGetFormat(Relation index)
{
	HnswOptions *opts = (HnswOptions *) index->rd_options;

	return opts ? (HnswFormat) opts->quantization : HNSW_FORMAT_FLOAT4;
}

/*
 * The metric of the index's opclass: the value of its support function 1.
 * Also where the shape of a new index is checked: a vector column with a
 * distance opclass, then at most one key column with a key opclass.
 */
HnswMetric
HnswGetMetric(Relation index)
{
	FmgrInfo   *proc;
	int32		metric;
	int			natts = IndexRelationGetNumberOfKeyAttributes(index);

	if (!OidIsValid(index_getprocid(index, 1, HNSW_METRIC_PROC)))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_OBJECT_DEFINITION),
				 errmsg("the first column of an hnsw index must be a vector with a distance operator class"),
				 errhint("Use vector_l2_ops, vector_ip_ops, vector_cosine_ops or vector_l1_ops, or their halfvec_ counterparts for a halfvec column.")));
	if (natts > 2)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("an hnsw index can have at most two columns"),
				 errdetail("The second column is the key the index filters by, such as a tenant id.")));
	if (natts == 2 && !OidIsValid(index_getprocid(index, 2, HNSW_KEY_HASH_PROC)))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_OBJECT_DEFINITION),
				 errmsg("the second column of an hnsw index must be a key with a key operator class"),
				 errhint("Key columns can be of type integer, bigint, text or uuid.")));
	proc = index_getprocinfo(index, 1, HNSW_METRIC_PROC);
	metric = DatumGetInt32(FunctionCall1(proc, PointerGetDatum(NULL))) &
		~HNSW_METRIC_HALFVEC_FLAG;

	if (metric < HNSW_METRIC_L2 || metric > HNSW_METRIC_JACCARD)
		elog(ERROR, "hnsw opclass support function returned unknown metric %d", metric);
	return (HnswMetric) metric;
}

/*
 * Whether the index's first column is a halfvec: its opclass's support
 * function 1 says so (HNSW_METRIC_HALFVEC_FLAG).
 */
bool
HnswIndexIsHalfvec(Relation index)
{
	FmgrInfo   *proc = index_getprocinfo(index, 1, HNSW_METRIC_PROC);

	return (DatumGetInt32(FunctionCall1(proc, PointerGetDatum(NULL))) &
			HNSW_METRIC_HALFVEC_FLAG) != 0;
}

static char *
hnswbuildphasename(int64 phasenum)
{
	switch (phasenum)
	{
		case PROGRESS_CREATEIDX_SUBPHASE_INITIALIZE:
			return "initializing";
		case 2:
			return "loading tuples";
		case 3:
			return "writing index pages";
		case 4:
			return "sampling quantization ranges";
		default:
			return NULL;
	}
}

/*
 * Check an opclass.  A distance opclass has ordering operators at strategy
 * 1 and a metric support function 1 taking internal and returning integer;
 * a key opclass has an equality (search) operator at strategy 1 and a hash
 * support function 2 taking the type and returning integer.
 */
static bool
hnswvalidate(Oid opclassoid)
{
	bool		result = true;
	HeapTuple	classtup;
	Form_pg_opclass classform;
	Oid			opfamilyoid;
	CatCList   *proclist,
			   *oprlist;
	char	   *opclassname;
	bool		have_metric = false;
	bool		have_hash = false;

	classtup = SearchSysCache1(CLAOID, ObjectIdGetDatum(opclassoid));
	if (!HeapTupleIsValid(classtup))
		elog(ERROR, "cache lookup failed for operator class %u", opclassoid);
	classform = (Form_pg_opclass) GETSTRUCT(classtup);
	opfamilyoid = classform->opcfamily;
	opclassname = NameStr(classform->opcname);

	proclist = SearchSysCacheList1(AMPROCNUM, ObjectIdGetDatum(opfamilyoid));
	for (int i = 0; i < proclist->n_members; i++)
	{
		Form_pg_amproc procform = (Form_pg_amproc) GETSTRUCT(&proclist->members[i]->tuple);

		if (procform->amprocnum == HNSW_KEY_HASH_PROC &&
			check_amproc_signature(procform->amproc, INT4OID, true, 1, 1,
								   procform->amproclefttype))
			have_hash = true;
		else if (procform->amprocnum != HNSW_METRIC_PROC ||
				 !check_amproc_signature(procform->amproc, INT4OID, true, 1, 1, INTERNALOID))
		{
			ereport(INFO,
					(errcode(ERRCODE_INVALID_OBJECT_DEFINITION),
					 errmsg("hnsw operator class \"%s\" has an invalid support function %d",
							opclassname, procform->amprocnum)));
			result = false;
		}
		else
			have_metric = true;
	}
	if (have_metric == have_hash)
	{
		ereport(INFO,
				(errcode(ERRCODE_INVALID_OBJECT_DEFINITION),
				 errmsg("hnsw operator class \"%s\" must have exactly one of support functions %d and %d",
						opclassname, HNSW_METRIC_PROC, HNSW_KEY_HASH_PROC)));
		result = false;
	}

	oprlist = SearchSysCacheList1(AMOPSTRATEGY, ObjectIdGetDatum(opfamilyoid));
	for (int i = 0; i < oprlist->n_members; i++)
	{
		Form_pg_amop oprform = (Form_pg_amop) GETSTRUCT(&oprlist->members[i]->tuple);

		bool		ok;

		if (have_hash)
			ok = oprform->amopstrategy == 1 && oprform->amoppurpose == AMOP_SEARCH &&
				check_amop_signature(oprform->amopopr, BOOLOID,
									 oprform->amoplefttype, oprform->amoprighttype);
		else
			ok = oprform->amopstrategy == 1 && oprform->amoppurpose == AMOP_ORDER &&
				check_amop_signature(oprform->amopopr, FLOAT8OID,
									 oprform->amoplefttype, oprform->amoprighttype);
		if (!ok)
		{
			ereport(INFO,
					(errcode(ERRCODE_INVALID_OBJECT_DEFINITION),
					 errmsg("hnsw operator class \"%s\" has an invalid operator %s",
							opclassname, format_operator(oprform->amopopr))));
			result = false;
		}
	}

	ReleaseCatCacheList(oprlist);
	ReleaseCatCacheList(proclist);
	ReleaseSysCache(classtup);
	return result;
}

PG_FUNCTION_INFO_V1(hnswhandler);
Datum
hnswhandler(PG_FUNCTION_ARGS)
{
	IndexAmRoutine *amroutine = makeNode(IndexAmRoutine);

	amroutine->amstrategies = 0;
	amroutine->amsupport = HNSW_NPROC;
	amroutine->amoptsprocnum = 0;
	amroutine->amcanorder = false;
	amroutine->amcanorderbyop = true;
	amroutine->amcanbackward = false;
	amroutine->amcanunique = false;
	amroutine->amcanmulticol = true;
	amroutine->amoptionalkey = true;
	amroutine->amsearcharray = false;
	amroutine->amsearchnulls = false;
	amroutine->amstorage = false;
	amroutine->amclusterable = false;
	amroutine->ampredlocks = false;
	amroutine->amcanparallel = false;
	amroutine->amcaninclude = false;
	amroutine->amusemaintenanceworkmem = false;
	amroutine->amparallelvacuumoptions = VACUUM_OPTION_PARALLEL_BULKDEL;
	amroutine->amkeytype = InvalidOid;

	amroutine->ambuild = hnswbuild;
	amroutine->ambuildempty = hnswbuildempty;
	amroutine->aminsert = hnswinsert;
	amroutine->ambulkdelete = hnswbulkdelete;
	amroutine->amvacuumcleanup = hnswvacuumcleanup;
	amroutine->amcanreturn = NULL;
	amroutine->amcostestimate = hnswcostestimate;
	amroutine->amoptions = hnswoptions;
	amroutine->amproperty = NULL;
	amroutine->ambuildphasename = hnswbuildphasename;
	amroutine->amvalidate = hnswvalidate;
	amroutine->amadjustmembers = NULL;
	amroutine->ambeginscan = hnswbeginscan;
	amroutine->amrescan = hnswrescan;
	amroutine->amgettuple = hnswgettuple;
	amroutine->amgetbitmap = NULL;
	amroutine->amendscan = hnswendscan;
	amroutine->ammarkpos = NULL;
	amroutine->amrestrpos = NULL;
	amroutine->amestimateparallelscan = NULL;
	amroutine->aminitparallelscan = NULL;
	amroutine->amparallelrescan = NULL;

	PG_RETURN_POINTER(amroutine);
}

/*
 * Support function 1 of each opclass: the metric it orders by.  They take
 * internal, so SQL cannot call them.
 */
#define HNSW_METRIC_FUNCTION(name, metric) \
PG_FUNCTION_INFO_V1(name); \
Datum \
name(PG_FUNCTION_ARGS) \
{ \
	PG_RETURN_INT32(metric); \
}

HNSW_METRIC_FUNCTION(hnsw_metric_l2, HNSW_METRIC_L2)
HNSW_METRIC_FUNCTION(hnsw_metric_ip, HNSW_METRIC_IP)
HNSW_METRIC_FUNCTION(hnsw_metric_cosine, HNSW_METRIC_COSINE)
HNSW_METRIC_FUNCTION(hnsw_metric_l1, HNSW_METRIC_L1)
HNSW_METRIC_FUNCTION(hnsw_metric_hamming, HNSW_METRIC_HAMMING)
HNSW_METRIC_FUNCTION(hnsw_metric_jaccard, HNSW_METRIC_JACCARD)
HNSW_METRIC_FUNCTION(hnsw_halfvec_metric_l2, HNSW_METRIC_L2 | HNSW_METRIC_HALFVEC_FLAG)
HNSW_METRIC_FUNCTION(hnsw_halfvec_metric_ip, HNSW_METRIC_IP | HNSW_METRIC_HALFVEC_FLAG)
HNSW_METRIC_FUNCTION(hnsw_halfvec_metric_cosine, HNSW_METRIC_COSINE | HNSW_METRIC_HALFVEC_FLAG)
HNSW_METRIC_FUNCTION(hnsw_halfvec_metric_l1, HNSW_METRIC_L1 | HNSW_METRIC_HALFVEC_FLAG)
