import { useEffect, useState } from "react";
import { call, toCommandError } from "../api";
import type { AuditAction } from "../bindings/AuditAction";
import type { AuditEntry } from "../bindings/AuditEntry";
import type { AuditFilter } from "../bindings/AuditFilter";
import type { AuditOutcome } from "../bindings/AuditOutcome";
import type { CommandError } from "../bindings/CommandError";
import { AuditTable } from "../components/AuditTable";
import { ErrorBox } from "../components/ErrorBox";
import { useDebounced } from "../hooks";
import { useSession } from "../session";

/** Every action, once: a Record over the generated union, so a new action in Rust that is
 * missing here fails the type check instead of missing from the filter. */
const ACTIONS: Record<AuditAction, null> = {
  exchange: null,
  refresh: null,
  revoke: null,
  reveal: null,
  drive: null,
  drive_download: null,
  drive_upload: null,
  drive_delete: null,
  users_export: null,
  health_sweep: null,
  client_add: null,
  client_remove: null,
  recover: null,
  key_rotate: null,
  key_export: null,
  key_import: null,
  sign_in: null,
  sign_out: null,
  staff_add: null,
  staff_remove: null,
  token_create: null,
  token_revoke: null,
  api_call: null,
  access_denied: null,
};
export const AUDIT_ACTIONS = Object.keys(ACTIONS) as AuditAction[];
export const AUDIT_OUTCOMES: AuditOutcome[] = ["ok", "failed", "denied"];

/** The list entry a <select> chose, typed; "" (all) for anything else. */
function pick<T extends string>(list: readonly T[], value: string): T | "" {
  return list.find((item) => item === value) ?? "";
}
export const AUDIT_LIMIT = 1000;

export function AuditPage() {
  const [action, setAction] = useState<AuditAction | "">("");
  const [outcome, setOutcome] = useState<AuditOutcome | "">("");
  const [text, setText] = useState("");
  const debouncedText = useDebounced(text.trim(), 200);
  const [entries, setEntries] = useState<AuditEntry[] | null>(null);
  const [error, setError] = useState<CommandError | null>(null);
  const [exporting, setExporting] = useState(false);
  const [exported, setExported] = useState<string | null>(null);
  const [exportError, setExportError] = useState<CommandError | null>(null);

  const filter: AuditFilter = {
    action: action || null,
    outcome: outcome || null,
    text: debouncedText || null,
    since: null,
    limit: AUDIT_LIMIT,
  };

  // A team server's live feed brings new entries without reloading.
  const { liveTick } = useSession();
  useEffect(() => {
    let alive = true;
    call("audit_log", {
      filter: { action: action || null, outcome: outcome || null, since: null, text: debouncedText || null, limit: AUDIT_LIMIT },
    })
      .then((list) => {
        if (!alive) return;
        setEntries(list);
        setError(null);
      })
      .catch((e: unknown) => alive && setError(toCommandError(e)));
    return () => {
      alive = false;
    };
  }, [action, outcome, debouncedText, liveTick]);

  const exportCsv = async () => {
    setExporting(true);
    setExported(null);
    setExportError(null);
    try {
      const path = await call("audit_export", { filter: { ...filter, limit: null } });
      setExported(path);
    } catch (e) {
      setExportError(toCommandError(e));
    } finally {
      setExporting(false);
    }
  };

  return (
    <div className="page">
      <div className="page-head">
        <h1>Audit log</h1>
      </div>
      <section className="card">
        <div className="inline-form">
          <label>
            <span>Action</span>
            <select value={action} onChange={(e) => setAction(pick(AUDIT_ACTIONS, e.target.value))} data-testid="audit-action">
              <option value="">all</option>
              {AUDIT_ACTIONS.map((a) => (
                <option key={a} value={a}>
                  {a}
                </option>
              ))}
            </select>
          </label>
          <label>
            <span>Outcome</span>
            <select value={outcome} onChange={(e) => setOutcome(pick(AUDIT_OUTCOMES, e.target.value))} data-testid="audit-outcome">
              <option value="">all</option>
              {AUDIT_OUTCOMES.map((o) => (
                <option key={o} value={o}>
                  {o}
                </option>
              ))}
            </select>
          </label>
          <label className="grow">
            <span>Text</span>
            <input
              type="search"
              value={text}
              onChange={(e) => setText(e.target.value)}
              data-testid="audit-text"
              placeholder="OS user, detail, user email or id"
            />
          </label>
          <button type="button" data-testid="audit-export" disabled={exporting} onClick={() => void exportCsv()}>
            {exporting ? "Exporting…" : "Export CSV"}
          </button>
        </div>
        {exported && (
          <div className="ok-box" data-testid="audit-export-path">
            Saved to <span className="mono">{exported}</span>
          </div>
        )}
        <ErrorBox error={exportError} onDismiss={() => setExportError(null)} />
        <ErrorBox error={error} />
        {entries && (
          <>
            <div className="muted small" data-testid="audit-count">
              {entries.length === AUDIT_LIMIT ? `latest ${AUDIT_LIMIT} entries` : `${entries.length} entries`}
            </div>
            <AuditTable entries={entries} rowTestId="audit-row" />
          </>
        )}
      </section>
    </div>
  );
}
