import { useEffect, useState } from "react";
import { call, toCommandError } from "../api";
import type { CommandError } from "../bindings/CommandError";
import type { RevealWhich } from "../bindings/RevealWhich";
import { ErrorBox } from "../components/ErrorBox";
import { RoleNote, useAllowed } from "../session";

export const REVEAL_SECONDS = 30;

/**
 * Reveal the access token (shown here for 30 s, kept only in this component's state) and copy
 * either token (done natively by the app, cleared after a while). A refresh token never enters
 * the webview: it can be copied, not revealed. Both are audited by Rust, before the token is
 * handed over.
 */
export function TokenTools({ sub, onAudited }: { sub: string; onAudited: () => void }) {
  const [revealed, setRevealed] = useState<string | null>(null);
  const [left, setLeft] = useState(0);
  const [busy, setBusy] = useState<string | null>(null);
  const [revealError, setRevealError] = useState<CommandError | null>(null);
  const [copyResult, setCopyResult] = useState<string | null>(null);
  const [copyError, setCopyError] = useState<CommandError | null>(null);

  // Auto-hide after REVEAL_SECONDS, with a visible countdown.
  useEffect(() => {
    if (!revealed) return;
    const hideAt = Date.now() + REVEAL_SECONDS * 1000;
    const id = setInterval(() => {
      const n = Math.ceil((hideAt - Date.now()) / 1000);
      if (n <= 0) {
        setRevealed(null);
        setLeft(0);
      } else {
        setLeft(n);
      }
    }, 250);
    return () => clearInterval(id);
  }, [revealed]);

  const reveal = async () => {
    setBusy("reveal");
    setRevealError(null);
    setRevealed(null);
    try {
      const token = await call("reveal_token", { sub });
      setRevealed(token);
      setLeft(REVEAL_SECONDS);
    } catch (e) {
      setRevealError(toCommandError(e));
    } finally {
      setBusy(null);
      onAudited();
    }
  };

  const copy = async (which: RevealWhich) => {
    setBusy(`copy-${which}`);
    setCopyResult(null);
    setCopyError(null);
    try {
      const report = await call("copy_token", { sub, which });
      const secs = report.clears_after_secs;
      const what = which === "access_token" ? "access" : "refresh";
      setCopyResult(`Copied the ${what} token; the clipboard is cleared in ${secs} s`);
    } catch (e) {
      setCopyError(toCommandError(e));
    } finally {
      setBusy(null);
      onAudited();
    }
  };

  const refused = useAllowed("admin");
  return (
    <section className="card">
      <h2>Raw tokens</h2>
      <p className="muted small" data-testid="token-audit-note">
        Revealing or copying a token is recorded in the audit log, with your OS user name.
      </p>
      <div className="actions">
        <button type="button" data-testid="reveal-access" disabled={busy !== null || refused !== null} onClick={() => void reveal()}>
          Reveal access token
        </button>
        <span className="sep" />
        <button type="button" data-testid="copy-access" disabled={busy !== null || refused !== null} onClick={() => void copy("access_token")}>
          Copy access token
        </button>
        <button
          type="button"
          data-testid="copy-refresh"
          disabled={busy !== null || refused !== null}
          title="A refresh token is never shown in the window: copy it (the clipboard is cleared after 30 s)"
          onClick={() => void copy("refresh_token")}
        >
          Copy refresh token
        </button>
        <span className="muted small">(audited)</span>
        <RoleNote reason={refused} testId="tokens-role-note" />
      </div>
      <ErrorBox error={revealError} onDismiss={() => setRevealError(null)} />
      {revealed && (
        <div className="revealed">
          <div className="small">
            Access token — hidden in{" "}
            <strong data-testid="revealed-countdown">{left}</strong> s{" "}
            <button type="button" className="small-button" data-testid="revealed-hide" onClick={() => setRevealed(null)}>
              Hide
            </button>
          </div>
          <textarea
            className="mono token-box"
            readOnly
            data-testid="revealed-token"
            value={revealed}
            rows={3}
            spellCheck={false}
            autoComplete="off"
            aria-label="Revealed token"
          />
        </div>
      )}
      {copyResult && (
        <div className="ok-box" data-testid="copy-result">
          {copyResult}
        </div>
      )}
      <ErrorBox error={copyError} onDismiss={() => setCopyError(null)} />
    </section>
  );
}
