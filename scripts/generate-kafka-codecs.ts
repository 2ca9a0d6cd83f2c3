// Generates the Kafka wire codecs in src/protocol/kafka/generated/ from Apache Kafka's JSON message
// definitions (../shared/kafka-protocol/messages, see its README for the schema language), for
// exactly the API versions in src/protocol/kafka/supported-apis.ts.
//
//   node scripts/generate-kafka-codecs.ts [--out DIR] [--specs DIR] [--all-versions] [--runtime DIR]
//
// --all-versions generates every version the definitions list (a test uses it to exercise the
// flexible-version and tagged-field paths that Cairn's own ranges barely touch); --runtime is the
// import path of buffer.ts and friends as seen from the output directory. The output is
// deterministic: src/protocol/kafka/generated.test.ts regenerates it into a temp dir and compares
// it byte for byte with the committed files.
//
// Decisions that shape the generated API (see also the header of generated/index.ts):
// - int64 is `bigint` everywhere (offsets and producer ids exceed 2^53); other integers are numbers.
// - Every non-tagged field is required in the TypeScript interfaces, like Kafka's Java classes:
//   decoders fill fields the version lacks with their default, encoders drop them — but throw when a
//   non-`ignorable` field holds a non-default value the version cannot carry. Tagged fields are
//   optional (`?`); decoders still always set them.
// - Fields and structs that exist in none of the generated versions are left out entirely.

import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { SUPPORTED_APIS } from '../src/protocol/kafka/supported-apis.ts';

const REPOSITORY = resolve(import.meta.dirname, '..');

// ---------------------------------------------------------------------------------------------
// Model
// ---------------------------------------------------------------------------------------------

/** Inclusive version range; `max` is Infinity for "N+". */
interface VersionRange {
  readonly min: number;
  readonly max: number;
}

type PrimitiveName = 'bool' | 'int8' | 'int16' | 'uint16' | 'int32' | 'uint32' | 'int64' | 'float64' | 'string' | 'bytes' | 'records' | 'uuid';

type FieldType =
  | { readonly kind: 'primitive'; readonly name: PrimitiveName }
  | { readonly kind: 'array'; readonly element: FieldType }
  | { readonly kind: 'struct'; readonly struct: StructModel };

interface FieldModel {
  readonly specName: string;
  /** Property name in the generated interface (camelCase). */
  readonly property: string;
  /** Local variable name in generated decoders (the property, unless that is a reserved word). */
  readonly local: string;
  readonly type: FieldType;
  /** Versions the field exists in, within the versions its struct is reachable in. */
  readonly versions: VersionRange;
  readonly nullable: VersionRange | null;
  readonly tag: number | null;
  /** Field-level `flexibleVersions` override (ClientId in the request header is "none"). */
  readonly flexibleOverride: VersionRange | null | undefined;
  readonly defaultText: string | undefined;
  readonly ignorable: boolean;
  readonly about: string;
}

interface StructModel {
  readonly specName: string;
  /** Exported TypeScript name, unique across all generated files. */
  typeName: string;
  /** Versions in which this struct can occur at all. */
  readonly range: VersionRange;
  readonly fields: FieldModel[];
  readonly message: MessageModel;
}

interface MessageModel {
  /** e.g. ProduceRequest */
  readonly name: string;
  readonly specFile: string;
  readonly apiKey: number | null;
  readonly range: VersionRange;
  readonly flexible: VersionRange | null;
  readonly structs: StructModel[];
  root: StructModel;
}

interface RawField {
  name: string;
  type: string;
  versions: string;
  nullableVersions?: string;
  taggedVersions?: string;
  tag?: number;
  flexibleVersions?: string;
  default?: string | number | boolean;
  ignorable?: boolean;
  about?: string;
  fields?: RawField[];
}

interface RawMessage {
  apiKey?: number;
  type: string;
  name: string;
  validVersions: string;
  flexibleVersions: string;
  fields: RawField[];
  commonStructs?: { name: string; versions: string; fields: RawField[] }[];
}

const PRIMITIVES: ReadonlySet<string> = new Set(['bool', 'int8', 'int16', 'uint16', 'int32', 'uint32', 'int64', 'float64', 'string', 'bytes', 'records', 'uuid']);
const FIXED_BYTES: Partial<Record<PrimitiveName, number>> = { bool: 1, int8: 1, int16: 2, uint16: 2, int32: 4, uint32: 4, int64: 8, float64: 8, uuid: 16 };
const RESERVED_LOCALS: ReadonlySet<string> = new Set([
  'reader', 'writer', 'version', 'flexible', 'message', 'tagged', 'tag', 'value', 'element',
  'break', 'case', 'catch', 'class', 'const', 'continue', 'debugger', 'default', 'delete', 'do', 'else', 'enum', 'export',
  'extends', 'false', 'finally', 'for', 'function', 'if', 'import', 'in', 'instanceof', 'new', 'null', 'return', 'super',
  'switch', 'this', 'throw', 'true', 'try', 'typeof', 'var', 'void', 'while', 'with', 'let', 'static', 'yield', 'await',
]);

// ---------------------------------------------------------------------------------------------
// Versions
// ---------------------------------------------------------------------------------------------

function parseVersions(text: string, where: string): VersionRange | null {
  if (text === 'none') return null;
  const match = /^(\d+)(?:(\+)|-(\d+))?$/.exec(text);
  if (!match) throw new Error(`${where}: cannot parse version range "${text}"`);
  const min = Number(match[1]);
  const max = match[2] ? Infinity : match[3] !== undefined ? Number(match[3]) : min;
  return { min, max };
}

function intersect(left: VersionRange | null, right: VersionRange | null): VersionRange | null {
  if (!left || !right) return null;
  const min = Math.max(left.min, right.min);
  const max = Math.min(left.max, right.max);
  return min <= max ? { min, max } : null;
}

function sameRange(left: VersionRange | null, right: VersionRange | null): boolean {
  return left === right || (!!left && !!right && left.min === right.min && left.max === right.max);
}

function contains(range: VersionRange | null, version: number): boolean {
  return !!range && version >= range.min && version <= range.max;
}

/**
 * A TypeScript condition on `version` that is true exactly for the versions of `target`, written
 * for code that only ever runs with versions in `within`: 'true' and 'false' when constant there.
 */
