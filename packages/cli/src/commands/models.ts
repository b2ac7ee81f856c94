/** `renderq models [NAME]`: the models the API takes, each parameter with its type, default and range. */
import type { Action } from '../context.js';
import { UsageError } from '../errors.js';
import { EXIT } from '../exit-codes.js';
import { modelLines } from '../format.js';

export function modelsCommand(name: string | undefined): Action {
  return async (context) => {
    const all = await context.client.models();
    const models = name === undefined ? all : all.filter((model) => model.name === name);
    if (models.length === 0) {
      throw new UsageError(`no model "${name}"; the API knows ${all.map((model) => model.name).join(', ')}`);
    }
    context.output.result({ models }, () =>
      models.flatMap((model, i) => [...(i > 0 ? [''] : []), ...modelLines(context.output, model)]),
    );
    return EXIT.ok;
  };
}
