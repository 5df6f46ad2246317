// A deliberately small Markdown renderer for task notes. Safety by
// construction: every character of input is HTML-escaped first, and only the
// tags below are ever produced. Raw HTML in notes shows as text; links are
// kept only for http(s) and mailto URLs. The output is the only string the UI
// passes to {@html}.

const ESCAPES: Record<string, string> = {
  '&': '&amp;',
  '<': '&lt;',
  '>': '&gt;',
  '"': '&quot;',
  "'": '&#39;',
};

export function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => ESCAPES[c] ?? c);
}

/** http(s) and mailto only; anything else (javascript:, data:, vbscript:, relative) is dropped. */
export function safeUrl(raw: string): string | null {
  const url = raw.trim();
  // Browsers ignore control characters and whitespace inside schemes ("java\tscript:").
  // eslint-disable-next-line no-control-regex
  const squashed = url.replace(/[\u0000-\u0020]/g, '').toLowerCase();
  if (/^https?:\/\//.test(squashed) || /^mailto:/.test(squashed)) return url;
  return null;
}

/**
 * `anchor`: links open outside the app (task notes). `text`: no link at
 * all, the label followed by its address (untrusted text such as release
 * notes, where a click must open nothing).
 */
export type LinkMode = 'anchor' | 'text';

function inlineWith(text: string, links: LinkMode): string {
  // Code spans first, so their content is not formatted further.
  const parts = text.split(/(`[^`]+`)/g);
  return parts
    .map((part) => {
      if (part.startsWith('`') && part.endsWith('`') && part.length > 1) {
        return `<code>${escapeHtml(part.slice(1, -1))}</code>`;
      }
      return formatSpan(part, links);
    })
    .join('');
}

function formatSpan(text: string, links: LinkMode): string {
  let out = '';
  let rest = text;
  const link = /\[([^\]]+)\]\(([^)\s]+)\)/;
  for (;;) {
    const m = link.exec(rest);
    if (!m) break;
    out += emphasis(escapeHtml(rest.slice(0, m.index)));
    const label = emphasis(escapeHtml(m[1] ?? ''));
    const href = safeUrl(m[2] ?? '');
    if (!href) out += label;
    else if (links === 'text') out += `${label} (${escapeHtml(href)})`;
    else
      out += `<a href="${escapeHtml(href)}" target="_blank" rel="noopener noreferrer">${label}</a>`;
    rest = rest.slice(m.index + m[0].length);
  }
  return out + emphasis(escapeHtml(rest));
}

function emphasis(escaped: string): string {
  return escaped
    .replace(/\*\*(?=\S)(.+?)(?<=\S)\*\*/g, '<strong>$1</strong>')
    .replace(/__(?=\S)(.+?)(?<=\S)__/g, '<strong>$1</strong>')
    .replace(/(^|[^*\w])\*(?=\S)(.+?)(?<=\S)\*(?!\w)/g, '$1<em>$2</em>')
    .replace(/(^|[^_\w])_(?=\S)(.+?)(?<=\S)_(?!\w)/g, '$1<em>$2</em>')
    .replace(/~~(?=\S)(.+?)(?<=\S)~~/g, '<del>$1</del>');
}

export function renderMarkdown(src: string, opts: { links?: LinkMode } = {}): string {
  const links = opts.links ?? 'anchor';
  const inline = (text: string) => inlineWith(text, links);
  const lines = src.replace(/\r\n?/g, '\n').split('\n');
  const out: string[] = [];
  let para: string[] = [];
  let list: { tag: 'ul' | 'ol'; items: string[] } | null = null;
  let quote: string[] = [];

  const flushPara = () => {
    if (para.length) out.push(`<p>${para.map(inline).join('<br>')}</p>`);
    para = [];
  };
  const flushList = () => {
    if (list)
      out.push(`<${list.tag}>${list.items.map((i) => `<li>${i}</li>`).join('')}</${list.tag}>`);
    list = null;
  };
  const flushQuote = () => {
    if (quote.length) out.push(`<blockquote>${quote.map(inline).join('<br>')}</blockquote>`);
    quote = [];
  };
  const flushAll = () => {
    flushPara();
    flushList();
    flushQuote();
  };

  for (let i = 0; i < lines.length; i++) {
    const line = lines[i] ?? '';
    if (/^```/.test(line)) {
      flushAll();
      const code: string[] = [];
      i += 1;
      while (i < lines.length && !/^```/.test(lines[i] ?? '')) {
        code.push(lines[i] ?? '');
        i += 1;
      }
      out.push(`<pre><code>${escapeHtml(code.join('\n'))}</code></pre>`);
      continue;
    }
    if (line.trim() === '') {
      flushAll();
      continue;
    }
    const heading = /^(#{1,3})\s+(.*)$/.exec(line);
    if (heading) {
      flushAll();
      // Notes sit under the task title: headings start at h3.
      const level = (heading[1]?.length ?? 1) + 2;
      out.push(`<h${level}>${inline(heading[2] ?? '')}</h${level}>`);
      continue;
    }
    const bullet = /^\s*[-*+]\s+(.*)$/.exec(line);
    const numbered = /^\s*\d+[.)]\s+(.*)$/.exec(line);
    if (bullet || numbered) {
      flushPara();
      flushQuote();
      const tag = bullet ? 'ul' : 'ol';
      if (!list || list.tag !== tag) {
        flushList();
        list = { tag, items: [] };
      }
      const body = (bullet ?? numbered)?.[1] ?? '';
      const check = /^\[([ xX])\]\s+(.*)$/.exec(body);
      list.items.push(
        check
          ? `<span aria-hidden="true">${check[1] === ' ' ? '☐' : '☑'}</span> ${inline(check[2] ?? '')}`
          : inline(body),
      );
      continue;
    }
    const q = /^>\s?(.*)$/.exec(line);
    if (q) {
      flushPara();
      flushList();
      quote.push(q[1] ?? '');
      continue;
    }
    flushList();
    flushQuote();
    para.push(line);
  }
  flushAll();
  return out.join('');
}
