import type { AuditEntry } from "../bindings/AuditEntry";
import type { AuditOutcome } from "../bindings/AuditOutcome";
import { localTime } from "../format";

/** Who an entry is about, as people know them: the email, else the sub, else the store's id. */
export function auditUser(a: AuditEntry): string {
  if (a.user_email) return a.user_email;
  if (a.user_sub) return a.user_sub;
  return a.user_id === null ? "" : `#${a.user_id}`;
}

/** An audited outcome as a badge: ok, denied (warn) or failed. */
export function OutcomeBadge({ outcome }: { outcome: AuditOutcome }) {
  return <span className={`badge badge-${outcome === "ok" ? "ok" : outcome === "denied" ? "warn" : "bad"}`}>{outcome}</span>;
}

export function AuditTable({ entries, rowTestId }: { entries: AuditEntry[]; rowTestId: string }) {
  if (entries.length === 0) return <div className="muted small">No audit entries.</div>;
  return (
    <table className="table audit">
      <thead>
        <tr>
          <th>Time</th>
          <th>OS user</th>
          <th>Action</th>
          <th>User</th>
          <th>Outcome</th>
          <th>Detail</th>
        </tr>
      </thead>
      <tbody>
        {entries.map((a) => (
          <tr key={a.id} data-testid={rowTestId} data-action={a.action} data-outcome={a.outcome}>
            <td className="nowrap" title={a.at}>
              {localTime(a.at)}
            </td>
            <td>{a.os_user}</td>
            <td className="mono">{a.action}</td>
            <td data-testid="audit-user" title={a.user_id === null ? undefined : `user id ${a.user_id}`}>
              {auditUser(a)}
            </td>
            <td>
              <OutcomeBadge outcome={a.outcome} />
            </td>
            <td className="wrap">{a.detail ?? ""}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}