function versionCondition(target: VersionRange | null, within: VersionRange): string {
  const effective = intersect(target, within);
  if (!effective) return 'false';
  const lower = effective.min > within.min;
  const upper = effective.max < within.max;
  if (lower && upper && effective.min === effective.max) return `version === ${effective.min}`;
  const parts: string[] = [];
  if (lower) parts.push(`version >= ${effective.min}`);
  if (upper) parts.push(`version <= ${effective.max}`);
  return parts.length === 0 ? 'true' : parts.join(' && ');
}

function formatRange(range: VersionRange, within: VersionRange): string {
  if (range.max >= within.max) return `${range.min}+`;
  return range.min === range.max ? `${range.min}` : `${range.min}-${range.max}`;
}

function versionsOf(range: VersionRange): number[] {
  const versions: number[] = [];
  for (let version = range.min; version <= range.max; version++) versions.push(version);
  return versions;
}

// ---------------------------------------------------------------------------------------------
// Reading the definitions
// ---------------------------------------------------------------------------------------------

function readRawMessage(specDirectory: string, file: string): RawMessage {
  const text = readFileSync(join(specDirectory, file), 'utf8');
  // The README guarantees no string value contains "//", so this strips only comments.
  return JSON.parse(text.replace(/\/\/.*$/gm, '')) as RawMessage;
}

function camelCase(name: string): string {
  return name.charAt(0).toLowerCase() + name.slice(1);
}

function buildMessage(raw: RawMessage, specFile: string, wanted: VersionRange | null): MessageModel {
  const valid = parseVersions(raw.validVersions, specFile)!;
  const range = wanted ?? valid;
  if (range.min < valid.min || range.max > valid.max) {
    throw new Error(`${specFile}: versions ${range.min}-${range.max} requested, the definition has ${raw.validVersions}`);
  }
  const message: MessageModel = {
    name: raw.name,
    specFile,
    apiKey: raw.apiKey ?? null,
    range,
    flexible: parseVersions(raw.flexibleVersions, specFile),
    structs: [],
    root: undefined as unknown as StructModel,
  };
  const common = new Map((raw.commonStructs ?? []).map((struct) => [struct.name, struct.fields]));
  message.root = buildStruct(message, raw.name, raw.fields, range, common);
  message.structs.shift(); // buildStruct registered the root first; keep only nested structs
  return message;
}

function buildStruct(message: MessageModel, specName: string, rawFields: RawField[], range: VersionRange, common: Map<string, RawField[]>): StructModel {
  if (message.structs.some((struct) => struct.specName === specName)) {
    throw new Error(`${message.specFile}: struct ${specName} is declared twice`);
  }
  const struct: StructModel = { specName, typeName: specName, range, fields: [], message };
  message.structs.push(struct);
  for (const raw of rawFields) {
    const field = buildField(message, raw, range, common);
    if (field) struct.fields.push(field);
  }
  return struct;
}

function buildField(message: MessageModel, raw: RawField, parentRange: VersionRange, common: Map<string, RawField[]>): FieldModel | null {
  const where = `${message.specFile}: field ${raw.name}`;
  const versions = intersect(parseVersions(raw.versions, where), parentRange);
  if (!versions) return null;
  const tag = raw.tag ?? null;
  checkTagged(raw, versions, message, where);
  const property = camelCase(raw.name);
  const field: FieldModel = {
    specName: raw.name,
    property,
    local: RESERVED_LOCALS.has(property) ? `${property}Value` : property,
    type: resolveType(message, raw, versions, common, where),
    versions,
    nullable: intersect(raw.nullableVersions ? parseVersions(raw.nullableVersions, where) : null, versions),
    tag,
    flexibleOverride: raw.flexibleVersions === undefined ? undefined : parseVersions(raw.flexibleVersions, where),
    defaultText: raw.default === undefined ? undefined : String(raw.default),
    ignorable: raw.ignorable === true,
    about: raw.about ?? '',
  };
  checkField(field, where);
  return field;
}

function checkTagged(raw: RawField, versions: VersionRange, message: MessageModel, where: string): void {
  if ((raw.tag === undefined) !== (raw.taggedVersions === undefined)) throw new Error(`${where}: tag and taggedVersions must come together`);
  if (raw.taggedVersions === undefined) return;
  const tagged = intersect(parseVersions(raw.taggedVersions, where), versions);
  // Kafka allows a field to be tagged in only some of its versions; none of these files do, and
  // supporting it would double the decoding paths, so refuse rather than guess.
  if (!sameRange(tagged, versions)) throw new Error(`${where}: taggedVersions must cover all of its versions`);
  if (!sameRange(intersect(versions, message.flexible), versions)) throw new Error(`${where}: tagged outside flexible versions`);
}

function checkField(field: FieldModel, where: string): void {
  if (field.type.kind === 'primitive' && field.type.name === 'records' && !sameRange(field.nullable, field.versions)) {
    throw new Error(`${where}: records fields are expected to be nullable in all their versions`);
  }
  if (field.type.kind === 'struct' && field.nullable) throw new Error(`${where}: nullable struct fields are not supported`);
  if (field.defaultText === 'null' && !field.nullable && field.type.kind !== 'primitive') {
    throw new Error(`${where}: default null on a field that is never nullable`);
  }
}

function resolveType(message: MessageModel, raw: RawField, versions: VersionRange, common: Map<string, RawField[]>, where: string): FieldType {
  const isArray = raw.type.startsWith('[]');
  const name = isArray ? raw.type.slice(2) : raw.type;
  let type: FieldType;
  if (PRIMITIVES.has(name)) {
    type = { kind: 'primitive', name: name as PrimitiveName };
  } else {
    const fields = raw.fields ?? common.get(name);
    if (!fields) throw new Error(`${where}: unknown type ${raw.type}`);
    type = { kind: 'struct', struct: buildStruct(message, name, fields, versions, common) };
  }
  return isArray ? { kind: 'array', element: type } : type;
}

/** Struct names must be unique across all generated files (index.ts re-exports them all). */
function assignTypeNames(messages: readonly MessageModel[]): void {
  const owners = new Map<string, number>();
  for (const message of messages) {
    for (const struct of message.structs) owners.set(struct.specName, (owners.get(struct.specName) ?? 0) + 1);
  }
  const taken = new Set(messages.map((message) => message.name));
  for (const message of messages) {
    for (const struct of message.structs) {
      const clash = owners.get(struct.specName)! > 1 || taken.has(struct.specName);
      struct.typeName = clash ? `${message.name}${struct.specName}` : struct.specName;
    }
  }
  const all = messages.flatMap((message) => [message.root, ...message.structs].map((struct) => struct.typeName));
  const duplicate = all.find((name, index) => all.indexOf(name) !== index);
  if (duplicate) throw new Error(`type name ${duplicate} is generated twice`);
}

