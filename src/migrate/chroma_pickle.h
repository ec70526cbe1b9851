/*-------------------------------------------------------------------------
 *
 * chroma_pickle.h
 *	  Reader of the index_metadata.pickle file of a Chroma vector segment:
 *	  which embedding id each hnswlib label stands for.
 *
 * A Chroma vector segment directory (one per collection, named by the
 * segment's UUID) holds the hnswlib files (see chroma_hnsw.h) and, once
 * the index has been flushed, index_metadata.pickle.  Two flavours exist:
 *
 *	- Chroma 0.4-0.6 (Python) pickles an instance of
 *	  chromadb.segment.impl.vector.local_persistent_hnsw.PersistentData
 *	  with pickle protocol 4 or 5 (STACK_GLOBAL, EMPTY_TUPLE, NEWOBJ, then
 *	  BUILD with the instance's __dict__).
 *	- Chroma 1.x (Rust) pickles a plain dict with protocol 3; there
 *	  dimensionality and max_seq_id are None and id_to_seq_id is empty.
 *
 * Both carry the same keys:
 *
 *	dimensionality			int or None
 *	total_elements_added	int: labels handed out so far (labels start at 1)
 *	max_seq_id				int or None: embeddings_queue seq_id last applied
 *	id_to_label				dict str -> int: embedding id -> hnswlib label
 *	label_to_id				dict int -> str: the inverse
 *	id_to_seq_id			dict str -> int (ignored here)
 *
 * This is not a general unpickler: it runs a small pickle machine that
 * knows only the opcodes these two shapes need (protocols 2-5) and only
 * the one class above; any other opcode or global is an error, so no
 * input can make it call or build anything else.  Memory is bounded by a
 * small multiple of the input length; nesting of MARKs is bounded.
 *
 * Plain C with malloc and no server facilities, for vecq-migrate and the
 * fuzzer.
 *
 * src/migrate/chroma_pickle.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef CHROMA_PICKLE_H
#define CHROMA_PICKLE_H

#include <stddef.h>
#include <stdint.h>

/*
 * The label map of one vector segment.  ids[i] and labels[i] are one
 * id_to_label entry, in the order of the pickle.  ids are NUL-terminated
 * valid UTF-8 without embedded NULs; ids and labels are unique.
 */
typedef struct ChromaLabelMap
{
	int64_t		dimensionality; /* -1 when None or absent */
	int64_t		max_seq_id;		/* -1 when None or absent */
	int64_t		total_elements_added;	/* -1 when absent */
	size_t		count;
	char	  **ids;			/* NUL-terminated UTF-8 embedding ids */
	uint64_t   *labels;			/* labels[i] is the hnswlib label of ids[i] */
	int			protocol;		/* pickle protocol of the PROTO opcode */
	int			is_object;		/* 1: PersistentData instance, 0: dict */
} ChromaLabelMap;

/*
 * Decode the pickle in data[0..len) into *map.
 *
 * Returns 0 on success; the caller frees *map with chroma_label_map_free.
 * Returns -1 on any malformed or unexpected input, with *map left empty
 * (nothing to free, though freeing is harmless) and a one-line message in
 * err that says what is wrong and at which byte offset.  A label_to_id
 * that disagrees with id_to_label is an error.
 */
extern int	chroma_pickle_label_map(const uint8_t *data, size_t len,
									ChromaLabelMap *map,
									char *err, size_t errlen);

/* Free what chroma_pickle_label_map allocated; leaves *map empty. */
extern void chroma_label_map_free(ChromaLabelMap *map);

#endif							/* CHROMA_PICKLE_H */
