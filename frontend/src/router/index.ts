/** Client-side routes (history mode: the server falls back to index.html for these paths). */
import { createRouter, createWebHistory, type RouteRecordRaw } from 'vue-router'

import HomeView from '@/views/HomeView.vue'

export const routes: RouteRecordRaw[] = [
  { path: '/', name: 'home', component: HomeView, meta: { title: 'nav.home' } },
  { path: '/data', name: 'datasets', component: () => import('@/views/DatasetsView.vue'), meta: { title: 'nav.datasets' } },
  {
    path: '/data/:id(\\d+)',
    name: 'dataset',
    component: () => import('@/views/DatasetDetailView.vue'),
    meta: { title: 'nav.datasets' },
  },
  { path: '/training', name: 'training', component: () => import('@/views/TrainingView.vue'), meta: { title: 'nav.training' } },
  {
    path: '/training/runs/:id(\\d+)',
    name: 'run',
    component: () => import('@/views/RunDetailView.vue'),
    meta: { title: 'nav.training' },
  },
  { path: '/versions', name: 'models', component: () => import('@/views/ModelsView.vue'), meta: { title: 'nav.models' } },
  {
    path: '/versions/compare',
    name: 'compare',
    component: () => import('@/views/CompareView.vue'),
    meta: { title: 'nav.models' },
  },
  {
    path: '/versions/:id(\\d+)',
    name: 'model',
    component: () => import('@/views/ModelDetailView.vue'),
    meta: { title: 'nav.models' },
  },
  { path: '/inference', name: 'inference', component: () => import('@/views/InferenceView.vue'), meta: { title: 'nav.inference' } },
  { path: '/chat', name: 'chat', component: () => import('@/views/ChatView.vue'), meta: { title: 'nav.chat' } },
  { path: '/jobs', name: 'jobs', component: () => import('@/views/JobsView.vue'), meta: { title: 'nav.jobs' } },
  { path: '/:pathMatch(.*)*', name: 'not-found', component: () => import('@/views/NotFoundView.vue') },
]

export const router = createRouter({ history: createWebHistory(), routes })
