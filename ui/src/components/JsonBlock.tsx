import { prettyJson } from "../format";

export function JsonBlock({ value, testId }: { value: unknown; testId?: string }) {
  return (
    <pre className="json mono" data-testid={testId}>
      {prettyJson(value)}
    </pre>
  );
}
