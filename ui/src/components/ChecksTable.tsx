import type { Check } from "../bindings/Check";

/** Every verification check with its result; `rowTestId` names each row for tests. */
export function ChecksTable({ checks, rowTestId }: { checks: Check[]; rowTestId: string }) {
  return (
    <table className="table checks">
      <thead>
        <tr>
          <th>Check</th>
          <th>OK</th>
          <th>Detail</th>
        </tr>
      </thead>
      <tbody>
        {checks.map((c, i) => (
          <tr key={`${c.name}-${i}`} data-testid={rowTestId} data-ok={String(c.ok)} data-name={c.name}>
            <td className="mono">{c.name}</td>
            <td className={c.ok ? "text-ok" : "text-bad"} aria-label={c.ok ? "passed" : "failed"}>
              {c.ok ? "✓" : "✗"}
            </td>
            <td className="wrap">{c.detail}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}
