/// <reference types="vitest/config" />
import { defineConfig, loadEnv } from "vite";
import react from "@vitejs/plugin-react";
import { constants } from "node:zlib";
import { compression, defineAlgorithm } from "vite-plugin-compression2";

// `VITE_API_URL=http://localhost:8080 npm run dev -- --host` serves the UI on :5173 and
// proxies /api (and the health probes) to a running `pflow serve`.
export default defineConfig(({ mode }) => {
  const env = { ...loadEnv(mode, process.cwd(), ""), ...process.env };
  const target = env.VITE_API_URL || "http://localhost:8080";
  const proxy = { target, changeOrigin: true };
  return {
    plugins: [
      react(),
      // Brotli and gzip copies of every text file over 1 KiB, next to it (x.js.br, x.js.gz), compressed
      // once at the highest levels: `pflow serve` and nginx (gzip_static) send them to clients that
      // accept them, instead of compressing on every request. A copy no smaller than its file is skipped.
      compression({
        include: /\.(js|mjs|css|html|svg|json|txt|xml)$/,
        threshold: 1024,
        algorithms: [
          defineAlgorithm("brotliCompress", { params: { [constants.BROTLI_PARAM_QUALITY]: 11 } }),
          defineAlgorithm("gzip", { level: 9 }),
        ],
      }),
    ],
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
