import { describe, expect, it } from "vitest";
import css from "../styles.css?raw";

// jsdom computes no colours, so axe's color-contrast rule cannot run in the UI tests: the
// stylesheet's own palette is checked here instead, light and dark (WCAG AA: 4.5:1 for text).

function variables(block: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const m of block.matchAll(/--([a-z-]+):\s*(#[0-9a-fA-F]{6})\s*;/g)) out[m[1]] = m[2];
  return out;
}

const light = variables(css.slice(0, css.indexOf("* { box-sizing")));
const darkStart = css.indexOf("@media (prefers-color-scheme: dark)");
const dark = { ...light, ...variables(css.slice(darkStart)) };

function luminance(hex: string): number {
  const [r, g, b] = [1, 3, 5].map((i) => parseInt(hex.slice(i, i + 2), 16) / 255);
  const f = (c: number) => (c <= 0.03928 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4);
  return 0.2126 * f(r) + 0.7152 * f(g) + 0.0722 * f(b);
}

function ratio(a: string, b: string): number {
  const [hi, lo] = [luminance(a), luminance(b)].sort((x, y) => y - x);
  return (hi + 0.05) / (lo + 0.05);
}

/** Text colour on background, as the stylesheet pairs them. */
const PAIRS: [string, string][] = [
  ["text", "bg"],
  ["text", "panel"],
  ["muted", "panel"],
  ["muted", "bg"],
  ["accent", "panel"],
  ["accent", "accent-weak"],
  ["ok", "ok-bg"],
  ["warn", "warn-bg"],
  ["bad", "bad-bg"],
  ["bad", "panel"],
  ["info", "info-bg"],
  ["muted", "row-border"],
  ["muted", "th-bg"],
  ["ok-text", "ok-bg"],
  ["warn-text", "warn-bg"],
  ["error-text", "bad-bg"],
  ["error-explanation", "bad-bg"],
  ["text", "input-bg"],
  ["text", "code-bg"],
  ["bad", "confirm-bg"],
  ["avatar-text", "avatar-bg"],
];

describe("colour contrast of the stylesheet", () => {
  it("has a dark palette that follows the system", () => {
    expect(darkStart).toBeGreaterThan(0);
    expect(Object.keys(variables(css.slice(darkStart))).length).toBeGreaterThan(20);
  });

  for (const [scheme, palette] of [
    ["light", light],
    ["dark", dark],
  ] as const) {
    it(`keeps text at 4.5:1 or more in the ${scheme} scheme`, () => {
      const low = PAIRS.filter(([fg, bg]) => {
        expect(palette[fg], `--${fg}`).toBeDefined();
        expect(palette[bg], `--${bg}`).toBeDefined();
        return ratio(palette[fg], palette[bg]) < 4.5;
      }).map(([fg, bg]) => `--${fg} on --${bg}: ${ratio(palette[fg], palette[bg]).toFixed(2)}`);
      expect(low).toEqual([]);
    });
  }
});
