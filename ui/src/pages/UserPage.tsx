import { type ReactNode, useCallback, useEffect, useState } from "react";
import { call, toCommandError } from "../api";
import type { AuditEntry } from "../bindings/AuditEntry";
import type { CommandError } from "../bindings/CommandError";
import type { RevokeReport } from "../bindings/RevokeReport";
import type { UserDetail } from "../bindings/UserDetail";
import { AuditTable } from "../components/AuditTable";
import { Avatar } from "../components/Avatar";
import { Badge, RefreshStateBadge } from "../components/Badge";
import { ChecksTable } from "../components/ChecksTable";
import { ClaimsTable } from "../components/ClaimsTable";
import { JsonBlock } from "../components/JsonBlock";
import { ErrorBox } from "../components/ErrorBox";
import { accessCountdown, localTime } from "../format";
import { useNow } from "../hooks";
import type { Navigate } from "../nav";
import { TokenTools } from "../components/TokenTools";
import { DriveCard } from "../components/DriveCard";
import { HttpLogCard } from "../components/HttpLogCard";
import { RoleNote, useAllowed, useLiveTickFor } from "../session";

export function UserPage({ sub, navigate }: { sub: string; navigate: Navigate }) {
  const [detail, setDetail] = useState<UserDetail | null>(null);
  const [loadError, setLoadError] = useState<CommandError | null>(null);
  const [audit, setAudit] = useState<AuditEntry[] | null>(null);
  const [auditError, setAuditError] = useState<CommandError | null>(null);

  const load = useCallback(async () => {
    try {
      const d = await call("user_detail", { sub });
      setDetail(d);
      setLoadError(null);
    } catch (e) {
      setLoadError(toCommandError(e));
    }
  }, [sub]);
  const loadAudit = useCallback(async () => {
    try {
      setAudit(await call("user_audit", { sub }));
      setAuditError(null);
    } catch (e) {
      setAuditError(toCommandError(e));
    }
  }, [sub]);

  // A team server's live feed reloads the page in place when an entry is about this user
  // (a colleague refreshed or revoked them), not for the team's work on others.
  const liveTick = useLiveTickFor(sub);
  useEffect(() => {
    void load();
    void loadAudit();
  }, [load, loadAudit, liveTick]);

  // The HTTP card reads its log again after each action that sent requests.
  const [httpVersion, setHttpVersion] = useState(0);
  const afterAction = () => {
    void load();
    void loadAudit();
    setHttpVersion((v) => v + 1);
  };

  const verification = detail?.id_token ?? null;
  return (
    <div className="page user-page">
      <div className="page-head">
        <button type="button" className="link-button" onClick={() => navigate({ name: "users" })}>
          ← Users
        </button>
        <h1>User</h1>
        <span className="mono small muted">{sub}</span>
      </div>
      <ErrorBox error={loadError} />
      {detail && (
        <>
          <div className="cards">
            <ProfileCard detail={detail} />
            <TokenCard detail={detail} onChanged={afterAction} />
          </div>
          <TokenTools sub={detail.sub} onAudited={() => void loadAudit()} />
          <DriveCard
            sub={detail.sub}
            hasScope={detail.has_drive_appdata}
            onAudited={() => {
              void loadAudit();
              setHttpVersion((v) => v + 1);
            }}
          />
          <section className="card">
            <h2>Decoded ID token</h2>
            <p className="muted small">
              The sign-in's ID token as it was verified when stored
              {verification?.verified_at ? ` (${localTime(verification.verified_at)})` : ""}: header, claims and
              every check. The signed token itself is not kept.
            </p>
            {verification?.header != null && (
              <>
                <h3>Header</h3>
                <JsonBlock value={verification.header} testId="idtoken-header" />
              </>
            )}
            <h3>Claims</h3>
            <ClaimsTable claims={detail.claims} testId="idtoken-claims" />
            {verification && verification.checks.length > 0 && (
              <>
                <h3>Verification</h3>
                <ChecksTable checks={verification.checks} rowTestId="idtoken-check" />
              </>
            )}
          </section>
        </>
      )}
      <HttpLogCard sub={sub} version={httpVersion} onAudited={() => void loadAudit()} />
      <section className="card">
        <h2>Audit trail</h2>
        <ErrorBox error={auditError} />
        {audit && <AuditTable entries={audit} rowTestId="user-audit-row" />}
      </section>
    </div>
  );
}

