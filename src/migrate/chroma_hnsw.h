/*-------------------------------------------------------------------------
 *
 * chroma_hnsw.h
 *	  Reader of the hnswlib files of a Chroma vector segment: for each
 *	  element its label, its delete mark and its vector.
 *
 * Chroma (0.4 on, Python and Rust alike) keeps each collection's HNSW
 * index with its fork of hnswlib (chroma-core/hnswlib), which splits
 * hnswlib's single saveIndex file into four files in the segment
 * directory <persist dir>/<vector segment UUID>/:
 *
 *	header.bin		100 bytes, little-endian (host order of an x86/ARM
 *					machine), written field by field:
 *		off  size
 *		  0   4  int32   persistence version, 1
 *		  4   8  size_t  offsetLevel0 (0: link list first in an element)
 *		 12   8  size_t  max_elements (capacity; grows on resize)
 *		 20   8  size_t  cur_element_count (elements 0 .. count-1 in use)
 *		 28   8  size_t  size_data_per_element
 *		 36   8  size_t  label_offset
 *		 44   8  size_t  offset_data
 *		 52   4  int32   maxlevel (-1 while empty)
 *		 56   4  uint32  enterpoint_node (0xffffffff while empty)
 *		 60   8  size_t  maxM (= M)
 *		 68   8  size_t  maxM0 (= 2 M)
 *		 76   8  size_t  M
 *		 84   8  double  mult (1 / ln M)
 *		 92   8  size_t  ef_construction
 *	data_level0.bin	size_data_per_element bytes per element, element i at
 *					i * size_data_per_element (written for max_elements
 *					elements when created; old versions wrote only as many
 *					as were in use).  Each element:
 *		offset_level0 (0)	uint32 link header: low 16 bits the number of
 *							level-0 neighbours, byte 2 bit 0x01 hnswlib's
 *							delete mark; then maxM0 uint32 neighbour ids
 *		offset_data			dim float32, the vector
 *		label_offset		uint64 label (Chroma's labels start at 1; the
 *							label -> embedding id map is in
 *							index_metadata.pickle, see chroma_pickle.h)
 *		so offset_data = 4 + 4 maxM0, label_offset = offset_data + 4 dim,
 *		size_data_per_element = label_offset + 8.
 *	length.bin		a float32 per element: for space "cosine" the norm of
 *					the vector as added; otherwise uninitialised memory.
 *	link_lists.bin	the upper levels' neighbour lists (not read here).
 *
 * For space "cosine" the fork's bindings create the index with normalize
 * set, so hnswlib stores each vector divided by (norm + 1e-30), a unit
 * vector, and keeps the norm in length.bin; Chroma's get() returns the
 * stored vector times that norm.  chroma_hnsw_element returns the stored
 * vector as is; chroma_hnsw_length gives the norm.  Spaces "l2" and "ip"
 * store the vectors unchanged.
 *
 * Until Chroma flushes the index (sync_threshold records, 1000 by
 * default) header.bin says cur_element_count 0 and the vectors exist only
 * in chroma.sqlite3's embeddings_queue.
 *
 * The files are mapped read-only and never written.  Plain C with no
 * server facilities, for vecq-migrate and the fuzzer.
 *
 * src/migrate/chroma_hnsw.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef CHROMA_HNSW_H
#define CHROMA_HNSW_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* size of header.bin */
#define CHROMA_HNSW_HEADER_SIZE 100

/* the persistence version chroma-core/hnswlib writes */
#define CHROMA_HNSW_PERSISTENCE_VERSION 1

/* largest dimension accepted (Chroma has no limit; this is a sanity bound) */
#define CHROMA_HNSW_MAX_DIM 65536

typedef struct ChromaHnswIndex
{
	uint64_t	offset_level0,
				max_elements,
				cur_element_count,
				size_data_per_element,
				label_offset,
				offset_data,
				maxM,
				maxM0,
				M,
				ef_construction;
	int32_t		maxlevel;
	uint32_t	enterpoint;
	double		mult;
	int			dim;
	const uint8_t *level0;		/* data_level0.bin, read-only */
	size_t		level0_len;
	const uint8_t *lengths;		/* length.bin, read-only; NULL if absent */
	size_t		lengths_len;
	/* private: the mappings chroma_hnsw_open made, for chroma_hnsw_close */
	void	   *map_level0;
	size_t		map_level0_len;
	void	   *map_lengths;
	size_t		map_lengths_len;
	/* link_lists.bin, once chroma_hnsw_open_links or _index_links ran */
	const uint8_t *links;		/* read-only; NULL if not read */
	size_t		links_len;
	uint64_t   *links_at;		/* per element: its size field's offset */
	void	   *map_links;
	size_t		map_links_len;
} ChromaHnswIndex;

