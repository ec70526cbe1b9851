/*-------------------------------------------------------------------------
 *
 * chroma.h
 *	  Settings of the ChromaDB-compatible API (schema chroma).
 *
 * src/chroma/chroma.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef VECQ_CHROMA_H
#define VECQ_CHROMA_H

extern char *chroma_tenant;
extern char *chroma_database;
extern int	chroma_exact_filter_limit;

extern void ChromaInit(void);

#endif							/* VECQ_CHROMA_H */
