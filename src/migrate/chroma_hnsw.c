/*-------------------------------------------------------------------------
 *
 * chroma_hnsw.c
 *	  Reader of the header.bin, data_level0.bin and length.bin files of a
 *	  Chroma vector segment (file layout in chroma_hnsw.h).
 *
 * Level 0 holds every element with its vector and label, which is what a
 * migration copies; the neighbour lists of level 0 and of the upper levels
 * (link_lists.bin) are read only to hand the graph to the target's index
 * build as a seed (migrate_seed.c).  The header is checked against the relations hnswlib keeps
 * between its fields, so a file from another hnswlib layout or a damaged
 * one is refused rather than read as garbage.  Every access to the mapped
 * files is bounds-checked against their lengths.
 *
 * src/migrate/chroma_hnsw.c
 *
 *-------------------------------------------------------------------------
 */
/* open, fstat, mmap under -std=c99/c11 */
#ifndef _POSIX_C_SOURCE
#define _POSIX_C_SOURCE 200809L
#endif

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "chroma_hnsw.h"

/* neighbour counts are 16 bits (the low half of the link header) */
#define HNSW_MAX_LINKS 0xffff

/* byte of the level-0 link header that holds the delete mark, and the bit */
#define HNSW_DELETE_BYTE 2
#define HNSW_DELETE_MARK 0x01

static int	report(char *err, size_t errlen, const char *fmt,...)
			__attribute__((format(printf, 3, 4)));

static int
report(char *err, size_t errlen, const char *fmt,...)
{
	va_list		ap;

	if (err != NULL && errlen > 0)
	{
		va_start(ap, fmt);
		vsnprintf(err, errlen, fmt, ap);
		va_end(ap);
	}
	return -1;
}

static uint64_t
read_le(const uint8_t *p, int n)
{
	uint64_t	v = 0;

	for (int i = n - 1; i >= 0; i--)
		v = (v << 8) | p[i];
	return v;
}