/*
 * Decode and check the header.bin image data[0..len) into *idx (all
 * fields but level0 and lengths, which are left NULL).  len must be
 * CHROMA_HNSW_HEADER_SIZE.  Returns 0, or -1 with a one-line message in
 * err.
 */
extern int	chroma_hnsw_parse_header(const uint8_t *data, size_t len,
									 ChromaHnswIndex *idx,
									 char *err, size_t errlen);

/*
 * Read segment_dir/header.bin, map data_level0.bin read-only (O_RDONLY,
 * never written) and check that it holds cur_element_count elements; map
 * length.bin too if it is there and large enough.  With cur_element_count
 * 0 a missing data_level0.bin is accepted.  Returns 0, or -1 with a
 * message naming the file in err (nothing is left open).  The caller
 * releases the index with chroma_hnsw_close.  The files must not shrink
 * while mapped.
 */
extern int	chroma_hnsw_open(const char *segment_dir, ChromaHnswIndex *idx,
							 char *err, size_t errlen);

/*
 * Element i < cur_element_count: its label, whether it carries the delete
 * mark, and its dim floats copied into vec_out (which needs no alignment;
 * vec_out may be NULL to skip the copy).  Returns 0, or -1 with a message
 * if i is out of range or the element's link header is implausible.
 */
extern int	chroma_hnsw_element(const ChromaHnswIndex *idx, uint64_t i,
								uint64_t *label, bool *deleted, float *vec_out,
								char *err, size_t errlen);

/*
 * The norm element i had when added (meaningful for space "cosine" only,
 * see above).  Returns 0, or -1 if length.bin is absent or too short.
 */
extern int	chroma_hnsw_length(const ChromaHnswIndex *idx, uint64_t i,
							   float *length, char *err, size_t errlen);

/*
 * Drop the pages of the mapped files from the process's resident set
 * (madvise MADV_DONTNEED: they stay in the page cache, and a later access
 * maps them again), so that reading a large index element by element keeps
 * the process's memory flat.
 */
extern void chroma_hnsw_release(const ChromaHnswIndex *idx);

/*
 * link_lists.bin: the upper levels of hnswlib's graph.  For each element in
 * order, a uint32 byte count, then that many bytes: one block of
 * 4 + 4 * maxM bytes per level above 0 (a uint32 whose low 16 bits count
 * the neighbours, then maxM uint32 ids).  chroma_hnsw_index_links checks
 * data[0..len) against the header (every element's count a whole number
 * of blocks, its level at most maxlevel, nothing left over) and indexes it
 * into idx (links, links_len, links_at; the caller keeps data mapped);
 * chroma_hnsw_open_links maps segment_dir/link_lists.bin and indexes it.
 * Both return 0, or -1 with a message in err.
 */
extern int	chroma_hnsw_index_links(ChromaHnswIndex *idx, const uint8_t *data,
									size_t len, char *err, size_t errlen);
extern int	chroma_hnsw_open_links(const char *segment_dir, ChromaHnswIndex *idx,
								   char *err, size_t errlen);

/*
 * Element i's level (0 when link_lists.bin was not read), or -1 with a
 * message in err.
 */
extern int	chroma_hnsw_level(const ChromaHnswIndex *idx, uint64_t i,
							  char *err, size_t errlen);

/*
 * Element i's neighbours on a level (0: data_level0.bin; above: link_lists)
 * into out[0..max), their count into *count.  Every id is checked to be
 * below cur_element_count and the count against maxM0 or maxM.  Returns 0,
 * or -1 with a message in err.
 */
extern int	chroma_hnsw_neighbors(const ChromaHnswIndex *idx, uint64_t i,
								  int level, uint32_t *out, uint32_t max,
								  uint32_t *count, char *err, size_t errlen);

/* Unmap what chroma_hnsw_open mapped; leaves *idx empty.  */
extern void chroma_hnsw_close(ChromaHnswIndex *idx);

#endif							/* CHROMA_HNSW_H */
