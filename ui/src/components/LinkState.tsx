import type { Link } from "../bindings/Link";

/** The live feed of a team server: up, lost (and when it retries), or ended (and why). */
export function linkText(link: Link): string {
  switch (link.state) {
    case "connecting":
      return "connecting to the live feed…";
    case "online":
      return "live";
    case "offline":
      return `offline: ${link.reason}; retrying in ${link.retry_in_secs} s`;
    case "ended":
      return `not live: ${link.error.message}`;
  }
}

export function LinkState({ link, testId = "server-link" }: { link: Link; testId?: string }) {
  const tone = link.state === "online" ? "ok" : link.state === "connecting" ? "muted" : "bad";
  return (
    <span className={`link-state link-${tone} small`} data-testid={testId} data-state={link.state} role="status">
      {linkText(link)}
    </span>
  );
}
