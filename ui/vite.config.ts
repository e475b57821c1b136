import { defineConfig } from "vite";
import react from "@vitejs/plugin-react";

// The desktop window's CSP is `script-src 'self'; style-src 'self'`: the build must not
// emit inline scripts, inline styles or data: URLs.
export default defineConfig({
  plugins: [react()],
  clearScreen: false,
  server: { port: 5173, strictPort: true },
  build: {
    outDir: "dist",
    emptyOutDir: true,
    assetsInlineLimit: 0,
    cssCodeSplit: false,
    modulePreload: { polyfill: false },
    sourcemap: false,
    target: "es2022",
  },
});
