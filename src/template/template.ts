// The public surface: Go's template.go, option.go and the useful part of helper.go.
//
//   const t = new Template("name").funcs({ secret }).parse(src);
//   const out = await t.execute(data);      // awaits functions that return Promises
//   const out2 = t.executeSync(data);        // fast path when no function is async
//
// Method names are Go's, lower-camel-cased. Parse errors throw ParseError and execution errors throw
// ExecError, each with Go's exact message.
import type { ExecTemplate, MissingKeyAction } from "./exec.js";
import { ExecError, execute, executeSync } from "./exec.js";
import { sprintf } from "./fmt.js";
import type { FuncMap, TemplateFunction } from "./funcs.js";
import { addValueFuncs, builtinFuncs } from "./funcs.js";
import type { Tree } from "./parse.js";
import { IsEmptyTree, Parse } from "./parse.js";

/** common holds the information shared by related templates. */
interface Common {
  tmpl: Map<string, Template>;
  option: { missingKey: MissingKeyAction };
  parseFuncs: Map<string, TemplateFunction>;
  execFuncs: Map<string, TemplateFunction>;
}

const newCommon = (): Common => ({
  tmpl: new Map(),
  option: { missingKey: "invalid" },
  parseFuncs: new Map(),
  execFuncs: new Map(),
});

/** Template is the representation of a parsed template. */
export class Template implements ExecTemplate {
  Tree: Tree | null = null;
  private common: Common;
  private leftDelim = "";
  private rightDelim = "";

  /** New allocates a new, undefined template with the given name. */
  constructor(private readonly name: string, common?: Common) {
    this.common = common ?? newCommon();
  }

  /** Name returns the name of the template. */
  Name(): string {
    return this.name;
  }

  tree(): Tree | null {
    return this.Tree;
  }

  missingKey(): MissingKeyAction {
    return this.common.option.missingKey;
  }

  execFuncs(): Map<string, TemplateFunction> {
    return this.common.execFuncs;
  }

  /**
   * new allocates a new, undefined template associated with this one and with the same delimiters,
   * so one can invoke the other with {{template}}.
   */
  new(name: string): Template {
    const nt = new Template(name, this.common);
    nt.leftDelim = this.leftDelim;
    nt.rightDelim = this.rightDelim;
    return nt;
  }

  /** clone returns a duplicate of the template, including all associated templates. */
  clone(): Template {
    const c = newCommon();
    c.option = { ...this.common.option };
    const nt = this.copy(c);
    for (const [k, v] of this.common.tmpl) {
      if (k === this.name) {
        c.tmpl.set(this.name, nt);
        continue;
      }
      c.tmpl.set(k, v.copy(c));
    }
    for (const [k, v] of this.common.parseFuncs) c.parseFuncs.set(k, v);
    for (const [k, v] of this.common.execFuncs) c.execFuncs.set(k, v);
    return nt;
  }

  private copy(c: Common): Template {
    const t = new Template(this.name, c);
    t.Tree = this.Tree;
    t.leftDelim = this.leftDelim;
    t.rightDelim = this.rightDelim;
    return t;
  }

  /** addParseTree associates the argument parse tree with the template t, giving it the specified name. */
  addParseTree(name: string, tree: Tree): Template {
    let nt: Template = this;
    if (name !== this.name) nt = this.new(name);
    // Even if nt == t, we need to install it in the common.tmpl map.
    if (this.associate(nt, tree) || nt.Tree === null) nt.Tree = tree;
    return nt;
  }

  /** templates returns the defined templates associated with t. */
  templates(): Template[] {
    return [...this.common.tmpl.values()];
  }

  /** delims sets the action delimiters; an empty delimiter stands for the default "{{" or "}}". */
  delims(left: string, right: string): this {
    this.leftDelim = left;
    this.rightDelim = right;
    return this;
  }

  /**
   * funcs adds the elements of the argument map to the template's function map. It must be called
   * before the template is parsed; a function may be replaced after parsing.
   */
  funcs(funcMap: FuncMap): this {
    addValueFuncs(this.common.execFuncs, funcMap);
    for (const [name, fn] of Object.entries(funcMap)) this.common.parseFuncs.set(name, fn);
    return this;
  }

  /** lookup returns the template with the given name that is associated with t. */
  lookup(name: string): Template | undefined {
    return this.common.tmpl.get(name);
  }

  /**
   * parse parses text as a template body for t. Named template definitions ({{define}} and
   * {{block}}) become templates associated with t. Throws ParseError.
   */
  parse(text: string): this {
    const trees = Parse(this.name, text, this.leftDelim, this.rightDelim, this.common.parseFuncs, builtinFuncs());
    for (const [name, tree] of trees) this.addParseTree(name, tree);
    return this;
  }

  /**
   * associate installs the new template into the group of templates associated with t. It reports
   * whether to store the tree: a redefinition that is empty does not replace a real one.
   */
  private associate(nt: Template, tree: Tree): boolean {
    const old = this.common.tmpl.get(nt.name);
    if (old !== undefined && IsEmptyTree(tree.Root) && old.Tree !== null) return false;
    this.common.tmpl.set(nt.name, nt);
    return true;
  }

  /**
   * option sets options for the template, as "key=value" strings: missingkey=default|invalid (print
   * "<no value>"), missingkey=zero (the zero value), missingkey=error (stop with an error).
   */
  option(...opts: string[]): this {
    for (const s of opts) this.setOption(s);
    return this;
  }

  private setOption(opt: string): void {
    if (opt === "") throw new Error("empty option string");
    const eq = opt.indexOf("=");
    if (eq >= 0 && opt.slice(0, eq) === "missingkey") {
      switch (opt.slice(eq + 1)) {
        case "invalid":
        case "default":
          this.common.option.missingKey = "invalid";
          return;
        case "zero":
          this.common.option.missingKey = "zero";
          return;
        case "error":
          this.common.option.missingKey = "error";
          return;
      }
    }
    throw new Error("unrecognized option: " + opt);
  }

  /** definedTemplates lists the defined templates, prefixed by "; defined templates are: ", or "". */
  definedTemplates(): string {
    const names = [...this.common.tmpl].filter(([, t]) => t.Tree?.Root).map(([name]) => sprintf("%q", name));
    return names.length === 0 ? "" : "; defined templates are: " + names.join(", ");
  }

  /** execute applies the template to data; function results that are Promises are awaited in order. */
  execute(data?: unknown): Promise<string> {
    return execute(this, data);
  }

  /** executeSync is execute without awaiting; it throws AsyncFunctionError if a function returns a Promise. */
  executeSync(data?: unknown): string {
    return executeSync(this, data);
  }

  /** executeTemplate applies the associated template with the given name. */
  executeTemplate(name: string, data?: unknown): Promise<string> {
    const tmpl = this.lookup(name);
    if (tmpl === undefined) {
      return Promise.reject(new ExecError(this.name, sprintf("template: no template %q associated with template %q", name, this.name)));
    }
    return tmpl.execute(data);
  }
}

