// Tree-sitter facts with the product's grammars, on small files written the way real libraries write them:
// each definition's name, kind, parent, first and last line, signature as written, parameters, and the doc
// comment in the language's own convention (first sentence and whole text); the file's doc comment.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { extractFacts, FACT_LANGUAGES, firstSentence, type Def, type FileFacts } from '../../src/core/facts';
import { GRAMMARS } from '../../src/core/chunker/languages';

function def(facts: FileFacts, name: string, parent?: string): Def {
  const found = facts.defs.filter((d) => d.name === name && (parent === undefined || d.parent === parent));
  assert.equal(found.length, 1, `${name}: ${found.length} definitions in ${facts.defs.map((d) => `${d.parent}.${d.name}`).join(', ')}`);
  return found[0];
}

const names = (facts: FileFacts) => facts.defs.map((d) => (d.parent ? `${d.parent}.${d.name}` : d.name));

test('Go: methods with receivers, types, constants; // doc comments directly above; the package comment', async () => {
  const src = `// Copyright 2013-2023 The Cobra Authors

// Package cobra is a commander providing a simple interface to create powerful modern CLI interfaces.
// In addition to providing an interface, Cobra simultaneously provides a controller.
package cobra

import (
	"fmt"
	"strings"
)

// Command is just that, a command for your application.
// E.g.  'go run ...' - 'run' is the command. Cobra requires
// you to define the usage and description as part of your command definition.
type Command struct {
	// Use is the one-line usage message.
	Use string
	commands []*Command
}

// PositionalArgs checks the arguments of a command.
type PositionalArgs func(cmd *Command, args []string) error

const (
	// FlagSetByCobraAnnotation marks flags set by Cobra itself.
	FlagSetByCobraAnnotation = "cobra_annotation_flag_set_by_cobra"
)

// AddCommand adds one or more commands to this parent command.
//
//go:noinline
func (c *Command) AddCommand(cmds ...*Command) {
	for i, x := range cmds {
		if cmds[i] == c {
			panic("Command can't be a child of itself")
		}
		c.commands = append(c.commands, x)
	}
}

func (c *Command) Name() string { return strings.Fields(c.Use)[0] } // the first word of Use

// CommandPath returns the full path to this command.
func (c *Command) CommandPath() string {
	return fmt.Sprintf("%s", c.Name())
}

// Runner runs a command with its arguments.
type Runner interface {
	// Run runs it.
	Run(cmd *Command, args []string) error
}

// MinimumNArgs returns an error if there is not at least N args.
func MinimumNArgs[T ~int](n T, extra, more string) PositionalArgs {
	return nil
}
`;
  const f = await extractFacts(src, 'go');
  assert.equal(f.moduleDoc, 'Package cobra is a commander providing a simple interface to create powerful modern CLI interfaces.');
  assert.equal(
    f.moduleFullDoc,
    'Package cobra is a commander providing a simple interface to create powerful modern CLI interfaces.\nIn addition to providing an interface, Cobra simultaneously provides a controller.',
  );
  assert.deepEqual(names(f), [
    'Command',
    'PositionalArgs',
    'FlagSetByCobraAnnotation',
    'Command.AddCommand',
    'Command.Name',
    'Command.CommandPath',
    'Runner',
    'Runner.Run',
    'MinimumNArgs',
  ]);
  assert.deepEqual(def(f, 'AddCommand'), {
    name: 'AddCommand',
    line: 32,
    endLine: 39,
    kind: 'method',
    params: ['cmds'],
    doc: 'AddCommand adds one or more commands to this parent command.',
    fullDoc: 'AddCommand adds one or more commands to this parent command.',
    signature: 'func (c *Command) AddCommand(cmds ...*Command)',
    parent: 'Command',
  });
  const command = def(f, 'Command');
  assert.deepEqual([command.kind, command.line, command.endLine, command.signature], ['struct', 15, 19, 'type Command struct']);
  assert.equal(command.doc, 'Command is just that, a command for your application.');
  assert.match(command.fullDoc, /^Command is just that[^]*E\.g\. {2}'go run \.\.\.'[^]*part of your command definition\.$/);
  // A trailing comment on the line above is not a doc comment.
  assert.deepEqual([def(f, 'Name').doc, def(f, 'Name').signature], ['', 'func (c *Command) Name() string']);
  assert.equal(def(f, 'CommandPath').doc, 'CommandPath returns the full path to this command.');
  assert.deepEqual(
    [def(f, 'PositionalArgs').kind, def(f, 'PositionalArgs').signature],
    ['type', 'type PositionalArgs func(cmd *Command, args []string) error'],
  );
  assert.deepEqual(
    [def(f, 'Runner').kind, def(f, 'Runner').signature, def(f, 'Runner').endLine],
    ['interface', 'type Runner interface', 52],
  );
  assert.deepEqual([def(f, 'Run').kind, def(f, 'Run').parent, def(f, 'Run').doc], ['method', 'Runner', 'Run runs it.']);
  assert.deepEqual(
    [def(f, 'FlagSetByCobraAnnotation').kind, def(f, 'FlagSetByCobraAnnotation').line, def(f, 'FlagSetByCobraAnnotation').doc],
    ['constant', 26, 'FlagSetByCobraAnnotation marks flags set by Cobra itself.'],
  );
  const generic = def(f, 'MinimumNArgs');
  assert.deepEqual(
    [generic.kind, generic.params, generic.signature],
    ['function', ['n', 'extra', 'more'], 'func MinimumNArgs[T ~int](n T, extra, more string) PositionalArgs'],
  );
});

