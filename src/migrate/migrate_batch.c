/*-------------------------------------------------------------------------
 *
 * migrate_batch.c
 *	  Batches of records and the memory their strings and vectors live in:
 *	  chunks that are kept and reused from one batch to the next, so that a
 *	  run's memory is bounded by the batch size, not the collection's.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres_fe.h"

#include "migrate.h"

#define ARENA_CHUNK (1024 * 1024)

typedef struct ArenaChunk
{
	struct ArenaChunk *next;
	size_t		size;
	size_t		used;
	char		data[FLEXIBLE_ARRAY_MEMBER];
} ArenaChunk;

typedef struct MigrateArena
{
	ArenaChunk *head;			/* chunk being filled; its next ones are full */
	ArenaChunk *free;			/* kept for reuse */
} MigrateArena;

void
batch_init(MigrateBatch *batch, int capacity)
{
	batch->count = 0;
	batch->capacity = capacity;
	batch->records = pg_malloc0(sizeof(MigrateRecord) * capacity);
	batch->arena = pg_malloc0(sizeof(MigrateArena));
}

/* forget the batch's records; their memory is reused */
void
batch_reset(MigrateBatch *batch)
{
	MigrateArena *arena = batch->arena;

	while (arena->head)
	{
		ArenaChunk *c = arena->head;

		arena->head = c->next;
		if (c->size == ARENA_CHUNK)
		{
			c->used = 0;
			c->next = arena->free;
			arena->free = c;
		}
		else
			pg_free(c);			/* a large one, made for one value */
	}
	batch->count = 0;
}

void *
batch_alloc(MigrateBatch *batch, size_t size)
{
	MigrateArena *arena = batch->arena;
	ArenaChunk *c = arena->head;
	void	   *p;

	size = MAXALIGN(size);
	if (c == NULL || c->size - c->used < size)
	{
		if (size > ARENA_CHUNK / 4)
		{
			/* a value of its own; behind the head so the head stays open */
			c = pg_malloc(offsetof(ArenaChunk, data) + size);
			c->size = size;
			c->used = size;
			if (arena->head)
			{
				c->next = arena->head->next;
				arena->head->next = c;
			}
			else
			{
				c->next = NULL;
				arena->head = c;
			}
			return c->data;
		}
		if (arena->free)
		{
			c = arena->free;
			arena->free = c->next;
		}
		else
		{
			c = pg_malloc(offsetof(ArenaChunk, data) + ARENA_CHUNK);
			c->size = ARENA_CHUNK;
		}
		c->used = 0;
		c->next = arena->head;
		arena->head = c;
	}
	p = c->data + c->used;
	c->used += size;
	return p;
}

/* a copy of s (len bytes, or strlen(s) when len < 0), NUL-terminated */
char *
batch_strdup(MigrateBatch *batch, const char *s, int len)
{
	char	   *p;

	if (len < 0)
		len = strlen(s);
	p = batch_alloc(batch, len + 1);
	memcpy(p, s, len);
	p[len] = '\0';
	return p;
}

void
batch_free(MigrateBatch *batch)
{
	ArenaChunk *c;

	batch_reset(batch);
	while ((c = batch->arena->free) != NULL)
	{
		batch->arena->free = c->next;
		pg_free(c);
	}
	pg_free(batch->arena);
	pg_free(batch->records);
}
