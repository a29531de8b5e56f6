// A small TypeScript project the editor tests write and ask about ("shapes-cli"): definitions with doc
// comments in several directories, one function that uses definitions from other files, a README and a
// docs page. The expected answers (definition lines, directories) are computed from the text written, so
// editing the project keeps the tests honest.
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';

export const PROJECT_FILES: Record<string, string> = {
  'README.md': '# shapes-cli\n\nA tiny command-line tool that prints the area of a rectangle given in centimetres.\n',
  'docs/usage.md': '# Usage\n\nRun `shapes 120 80` to print the area of a 120 cm by 80 cm rectangle in square metres.\n',
  'src/geometry/units.ts': [
    '// Unit conversions.',
    '',
    '/** Converts centimetres to metres. */',
    'export function centimetresToMetres(cm: number): number {',
    '  return cm / 100;',
    '}',
    '',
    '/** Converts square metres to square centimetres. */',
    'export function squareMetresToSquareCentimetres(m2: number): number {',
    '  return m2 * 10_000;',
    '}',
    '',
  ].join('\n'),
  'src/shapes/rectangle.ts': [
    '// Rectangles.',
    '',
    '/** An axis-aligned rectangle given by its width and height. */',
    'export class Rectangle {',
    '  constructor(',
    '    readonly width: number,',
    '    readonly height: number,',
    '  ) {}',
    '',
    '  /** The area: width times height. */',
    '  area(): number {',
    '    return this.width * this.height;',
    '  }',
    '}',
    '',
  ].join('\n'),
  'src/shapes/circle.ts': [
    '// Circles.',
    '',
    '/** A circle given by its radius. */',
    'export class Circle {',
    '  constructor(readonly radius: number) {}',
    '',
    '  /** The area: pi times the radius squared. */',
    '  area(): number {',
    '    return Math.PI * this.radius * this.radius;',
    '  }',
    '}',
    '',
  ].join('\n'),
  'src/cli/main.ts': [
    "import { centimetresToMetres } from '../geometry/units';",
    "import { Rectangle } from '../shapes/rectangle';",
    '',
    '/** Parses "width height" in centimetres and returns the area in square metres. */',
    'export function runCli(args: string[]): string {',
    '  const [width, height] = args.map(Number).map(centimetresToMetres);',
    '  const shape = new Rectangle(width, height);',
    '  return shape.area().toFixed(4);',
    '}',
    '',
  ].join('\n'),
};

/** Directories of the project that hold files, as the summary should list them. */
export const PROJECT_DIRECTORIES = ['docs', 'src/cli', 'src/geometry', 'src/shapes'];

/** 1-based line of the first line of `file` that contains `text`. */
export function lineOf(file: string, text: string): number {
  const i = PROJECT_FILES[file].split('\n').findIndex((l) => l.includes(text));
  if (i < 0) throw new Error(`${text} is not in ${file}`);
  return i + 1;
}

/** Writes the project into `dir` (created). */
export function writeProject(dir: string): string {
  for (const [rel, text] of Object.entries(PROJECT_FILES)) {
    mkdirSync(path.dirname(path.join(dir, rel)), { recursive: true });
    writeFileSync(path.join(dir, rel), text);
  }
  return dir;
}