test('Ruby: modules, classes, ?/! methods, self. methods; # comments above; the file doc', async () => {
  const src = `# frozen_string_literal: true

require 'digest/sha2'

module Rack
  # Automatically sets the etag header on all String bodies.
  #
  # The etag header is skipped if etag or last-modified headers are sent.
  class ETag < Base
    DEFAULT_CACHE_CONTROL = "max-age=0, private, must-revalidate"

    def initialize(app, no_cache_control = nil, cache_control = DEFAULT_CACHE_CONTROL)
      @app = app
    end

    # Is the status one an etag is set for?
    # @param status [Integer] the response status
    def etag_status?(status)
      status == 200 || status == 201
    end

    # Builds the middleware.
    def self.build(app, *args, **opts, &block)
      new(app, *args)
    end

    def call env
      @app.call(env)
    end

    # Forgets the digest.
    def reset!; end
  end
end
`;
  const f = await extractFacts(src, 'ruby');
  assert.equal(f.moduleDoc, 'Automatically sets the etag header on all String bodies.', "the file's first documented class");
  assert.deepEqual(
    names(f),
    ['Rack', 'Rack.ETag', 'ETag.etag_status?', 'ETag.build', 'ETag.call', 'ETag.reset!'],
    '`initialize` is the class, as a constructor',
  );
  assert.deepEqual(def(f, 'etag_status?'), {
    name: 'etag_status?',
    line: 18,
    endLine: 20,
    kind: 'method',
    params: ['status'],
    doc: 'Is the status one an etag is set for?',
    fullDoc: 'Is the status one an etag is set for?\n@param status [Integer] the response status',
    signature: 'def etag_status?(status)',
    parent: 'ETag',
  });
  const etag = def(f, 'ETag');
  assert.deepEqual([etag.kind, etag.parent, etag.line, etag.endLine, etag.signature], ['class', 'Rack', 9, 33, 'class ETag < Base']);
  assert.equal(
    etag.fullDoc,
    'Automatically sets the etag header on all String bodies.\n\nThe etag header is skipped if etag or last-modified headers are sent.',
  );
  assert.deepEqual([def(f, 'Rack').kind, def(f, 'Rack').doc], ['module', '']);
  assert.deepEqual(
    [def(f, 'build').params, def(f, 'build').signature, def(f, 'build').doc],
    [['app', 'args', 'opts', 'block'], 'def self.build(app, *args, **opts, &block)', 'Builds the middleware.'],
  );
  assert.deepEqual([def(f, 'call').params, def(f, 'call').signature, def(f, 'call').doc], [['env'], 'def call env', '']);
  assert.deepEqual(
    [def(f, 'reset!').signature, def(f, 'reset!').line, def(f, 'reset!').endLine, def(f, 'reset!').doc],
    ['def reset!', 32, 32, 'Forgets the digest.'],
  );
  // A file-top comment (after the magic comment) is the file's doc.
  const top = await extractFacts(
    `#!/usr/bin/env ruby\n# frozen_string_literal: true\n\n# Helpers for building Rack responses.\nrequire 'rack'\n`,
    'ruby',
  );
  assert.equal(top.moduleDoc, 'Helpers for building Rack responses.');
});

