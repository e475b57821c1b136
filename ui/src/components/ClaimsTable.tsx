import type { JsonValue } from "../bindings/serde_json/JsonValue";
import { TIME_CLAIMS, unixToLocal } from "../format";

/** A JSON object's members as a table; time claims also as readable local times. */
export function ClaimsTable({ claims, testId }: { claims: JsonValue; testId?: string }) {
  if (claims === null || typeof claims !== "object" || Array.isArray(claims)) {
    return (
      <pre className="json mono" data-testid={testId}>
        {JSON.stringify(claims, null, 2)}
      </pre>
    );
  }
  const entries = Object.entries(claims);
  return (
    <table className="kv claims" data-testid={testId}>
      <tbody>
        {entries.map(([k, v]) => {
          const readable = TIME_CLAIMS.includes(k) ? unixToLocal(v) : null;
          return (
            <tr key={k} data-claim={k}>
              <th className="mono">{k}</th>
              <td className="mono wrap">
                {typeof v === "string" ? v : JSON.stringify(v)}
                {readable && <span className="muted readable-time"> ({readable})</span>}
              </td>
            </tr>
          );
        })}
      </tbody>
    </table>
  );
}