function Field({ label, testId, children, mono }: { label: string; testId: string; children: ReactNode; mono?: boolean }) {
  return (
    <>
      <dt>{label}</dt>
      <dd className={mono ? "mono" : undefined} data-testid={testId}>
        {children}
      </dd>
    </>
  );
}

function ProfileCard({ detail }: { detail: UserDetail }) {
  const [copied, setCopied] = useState<string | null>(null);
  const copySub = async () => {
    try {
      await navigator.clipboard.writeText(detail.sub);
      setCopied("Copied");
    } catch {
      setCopied("Could not copy");
    }
  };
  return (
    <section className="card profile-card">
      <h2>Profile</h2>
      <div className="profile">
        <Avatar picture={detail.picture} name={detail.name ?? detail.email} />
        <div className="profile-main">
          <div className="profile-title" data-testid="profile-name">
            {detail.name ?? ""}
          </div>
          <div className="profile-email-line">
            <span data-testid="profile-email">{detail.email ?? ""}</span>{" "}
            {detail.email_verified === true && (
              <Badge tone="ok" testId="profile-verified">
                verified
              </Badge>
            )}
            {detail.email_verified === false && (
              <Badge tone="warn" testId="profile-unverified">
                not verified
              </Badge>
            )}
          </div>
        </div>
      </div>
      <dl className="fields">
        <Field label="Given name" testId="profile-given-name">
          {detail.given_name ?? ""}
        </Field>
        <Field label="Family name" testId="profile-family-name">
          {detail.family_name ?? ""}
        </Field>
        <Field label="Locale" testId="profile-locale">
          {detail.locale ?? ""}
        </Field>
        <dt>sub</dt>
        <dd>
          <span className="mono" data-testid="profile-sub">
            {detail.sub}
          </span>{" "}
          <button type="button" className="small-button" data-testid="profile-copy-sub" onClick={() => void copySub()}>
            Copy
          </button>
          {copied && <span className="muted small"> {copied}</span>}
        </dd>
        <Field label="Hosted domain (hd)" testId="profile-hd">
          {detail.hd ?? ""}
        </Field>
        <Field label="Issuer" testId="profile-issuer" mono>
          {detail.issuer}
        </Field>
        <Field label="Client" testId="profile-client">
          {detail.client ?? ""}
        </Field>
        <Field label="Updated" testId="profile-updated">
          {localTime(detail.updated_at)}
        </Field>
      </dl>
    </section>
  );
}

