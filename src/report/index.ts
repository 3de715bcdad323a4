/** `kvflow/report`: HTML reports. This file only re-exports. */
export { renderHtmlReport } from './html.js';
