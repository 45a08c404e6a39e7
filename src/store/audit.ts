import type { Kysely } from "kysely";
import type { AuditLogTable, Database } from "./schema.js";

export const auditStore = (db: Kysely<Database>) => ({
  insert: (row: AuditLogTable) => db.insertInto("audit_logs").values(row).execute(),
  list: (q: { projectId?: string; orgId?: string; limit: number; offset: number; action?: string }) => {
    let s = db.selectFrom("audit_logs").selectAll();
    if (q.projectId) s = s.where("project_id", "=", q.projectId);
    if (q.orgId) s = s.where("org_id", "=", q.orgId);
    if (q.action) s = s.where("action", "=", q.action);
    return s.orderBy("created_at", "desc").orderBy("id", "desc").limit(q.limit).offset(q.offset).execute();
  },
});
export type AuditStore = ReturnType<typeof auditStore>;
