/**
 * A gauge without labels that has no sample until a value has been observed: a fact
 * nobody has seen yet (the credit balance before Segmind reported one) is no sample,
 * where prom-client would show a made-up 0.
 */
import type { MetricObjectWithValues, MetricValue } from 'prom-client';
import { Gauge } from 'prom-client';

export class ObservedGauge extends Gauge {
  #observed = false;

  override set(value: number): void;
  override set(labels: never, value: number): void;
  override set(...args: [number] | [never, number]): void {
    this.#observed = true;
    (super.set as (...values: unknown[]) => void)(...args);
  }

  override async get(): Promise<MetricObjectWithValues<MetricValue<string>>> {
    const metric = await super.get();
    return this.#observed ? metric : { ...metric, values: [] };
  }
}