// ---------------------------------------------------------------------------------------------
// Type facts used by every emitter
// ---------------------------------------------------------------------------------------------

function primitiveTsType(name: PrimitiveName): string {
  if (name === 'bool') return 'boolean';
  if (name === 'int64') return 'bigint';
  if (name === 'string') return 'string';
  if (name === 'bytes' || name === 'records' || name === 'uuid') return 'Uint8Array';
  return 'number';
}

function tsType(type: FieldType): string {
  if (type.kind === 'primitive') return primitiveTsType(type.name);
  if (type.kind === 'struct') return type.struct.typeName;
  return `${tsType(type.element)}[]`;
}

function fieldTsType(field: FieldModel): string {
  return field.nullable ? `${tsType(field.type)} | null` : tsType(field.type);
}

/** TypeScript expression of the field's default value (Kafka's rules: 0, '', false, [], zero uuid, ...). */
function defaultExpression(field: FieldModel): string {
  const text = field.defaultText;
  const type = field.type;
  if (type.kind === 'array') return text === 'null' ? 'null' : '[]';
  if (type.kind === 'struct') return `default${type.struct.typeName}()`;
  switch (type.name) {
    case 'bool':
      return text === 'true' ? 'true' : 'false';
    case 'int64':
      return `${text === undefined || text === '' ? 0n : BigInt(text)}n`;
    case 'string':
      return text === 'null' ? 'null' : quote(text ?? '');
    case 'bytes':
      return text === 'null' ? 'null' : 'new Uint8Array(0)';
    case 'records':
      return 'null';
    case 'uuid':
      return 'new Uint8Array(16)';
    default:
      return String(numericDefault(field, type.name));
  }
}

function numericDefault(field: FieldModel, name: PrimitiveName): number {
  const value = field.defaultText === undefined || field.defaultText === '' ? 0 : Number(field.defaultText);
  const bounds: Partial<Record<PrimitiveName, [number, number]>> = {
    int8: [-0x80, 0x7f], int16: [-0x8000, 0x7fff], uint16: [0, 0xffff], int32: [-0x80000000, 0x7fffffff], uint32: [0, 0xffffffff],
  };
  const [min, max] = bounds[name] ?? [-Infinity, Infinity];
  if (Number.isNaN(value) || value < min || value > max) throw new Error(`field ${field.specName}: bad default ${field.defaultText}`);
  return value;
}

