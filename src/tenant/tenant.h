/*-------------------------------------------------------------------------
 *
 * tenant.h
 *	  Tenant identity for row-level security: the vecq.tenant setting and
 *	  vecq.current_tenant().
 *
 * src/tenant/tenant.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef VECQ_TENANT_H
#define VECQ_TENANT_H

/* vecq.tenant: the tenant of a pooled session; settable by trusted roles only */
extern char *vecq_tenant;

extern void TenantInit(void);

#endif							/* VECQ_TENANT_H */
