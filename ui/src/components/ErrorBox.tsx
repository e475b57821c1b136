import type { CommandError } from "../bindings/CommandError";
import { useState } from "react";
import { toCommandError } from "../api";
import { useSession } from "../session";
import { RawExchangeView } from "./RawExchangeView";

/** A failed action, shown where the person is looking: code, message, explanation, raw HTTP. */
export function ErrorBox({
  error,
  rawTestId = "error-raw",
  onDismiss,
}: {
  error: CommandError | null;
  rawTestId?: string;
  onDismiss?: () => void;
}) {
  const { signInAgain } = useSession();
  const [signing, setSigning] = useState<"waiting" | "done" | null>(null);
  const [signError, setSignError] = useState<CommandError | null>(null);
  if (!error) return null;
  // A team server ended the session: sign in again right here; the page keeps its state.
  const again = error.code === "signed_out" && signInAgain !== null;
  const signIn = async () => {
    if (!signInAgain) return;
    setSigning("waiting");
    setSignError(null);
    try {
      await signInAgain();
      setSigning("done");
    } catch (e) {
      setSignError(toCommandError(e));
      setSigning(null);
    }
  };
  return (
    <div className="error-box" role="alert">
      <div className="error-head">
        <span className="error-code mono" data-testid="error-code">
          {error.code}
        </span>
        <span className="error-message" data-testid="error">
          {error.message}
        </span>
        {onDismiss && (
          <button type="button" className="link-button error-dismiss" onClick={onDismiss} aria-label="Dismiss">
            ×
          </button>
        )}
      </div>
      {again && (
        <div className="error-actions">
          {signing === "done" ? (
            <span className="small" data-testid="signed-in-again" role="status">
              Signed in again: retry what you were doing.
            </span>
          ) : (
            <button type="button" data-testid="sign-in-again" disabled={signing === "waiting"} onClick={() => void signIn()}>
              {signing === "waiting" ? "Finish the sign-in in your browser…" : "Sign in again"}
            </button>
          )}
          {signError && <span className="small error-message">{signError.message}</span>}
        </div>
      )}
      {error.explanation && (
        <div className="error-explanation" data-testid="error-explanation">
          {error.explanation}
        </div>
      )}
      {error.raw.length > 0 && (
        <details className="error-raw" open>
          <summary>Raw HTTP ({error.raw.length})</summary>
          <div data-testid={rawTestId}>
            {error.raw.map((r, i) => (
              <RawExchangeView key={i} exchange={r} />
            ))}
          </div>
        </details>
      )}
    </div>
  );
}
