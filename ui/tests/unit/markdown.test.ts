import { describe, expect, it } from 'vitest';
import { renderMarkdown, safeUrl } from '../../src/lib/markdown/render';

/** Parses the output like the browser would and reports anything dangerous. */
function dangers(html: string): string[] {
  const doc = new DOMParser().parseFromString(`<div>${html}</div>`, 'text/html');
  const found: string[] = [];
  for (const el of doc.body.querySelectorAll('*')) {
    if (
      ['SCRIPT', 'IFRAME', 'OBJECT', 'EMBED', 'STYLE', 'IMG', 'SVG', 'FORM', 'INPUT'].includes(
        el.tagName,
      )
    )
      found.push(el.tagName);
    for (const attr of el.attributes) {
      if (attr.name.startsWith('on')) found.push(`${el.tagName}[${attr.name}]`);
      if ((attr.name === 'href' || attr.name === 'src') && !/^(https?:|mailto:)/i.test(attr.value))
        found.push(`${el.tagName}[${attr.name}=${attr.value}]`);
    }
  }
  return found;
}

describe('renderMarkdown', () => {
  it('renders the common formatting', () => {
    const html = renderMarkdown(
      '# Plan\n\n**bold** and *em* and `code`\n\n- one\n- two\n\n1. first\n\n> quote\n\n```\nx < y\n```',
    );
    expect(html).toContain('<h3>Plan</h3>');
    expect(html).toContain('<strong>bold</strong>');
    expect(html).toContain('<em>em</em>');
    expect(html).toContain('<code>code</code>');
    expect(html).toContain('<ul><li>one</li><li>two</li></ul>');
    expect(html).toContain('<ol><li>first</li></ol>');
    expect(html).toContain('<blockquote>quote</blockquote>');
    expect(html).toContain('<pre><code>x &lt; y</code></pre>');
  });

  it('keeps http(s) and mailto links, opening outside the app', () => {
    const html = renderMarkdown('[site](https://example.com/a?b=1&c=2) [mail](mailto:a@b.c)');
    expect(html).toContain(
      '<a href="https://example.com/a?b=1&amp;c=2" target="_blank" rel="noopener noreferrer">site</a>',
    );
    expect(html).toContain('href="mailto:a@b.c"');
  });

  it.each([
    '<script>alert(1)</script>',
    '<img src=x onerror="alert(1)">',
    '<a href="javascript:alert(1)">x</a>',
    '[click](javascript:alert(1))',
    '[click](JaVaScRiPt:alert(1))',
    '[click](java\tscript:alert(1))',
    '[click](data:text/html;base64,PHNjcmlwdD4=)',
    '[click](vbscript:msgbox)',
    '<svg onload=alert(1)>',
    '<iframe src="https://evil"></iframe>',
    '**<b onmouseover=alert(1)>x</b>**',
    '`<script>`',
    '[x](https://ok" onclick="alert(1))',
    '<style>body{display:none}</style>',
  ])('neutralises %s', (src) => {
    const html = renderMarkdown(src);
    expect(dangers(html)).toEqual([]);
    expect(html).not.toMatch(/<(script|img|iframe|svg|style)/i);
  });

  it('shows raw HTML as text', () => {
    const doc = new DOMParser().parseFromString(renderMarkdown('<b>hi</b>'), 'text/html');
    expect(doc.body.textContent).toBe('<b>hi</b>');
  });

  it('drops unsafe URLs but keeps the label', () => {
    expect(safeUrl('javascript:alert(1)')).toBeNull();
    expect(safeUrl(' https://x.y ')).toBe('https://x.y');
    expect(renderMarkdown('[label](javascript:x)')).toBe('<p>label</p>');
  });

  it('renders links as text for untrusted notes (release notes open nothing)', () => {
    const html = renderMarkdown('[notes](https://example.com/n?a=1&b=2) [x](javascript:void)', {
      links: 'text',
    });
    expect(html).toBe('<p>notes (https://example.com/n?a=1&amp;b=2) x</p>');
    expect(dangers(html)).toEqual([]);
  });
});
