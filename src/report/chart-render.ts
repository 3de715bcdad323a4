import type { TopLevelSpec } from 'vega-lite';

/**
 * Renders a vega-lite spec to an SVG string headlessly (vega-lite -> vega -> `View.toSVG`). Vega numbers
 * clip paths and gradients with process-wide counters, so ids are renamed to `idPrefix-N` in order of
 * appearance: the output is then the same on every call and unique among several SVGs on one page.
 * Every data mark's description becomes an SVG `<title>`, which browsers show on hover: tooltips with
 * no script, so the page stays viewable offline.
 * Vega is loaded here, on the first chart: it takes longer to load than most commands take to run.
 */
export async function renderSvg(spec: TopLevelSpec, idPrefix: string): Promise<string> {
  const [vega, { compile }] = await Promise.all([import('vega'), import('vega-lite')]);
  const compiled = compile(spec, { logger: vega.logger(vega.None) }).spec;
  const view = new vega.View(vega.parse(compiled), { renderer: 'none' });
  try {
    return addMarkTitles(scopeSvgIds(await view.toSVG(), idPrefix));
  } finally {
    view.finalize();
  }
}

/** Renames every `id="..."` in `svg`, and its `url(#...)` references, to `prefix-1`, `prefix-2`, ... */
export function scopeSvgIds(svg: string, prefix: string): string {
  const renamed = new Map<string, string>();
  for (const match of svg.matchAll(/\sid="([^"]+)"/g)) {
    const id = match[1] as string;
    if (!renamed.has(id)) renamed.set(id, `${prefix}-${renamed.size + 1}`);
  }
  if (renamed.size === 0) return svg;
  return svg
    .replace(/(\sid=")([^"]+)"/g, (_, open: string, id: string) => `${open}${renamed.get(id) ?? id}"`)
    .replace(/url\(#([^)]+)\)/g, (whole, id: string) => {
      const scoped = renamed.get(id);
      return scoped === undefined ? whole : `url(#${scoped})`;
    });
}

/** Vega's role descriptions of chart furniture, which get no tooltip. */
const FURNITURE = /aria-roledescription="(?:axis|legend|title|[a-z]+ mark container)"/;

/**
 * Gives every data mark (an element vega labelled with `aria-label` and `role="graphics-symbol"`) a
 * `<title>` child with the same text. The label is already attribute-escaped, which is also valid content.
 */
export function addMarkTitles(svg: string): string {
  return svg.replace(
    /<(path|rect|line|circle|text|g)(\s[^>]*?role="graphics-symbol"[^>]*?)(\/?)>/g,
    (whole, tag: string, attributes: string, selfClosing: string) => {
      if (FURNITURE.test(attributes)) return whole;
      const label = /\saria-label="([^"]*)"/.exec(attributes)?.[1];
      if (label === undefined) return whole;
      const title = `<title>${label}</title>`;
      return selfClosing ? `<${tag}${attributes}>${title}</${tag}>` : `<${tag}${attributes}>${title}`;
    },
  );
}
