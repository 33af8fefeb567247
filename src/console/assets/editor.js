// The config editor: a monospace textarea with line numbers, a per-type validator (json,
// xml, yaml, properties) and a small highlighted preview.

export const TYPES = ['text', 'json', 'yaml', 'xml', 'properties', 'html'];

/** `null` when `content` is valid for `type`, else a message naming the problem. */
export function validate(type, content) {
  if (type === 'json') {
    try {
      JSON.parse(content);
      return null;
    } catch (error) {
      return `invalid JSON: ${error.message}`;
    }
  }
  if (type === 'xml') {
    const doc = new DOMParser().parseFromString(content, 'application/xml');
    const problem = doc.querySelector('parsererror');
    return problem ? `invalid XML: ${problem.textContent.split('\n')[0]}` : null;
  }
  if (type === 'yaml') {
    const lines = content.split('\n');
    for (let i = 0; i < lines.length; i++) {
      if (/^\t/.test(lines[i])) return `invalid YAML: line ${i + 1} is indented with a tab`;
    }
    return null;
  }
  if (type === 'properties') {
    const lines = content.split('\n');
    for (let i = 0; i < lines.length; i++) {
      const line = lines[i].trim();
      if (line === '' || line.startsWith('#') || line.startsWith('!')) continue;
      if (!/[=:\s]/.test(line)) return `invalid properties: line ${i + 1} has no '=' or ':'`;
    }
  }
  return null;
}

function escapeHtml(text) {
  return text.replace(/[&<>"]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' })[c]);
}

/** HTML of `content` with keys, strings, numbers and comments coloured (line by line). */
export function highlight(type, content) {
  const lines = content.split('\n').slice(0, 500);
  return lines.map((line) => highlightLine(type, line)).join('\n');
}

function highlightLine(type, line) {
  const html = escapeHtml(line);
  if (type === 'properties' || type === 'yaml') {
    if (/^\s*#/.test(line)) return `<span class="tok-com">${html}</span>`;
    const sep = type === 'yaml' ? /^(\s*[^:#]+?)(:)(.*)$/ : /^(\s*[^=:]+?)([=:])(.*)$/;
    const m = html.match(sep);
    if (m) return `<span class="tok-key">${m[1]}</span>${m[2]}<span class="tok-str">${m[3]}</span>`;
    return html;
  }
  if (type === 'json') {
    return html
      .replace(/(&quot;(?:[^&]|&(?!quot;))*?&quot;)(\s*:)/g, '<span class="tok-key">$1</span>$2')
      .replace(/(:\s*)(&quot;(?:[^&]|&(?!quot;))*?&quot;)/g, '$1<span class="tok-str">$2</span>')
      .replace(/(:\s*)(-?\d+(?:\.\d+)?)/g, '$1<span class="tok-num">$2</span>');
  }
  if (type === 'xml' || type === 'html') {
    return html.replace(/(&lt;\/?[\w:-]+)/g, '<span class="tok-key">$1</span>');
  }
  return html;
}

/**
 * Builds the editor inside `host`: answers `{textarea, value(), set(text)}`. `onChange` is
 * called after every edit.
 */
export function createEditor(host, content, onChange) {
  host.classList.add('editor');
  const gutter = document.createElement('div');
  gutter.className = 'gutter';
  const textarea = document.createElement('textarea');
  textarea.spellcheck = false;
  textarea.id = 'config-content';
  textarea.dataset.testid = 'config-content';
  textarea.value = content;
  host.replaceChildren(gutter, textarea);
  const renumber = () => {
    const count = textarea.value.split('\n').length;
    let text = '';
    for (let i = 1; i <= count; i++) text += i + '\n';
    gutter.textContent = text;
    gutter.scrollTop = textarea.scrollTop;
  };
  textarea.addEventListener('input', () => {
    renumber();
    onChange();
  });
  textarea.addEventListener('scroll', () => {
    gutter.scrollTop = textarea.scrollTop;
  });
  textarea.addEventListener('keydown', (event) => {
    if (event.key !== 'Tab') return;
    event.preventDefault();
    textarea.setRangeText('  ', textarea.selectionStart, textarea.selectionEnd, 'end');
    renumber();
    onChange();
  });
  renumber();
  return {
    textarea,
    value: () => textarea.value,
    set: (text) => {
      textarea.value = text;
      renumber();
      onChange();
    },
  };
}