function quote(text: string): string {
  return `'${text.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;
}

/** TypeScript condition: `value` equals the field's default (used for tagged and version-dropped fields). */
function isDefaultCondition(field: FieldModel, value: string): string {
  const type = field.type;
  const defaultValue = defaultExpression(field);
  if (type.kind === 'struct') return `isDefault${type.struct.typeName}(${value})`;
  if (defaultValue === 'null') return `${value} === null`;
  if (type.kind === 'array' || (type.name === 'bytes')) {
    return field.nullable ? `${value} !== null && ${value}.length === 0` : `${value}.length === 0`;
  }
  if (type.name === 'uuid') return `isZeroUuid(${value})`;
  return `${value} === ${defaultValue}`;
}

/** The `compact` argument for a field: whether it uses flexible-version encoding. */
function compactExpression(field: FieldModel, struct: StructModel, inTaggedSection: boolean): string {
  if (field.flexibleOverride !== undefined) return versionCondition(field.flexibleOverride, field.versions);
  if (inTaggedSection) return 'true';
  const condition = versionCondition(struct.message.flexible, field.versions);
  return condition === 'true' || condition === 'false' ? condition : 'flexible';
}

function isCompactAt(field: FieldModel, struct: StructModel, version: number): boolean {
  return contains(field.flexibleOverride === undefined ? struct.message.flexible : field.flexibleOverride, version);
}

/** Fewest bytes a value of `type` takes at `version` (bounds array counts before allocating). */
function minimumBytes(type: FieldType, version: number, compact: boolean): number {
  if (type.kind === 'array') return compact ? 1 : 4;
  if (type.kind === 'struct') return structMinimumBytes(type.struct, version);
  const fixed = FIXED_BYTES[type.name];
  if (fixed !== undefined) return fixed;
  if (compact) return 1;
  return type.name === 'string' ? 2 : 4;
}

function structMinimumBytes(struct: StructModel, version: number): number {
  let total = contains(struct.message.flexible, version) ? 1 : 0;
  for (const field of struct.fields) {
    if (field.tag === null && contains(field.versions, version)) {
      total += minimumBytes(field.type, version, isCompactAt(field, struct, version));
    }
  }
  return total;
}

function elementMinimumBytes(field: FieldModel, struct: StructModel): number {
  if (field.type.kind !== 'array') throw new Error('not an array');
  const element = field.type.element;
  return Math.min(...versionsOf(field.versions).map((version) => minimumBytes(element, version, isCompactAt(field, struct, version))));
}

// ---------------------------------------------------------------------------------------------
// Emitting decoders
// ---------------------------------------------------------------------------------------------

const READ_METHOD: Record<PrimitiveName, string> = {
  bool: 'readBoolean', int8: 'readInt8', int16: 'readInt16', uint16: 'readUint16', int32: 'readInt32', uint32: 'readUint32',
  int64: 'readInt64', float64: 'readFloat64', string: 'readString', bytes: 'readBytes', records: 'readRecords', uuid: 'readUuid',
};

const WRITE_METHOD: Record<PrimitiveName, string> = {
  bool: 'writeBoolean', int8: 'writeInt8', int16: 'writeInt16', uint16: 'writeUint16', int32: 'writeInt32', uint32: 'writeUint32',
  int64: 'writeInt64', float64: 'writeFloat64', string: 'writeString', bytes: 'writeBytes', records: 'writeNullableBytes', uuid: 'writeUuid',
};

function hasCompactForm(name: PrimitiveName): boolean {
  return name === 'string' || name === 'bytes' || name === 'records';
}

/** Expression reading one value of `field` (the nullable/non-nullable choice may depend on version). */
function readExpression(field: FieldModel, struct: StructModel, inTaggedSection: boolean): string {
  const compact = compactExpression(field, struct, inTaggedSection);
  const nullable = versionCondition(field.nullable, field.versions);
  const type = field.type;
  const read = (nullableRead: boolean): string => {
    if (type.kind === 'struct') return `reader.readStruct('${field.property}', () => read${type.struct.typeName}(reader, version))`;
    if (type.kind === 'array') {
      const method = nullableRead ? 'readNullableArray' : 'readArray';
      const element = readElementExpression(type.element, compact);
      return `reader.${method}('${field.property}', ${compact}, ${elementMinimumBytes(field, struct)}, () => ${element})`;
    }
    const method = nullableRead && (type.name === 'string' || type.name === 'bytes') ? READ_METHOD[type.name].replace('read', 'readNullable') : READ_METHOD[type.name];
    return hasCompactForm(type.name) ? `reader.${method}('${field.property}', ${compact})` : `reader.${method}('${field.property}')`;
  };
  if (nullable === 'true' || nullable === 'false') return read(nullable === 'true');
  return `${nullable} ? ${read(true)} : ${read(false)}`;
}

function readElementExpression(element: FieldType, compact: string): string {
  if (element.kind === 'struct') return `read${element.struct.typeName}(reader, version)`;
  if (element.kind === 'array') throw new Error('arrays of arrays do not occur in Kafka messages');
  return hasCompactForm(element.name) ? `reader.${READ_METHOD[element.name]}('', ${compact})` : `reader.${READ_METHOD[element.name]}('')`;
}

function readFieldLines(field: FieldModel, struct: StructModel): string[] {
  const present = versionCondition(field.versions, struct.range);
  if (present === 'true') return [`const ${field.local} = ${readExpression(field, struct, false)};`];
  return [
    `let ${field.local}: ${fieldTsType(field)} = ${defaultExpression(field)};`,
    `if (${present}) ${field.local} = ${readExpression(field, struct, false)};`,
  ];
}

function readTaggedLines(struct: StructModel): string[] {
  const flexible = versionCondition(struct.message.flexible, struct.range);
  if (flexible === 'false') return [];
  const tagged = taggedFields(struct);
  const lines = tagged.map((field) => `let ${field.local}: ${fieldTsType(field)} = ${defaultExpression(field)};`);
  const body = tagged.length === 0 ? ['reader.readTaggedFields();'] : readTaggedSwitch(tagged, struct);
  if (flexible === 'true') return [...lines, ...body];
  return [...lines, `if (${flexible}) {`, ...indent(body), '}'];
}

function readTaggedSwitch(tagged: readonly FieldModel[], struct: StructModel): string[] {
  const cases = tagged.flatMap((field) => {
    const condition = versionCondition(field.versions, intersect(struct.range, struct.message.flexible)!);
    const guard = condition === 'true' ? [] : [`  if (!(${condition})) return false;`];
    return [`case ${field.tag}:`, ...guard, `  ${field.local} = ${readExpression(field, struct, true)};`, '  return true;'];
  });
  return ['reader.readTaggedFields((tag) => {', '  switch (tag) {', ...indent(cases, 4), '    default:', '      return false;', '  }', '});'];
}

function taggedFields(struct: StructModel): FieldModel[] {
  return struct.fields.filter((field) => field.tag !== null).sort((left, right) => left.tag! - right.tag!);
}

function readFunction(struct: StructModel): string[] {
  const body = [
    ...struct.fields.filter((field) => field.tag === null).flatMap((field) => readFieldLines(field, struct)),
    ...readTaggedLines(struct),
    returnStatement(struct),
  ];
  return functionLines(`function read${struct.typeName}(reader: KafkaReader, version: number): ${struct.typeName}`, struct, body);
}

function returnStatement(struct: StructModel): string {
  if (struct.fields.length === 0) return 'return {};';
  const properties = struct.fields.map((field) => (field.local === field.property ? field.property : `${field.property}: ${field.local}`));
  return `return { ${properties.join(', ')} };`;
}

/** Wraps a body in a function, declaring `flexible` when used and marking unused parameters. */
function functionLines(signature: string, struct: StructModel, body: string[]): string[] {
  const text = body.join('\n');
  const flexible = /\bflexible\b/.test(text) ? [`const flexible = ${versionCondition(struct.message.flexible, struct.range)};`] : [];
  let finalSignature = signature;
  for (const parameter of ['reader', 'writer', 'version', 'message']) {
    const used = new RegExp(`\\b${parameter}\\b`).test(text) || (parameter === 'version' && flexible.length > 0);
    if (!used) finalSignature = finalSignature.replace(`(${parameter}: `, `(_${parameter}: `).replace(` ${parameter}: `, ` _${parameter}: `);
  }
  return [`${finalSignature} {`, ...indent([...flexible, ...body]), '}'];
}

function indent(lines: readonly string[], spaces = 2): string[] {
  const prefix = ' '.repeat(spaces);
  return lines.map((line) => (line === '' ? '' : prefix + line));
}

// ---------------------------------------------------------------------------------------------
// Emitting encoders
// ---------------------------------------------------------------------------------------------

/** Statement writing `value` for `field` with writer variable `writer`. */
function writeStatement(field: FieldModel, struct: StructModel, value: string, writer: string, inTaggedSection: boolean): string[] {
  const compact = compactExpression(field, struct, inTaggedSection);
  const type = field.type;
  const write = (nullableWrite: boolean): string => {
    if (type.kind === 'struct') {
      return `${writer}.writeStruct('${field.property}', ${value}, (value) => write${type.struct.typeName}(${writer}, version, value));`;
    }
    if (type.kind === 'array') {
      const method = nullableWrite ? 'writeNullableArray' : 'writeArray';
      return `${writer}.${method}('${field.property}', ${compact}, ${value}, (element) => ${writeElementExpression(type.element, compact, writer)});`;
    }
    const method = nullableWrite && (type.name === 'string' || type.name === 'bytes') ? WRITE_METHOD[type.name].replace('write', 'writeNullable') : WRITE_METHOD[type.name];
    return hasCompactForm(type.name) ? `${writer}.${method}('${field.property}', ${compact}, ${value});` : `${writer}.${method}('${field.property}', ${value});`;
  };
  const nullable = versionCondition(field.nullable, field.versions);
  if (nullable === 'true' || nullable === 'false') return [write(nullable === 'true')];
  return [`if (${nullable}) ${write(true)}`, `else ${write(false)}`];
}

function writeElementExpression(element: FieldType, compact: string, writer: string): string {
  if (element.kind === 'struct') return `write${element.struct.typeName}(${writer}, version, element)`;
  if (element.kind === 'array') throw new Error('arrays of arrays do not occur in Kafka messages');
  const method = WRITE_METHOD[element.name];
  return hasCompactForm(element.name) ? `${writer}.${method}('', ${compact}, element)` : `${writer}.${method}('', element)`;
}

function writeFieldLines(field: FieldModel, struct: StructModel): string[] {
  const value = `message.${field.property}`;
  const present = versionCondition(field.versions, struct.range);
  if (present === 'true') return writeStatement(field, struct, value, 'writer', false);
  const lines = [`if (${present}) {`, ...indent(writeStatement(field, struct, value, 'writer', false))];
  if (field.ignorable) return [...lines, '}'];
  // Kafka refuses to silently drop a non-ignorable field the version cannot carry.
  return [...lines, `} else if (!(${isDefaultCondition(field, value)})) {`, `  throw writer.fieldNotInVersion('${field.property}', version);`, '}'];
}

function writeTaggedLines(struct: StructModel): string[] {
  const flexible = versionCondition(struct.message.flexible, struct.range);
  if (flexible === 'false') return [];
  const tagged = taggedFields(struct);
  const body = tagged.length === 0 ? ['writer.writeTaggedFields([]);'] : writeTaggedBody(tagged, struct);
  if (flexible === 'true') return body;
  return [`if (${flexible}) {`, ...indent(body), '}'];
}

function writeTaggedBody(tagged: readonly FieldModel[], struct: StructModel): string[] {
  const lines = ['const tagged: TaggedFieldWriter[] = [];'];
  for (const field of tagged) {
    const condition = versionCondition(field.versions, intersect(struct.range, struct.message.flexible)!);
    const guard = condition === 'true' ? '' : `${condition} && `;
    lines.push(`const ${field.local} = message.${field.property};`);
    lines.push(`if (${guard}${field.local} !== undefined && !(${isDefaultCondition(field, field.local)})) {`);
    const write = writeStatement(field, struct, field.local, 'tagWriter', true);
    lines.push(`  tagged.push({ tag: ${field.tag}, field: '${field.property}', write: (tagWriter) => {`, ...indent(write, 4), '  } });', '}');
  }
  return [...lines, 'writer.writeTaggedFields(tagged);'];
}

function writeFunction(struct: StructModel): string[] {
  const body = [
    ...struct.fields.filter((field) => field.tag === null).flatMap((field) => writeFieldLines(field, struct)),
    ...writeTaggedLines(struct),
  ];
  return functionLines(`function write${struct.typeName}(writer: KafkaWriter, version: number, message: ${struct.typeName}): void`, struct, body);
}

// ---------------------------------------------------------------------------------------------
// Emitting defaults (struct-typed fields only) and interfaces
// ---------------------------------------------------------------------------------------------

/** Structs whose default value or default check the generated code needs, closed over nesting. */
function structsNeedingDefaults(message: MessageModel): StructModel[] {
  const needed = new Set<StructModel>();
  const visit = (struct: StructModel): void => {
    if (needed.has(struct)) return;
    needed.add(struct);
    for (const field of struct.fields) if (field.type.kind === 'struct') visit(field.type.struct);
  };
  for (const struct of [message.root, ...message.structs]) {
    for (const field of struct.fields) {
      const partial = field.tag !== null || !sameRange(field.versions, struct.range);
      if (partial && field.type.kind === 'struct') visit(field.type.struct);
    }
  }
  return [message.root, ...message.structs].filter((struct) => needed.has(struct));
}

function defaultFunctions(struct: StructModel): string[] {
  const values = struct.fields.map((field) => `${field.property}: ${defaultExpression(field)}`);
  const checks = struct.fields.map((field) => isDefaultCondition(field, `value.${field.property}`));
  return [
    `/** A ${struct.typeName} holding every field's default. */`,
    `export function default${struct.typeName}(): ${struct.typeName} {`,
    `  return { ${values.join(', ')} };`,
    '}',
    '',
    `function isDefault${struct.typeName}(value: ${struct.typeName}): boolean {`,
    `  return ${checks.length === 0 ? 'true' : checks.map((check) => `(${check})`).join(' && ')};`,
    '}',
  ];
}

function fieldComment(field: FieldModel, struct: StructModel): string[] {
  const notes: string[] = [];
  if (!sameRange(field.versions, struct.range)) notes.push(`Versions ${formatRange(field.versions, struct.range)}; ${defaultExpression(field)} otherwise.`);
  if (field.nullable && !sameRange(field.nullable, field.versions)) notes.push(`Null allowed in versions ${formatRange(field.nullable, struct.range)}.`);
  if (field.tag !== null) notes.push(`Tagged field ${field.tag}.`);
  let about = field.about.trim().replace(/\*\//g, '*\\/').replace(/\s+/g, ' ');
  if (about !== '' && !/[.!?]$/.test(about)) about += '.';
  return docComment([about, ...notes].filter((part) => part !== '').join(' '));
}

/** A JSDoc comment, wrapped to stay readable (lines of at most ~100 characters). */
function docComment(text: string, width = 94): string[] {
  if (text.length <= width) return [`/** ${text} */`];
  const lines: string[] = [];
  let line = '';
  for (const word of text.split(' ')) {
    if (line !== '' && line.length + 1 + word.length > width) {
      lines.push(line);
      line = word;
    } else {
      line = line === '' ? word : `${line} ${word}`;
    }
  }
  if (line !== '') lines.push(line);
  return ['/**', ...lines.map((part) => ` * ${part}`), ' */'];
}

function interfaceLines(struct: StructModel): string[] {
  const isRoot = struct === struct.message.root;
  const title = isRoot
    ? `/** ${struct.message.name}, versions ${struct.range.min}-${struct.range.max}. */`
    : `/** ${struct.specName} of ${struct.message.name} (versions ${formatRange(struct.range, struct.message.range)}). */`;
  const fields = struct.fields.flatMap((field) => [
    ...fieldComment(field, struct),
    `${field.property}${field.tag === null ? '' : '?'}: ${fieldTsType(field)};`,
  ]);
  return [title, `export interface ${struct.typeName} {`, ...indent(fields), '}'];
}

// ---------------------------------------------------------------------------------------------
// Line formatting: the emitters write one statement per line; long ones are broken here
// ---------------------------------------------------------------------------------------------

const LINE_WIDTH = 120;

/** Index of `token` in `text` outside brackets and quotes, from `from`; -1 when absent. */
function findTopLevel(text: string, token: string, from = 0): number {
  let depth = 0;
  let quote = '';
  for (let index = 0; index < text.length; index++) {
    const character = text[index]!;
    if (quote !== '') {
      if (character === '\\') index++;
      else if (character === quote) quote = '';
    } else if (character === "'" || character === '`') {
      quote = character;
    } else if ('([{'.includes(character)) {
      depth++;
    } else if (')]}'.includes(character)) {
      depth--;
    } else if (depth === 0 && index >= from && text.startsWith(token, index)) {
      return index;
    }
  }
  return -1;
}

function breakLine(line: string): string[] {
  const indentation = /^\s*/.exec(line)![0];
  const code = line.slice(indentation.length);
  const list = /^(import(?: type)? |return )\{ (.+) \}( from .+;|;)$/.exec(code);
  if (list) return [`${indentation}${list[1]}{`, ...list[2]!.split(', ').map((item) => `${indentation}  ${item},`), `${indentation}}${list[3]}`];
  const question = findTopLevel(code, ' ? ');
  const colon = question === -1 ? -1 : findTopLevel(code, ' : ', question);
  if (colon !== -1) {
    return [`${indentation}${code.slice(0, question)}`, `${indentation}  ? ${code.slice(question + 3, colon)}`, `${indentation}  : ${code.slice(colon + 3)}`];
  }
  const arrow = code.indexOf(' => ');
  if (arrow !== -1 && !code.slice(arrow + 4).startsWith('{')) {
    return [`${indentation}${code.slice(0, arrow + 3)}`, `${indentation}  ${code.slice(arrow + 4)}`];
  }
  return [line];
}

/** Breaks statements longer than LINE_WIDTH at a list, a ternary or an arrow (comments are pre-wrapped). */
function formatLines(lines: readonly string[]): string[] {
  return lines.flatMap((line) => {
    if (line.length <= LINE_WIDTH || /^\s*(\/\/|\/\*\*|\*)/.test(line)) return [line];
    const pieces = breakLine(line);
    return pieces.length === 1 ? pieces : formatLines(pieces);
  });
}

// ---------------------------------------------------------------------------------------------
// Files
// ---------------------------------------------------------------------------------------------

interface ApiPair {
  readonly name: string;
  readonly apiKey: number;
  readonly request: MessageModel;
  readonly response: MessageModel;
}

interface GenerateOptions {
  readonly specDirectory: string;
  readonly allVersions: boolean;
  /** Import path of the hand-written runtime (buffer.ts, codec-errors.ts) seen from the output dir. */
  readonly runtimeDirectory: string;
}

function kebabCase(name: string): string {
  return name.replace(/([a-z0-9])([A-Z])/g, '$1-$2').toLowerCase();
}

function provenance(specDirectory: string): string {
  try {
    const readme = readFileSync(join(specDirectory, 'README.md'), 'utf8');
    const commit = /Commit: `([0-9a-f]{40})`/.exec(readme)?.[1];
    return commit ? `Apache Kafka commit ${commit}` : 'Apache Kafka';
  } catch {
    return 'Apache Kafka';
  }
}

function fileHeader(sources: readonly string[], options: GenerateOptions): string[] {
  return [
    '// Generated by scripts/generate-kafka-codecs.ts — do not edit. Change the generator or',
    '// src/protocol/kafka/supported-apis.ts and run `node scripts/generate-kafka-codecs.ts`.',
    `// Source: ${sources.join(', ')} from ../shared/kafka-protocol/messages`,
    `// (${provenance(options.specDirectory)}, Apache License 2.0).`,
  ];
}

function runtimeImports(body: string, options: GenerateOptions): string[] {
  const values = ['KafkaWriter', 'isZeroUuid'].filter((name) => new RegExp(`\\b${name}\\b`).test(body) && (name !== 'KafkaWriter' || /new KafkaWriter/.test(body)));
  const types = ['KafkaReader', 'KafkaWriter', 'TaggedFieldWriter'].filter((name) => new RegExp(`\\b${name}\\b`).test(body) && !values.includes(name));
  const errors = /\bKafka(De|En)codeError\b/.test(body) ? [...new Set([...body.matchAll(/\b(Kafka(?:De|En)codeError)\b/g)].map((match) => match[1]!))].sort() : [];
  const lines: string[] = [];
  if (values.length > 0) lines.push(`import { ${values.join(', ')} } from '${options.runtimeDirectory}/buffer.ts';`);
  if (types.length > 0) lines.push(`import type { ${types.join(', ')} } from '${options.runtimeDirectory}/buffer.ts';`);
  if (errors.length > 0) lines.push(`import { ${errors.join(', ')} } from '${options.runtimeDirectory}/codec-errors.ts';`);
  return lines;
}

function publicFunctions(message: MessageModel): string[] {
  const { name, range } = message;
  const constant = `${kebabCase(name).replace(/-/g, '_').toUpperCase()}_VERSIONS`;
  return [
    `export const ${constant} = { min: ${range.min}, max: ${range.max} } as const;`,
    '',
    `/** Decodes the ${name} body at \`version\` from \`reader\` (which may hold more after it). */`,
    `export function decode${name}(version: number, reader: KafkaReader): ${name} {`,
    `  if (!(version >= ${range.min} && version <= ${range.max})) {`,
    `    throw new KafkaDecodeError('unsupported_version', '${name}', \`version \${version} is outside ${range.min}-${range.max}\`);`,
    '  }',
    `  reader.startMessage('${name}');`,
    `  return read${name}(reader, version);`,
    '}',
    '',
    `/** Appends the ${name} body at \`version\` to \`writer\`. */`,
    `export function write${name}(writer: KafkaWriter, version: number, message: ${name}): void {`,
    `  if (!(version >= ${range.min} && version <= ${range.max})) {`,
    `    throw new KafkaEncodeError('unsupported_version', '${name}', \`version \${version} is outside ${range.min}-${range.max}\`);`,
    '  }',
    `  writer.startMessage('${name}');`,
    `  write${name}Data(writer, version, message);`,
    '}',
    '',
    `export function encode${name}(version: number, message: ${name}): Uint8Array {`,
    '  const writer = new KafkaWriter();',
    `  write${name}(writer, version, message);`,
    '  return writer.toBytes();',
    '}',
  ];
}

/** All the code of one message: interfaces, public functions, then the per-struct codecs. */
function messageSections(message: MessageModel): { interfaces: string[]; functions: string[] } {
  const structs = [message.root, ...message.structs];
  const interfaces = structs.flatMap((struct) => ['', ...interfaceLines(struct)]);
  const codecs = structs.flatMap((struct) => {
    const read = readFunction(struct);
    const write = writeFunction(struct);
    // The root's write function is wrapped by the exported write<Name>; give it a distinct name.
    if (struct === message.root) write[0] = write[0]!.replace(`function write${struct.typeName}(`, `function write${struct.typeName}Data(`);
    return ['', ...read, '', ...write];
  });
  const defaults = structsNeedingDefaults(message).flatMap((struct) => ['', ...defaultFunctions(struct)]);
  return { interfaces, functions: ['', ...publicFunctions(message), ...codecs, ...defaults] };
}

function apiFile(api: ApiPair, options: GenerateOptions): string {
  const request = messageSections(api.request);
  const response = messageSections(api.response);
  const body = [
    `/** API key of ${api.name}. */`,
    `export const ${kebabCase(api.name).replace(/-/g, '_').toUpperCase()}_API_KEY = ${api.apiKey};`,
    ...request.interfaces,
    ...response.interfaces,
    ...request.functions,
    ...response.functions,
  ];
  const text = body.join('\n');
  return [...fileHeader([api.request.specFile, api.response.specFile], options), '', ...runtimeImports(text, options), '', ...body, ''].join('\n');
}

function headersFile(messages: readonly MessageModel[], options: GenerateOptions): string {
  const sections = messages.map((message) => messageSections(message));
  const body = [...sections.flatMap((section) => section.interfaces).slice(1), ...sections.flatMap((section) => section.functions)];
  const text = body.join('\n');
  return [...fileHeader(messages.map((message) => message.specFile), options), '', ...runtimeImports(text, options), '', ...body, ''].join('\n');
}

function indexFile(apis: readonly ApiPair[], flexibleSince: Map<number, number>, options: GenerateOptions): string {
  const body = [
    ...apis.map((api) => `import { decode${api.request.name}, decode${api.response.name}, write${api.request.name}, write${api.response.name} } from './${kebabCase(api.name)}.ts';`),
    ...apis.map((api) => `import type { ${api.request.name}, ${api.response.name} } from './${kebabCase(api.name)}.ts';`),
    '',
    "export * from './headers.ts';",
    ...apis.map((api) => `export * from './${kebabCase(api.name)}.ts';`),
    '',
    ...codecTable(apis),
    '',
    ...flexibleTable(flexibleSince),
    '',
    ...unionLines('KafkaRequestMessage', apis, (api) => api.request.name),
    '',
    ...unionLines('KafkaResponseMessage', apis, (api) => api.response.name),
    '',
    ...dispatchLines(apis, 'request'),
    '',
    ...dispatchLines(apis, 'response'),
  ];
  const text = body.join('\n');
  return [...fileHeader(['every <Name>Request.json and <Name>Response.json'], options), '', ...runtimeImports(text, options), '', ...body, ''].join('\n');
}

function codecTable(apis: readonly ApiPair[]): string[] {
  const rows = apis.flatMap((api) => {
    const { min, max } = api.request.range;
    const request = `{ decode: decode${api.request.name}, write: write${api.request.name} }`;
    const response = `{ decode: decode${api.response.name}, write: write${api.response.name} }`;
    return [
      '  {',
      `    name: '${api.name}', apiKey: ${api.apiKey}, minVersion: ${min}, maxVersion: ${max},`,
      `    request: ${request},`,
      `    response: ${response},`,
      '  },',
    ];
  });
  return ['/** Every generated API with its version range and codecs, in api key order. */', 'export const KAFKA_CODECS = [', ...rows, '] as const;'];
}

function flexibleTable(flexibleSince: Map<number, number>): string[] {
  const rows = [...flexibleSince].sort(([left], [right]) => left - right).map(([apiKey, version]) => `  [${apiKey}, ${version}],`);
  return [
    '/**',
    ' * First flexible version (KIP-482) of each API in the definitions, including versions beyond',
    " * the generated range: the request header's version depends on it even when the body version is",
    ' * not supported (so an unsupported ApiVersions v4 is still parsed with header v2).',
    ' */',
    'export const FIRST_FLEXIBLE_VERSION: ReadonlyMap<number, number> = new Map([',
    ...rows,
    ']);',
  ];
}

function unionLines(name: string, apis: readonly ApiPair[], type: (api: ApiPair) => string): string[] {
  return [`export type ${name} =`, ...apis.map((api, index) => `  | { readonly apiKey: ${api.apiKey}; readonly message: ${type(api)} }${index === apis.length - 1 ? ';' : ''}`)];
}

function dispatchLines(apis: readonly ApiPair[], kind: 'request' | 'response'): string[] {
  const union = kind === 'request' ? 'KafkaRequestMessage' : 'KafkaResponseMessage';
  const messageName = (api: ApiPair): string => (kind === 'request' ? api.request.name : api.response.name);
  const title = kind === 'request' ? 'Request' : 'Response';
  return [
    `/** Decodes the ${kind} body of \`apiKey\` at \`version\`. */`,
    `export function decode${title}Message(apiKey: number, version: number, reader: KafkaReader): ${union} {`,
    '  switch (apiKey) {',
    ...apis.map((api) => `    case ${api.apiKey}: return { apiKey: ${api.apiKey}, message: decode${messageName(api)}(version, reader) };`),
    '    default:',
    `      throw new KafkaDecodeError('unknown_api_key', '', \`api key \${apiKey} is not supported\`);`,
    '  }',
    '}',
    '',
    `/** Appends the ${kind} body to \`writer\` at \`version\`. */`,
    `export function write${title}Message(writer: KafkaWriter, version: number, ${kind}: ${union}): void {`,
    `  switch (${kind}.apiKey) {`,
    ...apis.map((api) => `    case ${api.apiKey}: return write${messageName(api)}(writer, version, ${kind}.message);`),
    '  }',
    '}',
  ];
}

// ---------------------------------------------------------------------------------------------
// Arbitraries (fast-check) for property tests: one per struct, valid for a given version
// ---------------------------------------------------------------------------------------------

function arbitraryExpression(field: FieldModel, struct: StructModel): string {
  const present = versionCondition(field.versions, struct.range);
  const nullable = versionCondition(field.nullable, field.versions);
  const base = arbitraryOfType(field.type);
  const value = nullable === 'true' ? `nullable(${base})` : nullable === 'false' ? base : `${nullable} ? nullable(${base}) : ${base}`;
  if (present === 'true') return value;
  const inner = nullable === 'true' || nullable === 'false' ? value : `(${value})`;
  return `${present} ? ${inner} : fc.constant(${defaultExpression(field)})`;
}

function arbitraryOfType(type: FieldType): string {
  if (type.kind === 'array') return `arbitraryArray(${arbitraryOfType(type.element)})`;
  if (type.kind === 'struct') return `arbitrary${type.struct.typeName}(version)`;
  const names: Record<PrimitiveName, string> = {
    bool: 'fc.boolean', int8: 'arbitraryInt8', int16: 'arbitraryInt16', uint16: 'arbitraryUint16', int32: 'arbitraryInt32',
    uint32: 'arbitraryUint32', int64: 'arbitraryInt64', float64: 'arbitraryFloat64', string: 'arbitraryString', bytes: 'arbitraryBytes',
    records: 'arbitraryBytes', uuid: 'arbitraryUuid',
  };
  return `${names[type.name]}()`;
}

function arbitraryFunction(struct: StructModel): string[] {
  const fields = struct.fields.map((field) => `  ${field.property}: ${arbitraryExpression(field, struct)},`);
  const body = ['return fc.record({', ...fields, '}, { noNullPrototype: true });'];
  const text = body.join('\n');
  const parameter = /\bversion\b/.test(text) ? 'version' : '_version';
  return [
    `export function arbitrary${struct.typeName}(${parameter}: number): fc.Arbitrary<${struct.typeName}> {`,
    ...indent(body),
    '}',
  ];
}

function arbitrariesFile(apis: readonly ApiPair[], headers: readonly MessageModel[], options: GenerateOptions): string {
  const messages = [...headers, ...apis.flatMap((api) => [api.request, api.response])];
  const functions = messages.flatMap((message) => [message.root, ...message.structs]).flatMap((struct) => ['', ...arbitraryFunction(struct)]);
  const types = messages.flatMap((message) => [message.root, ...message.structs]).map((struct) => struct.typeName).sort();
  const text = functions.join('\n');
  const defaults = [...new Set(text.match(/\bdefault\w+(?=\(\))/g) ?? [])].sort();
  const helpers = ['arbitraryArray', 'arbitraryBytes', 'arbitraryFloat64', 'arbitraryInt16', 'arbitraryInt32', 'arbitraryInt64', 'arbitraryInt8',
    'arbitraryString', 'arbitraryUint16', 'arbitraryUint32', 'arbitraryUuid', 'nullable'].filter((name) => new RegExp(`\\b${name}\\b`).test(text));
  return [
    ...fileHeader(['the same definitions as the codecs'], options),
    '// fast-check arbitraries of every generated message, valid at a given version: fields the',
    '// version lacks hold their default, exactly what the decoder produces. For tests only.',
    '',
    "import fc from 'fast-check';",
    `import { ${helpers.join(', ')} } from '${options.runtimeDirectory}/arbitrary-primitives.ts';`,
    ...(defaults.length === 0 ? [] : [`import { ${defaults.join(', ')} } from './index.ts';`]),
    `import type {`,
    ...types.map((type) => `  ${type},`),
    "} from './index.ts';",
    ...functions,
    '',
  ].join('\n');
}

// ---------------------------------------------------------------------------------------------
// Driver
// ---------------------------------------------------------------------------------------------

function loadApis(options: GenerateOptions): { apis: ApiPair[]; headers: MessageModel[]; flexibleSince: Map<number, number> } {
  const flexibleSince = new Map<number, number>();
  const apis = SUPPORTED_APIS.map((api) => {
    const wanted = options.allVersions ? null : { min: api.minVersion, max: api.maxVersion };
    const rawRequest = readRawMessage(options.specDirectory, `${api.name}Request.json`);
    const rawResponse = readRawMessage(options.specDirectory, `${api.name}Response.json`);
    checkPair(api, rawRequest, rawResponse);
    const flexible = parseVersions(rawRequest.flexibleVersions, rawRequest.name);
    if (flexible) flexibleSince.set(api.apiKey, flexible.min);
    return {
      name: api.name,
      apiKey: api.apiKey,
      request: buildMessage(rawRequest, `${api.name}Request.json`, wanted),
      response: buildMessage(rawResponse, `${api.name}Response.json`, wanted ?? parseVersions(rawRequest.validVersions, rawRequest.name)),
    };
  });
  const headers = ['RequestHeader', 'ResponseHeader'].map((name) => buildMessage(readRawMessage(options.specDirectory, `${name}.json`), `${name}.json`, null));
  assignTypeNames([...headers, ...apis.flatMap((api) => [api.request, api.response])]);
  return { apis, headers, flexibleSince };
}

function checkPair(api: { name: string; apiKey: number }, request: RawMessage, response: RawMessage): void {
  if (request.apiKey !== api.apiKey || response.apiKey !== api.apiKey) {
    throw new Error(`${api.name}: api key ${api.apiKey} in supported-apis.ts, ${request.apiKey}/${response.apiKey} in the definitions`);
  }
  if (request.flexibleVersions !== response.flexibleVersions) {
    throw new Error(`${api.name}: request and response disagree on flexibleVersions`);
  }
}

/** Generates every file; returns file name → contents. */
export function generateKafkaCodecs(options: GenerateOptions): Map<string, string> {
  const { apis, headers, flexibleSince } = loadApis(options);
  const files = new Map<string, string>();
  files.set('headers.ts', headersFile(headers, options));
  for (const api of apis) files.set(`${kebabCase(api.name)}.ts`, apiFile(api, options));
  files.set('index.ts', indexFile(apis, flexibleSince, options));
  files.set('arbitraries.ts', arbitrariesFile(apis, headers, options));
  for (const [name, contents] of files) files.set(name, formatLines(contents.split('\n')).join('\n'));
  return files;
}

function main(): void {
  const { values } = parseArgs({
    options: {
      out: { type: 'string', default: join(REPOSITORY, 'src/protocol/kafka/generated') },
      specs: { type: 'string', default: resolve(REPOSITORY, '../shared/kafka-protocol/messages') },
      'all-versions': { type: 'boolean', default: false },
      runtime: { type: 'string', default: '..' },
    },
  });
  const options: GenerateOptions = { specDirectory: values.specs, allVersions: values['all-versions'], runtimeDirectory: values.runtime };
  const files = generateKafkaCodecs(options);
  mkdirSync(values.out, { recursive: true });
  for (const [name, contents] of files) writeFileSync(join(values.out, name), contents);
  process.stdout.write(`wrote ${files.size} files to ${values.out}\n`);
}

if (import.meta.main) main();
