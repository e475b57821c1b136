import type { RawExchange } from "../bindings/RawExchange";
import { FieldsTable } from "./FieldsTable";
import { JsonBlock } from "./JsonBlock";

/** One request and its response, as masked by Rust. */
export function RawExchangeView({ exchange }: { exchange: RawExchange }) {
  const r = exchange.response;
  return (
    <div className="raw-exchange">
      <div className="raw-line mono">
        <strong>{exchange.method}</strong> <span className="wrap">{exchange.url}</span>
        <span className="muted"> · {exchange.elapsedMs} ms</span>
      </div>
      <div className="raw-grid">
        <section>
          <h4>Request headers</h4>
          <FieldsTable fields={exchange.requestHeaders} empty="none" />
          <h4>Form fields</h4>
          <FieldsTable fields={exchange.form} empty="none" />
        </section>
        <section>
          <h4>
            Response{" "}
            {r && (
              <span className={`status ${r.status >= 400 ? "status-bad" : "status-ok"}`} data-testid="raw-status">
                {r.status}
              </span>
            )}
          </h4>
          {exchange.error && <div className="raw-error">No response: {exchange.error}</div>}
          {r && (
            <>
              <FieldsTable fields={r.headers} empty="no headers" />
              <h4>Body</h4>
              {r.body.kind === "json" && <JsonBlock value={r.body.value} />}
              {r.body.kind === "empty" && <div className="muted small">empty</div>}
              {r.body.kind === "notJson" && (
                <div className="muted small">not JSON ({r.body.bytes} bytes; not reproduced)</div>
              )}
              {r.body.kind === "tooLarge" && (
                <div className="muted small" data-testid="raw-body-too-large">
                  {r.body.bytes} bytes of JSON, too long to keep
                </div>
              )}
              {r.body.kind === "fileContent" && (
                <div className="muted small" data-testid="raw-body-file-content">
                  a file&apos;s content ({r.body.bytes} bytes; the user&apos;s data, never kept)
                </div>
              )}
            </>
          )}
        </section>
      </div>
    </div>
  );
}