int
chroma_hnsw_parse_header(const uint8_t *data, size_t len, ChromaHnswIndex *idx,
						 char *err, size_t errlen)
{
	uint64_t	bits;
	int32_t		version;
	uint64_t	links_size;

	memset(idx, 0, sizeof(*idx));
	if (data == NULL || len != CHROMA_HNSW_HEADER_SIZE)
		return report(err, errlen, "header is %zu bytes, expected %d",
					  data ? len : 0, CHROMA_HNSW_HEADER_SIZE);

	version = (int32_t) (uint32_t) read_le(data, 4);
	idx->offset_level0 = read_le(data + 4, 8);
	idx->max_elements = read_le(data + 12, 8);
	idx->cur_element_count = read_le(data + 20, 8);
	idx->size_data_per_element = read_le(data + 28, 8);
	idx->label_offset = read_le(data + 36, 8);
	idx->offset_data = read_le(data + 44, 8);
	idx->maxlevel = (int32_t) (uint32_t) read_le(data + 52, 4);
	idx->enterpoint = (uint32_t) read_le(data + 56, 4);
	idx->maxM = read_le(data + 60, 8);
	idx->maxM0 = read_le(data + 68, 8);
	idx->M = read_le(data + 76, 8);
	bits = read_le(data + 84, 8);
	memcpy(&idx->mult, &bits, sizeof(bits));
	idx->ef_construction = read_le(data + 92, 8);

	if (version != CHROMA_HNSW_PERSISTENCE_VERSION)
		return report(err, errlen, "persistence version %d, expected %d",
					  version, CHROMA_HNSW_PERSISTENCE_VERSION);
	if (idx->offset_level0 != 0)
		return report(err, errlen, "offsetLevel0 %llu, expected 0",
					  (unsigned long long) idx->offset_level0);
	if (idx->M < 1 || idx->M > HNSW_MAX_LINKS ||
		idx->maxM < 1 || idx->maxM > HNSW_MAX_LINKS ||
		idx->maxM0 < 1 || idx->maxM0 > HNSW_MAX_LINKS)
		return report(err, errlen, "M %llu, maxM %llu, maxM0 %llu out of range",
					  (unsigned long long) idx->M,
					  (unsigned long long) idx->maxM,
					  (unsigned long long) idx->maxM0);

	/* level-0 links: a uint32 header and maxM0 uint32 neighbour ids */
	links_size = 4 + 4 * idx->maxM0;
	if (idx->offset_data != links_size)
		return report(err, errlen, "offset_data %llu, expected %llu for maxM0 %llu",
					  (unsigned long long) idx->offset_data,
					  (unsigned long long) links_size,
					  (unsigned long long) idx->maxM0);
	if (idx->label_offset <= idx->offset_data ||
		(idx->label_offset - idx->offset_data) % 4 != 0 ||
		(idx->label_offset - idx->offset_data) / 4 > CHROMA_HNSW_MAX_DIM)
		return report(err, errlen, "label_offset %llu does not leave 1 to %d floats after offset_data %llu",
					  (unsigned long long) idx->label_offset, CHROMA_HNSW_MAX_DIM,
					  (unsigned long long) idx->offset_data);
	idx->dim = (int) ((idx->label_offset - idx->offset_data) / 4);
	if (idx->size_data_per_element != idx->label_offset + 8)
		return report(err, errlen, "size_data_per_element %llu, expected label_offset + 8 = %llu",
					  (unsigned long long) idx->size_data_per_element,
					  (unsigned long long) idx->label_offset + 8);

	/* internal ids are uint32 */
	if (idx->max_elements > UINT32_MAX)
		return report(err, errlen, "max_elements %llu exceeds 2^32 - 1",
					  (unsigned long long) idx->max_elements);
	if (idx->cur_element_count > idx->max_elements)
		return report(err, errlen, "cur_element_count %llu exceeds max_elements %llu",
					  (unsigned long long) idx->cur_element_count,
					  (unsigned long long) idx->max_elements);
	if (idx->cur_element_count == 0)
	{
		if (idx->maxlevel != -1 || idx->enterpoint != UINT32_MAX)
			return report(err, errlen, "empty index with maxlevel %d, enterpoint %u",
						  (int) idx->maxlevel, (unsigned) idx->enterpoint);
	}
	else if (idx->maxlevel < 0 || idx->enterpoint >= idx->cur_element_count)
		return report(err, errlen, "maxlevel %d, enterpoint %u with %llu elements",
					  (int) idx->maxlevel, (unsigned) idx->enterpoint,
					  (unsigned long long) idx->cur_element_count);
	if (!isfinite(idx->mult) || idx->mult <= 0)
		return report(err, errlen, "mult %g is not positive", idx->mult);
	if (idx->ef_construction < 1)
		return report(err, errlen, "ef_construction is 0");
	return 0;
}

/*
 * Map path read-only.  *map is NULL for an empty file.  Returns 0, or -1
 * with errno set (EINVAL for something other than a regular file).
 */