test('Rust: /// and /** */ docs above attributes, impl methods, traits; //! is the file doc', async () => {
  const src = `//! [![github]](https://github.com/example/calc)&ensp;[![crates-io]](https://crates.io/crates/calc)
//!
//! [github]: https://img.shields.io/badge/github-8da0cb?style=for-the-badge
//! [crates-io]: https://img.shields.io/badge/crates.io-fc8d62?style=for-the-badge
//!
//! <br>
//!
//! A small arithmetic parser.
//!
//! Parses \`1 + 2 * 3\` into an [\`Ast\`].

use std::fmt;

/// The parsed expression tree.
#[derive(Debug, Clone, PartialEq)]
pub struct Ast {
    nodes: Vec<Node>,
}

// Not a doc comment: an implementation note.
pub enum Token {
    Num(i64),
    Plus,
}

/// Something that evaluates to a number.
pub trait Eval {
    /// Evaluates the expression.
    fn eval(&self) -> i64;
}

impl Ast {
    /// Parses the input into an AST.
    ///
    /// # Errors
    ///
    /// Returns an error on unbalanced parentheses.
    pub fn parse(input: &str, mut depth: usize) -> Result<Ast, Error> {
        todo!()
    }
}

impl<T> fmt::Display for Wrapper<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        Ok(())
    }
}

/** Upper bound of nesting. */
pub const MAX_DEPTH: usize = 64;
`;
  const f = await extractFacts(src, 'rust');
  assert.equal(f.moduleDoc, 'A small arithmetic parser.');
  assert.equal(f.moduleFullDoc, 'A small arithmetic parser.\n\nParses `1 + 2 * 3` into an [`Ast`].');
  assert.deepEqual(names(f), ['Ast', 'Token', 'Eval', 'Eval.eval', 'Ast.parse', 'Wrapper.fmt', 'MAX_DEPTH']);
  assert.deepEqual(def(f, 'parse'), {
    name: 'parse',
    line: 38,
    endLine: 40,
    kind: 'method',
    params: ['input', 'depth'],
    doc: 'Parses the input into an AST.',
    fullDoc: 'Parses the input into an AST.\n\n# Errors\n\nReturns an error on unbalanced parentheses.',
    signature: 'pub fn parse(input: &str, mut depth: usize) -> Result<Ast, Error>',
    parent: 'Ast',
  });
  const ast = def(f, 'Ast');
  assert.deepEqual(
    [ast.kind, ast.line, ast.endLine, ast.signature, ast.doc],
    ['struct', 15, 18, 'pub struct Ast', 'The parsed expression tree.'],
    "the line is the attribute's, the doc above it",
  );
  assert.equal(def(f, 'Token').doc, '', 'a plain // comment is not a doc comment in Rust');
  assert.deepEqual(
    [def(f, 'eval').kind, def(f, 'eval').parent, def(f, 'eval').signature, def(f, 'eval').params],
    ['method', 'Eval', 'fn eval(&self) -> i64', []],
  );
  assert.deepEqual([def(f, 'Eval').kind, def(f, 'fmt').parent], ['trait', 'Wrapper']);
  assert.deepEqual(
    [def(f, 'MAX_DEPTH').kind, def(f, 'MAX_DEPTH').doc, def(f, 'MAX_DEPTH').signature],
    ['constant', 'Upper bound of nesting.', 'pub const MAX_DEPTH: usize = 64'],
  );
});

