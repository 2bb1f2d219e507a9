import { describe, expect, it } from 'vitest'

import type { MetricPoint } from '@/api/runs'
import EChart from '@/components/charts/EChart.vue'
import { mountWith } from '@/test/setup'

import RunCharts from './RunCharts.vue'

const point = (kind: string, step: number, values: Record<string, number>) => ({ kind, step, epoch: step / 10, values }) as unknown as MetricPoint

function evalSeries(points: MetricPoint[]): string[] {
  const w = mountWith(RunCharts, { props: { points }, global: { stubs: { EChart: true } } })
  const chart = w.findAllComponents(EChart).find((c) => c.attributes('data-test') === 'eval-chart')
  return ((chart?.props('option') as { series: { name: string }[] }).series ?? []).map((s) => s.name)
}

describe('RunCharts', () => {
  it("charts each task's own validation shares: accuracy for classes, micro-F1 for entities", () => {
    const classes = [point('eval', 10, { accuracy: 0.8, macro_f1: 0.7, loss: 0.5 })]
    expect(evalSeries(classes)).toEqual(['准确率', '宏平均 F1'])
    const entities = [point('eval', 10, { micro_f1: 0.6, macro_f1: 0.55, micro_precision: 0.6, loss: 0.3 }), point('eval', 20, { micro_f1: 0.7, macro_f1: 0.6 })]
    expect(evalSeries(entities)).toEqual(['微平均 F1', '宏平均 F1'])
    expect(evalSeries([point('eval', 10, { loss: 2.1 })])).toEqual(['验证损失'])
  })
})
