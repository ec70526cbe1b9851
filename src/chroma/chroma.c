/*-------------------------------------------------------------------------
 *
 * chroma.c
 *	  Settings of the ChromaDB-compatible API.  The API itself is SQL and
 *	  PL/pgSQL in schema chroma (sql/vecq--0.3.0--0.4.0.sql); it reads these
 *	  with current_setting():
 *
 *	  chroma.tenant		the Chroma tenant that collection names are resolved
 *						in; empty: the role's vecq tenant, else default_tenant
 *	  chroma.database	the Chroma database; empty: default_database
 *	  chroma.exact_filter_limit
 *						a filtered query whose filter matches at most this
 *						many records is answered exactly (Chroma's answer);
 *						above it, by the collection's HNSW index with an
 *						iterative scan that skips the records the filter
 *						rejects
 *
 *	  Which tenant's rows a role sees is not decided here: row-level
 *	  security with vecq.current_tenant() decides (see tenant.c).  Naming
 *	  another tenant in chroma.tenant only makes its collections not found.
 *
 * src/chroma/chroma.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <limits.h>

#include "utils/guc.h"

#include "chroma/chroma.h"

char	   *chroma_tenant = NULL;
char	   *chroma_database = NULL;
int			chroma_exact_filter_limit = 10000;

void
ChromaInit(void)
{
	DefineCustomStringVariable("chroma.tenant",
							   "Sets the Chroma tenant that the chroma functions name collections in.",
							   "When empty, the tenant of the current role (vecq.current_tenant()), "
							   "else default_tenant.",
							   &chroma_tenant,
							   "",
							   PGC_USERSET,
							   0,
							   NULL, NULL, NULL);
	DefineCustomStringVariable("chroma.database",
							   "Sets the Chroma database that the chroma functions name collections in.",
							   "When empty, default_database.",
							   &chroma_database,
							   "",
							   PGC_USERSET,
							   0,
							   NULL, NULL, NULL);
	DefineCustomIntVariable("chroma.exact_filter_limit",
							"Sets the most records a filtered chroma query compares exactly.",
							"A query whose where or where_document filter matches more records "
							"searches the collection's HNSW index instead.",
							&chroma_exact_filter_limit,
							10000,
							0,
							INT_MAX,
							PGC_USERSET,
							0,
							NULL, NULL, NULL);
	MarkGUCPrefixReserved("chroma");
}