static int
map_file(const char *path, void **map, size_t *len)
{
	int			fd;
	struct stat st;
	int			save;

	*map = NULL;
	*len = 0;
	fd = open(path, O_RDONLY);
	if (fd < 0)
		return -1;
	if (fstat(fd, &st) < 0)
		goto fail;
	if (!S_ISREG(st.st_mode))
	{
		errno = EINVAL;
		goto fail;
	}
	if (st.st_size > 0)
	{
		if ((uintmax_t) st.st_size > SIZE_MAX)
		{
			errno = EFBIG;
			goto fail;
		}
		*map = mmap(NULL, (size_t) st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
		if (*map == MAP_FAILED)
		{
			*map = NULL;
			goto fail;
		}
		*len = (size_t) st.st_size;
	}
	close(fd);
	return 0;

fail:
	save = errno;
	close(fd);
	errno = save;
	return -1;
}

int
chroma_hnsw_open(const char *segment_dir, ChromaHnswIndex *idx,
				 char *err, size_t errlen)
{
	char		path[4096];
	char		msg[256];
	void	   *hdr;
	size_t		hdr_len;
	void	   *map;
	size_t		map_len;
	uint64_t	need;

	memset(idx, 0, sizeof(*idx));

	snprintf(path, sizeof(path), "%s/header.bin", segment_dir);
	if (map_file(path, &hdr, &hdr_len) < 0)
		return report(err, errlen, "%s: %s", path, strerror(errno));
	if (chroma_hnsw_parse_header(hdr, hdr_len, idx, msg, sizeof(msg)) < 0)
	{
		if (hdr != NULL)
			munmap(hdr, hdr_len);
		memset(idx, 0, sizeof(*idx));
		return report(err, errlen, "%s: %s", path, msg);
	}
	munmap(hdr, hdr_len);

	snprintf(path, sizeof(path), "%s/data_level0.bin", segment_dir);
	if (map_file(path, &map, &map_len) < 0)
	{
		int			save = errno;

		if (save == ENOENT && idx->cur_element_count == 0)
			return 0;
		memset(idx, 0, sizeof(*idx));
		return report(err, errlen, "%s: %s", path, strerror(save));
	}
	need = idx->cur_element_count * idx->size_data_per_element;
	if (map_len < need)
	{
		if (map != NULL)
			munmap(map, map_len);
		report(err, errlen, "%s: %zu bytes, %llu elements of %llu bytes need %llu",
			   path, map_len,
			   (unsigned long long) idx->cur_element_count,
			   (unsigned long long) idx->size_data_per_element,
			   (unsigned long long) need);
		memset(idx, 0, sizeof(*idx));
		return -1;
	}
	idx->map_level0 = map;
	idx->map_level0_len = map_len;
	idx->level0 = map;
	idx->level0_len = map_len;

	/* length.bin only matters for cosine: take it if it is usable */
	snprintf(path, sizeof(path), "%s/length.bin", segment_dir);
	if (map_file(path, &map, &map_len) == 0)
	{
		if (map_len >= idx->cur_element_count * 4 && map != NULL)
		{
			idx->map_lengths = map;
			idx->map_lengths_len = map_len;
			idx->lengths = map;
			idx->lengths_len = map_len;
		}
		else if (map != NULL)
			munmap(map, map_len);
	}
	return 0;
}

int
chroma_hnsw_element(const ChromaHnswIndex *idx, uint64_t i, uint64_t *label,
					bool *deleted, float *vec_out, char *err, size_t errlen)
{
	const uint8_t *e;
	uint32_t	links;

	if (i >= idx->cur_element_count)
		return report(err, errlen, "element %llu out of range (%llu elements)",
					  (unsigned long long) i,
					  (unsigned long long) idx->cur_element_count);
	/* size_data_per_element < 2^20 and i < 2^32: no overflow */
	if (idx->level0 == NULL ||
		(i + 1) * idx->size_data_per_element > idx->level0_len)
		return report(err, errlen, "element %llu lies beyond data_level0 (%zu bytes)",
					  (unsigned long long) i, idx->level0_len);
	e = idx->level0 + i * idx->size_data_per_element;

	links = (uint32_t) read_le(e + idx->offset_level0, 4);
	if ((links & 0xffff) > idx->maxM0)
		return report(err, errlen, "element %llu has %u level-0 links, maxM0 is %llu",
					  (unsigned long long) i, (unsigned) (links & 0xffff),
					  (unsigned long long) idx->maxM0);
	*deleted = (e[idx->offset_level0 + HNSW_DELETE_BYTE] & HNSW_DELETE_MARK) != 0;
	*label = read_le(e + idx->label_offset, 8);
	if (vec_out != NULL)
	{
		const uint8_t *p = e + idx->offset_data;

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
		/* the file's order is the host's: one copy */
		memcpy(vec_out, p, 4 * (size_t) idx->dim);
#else
		for (int d = 0; d < idx->dim; d++)
		{
			uint32_t	bits = (uint32_t) read_le(p + 4 * d, 4);

			memcpy(&vec_out[d], &bits, sizeof(bits));
		}
#endif
	}
	return 0;
}

int
chroma_hnsw_length(const ChromaHnswIndex *idx, uint64_t i, float *length,
				   char *err, size_t errlen)
{
	uint32_t	bits;

	if (i >= idx->cur_element_count)
		return report(err, errlen, "element %llu out of range (%llu elements)",
					  (unsigned long long) i,
					  (unsigned long long) idx->cur_element_count);
	if (idx->lengths == NULL || (i + 1) * 4 > idx->lengths_len)
		return report(err, errlen, "no length.bin entry for element %llu",
					  (unsigned long long) i);
	bits = (uint32_t) read_le(idx->lengths + 4 * i, 4);
	memcpy(length, &bits, sizeof(bits));
	return 0;
}

void
chroma_hnsw_release(const ChromaHnswIndex *idx)
{
#ifdef MADV_DONTNEED
	/* only advice: a failure changes nothing that is read */
	if (idx->map_level0 != NULL)
		(void) madvise(idx->map_level0, idx->map_level0_len, MADV_DONTNEED);
	if (idx->map_lengths != NULL)
		(void) madvise(idx->map_lengths, idx->map_lengths_len, MADV_DONTNEED);
#endif
}

int
chroma_hnsw_index_links(ChromaHnswIndex *idx, const uint8_t *data, size_t len,
						char *err, size_t errlen)
{
	uint64_t	block = 4 + 4 * idx->maxM;
	size_t		pos = 0;

	free(idx->links_at);
	idx->links_at = NULL;
	idx->links = NULL;
	idx->links_len = 0;
	if (idx->cur_element_count == 0)
		return len == 0 ? 0 :
			report(err, errlen, "%zu bytes for an empty index", len);
	/* each element takes at least its 4-byte count: refuse before allocating */
	if (len / 4 < idx->cur_element_count)
		return report(err, errlen, "%zu bytes cannot hold the counts of %llu elements",
					  len, (unsigned long long) idx->cur_element_count);
	idx->links_at = malloc(sizeof(uint64_t) * idx->cur_element_count);
	if (idx->links_at == NULL)
		return report(err, errlen, "out of memory indexing %llu elements",
					  (unsigned long long) idx->cur_element_count);
	for (uint64_t i = 0; i < idx->cur_element_count; i++)
	{
		uint64_t	size;

		if (len - pos < 4)
		{
			free(idx->links_at);
			idx->links_at = NULL;
			return report(err, errlen, "ends at element %llu of %llu",
						  (unsigned long long) i,
						  (unsigned long long) idx->cur_element_count);
		}
		size = read_le(data + pos, 4);
		if (size % block != 0 || size / block > (uint64_t) idx->maxlevel ||
			len - pos - 4 < size)
		{
			free(idx->links_at);
			idx->links_at = NULL;
			if (size % block != 0)
				return report(err, errlen, "element %llu has %llu bytes of links, not a multiple of %llu",
							  (unsigned long long) i, (unsigned long long) size,
							  (unsigned long long) block);
			if (size / block > (uint64_t) idx->maxlevel)
				return report(err, errlen, "element %llu has %llu levels above 0, but maxlevel is %d",
							  (unsigned long long) i, (unsigned long long) (size / block),
							  (int) idx->maxlevel);
			return report(err, errlen, "element %llu's %llu bytes of links go past the end",
						  (unsigned long long) i, (unsigned long long) size);
		}
		idx->links_at[i] = pos;
		pos += 4 + size;
	}
	if (pos != len)
	{
		free(idx->links_at);
		idx->links_at = NULL;
		return report(err, errlen, "%zu bytes after the last element", len - pos);
	}
	idx->links = data;
	idx->links_len = len;
	return 0;
}

int
chroma_hnsw_open_links(const char *segment_dir, ChromaHnswIndex *idx,
					   char *err, size_t errlen)
{
	char		path[4096];
	char		msg[256];
	void	   *map;
	size_t		map_len;

	snprintf(path, sizeof(path), "%s/link_lists.bin", segment_dir);
	if (map_file(path, &map, &map_len) < 0)
		return report(err, errlen, "%s: %s", path, strerror(errno));
	if (chroma_hnsw_index_links(idx, map, map_len, msg, sizeof(msg)) < 0)
	{
		if (map != NULL)
			munmap(map, map_len);
		return report(err, errlen, "%s: %s", path, msg);
	}
	idx->map_links = map;
	idx->map_links_len = map_len;
	return 0;
}

int
chroma_hnsw_level(const ChromaHnswIndex *idx, uint64_t i, char *err, size_t errlen)
{
	if (i >= idx->cur_element_count)
		return report(err, errlen, "element %llu out of range (%llu elements)",
					  (unsigned long long) i,
					  (unsigned long long) idx->cur_element_count);
	if (idx->links_at == NULL)
		return 0;
	/* checked by chroma_hnsw_index_links */
	return (int) (read_le(idx->links + idx->links_at[i], 4) / (4 + 4 * idx->maxM));
}

int
chroma_hnsw_neighbors(const ChromaHnswIndex *idx, uint64_t i, int level,
					  uint32_t *out, uint32_t max, uint32_t *count,
					  char *err, size_t errlen)
{
	const uint8_t *p;
	uint32_t	n;
	uint64_t	limit;
	int			top;

	*count = 0;
	top = chroma_hnsw_level(idx, i, err, errlen);
	if (top < 0)
		return -1;
	if (level < 0 || level > top)
		return report(err, errlen, "element %llu has no level %d (its top level is %d)",
					  (unsigned long long) i, level, top);
	if (level == 0)
	{
		if (idx->level0 == NULL ||
			(i + 1) * idx->size_data_per_element > idx->level0_len)
			return report(err, errlen, "element %llu lies beyond data_level0 (%zu bytes)",
						  (unsigned long long) i, idx->level0_len);
		p = idx->level0 + i * idx->size_data_per_element + idx->offset_level0;
		limit = idx->maxM0;
	}
	else
	{
		p = idx->links + idx->links_at[i] + 4 + (uint64_t) (level - 1) * (4 + 4 * idx->maxM);
		limit = idx->maxM;
	}
	n = (uint32_t) read_le(p, 4) & 0xffff;
	if (n > limit)
		return report(err, errlen, "element %llu has %u links on level %d, more than %llu",
					  (unsigned long long) i, (unsigned) n, level,
					  (unsigned long long) limit);
	if (n > max)
		return report(err, errlen, "element %llu has %u links on level %d, more than %u fit",
					  (unsigned long long) i, (unsigned) n, level, (unsigned) max);
	for (uint32_t k = 0; k < n; k++)
	{
		uint32_t	id = (uint32_t) read_le(p + 4 + 4 * (size_t) k, 4);

		if (id >= idx->cur_element_count)
			return report(err, errlen, "element %llu links to element %u on level %d, beyond the %llu elements",
						  (unsigned long long) i, (unsigned) id, level,
						  (unsigned long long) idx->cur_element_count);
		out[k] = id;
	}
	*count = n;
	return 0;
}

void
chroma_hnsw_close(ChromaHnswIndex *idx)
{
	if (idx->map_level0 != NULL)
		munmap(idx->map_level0, idx->map_level0_len);
	if (idx->map_lengths != NULL)
		munmap(idx->map_lengths, idx->map_lengths_len);
	if (idx->map_links != NULL)
		munmap(idx->map_links, idx->map_links_len);
	free(idx->links_at);
	memset(idx, 0, sizeof(*idx));
}
