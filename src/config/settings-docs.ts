/**
 * The settings' documentation, rendered from the table in settings.ts: the README's table
 * (`dcr settings --markdown`, checked by test/e2e/cli.test.ts) and the terminal's (`dcr --help`).
 */
import { SETTINGS, type SettingDescription } from './settings.js';

/** A setting's meaning, a secret one marked as such (its value is never shown, logged or echoed). */
const described = (s: SettingDescription) => (s.secret ? `secret: ${s.description}` : s.description);

/** The README's settings table. */
export function settingsMarkdown(): string {
  const rows = SETTINGS.map((s) => {
    const value = /^[\w./*-]+$/.test(s.default) && s.default !== 'unset' ? `\`${s.default}\`` : s.default;
    return `| \`${s.name}\` | ${value} | ${described(s)} |`;
  });
  return ['| variable | default | meaning |', '| --- | --- | --- |', ...rows].join('\n');
}

/** The settings as plain text for a terminal (`dcr --help`): one line each, descriptions wrapped. */
export function settingsText(indent = '  ', width = 100): string {
  const nameWidth = Math.max(...SETTINGS.map((s) => s.name.length));
  const defaultWidth = Math.max(...SETTINGS.map((s) => s.default.length));
  const pad = indent.length + nameWidth + defaultWidth + 4;
  return SETTINGS.map((s) => {
    const words = described(s).replace(/`/g, '').split(' ');
    const lines: string[] = [];
    let line = '';
    for (const word of words) {
      if (line && pad + line.length + 1 + word.length > width) {
        lines.push(line);
        line = word;
      } else {
        line = line ? `${line} ${word}` : word;
      }
    }
    lines.push(line);
    const head = `${indent}${s.name.padEnd(nameWidth)}  ${s.default.padEnd(defaultWidth)}  `;
    return [head + lines[0], ...lines.slice(1).map((l) => ' '.repeat(pad) + l)].join('\n');
  }).join('\n');
}
