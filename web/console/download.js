// download.js - hands text to the browser as a file (report CSVs) through a blob: URL.

import { h } from './dom.js';

export function download(text, name, type = 'text/csv') {
  const url = URL.createObjectURL(new Blob([text], { type }));
  const a = h('a', { href: url, download: name });
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 1000);
}
