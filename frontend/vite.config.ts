/// <reference types="vitest/config" />
import { defineConfig, loadEnv } from "vite";
import react from "@vitejs/plugin-react";

// `VITE_API_URL=http://localhost:8080 npm run dev -- --host` serves the UI on :5173 and
// proxies /api (and the health probes) to a running `pflow serve`.
export default defineConfig(({ mode }) => {
  const env = { ...loadEnv(mode, process.cwd(), ""), ...process.env };
  const target = env.VITE_API_URL || "http://localhost:8080";
  const proxy = { target, changeOrigin: true };
  return {
    plugins: [react()],
    server: {
      port: 5173,
      proxy: { "/api": proxy, "/healthz": proxy, "/readyz": proxy },
    },
    build: {
      // bpmn-js is lazy-loaded into its own chunk; the main bundle stays small.
      chunkSizeWarningLimit: 1200,
    },
    test: {
      environment: "jsdom",
      setupFiles: ["./src/test/setup.ts"],
      include: ["src/**/*.test.{ts,tsx}"],
      css: false,
    },
  };
});
