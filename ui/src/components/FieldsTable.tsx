import type { RawField } from "../bindings/RawField";

export function FieldsTable({ fields, empty }: { fields: RawField[]; empty: string }) {
  if (fields.length === 0) return <div className="muted small">{empty}</div>;
  return (
    <table className="kv">
      <tbody>
        {fields.map((f, i) => (
          <tr key={i}>
            <th className="mono">{f.name}</th>
            <td className="mono wrap">{f.value}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}
