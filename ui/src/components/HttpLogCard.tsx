import { useCallback, useEffect, useState } from "react";
import { call, toCommandError } from "../api";
import type { CommandError } from "../bindings/CommandError";
import type { CurlCommand } from "../bindings/CurlCommand";
import type { CurlCopyReport } from "../bindings/CurlCopyReport";
import type { HttpLogEntry } from "../bindings/HttpLogEntry";
import type { RawExchange } from "../bindings/RawExchange";
import type { SecretSlot } from "../bindings/SecretSlot";
import { localTime } from "../format";
import { RoleNote, useAllowed, useLiveTickFor } from "../session";
import { OutcomeBadge } from "./AuditTable";
import { ErrorBox } from "./ErrorBox";
import { RawExchangeView } from "./RawExchangeView";

/** The shell variable the core's curl command uses for each secret (oauth/curl.rs). */
export const SHELL_VARIABLE: Record<SecretSlot, string> = {
  client_secret: "CLIENT_SECRET",
  refresh_token: "REFRESH_TOKEN",
  access_token: "ACCESS_TOKEN",
  token: "TOKEN",
  code: "AUTH_CODE",
  code_verifier: "CODE_VERIFIER",
  id_token: "ID_TOKEN",
  secret: "SECRET",
};

/** What a copy put on the clipboard, in a sentence. */
export function copiedMessage(report: CurlCopyReport, reveal: boolean): string {
  if (report.revealed.length > 0) {
    const names = report.revealed.map((s) => SHELL_VARIABLE[s]).join(", ");
    const clears = report.clears_after_secs === null ? "" : `; the clipboard is cleared in ${report.clears_after_secs} s`;
    return `Copied with ${names} written in${clears}.`;
  }
  return reveal
    ? "Copied as curl; no secret was written in (see below)."
    : "Copied as curl; its secrets are shell variables.";
}

/**
 * The user's recent operations as HTTP (refresh, revoke, health checks, Drive, the sign-in's
 * exchange), newest first, secrets masked. Any request can be copied as curl: masked (its
 * secrets as shell variables), or, for an admin, with the secrets stored now written in. The
 * copy is made by the app (the webview never holds a revealed command) and a reveal is audited.
 * Reloads when `version` changes (the page acted) and on the team server's live feed.
 */
export function HttpLogCard({ sub, version, onAudited }: { sub: string; version: number; onAudited: () => void }) {
  const [entries, setEntries] = useState<HttpLogEntry[] | null>(null);
  const [error, setError] = useState<CommandError | null>(null);
  const [open, setOpen] = useState<ReadonlySet<number>>(new Set());
  const liveTick = useLiveTickFor(sub);

  const load = useCallback(async () => {
    try {
      setEntries(await call("user_http", { sub }));
      setError(null);
    } catch (e) {
      setError(toCommandError(e));
    }
  }, [sub]);
  useEffect(() => {
    void load();
  }, [load, liveTick, version]);

  const toggle = (id: number) =>
    setOpen((was) => {
      const next = new Set(was);
      if (!next.delete(id)) next.add(id);
      return next;
    });

  return (
    <section className="card" data-testid="http-card" aria-labelledby="http-card-title">
      <h2 id="http-card-title">HTTP</h2>
      <p className="muted small">
        The requests each operation on this user sent, with their responses; secrets are masked. Copying a request
        with its secrets written in is recorded in the audit log.
      </p>
      <ErrorBox error={error} onDismiss={() => setError(null)} />
      {entries && entries.length === 0 && (
        <div className="muted small" data-testid="http-empty">
          Operations on this user (refresh, revoke, health checks, Drive, a new sign-in) will appear here with their
          HTTP requests.
        </div>
      )}
      {entries && entries.length > 0 && (
        <table className="table http-log">
          <thead>
            <tr>
              <th>Time</th>
              <th>Action</th>
              <th>Outcome</th>
              <th>By</th>
              <th>Client</th>
              <th className="num">Requests</th>
              <th>
                <span className="visually-hidden">Details</span>
              </th>
            </tr>
          </thead>
          <tbody>
            {entries.map((e) => (
              <EntryRows key={e.id} sub={sub} entry={e} open={open.has(e.id)} onToggle={() => toggle(e.id)} onAudited={onAudited} />
            ))}
          </tbody>
        </table>
      )}
    </section>
  );
}