function TokenCard({ detail, onChanged }: { detail: UserDetail; onChanged: () => void }) {
  const now = useNow(1000);
  const [busy, setBusy] = useState<"refresh" | "revoke" | null>(null);
  const refused = useAllowed("operator");
  const [refreshOk, setRefreshOk] = useState<string | null>(null);
  const [refreshError, setRefreshError] = useState<CommandError | null>(null);
  const [confirming, setConfirming] = useState(false);
  const [revokeResult, setRevokeResult] = useState<RevokeReport | null>(null);
  const [revokeError, setRevokeError] = useState<CommandError | null>(null);

  const refresh = async () => {
    setBusy("refresh");
    setRefreshOk(null);
    setRefreshError(null);
    try {
      const u = await call("refresh_user", { sub: detail.sub });
      setRefreshOk(
        u.access_token_expires_at
          ? `Refreshed; the new access token expires at ${localTime(u.access_token_expires_at)}.`
          : "Refreshed.",
      );
      onChanged();
    } catch (e) {
      setRefreshError(toCommandError(e));
      onChanged();
    } finally {
      setBusy(null);
    }
  };

  const revoke = async () => {
    setConfirming(false);
    setBusy("revoke");
    setRevokeResult(null);
    setRevokeError(null);
    try {
      setRevokeResult(await call("revoke_user", { sub: detail.sub }));
    } catch (e) {
      setRevokeError(toCommandError(e));
    } finally {
      setBusy(null);
      onChanged();
    }
  };

  const revoked = detail.access_token_state === "revoked";
  const expired =
    revoked || (detail.access_token_expires_at !== null && Date.parse(detail.access_token_expires_at) <= now);

  return (
    <section className="card token-card">
      <h2>Tokens</h2>
      <dl className="fields">
        <dt>Refresh token</dt>
        <dd>
          <span data-testid="token-refresh-state" data-state={detail.refresh_token}>
            <RefreshStateBadge state={detail.refresh_token} />
          </span>
          {detail.refresh_token_invalid_reason && (
            <span className="small" data-testid="token-invalid-reason">
              {" "}
              {detail.refresh_token_invalid_reason}
            </span>
          )}
        </dd>
        <dt>Access token</dt>
        <dd>
          <span className={expired ? "text-bad" : undefined} data-testid="token-expiry" data-state={detail.access_token_state}>
            {accessCountdown(detail, now)}
          </span>
          {detail.access_token_expires_at && (
            <span className="muted small"> (at {localTime(detail.access_token_expires_at)})</span>
          )}
        </dd>
        <dt>Scopes</dt>
        <dd>
          <ul className="scopes mono small" data-testid="token-scopes">
            {detail.scopes.map((s) => (
              <li key={s}>{s}</li>
            ))}
          </ul>
          {!detail.has_drive_appdata && (
            <Badge tone="warn" testId="token-no-drive">
              no drive.appdata
            </Badge>
          )}
        </dd>
      </dl>
      <div className="actions">
        <button type="button" data-testid="user-refresh" disabled={busy !== null || refused !== null} onClick={() => void refresh()}>
          {busy === "refresh" ? "Refreshing…" : "Refresh"}
        </button>
        <button
          type="button"
          className="danger"
          data-testid="user-revoke"
          disabled={busy !== null || confirming || refused !== null}
          onClick={() => {
            setRevokeResult(null);
            setRevokeError(null);
            setConfirming(true);
          }}
        >
          {busy === "revoke" ? "Revoking…" : "Revoke…"}
        </button>
        <RoleNote reason={refused} testId="user-role-note" />
      </div>
      {refreshOk && (
        <div className="ok-box" data-testid="user-refresh-ok">
          {refreshOk}
        </div>
      )}
      <ErrorBox error={refreshError} onDismiss={() => setRefreshError(null)} />
      {confirming && (
        <div className="confirm" role="dialog" aria-modal="true" aria-labelledby="revoke-title">
          <h3 id="revoke-title">Revoke this user's grant?</h3>
          <p data-testid="revoke-confirm-text">
            Revoking kills the WHOLE grant at Google: every token of this app for this user ({detail.email ?? detail.sub})
            — the access token and the refresh token included — stops working. The user must sign in again before this
            app can act for them. This cannot be undone.
          </p>
          <div className="actions">
            <button type="button" className="danger" data-testid="revoke-confirm" onClick={() => void revoke()}>
              Confirm: revoke the whole grant
            </button>
            <button type="button" data-testid="revoke-cancel" onClick={() => setConfirming(false)} autoFocus>
              Cancel
            </button>
          </div>
        </div>
      )}
      {revokeResult && (
        <div className={revokeResult.outcome === "pending" ? "warn-box" : "ok-box"} data-testid="revoke-result" data-outcome={revokeResult.outcome}>
          {revokeResult.message}
        </div>
      )}
      <ErrorBox error={revokeError} onDismiss={() => setRevokeError(null)} />
    </section>
  );
}
