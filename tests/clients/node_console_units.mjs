// Unit checks of the console's pure modules (src/console/assets/diff.js and editor.js) in
// Node: the LCS line diff and the per-type validation. Prints CONSOLE_UNITS_OK on success.
import assert from 'node:assert/strict';
import { lineDiff, diffStats } from '../../src/console/assets/diff.js';
import { validate, highlight, TYPES } from '../../src/console/assets/editor.js';

const ops = (script) => script.map((l) => l.op + l.text);

// Identical texts: every line kept.
assert.deepEqual(ops(lineDiff('a\nb\nc', 'a\nb\nc')), [' a', ' b', ' c']);
// One line changed in the middle: removed then added, the rest kept.
assert.deepEqual(ops(lineDiff('a\nb\nc', 'a\nx\nc')), [' a', '-b', '+x', ' c']);
// Insertions and deletions at both ends.
assert.deepEqual(ops(lineDiff('b\nc', 'a\nb')), ['+a', ' b', '-c']);
// Empty sides.
assert.deepEqual(ops(lineDiff('', 'a')), ['-', '+a']);
// The script rebuilds both sides, and the kept lines are a longest common subsequence.
const before = 'k1=1\nk2=2\nk3=3\nk4=4\nk5=5';
const after = 'k0=0\nk2=2\nk3=three\nk4=4\nk5=5\nk6=6';
const script = lineDiff(before, after);
assert.equal(script.filter((l) => l.op !== '+').map((l) => l.text).join('\n'), before);
assert.equal(script.filter((l) => l.op !== '-').map((l) => l.text).join('\n'), after);
assert.equal(script.filter((l) => l.op === ' ').length, 3);
assert.deepEqual(diffStats(script), { added: 3, removed: 2 });

// Validation per type.
assert.equal(validate('json', '{"a": [1, 2]}'), null);
assert.match(validate('json', '{"a": '), /^invalid JSON/);
assert.equal(validate('yaml', 'a:\n  b: 1'), null);
assert.match(validate('yaml', 'a:\n\tb: 1'), /line 2/);
assert.equal(validate('properties', '# c\na=1\nb: 2\n\n'), null);
assert.match(validate('properties', 'a=1\nnovalue'), /line 2/);
assert.equal(validate('text', 'anything {'), null);
assert.deepEqual(TYPES, ['text', 'json', 'yaml', 'xml', 'properties', 'html']);
// Highlighting escapes HTML before colouring.
assert.ok(!highlight('text', '<script>').includes('<script>'));
assert.ok(highlight('json', '{"a": 1}').includes('tok-key'));
console.log('CONSOLE_UNITS_OK');
