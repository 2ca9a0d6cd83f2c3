// Commander options generated from the settings table: one per setting, its help naming the
// environment variable and default. No commander defaults are set, so a value present in
// `opts()` was given on the command line (the resolver applies env, file and defaults).
import { Option } from 'commander';
import type { Command } from 'commander';
import { SETTINGS, envOf, flagOf } from './definitions.ts';
import type { SettingDefinition } from './definitions.ts';
import { formatSettingValue } from './parse.ts';

function sizeText(value: number): string {
  for (const [unit, size] of [['TiB', 1024 ** 4], ['GiB', 1024 ** 3], ['MiB', 1024 ** 2], ['KiB', 1024]] as const) {
    if (value >= size && value % size === 0) return `${value / size} ${unit}`;
  }
  return String(value);
}

export function settingHelp(setting: SettingDefinition): string {
  const parts = [setting.help];
  if (setting.choices !== undefined) parts.push(`(${setting.choices.join('|')})`);
  const fallback = setting.defaultText ?? (setting.default === undefined ? undefined : setting.type === 'bytes' ? sizeText(setting.default as number) : formatSettingValue(setting.default));
  parts.push(`[env ${envOf(setting.key)}${fallback === undefined ? '' : `, default ${fallback}`}]`);
  return parts.join(' ');
}

export function addSettingOptions(command: Command): void {
  for (const setting of SETTINGS) {
    const argument = setting.type === 'boolean' ? '[true|false]' : (setting.placeholder ?? '<value>');
    command.addOption(new Option(`${flagOf(setting.key)} ${argument}`, settingHelp(setting)).helpGroup(`${setting.group}:`));
  }
}

/** The values commander collected, by setting key. */
export function flagValues(command: Command): Record<string, unknown> {
  const options = command.opts();
  const values: Record<string, unknown> = {};
  for (const setting of SETTINGS) if (options[setting.key] !== undefined) values[setting.key] = options[setting.key];
  return values;
}
