import { useEffect, useState } from "react";
import { call, toCommandError, useTauriEvent } from "../api";
import type { AttentionItem } from "../bindings/AttentionItem";
import type { AttentionReason } from "../bindings/AttentionReason";
import type { CommandError } from "../bindings/CommandError";
import type { HealthReport } from "../bindings/HealthReport";
import type { HealthStatus } from "../bindings/HealthStatus";
import type { NeedsAttention as AttentionList } from "../bindings/NeedsAttention";
import type { Navigate } from "../nav";
import { RoleNote, useAllowed, useSession } from "../session";
import { Badge, type Tone } from "./Badge";
import { ErrorBox } from "./ErrorBox";

/** Each reason as people read it; a Record over the generated union, so a new reason in Rust
 * that is missing here fails the type check. */
export const REASONS: Record<AttentionReason, { label: string; tone: Tone; help: string }> = {
  revoked: { label: "revoked", tone: "bad", help: "The grant was revoked: the user must sign in again." },
  invalid: {
    label: "refused by Google",
    tone: "bad",
    help: "Google refused the refresh token (removed access, expired, deleted account): the user must sign in again.",
  },
  pending_revocation: {
    label: "revocation pending",
    tone: "warn",
    help: "A revocation was asked for and not confirmed: revoke again.",
  },
  missing_drive_appdata: {
    label: "no drive.appdata",
    tone: "warn",
    help: "The grant lacks the drive.appdata scope: Drive calls for this user fail.",
  },
  expiring: {
    label: "expiring, no refresh token",
    tone: "warn",
    help: "The access token has expired or expires soon, and there is no refresh token to renew it.",
  },
};

/** Users shown before the rest is folded away. */
export const ATTENTION_SHOWN = 8;

function who(item: AttentionItem): string {
  return item.user.email ?? item.user.sub;
}

function summary(r: HealthReport): string {
  const parts = [
    `${r.healthy} healthy`,
    `${r.refreshed} refreshed`,
    `${r.marked} marked invalid`,
    r.unknown ? `${r.unknown} unknown (Google did not answer)` : null,
    r.failed ? `${r.failed} failed` : null,
    r.skipped ? `${r.skipped} skipped` : null,
  ].filter(Boolean);
  return `Last sweep: ${r.total} grant${r.total === 1 ? "" : "s"} checked: ${parts.join(", ")}.`;
}

/**
 * The Users page's "Needs attention" list: users whose grant is revoked, refused by Google,
 * waiting for a revocation, missing drive.appdata, or expiring with nothing to renew it. A
 * sweep (by hand here, or on the schedule set in Settings) updates it; users who newly need
 * attention get a notice here besides the desktop notification.
 */
export function NeedsAttention({ navigate, onSwept }: { navigate: Navigate; onSwept?: () => void }) {
  const [list, setList] = useState<AttentionList | null>(null);
  const [status, setStatus] = useState<HealthStatus | null>(null);
  const [error, setError] = useState<CommandError | null>(null);
  const [sweeping, setSweeping] = useState(false);
  const [notice, setNotice] = useState<AttentionItem[]>([]);
  const [showAll, setShowAll] = useState(false);
  // On a team server a sweep needs the operator role (reading the list, viewer); a colleague's
  // sweep or a sign-in reaches this window as a live event and reloads the list.
  const sweepRefused = useAllowed("operator");
  const { liveTick } = useSession();

  useEffect(() => {
    let gone = false;
    call("health_attention", {})
      .then((l) => {
        if (!gone) setList(l);
      })
      .catch((e: unknown) => {
        if (!gone) setError(toCommandError(e));
      });
    call("health_status", {})
      .then((s) => {
        if (!gone) setStatus(s);
      })
      .catch(() => {
        // The schedule line is a hint; the list above is what matters.
      });
    return () => {
      gone = true;
    };
  }, [liveTick]);

  const swept = (report: HealthReport) => {
    setList(report.attention);
    setStatus((s) => (s ? { ...s, running: false, last: report } : s));
    onSwept?.();
  };

  useTauriEvent("health-swept", (event) => {
    swept(event.report);
    if (event.new.length > 0) setNotice(event.new);
  });

  const sweepNow = async () => {
    setSweeping(true);
    setError(null);
    try {
      swept(await call("health_sweep_now", {}));
    } catch (e) {
      setError(toCommandError(e));
    } finally {
      setSweeping(false);
    }
  };

  const total = list?.total ?? 0;
  const items = list?.users ?? [];
  const shown = showAll ? items : items.slice(0, ATTENTION_SHOWN);
  const schedule = status?.schedule_minutes
    ? `Swept every ${status.schedule_minutes} min while this window runs.`
    : "Scheduled sweeps are off (Settings).";

  return (
    <section className="needs-attention" aria-labelledby="needs-attention-title" data-testid="needs-attention">
      <div className="needs-attention-head">
        <h2 id="needs-attention-title">
          Needs attention{" "}
          <Badge tone={total > 0 ? "warn" : "ok"} testId="needs-attention-count">
            {list === null ? "…" : total}
          </Badge>
        </h2>
        <span className="muted small" data-testid="needs-attention-schedule">
          {schedule}
        </span>
        <span className="spacer" />
        <button
          type="button"
          data-testid="health-sweep-now"
          disabled={sweeping || status?.running === true || sweepRefused !== null}
          onClick={() => void sweepNow()}
        >
          {sweeping ? "Sweeping…" : "Sweep now"}
        </button>
        <RoleNote reason={sweepRefused} testId="health-sweep-role-note" />
      </div>

      {notice.length > 0 && (
        <div className="warn-box" role="status" data-testid="needs-attention-notice">
          {notice.length === 1
            ? `${who(notice[0])} now needs attention.`
            : `${notice.length} users now need attention: ${notice.slice(0, 3).map(who).join(", ")}${notice.length > 3 ? "…" : ""}`}{" "}
          <button type="button" className="link-button" onClick={() => setNotice([])}>
            Dismiss
          </button>
        </div>
      )}
      {status?.last && (
        <p className="small muted" data-testid="health-last-sweep">
          {summary(status.last)}
          {status.last.stopped ? ` ${status.last.stopped}` : ""}
        </p>
      )}
      <ErrorBox error={error} onDismiss={() => setError(null)} />

      {list !== null && total === 0 && (
        <p className="small muted" data-testid="needs-attention-empty">
          Nobody needs attention.
        </p>
      )}
      {items.length > 0 && (
        <ul className="needs-attention-list" aria-label="Users who need attention">
          {shown.map((item) => (
            <li key={`${item.user.issuer}|${item.user.sub}|${item.user.client ?? ""}`} data-testid="needs-attention-item">
              <button
                type="button"
                className="link-button"
                onClick={() => navigate({ name: "user", sub: item.user.sub })}
              >
                {who(item)}
              </button>
              {item.user.client && <span className="muted small"> {item.user.client}</span>}{" "}
              {item.reasons.map((r) => (
                <Badge key={r} tone={REASONS[r].tone} title={r === "invalid" && item.user.refresh_token_invalid_reason ? item.user.refresh_token_invalid_reason : REASONS[r].help}>
                  {REASONS[r].label}
                </Badge>
              ))}
            </li>
          ))}
        </ul>
      )}
      {items.length > ATTENTION_SHOWN && (
        <button type="button" className="link-button small" onClick={() => setShowAll((v) => !v)}>
          {showAll ? "Show fewer" : `Show all ${items.length}`}
        </button>
      )}
      {total > items.length && (
        <p className="small muted">
          {total - items.length} more are not listed: only the {items.length} most recently changed are.
        </p>
      )}
    </section>
  );
}