function EntryRows({
  sub,
  entry,
  open,
  onToggle,
  onAudited,
}: {
  sub: string;
  entry: HttpLogEntry;
  open: boolean;
  onToggle: () => void;
  onAudited: () => void;
}) {
  const detailsId = `http-entry-${entry.id}`;
  const n = entry.exchanges.length;
  return (
    <>
      <tr data-testid="http-entry" data-id={entry.id} data-action={entry.action} data-outcome={entry.outcome}>
        <td className="nowrap" title={entry.at}>
          {localTime(entry.at)}
        </td>
        <td className="mono">{entry.action}</td>
        <td>
          <OutcomeBadge outcome={entry.outcome} />
        </td>
        <td>{entry.actor}</td>
        <td>{entry.client ?? ""}</td>
        <td className="num" data-testid="http-entry-count">
          {n}
        </td>
        <td>
          <button
            type="button"
            className="small-button"
            data-testid="http-entry-toggle"
            aria-expanded={open}
            aria-controls={open ? detailsId : undefined}
            aria-label={`${open ? "Hide" : "Show"} the ${n} request${n === 1 ? "" : "s"} of ${entry.action} at ${localTime(entry.at)}`}
            onClick={onToggle}
          >
            {open ? "Hide" : "Show"}
          </button>
        </td>
      </tr>
      {open && (
        <tr id={detailsId} className="http-details" data-testid="http-entry-details">
          <td colSpan={7}>
            {n === 0 && <div className="muted small">This operation sent no request.</div>}
            {entry.exchanges.map((x, i) => (
              <RequestWithCurl key={i} sub={sub} entry={entry.id} index={i} of={n} exchange={x} onAudited={onAudited} />
            ))}
          </td>
        </tr>
      )}
    </>
  );
}

type Copied = { message: string; notes: string[] };

function RequestWithCurl({
  sub,
  entry,
  index,
  of,
  exchange,
  onAudited,
}: {
  sub: string;
  entry: number;
  index: number;
  of: number;
  exchange: RawExchange;
  onAudited: () => void;
}) {
  const refused = useAllowed("admin");
  const [busy, setBusy] = useState<"copy" | "reveal" | null>(null);
  const [shown, setShown] = useState<CurlCommand | null>(null);
  const [copied, setCopied] = useState<Copied | null>(null);
  const [error, setError] = useState<CommandError | null>(null);
  const args = { sub, entry, index };
  const headingId = `http-entry-${entry}-request-${index}`;

  const copy = async (reveal: boolean) => {
    setBusy(reveal ? "reveal" : "copy");
    setCopied(null);
    setError(null);
    try {
      // The masked command is shown as well; a revealed one never comes to the webview.
      if (!reveal) setShown(await call("http_curl", args));
      const report = await call("copy_curl", { ...args, reveal });
      setCopied({ message: copiedMessage(report, reveal), notes: reveal ? report.notes : [] });
    } catch (e) {
      setError(toCommandError(e));
    } finally {
      setBusy(null);
      if (reveal) onAudited();
    }
  };

  return (
    <div className="http-request" data-testid="http-request" data-index={index} role="group" aria-labelledby={headingId}>
      <h3 id={headingId} className="small">
        Request {index + 1} of {of}
      </h3>
      <RawExchangeView exchange={exchange} />
      <div className="actions">
        <button type="button" data-testid="http-copy-curl" disabled={busy !== null} onClick={() => void copy(false)}>
          {busy === "copy" ? "Copying…" : "Copy as curl"}
        </button>
        <button
          type="button"
          data-testid="http-reveal-curl"
          disabled={busy !== null || refused !== null}
          title="The client secret and the grant's tokens as stored now, written into the copied command (the clipboard is cleared after 30 s)"
          onClick={() => void copy(true)}
        >
          {busy === "reveal" ? "Copying…" : "Reveal and copy"}
        </button>
        <span className="muted small">(revealing is audited)</span>
        <RoleNote reason={refused} testId="http-role-note" />
      </div>
      {copied && (
        <>
          <div className="ok-box" data-testid="http-copy-result" role="status">
            {copied.message}
          </div>
          <Notes notes={copied.notes} testId="http-copy-notes" />
        </>
      )}
      <ErrorBox error={error} onDismiss={() => setError(null)} />
      {shown && (
        <>
          <h4>The command, its secrets as shell variables</h4>
          <pre className="json mono" data-testid="http-curl-command">
            {shown.command}
          </pre>
          <Notes notes={shown.notes} testId="http-curl-notes" />
        </>
      )}
    </div>
  );
}

function Notes({ notes, testId }: { notes: string[]; testId: string }) {
  if (notes.length === 0) return null;
  return (
    <ul className="notes small" data-testid={testId}>
      {notes.map((n) => (
        <li key={n}>{n}</li>
      ))}
    </ul>
  );
}
