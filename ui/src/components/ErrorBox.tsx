import type { CommandError } from "../bindings/CommandError";
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
  if (!error) return null;
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