test('Java: javadoc above annotations, methods in classes, nested types, constructors left out', async () => {
  const src = `/*
 * Copyright (C) 2012 The Guava Authors. Licensed under the Apache License, Version 2.0.
 */
package com.google.common.cache;

import java.util.concurrent.ExecutionException;

/**
 * A semi-persistent mapping from keys to values. Values are added with {@link #put}.
 *
 * <p>Implementations of this interface are expected to be thread-safe.
 */
@GwtCompatible
public abstract class LocalCache<K, V> extends AbstractMap<K, V> implements Cache<K, V> {

  /** Creates an empty cache. */
  public LocalCache() {}

  /**
   * Returns the value associated with {@code key} in this cache, first loading that value if
   * necessary.
   *
   * @param key the key
   * @throws ExecutionException if a checked exception was thrown while loading the value
   */
  @Override
  @CanIgnoreReturnValue
  public V get(K key,
               Callable<? extends V> loader) throws ExecutionException {
    return null;
  }

  // Removes expired entries.
  void cleanUp() {}

  /** Returns the license of the cache's data, as its owner set it. */
  String license() { return null; }

  /**
   * @deprecated Use {@link #get} instead; this method exposes an internal class and may be removed in a
   *     future version.
   */
  @Deprecated
  public Object internal() { return null; }

  /** What a lookup found. */
  enum Strength { STRONG, WEAK }
}
`;
  const f = await extractFacts(src, 'java');
  assert.equal(f.moduleDoc, 'A semi-persistent mapping from keys to values.', 'the file is its class: the class javadoc, not the license');
  assert.deepEqual(names(f), [
    'LocalCache',
    'LocalCache.get',
    'LocalCache.cleanUp',
    'LocalCache.license',
    'LocalCache.internal',
    'LocalCache.Strength',
  ]);
  assert.deepEqual(def(f, 'get'), {
    name: 'get',
    line: 26,
    endLine: 31,
    kind: 'method',
    params: ['key', 'loader'],
    doc: 'Returns the value associated with key in this cache, first loading that value if necessary.',
    fullDoc:
      'Returns the value associated with key in this cache, first loading that value if\nnecessary.\n\n@param key the key\n@throws ExecutionException if a checked exception was thrown while loading the value',
    signature: 'public V get(K key, Callable<? extends V> loader) throws ExecutionException',
    parent: 'LocalCache',
  });
  const cls = def(f, 'LocalCache');
  assert.deepEqual(
    [cls.kind, cls.line, cls.endLine, cls.signature],
    ['class', 13, 48, 'public abstract class LocalCache<K, V> extends AbstractMap<K, V> implements Cache<K, V>'],
  );
  assert.equal(
    cls.fullDoc,
    'A semi-persistent mapping from keys to values. Values are added with #put.\n\nImplementations of this interface are expected to be thread-safe.',
  );
  assert.deepEqual([def(f, 'cleanUp').doc, def(f, 'cleanUp').signature], ['Removes expired entries.', 'void cleanUp()']);
  assert.equal(
    def(f, 'license').doc,
    "Returns the license of the cache's data, as its owner set it.",
    'a doc that mentions a license is not a license header',
  );
  // A doc of tags only has no description: no first sentence (not a tag's continuation line), the whole text kept.
  assert.deepEqual([def(f, 'internal').doc, def(f, 'internal').signature], ['', 'public Object internal()']);
  assert.match(def(f, 'internal').fullDoc, /^@deprecated Use #get instead; [^]* future version\.$/);
  assert.deepEqual([def(f, 'Strength').kind, def(f, 'Strength').doc], ['enum', 'What a lookup found.']);
});

test('C: functions with /** */ and /* */ docs, structs, typedefs, macros; the @file comment', async () => {
  const src = `/* SPDX-License-Identifier: MIT */

/**
 * @file sds.c
 * @brief A C dynamic strings library.
 */
#include <stdlib.h>
#define SDS_MAX_PREALLOC (1024*1024)
#define SDS_H

/** Header of a dynamic string. */
typedef struct sdshdr {
    size_t len;
    char buf[];
} sdshdr_t;

/**
 * Append the specified binary-safe string pointed by 't' of 'len' bytes to the
 * end of the specified sds string 's'.
 *
 * After the call, the passed sds string is no longer valid.
 */
sds sdscatlen(sds s, const void *t, size_t len)
{
    return s;
}

/* Free an sds string. No operation is performed if 's' is NULL. */
static void
sdsfree(sds s) {
    if (s == NULL) return;
}

int sdsnewlen(const char *init, size_t initlen);

/****************************************************
 * Grow the free space at the end of the string.    *
 * The length of the string is unchanged.           *
 ****************************************************/
sds sdsMakeRoomFor(sds s, size_t addlen) { return s; }
`;
  const f = await extractFacts(src, 'c');
  assert.equal(f.moduleDoc, 'A C dynamic strings library.');
  assert.deepEqual(
    names(f),
    ['SDS_MAX_PREALLOC', 'sdshdr_t', 'sdshdr', 'sdscatlen', 'sdsfree', 'sdsMakeRoomFor'],
    'a prototype is not a definition; an include guard is not a constant',
  );
  // A boxed comment: its rules and right edge are drawing, not text.
  assert.deepEqual(
    [def(f, 'sdsMakeRoomFor').doc, def(f, 'sdsMakeRoomFor').fullDoc],
    [
      'Grow the free space at the end of the string.',
      'Grow the free space at the end of the string.\nThe length of the string is unchanged.',
    ],
  );
  assert.deepEqual(def(f, 'sdscatlen'), {
    name: 'sdscatlen',
    line: 23,
    endLine: 26,
    kind: 'function',
    params: ['s', 't', 'len'],
    doc: "Append the specified binary-safe string pointed by 't' of 'len' bytes to the end of the specified sds string 's'.",
    fullDoc:
      "Append the specified binary-safe string pointed by 't' of 'len' bytes to the\nend of the specified sds string 's'.\n\nAfter the call, the passed sds string is no longer valid.",
    signature: 'sds sdscatlen(sds s, const void *t, size_t len)',
    parent: '',
  });
  assert.deepEqual(
    [def(f, 'sdsfree').signature, def(f, 'sdsfree').line, def(f, 'sdsfree').doc],
    ['static void sdsfree(sds s)', 29, "Free an sds string. No operation is performed if 's' is NULL."],
  );
  assert.deepEqual(
    [def(f, 'sdshdr_t').kind, def(f, 'sdshdr_t').doc, def(f, 'sdshdr_t').endLine],
    ['type', 'Header of a dynamic string.', 15],
  );
  assert.deepEqual(
    [def(f, 'sdshdr').kind, def(f, 'SDS_MAX_PREALLOC').kind, def(f, 'SDS_MAX_PREALLOC').signature],
    ['struct', 'constant', '#define SDS_MAX_PREALLOC (1024*1024)'],
  );
});

test('C++: class methods in and out of the class, templates, /// docs; constructors left out', async () => {
  const src = `// Geometry primitives.
#include <cmath>

namespace geo {

/// A shape in the plane.
class Shape {
 public:
  Shape() = default;
  /// Scales the shape by a factor.
  void scale(double factor) { factor_ *= factor; }
  virtual double area() const = 0;
 private:
  double factor_ = 1;
};

/**
 * Euclidean distance between two points.
 */
template <typename T>
T distance(const Point<T>& a, const Point<T>& b) {
  return std::hypot(a.x - b.x, a.y - b.y);
}

// Perimeter of a polygon with the given number of sides.
double Shape::perimeter(int sides) const {
  return sides * factor_;
}

Shape::~Shape() {}

}  // namespace geo
`;
  const f = await extractFacts(src, 'cpp');
  assert.equal(f.moduleDoc, 'Geometry primitives.');
  assert.deepEqual(names(f), ['Shape', 'Shape.scale', 'distance', 'Shape.perimeter']);
  assert.deepEqual(def(f, 'perimeter'), {
    name: 'perimeter',
    line: 26,
    endLine: 28,
    kind: 'method',
    params: ['sides'],
    doc: 'Perimeter of a polygon with the given number of sides.',
    fullDoc: 'Perimeter of a polygon with the given number of sides.',
    signature: 'double Shape::perimeter(int sides) const',
    parent: 'Shape',
  });
  assert.deepEqual(
    [def(f, 'scale').kind, def(f, 'scale').parent, def(f, 'scale').doc, def(f, 'scale').signature],
    ['method', 'Shape', 'Scales the shape by a factor.', 'void scale(double factor)'],
  );
  const d = def(f, 'distance');
  assert.deepEqual(
    [d.line, d.endLine, d.signature, d.doc, d.params],
    [
      20,
      23,
      'template <typename T> T distance(const Point<T>& a, const Point<T>& b)',
      'Euclidean distance between two points.',
      ['a', 'b'],
    ],
  );
  assert.deepEqual([def(f, 'Shape').kind, def(f, 'Shape').line, def(f, 'Shape').endLine], ['class', 7, 15]);
});

test('C#: /// XML docs as plain text, attributes before the method, constructors and properties left out', async () => {
  const src = `// Copyright (c) .NET Foundation. All rights reserved.
using System.Collections.Generic;

namespace Newtonsoft.Json.Linq
{
    /// <summary>
    /// Represents a JSON array, a list of <see cref="JToken"/> values.
    /// </summary>
    public partial class JArray : JContainer, IList<JToken>
    {
        public JArray() { }

        /// <summary>
        /// Adds an item to the end of the array.
        /// </summary>
        /// <param name="item">The <see cref="JToken"/> to add.</param>
        [Obsolete("Use AddItem")]
        public void Add(JToken item)
        {
            AddInternal(Count, item, false);
        }

        /// <summary>Gets the count of items.</summary>
        public int Count { get; }
    }
}
`;
  const f = await extractFacts(src, 'csharp');
  assert.equal(f.moduleDoc, 'Represents a JSON array, a list of JToken values.');
  assert.deepEqual(names(f), ['JArray', 'JArray.Add']);
  assert.deepEqual(def(f, 'Add'), {
    name: 'Add',
    line: 17,
    endLine: 21,
    kind: 'method',
    params: ['item'],
    doc: 'Adds an item to the end of the array.',
    fullDoc: 'Adds an item to the end of the array.\n\n@param item The JToken to add.',
    signature: 'public void Add(JToken item)',
    parent: 'JArray',
  });
  assert.deepEqual(
    [def(f, 'JArray').signature, def(f, 'JArray').line, def(f, 'JArray').endLine],
    ['public partial class JArray : JContainer, IList<JToken>', 9, 25],
  );
});

test('TSX, PHP and shell: definitions and docs', async () => {
  const tsx = await extractFacts(
    `/** Buttons for forms. */\nimport React from 'react';\n\n/** A button that submits its form. */\nexport function SubmitButton({ label }: Props) {\n  return <button type="submit">{label}</button>;\n}\n`,
    'tsx',
  );
  assert.equal(tsx.moduleDoc, 'Buttons for forms.');
  assert.deepEqual(
    [def(tsx, 'SubmitButton').line, def(tsx, 'SubmitButton').endLine, def(tsx, 'SubmitButton').signature, def(tsx, 'SubmitButton').doc],
    [5, 7, 'export function SubmitButton({ label }: Props)', 'A button that submits its form.'],
  );
  const php = await extractFacts(
    `<?php\n/**\n * HTTP requests.\n */\nnamespace App;\n\n/**\n * A parsed request.\n */\nfinal class Request\n{\n    public function __construct() {}\n\n    /** The method, upper-cased. */\n    public function method(string $default = 'GET'): string\n    {\n        return $default;\n    }\n}\n`,
    'php',
  );
  assert.equal(php.moduleDoc, 'HTTP requests.');
  assert.deepEqual(names(php), ['Request', 'Request.method']);
  assert.deepEqual(
    [def(php, 'method').params, def(php, 'method').signature, def(php, 'method').doc],
    [['default'], "public function method(string $default = 'GET'): string", 'The method, upper-cased.'],
  );
  const sh = await extractFacts(`#!/bin/sh\n# Release helpers.\n\n# Prints a message to stderr.\nlog() {\n  echo "$@" >&2\n}\n`, 'bash');
  assert.deepEqual(
    [sh.moduleDoc, def(sh, 'log').doc, def(sh, 'log').signature, def(sh, 'log').endLine],
    ['Release helpers.', 'Prints a message to stderr.', 'log()', 7],
  );
});

test('Python and JavaScript keep their definitions and gain end line, signature and whole doc', async () => {
  const py = await extractFacts(
    `"""Geometric shapes.\n\nAreas and perimeters.\n"""\n\n\nclass Circle:\n    """A circle."""\n\n    @property\n    def area(self, scale: float = 1.0,\n             *, exact=False) -> float:\n        """Area enclosed by the circle.\n\n        Uses pi.\n        """\n        return 3.14\n`,
    'python',
  );
  assert.deepEqual([py.moduleDoc, py.moduleFullDoc], ['Geometric shapes.', 'Geometric shapes.\n\nAreas and perimeters.']);
  assert.deepEqual(def(py, 'area'), {
    name: 'area',
    line: 10,
    endLine: 17,
    kind: 'method',
    params: ['scale', 'exact'],
    doc: 'Area enclosed by the circle.',
    fullDoc: 'Area enclosed by the circle.\n\nUses pi.',
    signature: 'def area(self, scale: float = 1.0, *, exact=False) -> float',
    parent: 'Circle',
  });
  assert.deepEqual([def(py, 'Circle').signature, def(py, 'Circle').endLine], ['class Circle', 17]);
  const js = await extractFacts(
    `/** Helpers. */\n\n/**\n * Adds two numbers.\n * @param {number} a\n */\nexport const add = (a, b) => a + b;\n\nclass Store {\n  /** Puts a value. */\n  async put(key, value) {\n    return value;\n  }\n}\n`,
    'javascript',
  );
  assert.deepEqual(def(js, 'add'), {
    name: 'add',
    line: 7,
    endLine: 7,
    kind: 'function',
    params: ['a', 'b'],
    doc: 'Adds two numbers.',
    fullDoc: 'Adds two numbers.\n@param {number} a',
    signature: 'export const add = (a, b) =>',
    parent: '',
  });
  assert.deepEqual(
    [def(js, 'put').signature, def(js, 'put').line, def(js, 'put').endLine, def(js, 'put').parent],
    ['async put(key, value)', 11, 13, 'Store'],
  );
});

test('the whole doc and the signature are capped; non-ASCII text keeps its offsets', async () => {
  const long = Array.from({ length: 40 }, (_, i) => `// Line ${i} of a very long explanation of what this does.`).join('\n');
  const f = await extractFacts(
    `package p\n\n${long}\nfunc Long(${Array.from({ length: 40 }, (_, i) => `argument${i} int`).join(', ')}) {}\n`,
    'go',
  );
  const d = def(f, 'Long');
  assert.ok(d.fullDoc.length <= 600 && d.fullDoc.endsWith('...'), String(d.fullDoc.length));
  assert.ok(
    d.signature.length <= 200 && d.signature.startsWith('func Long(argument0 int, argument1 int') && d.signature.endsWith('...'),
    d.signature,
  );
  assert.equal(d.params.length, 40);
  const u = await extractFacts(`// Grüße — déjà vu ✓.\nfunc Grüße(naïve string) string { return "π" }\n`, 'go');
  assert.deepEqual(
    [u.defs[0].name, u.defs[0].signature, u.defs[0].doc],
    ['Grüße', 'func Grüße(naïve string) string', 'Grüße — déjà vu ✓.'],
  );
});

test('every grammar language with definitions has facts; others give none', async () => {
  for (const lang of FACT_LANGUAGES) assert.ok(lang in GRAMMARS, `${lang} has no grammar`);
  for (const lang of ['go', 'ruby', 'rust', 'java', 'c', 'cpp', 'csharp', 'tsx', 'python', 'javascript', 'typescript'])
    assert.ok(FACT_LANGUAGES.includes(lang), lang);
  assert.deepEqual(await extractFacts('a: 1\n', 'yaml'), { defs: [], moduleDoc: '', moduleFullDoc: '' });
  assert.deepEqual(await extractFacts('fun main() {}\n', 'kotlin'), { defs: [], moduleDoc: '', moduleFullDoc: '' });
  // A file that does not parse cleanly still gives what it can, and an empty one nothing.
  assert.deepEqual(
    (await extractFacts('func Ok() {}\nfunc (', 'go')).defs.map((d) => d.name),
    ['Ok'],
  );
  assert.deepEqual(await extractFacts('', 'rust'), { defs: [], moduleDoc: '', moduleFullDoc: '' });
  assert.equal(firstSentence('"""Return the value of the widget.  More text."""'), 'Return the value of the widget.');
});
