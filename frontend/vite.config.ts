/// <reference types="vitest/config" />
import { fileURLToPath, URL } from 'node:url'

import vue from '@vitejs/plugin-vue'
import AutoImport from 'unplugin-auto-import/vite'
import { ElementPlusResolver } from 'unplugin-vue-components/resolvers'
import Components from 'unplugin-vue-components/vite'
import { defineConfig } from 'vite'

const BACKEND = 'http://127.0.0.1:8000'
// Every path the FastAPI server owns; the dev server forwards them so the UI code is the same in dev and prod.
// One anchored pattern, so client routes such as /training are not mistaken for the API's /train.
const PROXIED = '^/(api|v1|upload|datasets|train|models|predict|docs|openapi\\.json)(/|\\?|$)'

export default defineConfig({
  plugins: [
    vue(),
    // Element Plus on demand: only the components and styles a page uses end up in the bundle.
    AutoImport({ resolvers: [ElementPlusResolver()], dts: 'src/auto-imports.d.ts' }),
    Components({ resolvers: [ElementPlusResolver()], dts: 'src/components.d.ts', dirs: [] }),
  ],
  resolve: { alias: { '@': fileURLToPath(new URL('./src', import.meta.url)) } },
  server: {
    host: '127.0.0.1',
    port: 5173,
    strictPort: true,
    proxy: { [PROXIED]: { target: BACKEND, changeOrigin: true } },
  },
  build: {
    chunkSizeWarningLimit: 900,
    rollupOptions: {
      output: {
        // Charts are heavy and only some pages need them: keep them out of the entry chunk.
        manualChunks(id: string) {
          if (id.includes('node_modules/echarts') || id.includes('node_modules/zrender')) return 'echarts'
          return undefined
        },
      },
    },
  },
  test: {
    environment: 'happy-dom',
    include: ['src/**/*.spec.ts'],
    server: { deps: { inline: ['element-plus'] } },
    restoreMocks: true,
  },
})
