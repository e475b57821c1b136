import { describe, expect, it } from "vitest";
import { countdown, expiryAtGlance, safePictureUrl } from "../format";

describe("safePictureUrl", () => {
  it.each([
    "http://lh3.googleusercontent.com/a/x",
    "javascript:alert(1)",
    "data:text/html,<script>alert(1)</script>",
    "data:image/png;base64,iVBORw0KGgo=",
    "file:///etc/passwd",
    "https://evil.example.com/a.png",
    "https://googleusercontent.com.evil.com/a.png",
    "https://evilgoogleusercontent.com/a.png",
    "https://user:pw@lh3.googleusercontent.com/a.png",
    "//lh3.googleusercontent.com/a.png",
    "not a url",
    "",
  ])("refuses %s", (u) => {
    expect(safePictureUrl(u)).toBeNull();
  });

  it("accepts https on *.googleusercontent.com", () => {
    expect(safePictureUrl("https://lh3.googleusercontent.com/a/ACg8oc=s96-c")).toBe(
      "https://lh3.googleusercontent.com/a/ACg8oc=s96-c",
    );
    expect(safePictureUrl("https://LH3.GoogleUserContent.com/x")).toBe("https://lh3.googleusercontent.com/x");
  });
});

describe("expiry", () => {
  const now = Date.parse("2026-01-01T12:00:00Z");
  it("says how long is left, or expired", () => {
    expect(expiryAtGlance("2026-01-01T12:52:30Z", now)).toBe("expires in 52 min");
    expect(expiryAtGlance("2026-01-01T11:59:59Z", now)).toBe("expired");
    expect(expiryAtGlance(null, now)).toBe("no access token");
    expect(countdown("2026-01-01T12:52:30Z", now)).toBe("expires in 52:30");
    expect(countdown("2026-01-01T13:00:05Z", now)).toBe("expires in 1:00:05");
    expect(countdown("2026-01-01T11:57:00Z", now)).toBe("expired 3 min ago");
  });
});
