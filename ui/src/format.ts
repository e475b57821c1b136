// Small pure helpers: time formatting and the picture URL rule.

/** Only https images from *.googleusercontent.com may be loaded (SECURITY.md 36; the CSP agrees). */
export function safePictureUrl(picture: string | null | undefined): string | null {
  if (!picture) return null;
  let url: URL;
  try {
    url = new URL(picture);
  } catch {
    return null;
  }
  if (url.protocol !== "https:") return null;
  if (url.username || url.password) return null;
  const host = url.hostname.toLowerCase();
  if (!host.endsWith(".googleusercontent.com")) return null;
  return url.href;
}

/** "52 min", "3 h 5 min", "40 s", "2 d 4 h" */
export function humanDuration(ms: number): string {
  const s = Math.floor(Math.abs(ms) / 1000);
  if (s < 60) return `${s} s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m} min`;
  const h = Math.floor(m / 60);
  if (h < 48) return m % 60 ? `${h} h ${m % 60} min` : `${h} h`;
  const d = Math.floor(h / 24);
  return h % 24 ? `${d} d ${h % 24} h` : `${d} d`;
}

/** "expires in 52 min" / "expired" / "no access token" for a list row. */
export function expiryAtGlance(expiresAt: string | null, now: number): string {
  if (!expiresAt) return "no access token";
  const t = Date.parse(expiresAt);
  if (Number.isNaN(t)) return "unknown expiry";
  const left = t - now;
  if (left <= 0) return "expired";
  return `expires in ${humanDuration(left)}`;
}

type AccessToken = { access_token_state: string; access_token_expires_at: string | null };

/** A user's access token for a list row: "revoked" when revoking the grant killed it (the core's
 * view decides), else how long it has left. */
export function accessAtGlance(u: AccessToken, now: number): string {
  return u.access_token_state === "revoked" ? "revoked" : expiryAtGlance(u.access_token_expires_at, now);
}

/** The same for the user page, where a live token counts down by the second. */
export function accessCountdown(u: AccessToken, now: number): string {
  return u.access_token_state === "revoked" ? "revoked with the grant" : countdown(u.access_token_expires_at, now);
}

/** "expires in 51:07" style countdown for the user page (updates every second). */
export function countdown(expiresAt: string | null, now: number): string {
  if (!expiresAt) return "no access token";
  const t = Date.parse(expiresAt);
  if (Number.isNaN(t)) return "unknown expiry";
  const left = t - now;
  if (left <= 0) return `expired ${humanDuration(-left)} ago`;
  const total = Math.floor(left / 1000);
  const h = Math.floor(total / 3600);
  const m = Math.floor((total % 3600) / 60);
  const s = total % 60;
  const mm = String(m).padStart(2, "0");
  const ss = String(s).padStart(2, "0");
  return h > 0 ? `expires in ${h}:${mm}:${ss}` : `expires in ${mm}:${ss}`;
}

export function localTime(iso: string | null | undefined): string {
  if (!iso) return "";
  const t = Date.parse(iso);
  if (Number.isNaN(t)) return iso;
  return new Date(t).toLocaleString();
}

/** A Unix-seconds claim (exp, iat, auth_time, nbf) as a readable local time, or null. */
export function unixToLocal(v: unknown): string | null {
  if (typeof v !== "number" || !Number.isFinite(v)) return null;
  const d = new Date(v * 1000);
  if (Number.isNaN(d.getTime())) return null;
  return d.toLocaleString();
}

export const TIME_CLAIMS = ["exp", "iat", "nbf", "auth_time"];

export function prettyJson(v: unknown): string {
  return JSON.stringify(v, null, 2) ?? "null";
}

export function formatBytes(n: number | null): string {
  if (n === null) return "";
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KiB`;
  return `${(n / (1024 * 1024)).toFixed(1)} MiB`;
}
