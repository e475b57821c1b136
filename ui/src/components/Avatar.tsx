import { useState } from "react";
import { safePictureUrl } from "../format";

/** The profile picture only from https://*.googleusercontent.com; otherwise a circle with the initial. */
export function Avatar({ picture, name, size = "large" }: { picture: string | null; name: string | null; size?: "large" | "small" }) {
  const url = safePictureUrl(picture);
  const [failed, setFailed] = useState<string | null>(null);
  const initial = (name ?? "").trim().charAt(0).toUpperCase() || "?";
  if (url && failed !== url) {
    return (
      <img
        className={`avatar avatar-${size}`}
        src={url}
        alt=""
        referrerPolicy="no-referrer"
        data-testid="profile-picture"
        onError={() => setFailed(url)}
      />
    );
  }
  return (
    <div className={`avatar avatar-${size} avatar-fallback`} data-testid="profile-picture-fallback" aria-hidden="true">
      {initial}
    </div>
  );
}
