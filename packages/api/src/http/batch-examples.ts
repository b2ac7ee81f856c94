/** What the OpenAPI document shows for each way to send a batch (POST /v1/batches). */

export const BATCH_EXAMPLES = {
  json: {
    two_models: {
      summary: 'Two jobs of two models, with a webhook for the batch',
      value: {
        jobs: [
          { model: 'segmind-vega-rt-v1', input: { prompt: 'a lighthouse at dusk' }, metadata: { sku: 'A-1' } },
          {
            model: 'ssd-img2img',
            input: { image: 'https://images.example/input.jpeg', prompt: 'the same scene in winter' },
          },
        ],
        webhook_url: 'https://hooks.example/renderq',
        webhook_events: ['batch.completed'],
        metadata: { run: 'nightly' },
      },
    },
  },
  ndjson: {
    one_line: {
      summary: 'One line of the body (each line is one job)',
      value: { model: 'segmind-vega-rt-v1', input: { prompt: 'a lighthouse at dusk' }, metadata: { sku: 'A-1' } },
    },
  },
};
