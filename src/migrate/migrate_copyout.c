/*-------------------------------------------------------------------------
 *
 * migrate_copyout.c
 *	  Reads a target collection's records back, in seq order, by binary
 *	  COPY out: what --verify compares and what --catch-up diffs against.
 *
 * A row's fields point into the reader's buffer and stay valid until the
 * next call: id, embedding (the vector type's binary form: int16 dim,
 * int16 unused, big-endian float4s), document, metadata (jsonb's binary
 * form: version byte 1, then the text) and uri.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres_fe.h"

#include <arpa/inet.h>

#include "common/logging.h"
#include "migrate.h"

uint32_t
copyout_get32(const char *p)
{
	uint32_t	v;

	memcpy(&v, p, 4);
	return ntohl(v);
}

void
copyout_start(CopyReader *rd, PGconn *conn, const char *table)
{
	char	   *sql;
	PGresult   *res;

	memset(rd, 0, sizeof(*rd));
	rd->conn = conn;
	sql = psprintf("COPY (SELECT id, embedding, document, metadata, uri FROM %s ORDER BY seq) "
				   "TO STDOUT (FORMAT binary)", table);
	res = PQexec(conn, sql);
	if (PQresultStatus(res) != PGRES_COPY_OUT)
		pg_fatal("could not read the records of %s: %s", table, PQresultErrorMessage(res));
	PQclear(res);
	pg_free(sql);
}

/* the next row; false at the end */
bool
copyout_next(CopyReader *rd, TargetRow *row)
{
	const char *p;
	const char *end;

	if (rd->buf)
		PQfreemem(rd->buf);
	rd->buf = NULL;
	if (rd->finished)
		return false;
	rd->len = PQgetCopyData(rd->conn, &rd->buf, 0);
	if (rd->len == -1)
	{
		rd->finished = true;
		return false;
	}
	if (rd->len < 0)
		pg_fatal("could not read the target's records: %s", PQerrorMessage(rd->conn));
	p = rd->buf;
	end = rd->buf + rd->len;
	if (!rd->header_seen)
	{
		if (rd->len < 19 || memcmp(p, "PGCOPY\n\377\r\n", 11) != 0)
			pg_fatal("unexpected binary COPY header from the target");
		p += 19 + copyout_get32(p + 15);
		rd->header_seen = true;
	}
	if (end - p < 2)
		pg_fatal("short binary COPY row from the target");
	row->nfields = (int16_t) ntohs(*(const uint16_t *) p);
	p += 2;
	if (row->nfields == -1)
		return false;
	if (row->nfields != 5)
		pg_fatal("binary COPY row with %d fields from the target", row->nfields);
	for (int i = 0; i < 5; i++)
	{
		if (end - p < 4)
			pg_fatal("short binary COPY row from the target");
		row->flen[i] = (int32_t) copyout_get32(p);
		p += 4;
		row->field[i] = p;
		if (row->flen[i] > 0)
		{
			if (end - p < row->flen[i])
				pg_fatal("short binary COPY row from the target");
			p += row->flen[i];
		}
	}
	return true;
}

/* read what is left of the COPY and its result */
void
copyout_end(CopyReader *rd)
{
	PGresult   *res;

	if (rd->buf)
		PQfreemem(rd->buf);
	rd->buf = NULL;
	if (!rd->finished)
	{
		while (PQgetCopyData(rd->conn, &rd->buf, 0) >= 0)
			PQfreemem(rd->buf);
		rd->buf = NULL;
	}
	while ((res = PQgetResult(rd->conn)) != NULL)
	{
		if (PQresultStatus(res) != PGRES_COMMAND_OK)
			pg_fatal("could not read the target's records: %s", PQresultErrorMessage(res));
		PQclear(res);
	}
}
