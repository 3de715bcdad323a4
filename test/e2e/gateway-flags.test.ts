/**
 * Flags named as in the engines they front: `kvflow gateway --served-model-name` (vLLM's and
 * `kvflow engine`'s name for it), with the older `--served-model` kept as a synonym.
 */
import { describe, expect, it } from 'vitest';
import { startCliServer } from '../helpers/cli.js';

describe('kvflow gateway model flags', () => {
  it('--served-model-name and --served-model both add model ids the gateway accepts and lists', async () => {
    // No upstream answers at port 9: the listed models come only from the flags.
    const gateway = await startCliServer(['gateway', '--upstream', 'http://127.0.0.1:9', '--served-model-name', 'model-a', '--served-model', 'model-b', '--health-interval', '0']);
    try {
      const models = (await (await fetch(`${gateway.url}/v1/models`)).json()) as { data: { id: string }[] };
      expect(models.data.map((m) => m.id).sort()).toEqual(['model-a', 'model-b']);
      const unknown = await fetch(`${gateway.url}/v1/chat/completions`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ model: 'model-c', messages: [{ role: 'user', content: 'hi' }] }),
      });
      expect(unknown.status).toBe(404);
      expect(((await unknown.json()) as { error: { code: string } }).error.code).toBe('model_not_found');
    } finally {
      await gateway.stop();
    }
  });
});
