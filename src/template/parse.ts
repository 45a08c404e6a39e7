// Port of Go's text/template/parse/parse.go: items to a tree. Like Go's, it knows nothing of
// execution. Go panics and recovers inside the parser; we throw ParseError, whose message is Go's
// ("template: NAME:LINE: ...").
import type { Item, ItemType, Lexer, Pos } from "./lex.js";
import {
  itemBlock, itemBool, itemBreak, itemChar, itemCharConstant, itemComment, itemComplex, itemContinue, itemDeclare,
  itemAssign, itemDefine, itemDot, itemElse, itemEOF, itemEnd, itemError, itemField, itemIdentifier, itemIf,
  itemLeftDelim, itemLeftParen, itemNil, itemNumber, itemPipe, itemRange, itemRawString, itemRightDelim,
  itemRightParen, itemSpace, itemString, itemString_, itemTemplate, itemText, itemVariable, itemWith, lex,
} from "./lex.js";
import type { Node, TreeRef } from "./node.js";
import {
  ActionNode, BoolNode, BreakNode, ChainNode, CommandNode, CommentNode, ContinueNode, DotNode, ElseNode, EndNode,
  FieldNode, IdentifierNode, IfNode, ListNode, NilNode, NodeBool, NodeDot, NodeField, NodeNil, NodeNumber,
  NodeString, NodeVariable, PipeNode, RangeNode, StringNode, TemplateNode, TextNode, VariableNode, WithNode,
  newNumber, nodeElse, nodeEnd,
} from "./node.js";
import { sprintf } from "./fmt.js";
import { unquote } from "./strconv.js";

/** A parse error; message is exactly Go's. */
export class ParseError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "ParseError";
  }
}

export type Mode = number;
export const ParseComments: Mode = 1; // parse comments and add them to AST
export const SkipFuncCheck: Mode = 2; // do not check that functions are defined

/** maxStackDepth is the maximum depth permitted for nested parenthesized expressions. */
const maxStackDepth = 10000;
/** maxPipelineCmds is the maximum number of commands permitted for a single pipeline. */
const maxPipelineCmds = 100000;

export type FuncNames = Record<string, unknown> | Map<string, unknown> | null | undefined;

const emptyItem: Item = { typ: itemEOF, pos: 0, val: "", line: 0 };

/** Tree is the representation of a single parsed template. */
export class Tree implements TreeRef {
  ParseName = "";
  Root: ListNode | null = null;
  Mode: Mode = 0;
  text = "";
  // Parsing only; cleared after parse.
  funcs: FuncNames[] = [];
  lex: Lexer | null = null;
  token: [Item, Item, Item] = [emptyItem, emptyItem, emptyItem];
  peekCount = 0;
  vars: string[] = [];
  treeSet: Map<string, Tree> | null = null;
  actionLine = 0;
  rangeDepth = 0;
  stackDepth = 0;

  constructor(public Name: string, ...funcs: FuncNames[]) {
    this.funcs = funcs;
  }

  /** Copy returns a copy of the Tree. Any parsing state is discarded. */
  Copy(): Tree {
    const t = new Tree(this.Name);
    t.ParseName = this.ParseName;
    t.Root = this.Root?.CopyList() ?? null;
    t.text = this.text;
    return t;
  }

  next(): Item {
    if (this.peekCount > 0) this.peekCount--;
    else this.token[0] = this.lex!.nextItem();
    return this.token[this.peekCount];
  }

  backup(): void {
    this.peekCount++;
  }

  backup2(t1: Item): void {
    this.token[1] = t1;
    this.peekCount = 2;
  }

  backup3(t2: Item, t1: Item): void {
    // Reverse order: we're pushing back.
    this.token[1] = t1;
    this.token[2] = t2;
    this.peekCount = 3;
  }

  peek(): Item {
    if (this.peekCount > 0) return this.token[this.peekCount - 1];
    this.peekCount = 1;
    this.token[0] = this.lex!.nextItem();
    return this.token[0];
  }

  nextNonSpace(): Item {
    let token: Item;
    for (;;) {
      token = this.next();
      if (token.typ !== itemSpace) break;
    }
    return token;
  }

  peekNonSpace(): Item {
    const token = this.nextNonSpace();
    this.backup();
    return token;
  }

  /** ErrorContext returns "name:line:col" and the node's source text; col counts bytes, as Go's does. */
  ErrorContext(n: Node): { location: string; context: string } {
    const pos = n.Position();
    const tree = n.tree() ?? this;
    const text = tree.text.slice(0, pos);
    let byteNum = text.lastIndexOf("\n");
    if (byteNum === -1) byteNum = Buffer.byteLength(text, "utf8"); // On first line.
    else byteNum = Buffer.byteLength(text.slice(byteNum + 1), "utf8");
    const lineNum = 1 + (text.match(/\n/g)?.length ?? 0);
    return { location: `${tree.ParseName}:${lineNum}:${byteNum}`, context: n.String() };
  }

  errorf(format: string, ...args: unknown[]): never {
    this.Root = null;
    const f = sprintf("template: %s:%d: %s", this.ParseName, this.token[0].line, format);
    throw new ParseError(sprintf(f, ...args));
  }

  error(err: Error): never {
    return this.errorf("%s", err.message);
  }

  expect(expected: ItemType, context: string): Item {
    const token = this.nextNonSpace();
    if (token.typ !== expected) this.unexpected(token, context);
    return token;
  }

  expectOneOf(expected1: ItemType, expected2: ItemType, context: string): Item {
    const token = this.nextNonSpace();
    if (token.typ !== expected1 && token.typ !== expected2) this.unexpected(token, context);
    return token;
  }

  unexpected(token: Item, context: string): never {
    if (token.typ === itemError) {
      let extra = "";
      if (this.actionLine !== 0 && this.actionLine !== token.line) {
        extra = sprintf(" in action started at %s:%d", this.ParseName, this.actionLine);
        if (token.val.endsWith(" action")) extra = extra.slice(" in action".length); // avoid "action in action"
      }
      this.errorf("%s%s", itemString_(token), extra);
    }
    return this.errorf("unexpected %s in %s", itemString_(token), context);
  }

  startParse(funcs: FuncNames[], lexer: Lexer, treeSet: Map<string, Tree>): void {
    this.Root = null;
    this.lex = lexer;
    this.vars = ["$"];
    this.funcs = funcs;
    this.treeSet = treeSet;
    this.stackDepth = 0;
    lexer.options = {
      emitComment: (this.Mode & ParseComments) !== 0,
      breakOK: !this.hasFunction("break"),
      continueOK: !this.hasFunction("continue"),
    };
  }

  stopParse(): void {
    this.lex = null;
    this.vars = [];
    this.funcs = [];
    this.treeSet = null;
  }

  /**
   * Parse parses the template definition string to construct a representation of the template for
   * execution. Embedded template definitions are added to the treeSet map.
   */
  Parse(text: string, leftDelim: string, rightDelim: string, treeSet: Map<string, Tree>, ...funcs: FuncNames[]): Tree {
    try {
      this.ParseName = this.Name;
      const lexer = lex(this.Name, text, leftDelim, rightDelim);
      this.startParse(funcs, lexer, treeSet);
      this.text = text;
      this.parse();
      this.add();
      this.stopParse();
      return this;
    } catch (e) {
      this.stopParse();
      throw e;
    }
  }

  /** add adds tree to t.treeSet. */
  add(): void {
    const tree = this.treeSet!.get(this.Name);
    if (tree === undefined || IsEmptyTree(tree.Root)) {
      this.treeSet!.set(this.Name, this);
      return;
    }
    if (!IsEmptyTree(this.Root)) this.errorf("template: multiple definition of template %q", this.Name);
  }

  /** parse is the top-level parser for a template; like itemList, plus {{define}}. It runs to EOF. */
  parse(): void {
    this.Root = new ListNode(this, this.peek().pos);
    while (this.peek().typ !== itemEOF) {
      if (this.peek().typ === itemLeftDelim) {
        const delim = this.next();
        if (this.nextNonSpace().typ === itemDefine) {
          const newT = new Tree("definition"); // name will be updated once we know it.
          newT.text = this.text;
          newT.Mode = this.Mode;
          newT.ParseName = this.ParseName;
          newT.startParse(this.funcs, this.lex!, this.treeSet!);
          newT.parseDefinition();
          continue;
        }
        this.backup2(delim);
      }
      const n = this.textOrAction();
      if (n.Type() === nodeEnd || n.Type() === nodeElse) this.errorf("unexpected %s", n);
      else this.Root.append(n);
    }
  }

  /** parseDefinition parses {{define}} ... {{end}} and installs it in t.treeSet. */
  parseDefinition(): void {
    const context = "define clause";
    const name = this.expectOneOf(itemString, itemRawString, context);
    try {
      this.Name = unquote(name.val);
    } catch (e) {
      this.error(e as Error);
    }
    this.expect(itemRightDelim, context);
    const [root, end] = this.itemList();
    this.Root = root;
    if (end.Type() !== nodeEnd) this.errorf("unexpected %s in %s", end, context);
    this.add();
    this.stopParse();
  }

  /** itemList: textOrAction*, terminated by {{end}} or {{else}}, returned separately. */
  itemList(): [ListNode, Node] {
    const list = new ListNode(this, this.peekNonSpace().pos);
    while (this.peekNonSpace().typ !== itemEOF) {
      const n = this.textOrAction();
      if (n.Type() === nodeEnd || n.Type() === nodeElse) return [list, n];
      list.append(n);
    }
    return this.errorf("unexpected EOF");
  }

  /** textOrAction: text | comment | action */
  textOrAction(): Node {
    const token = this.nextNonSpace();
    switch (token.typ) {
      case itemText:
        return new TextNode(this, token.pos, token.val);
      case itemLeftDelim:
        this.actionLine = token.line;
        try {
          return this.action();
        } finally {
          this.actionLine = 0;
        }
      case itemComment:
        return new CommentNode(this, token.pos, token.val);
      default:
        return this.unexpected(token, "input");
    }
  }

  /** action: control | command ("|" command)*. The first word could be a keyword such as range. */
  action(): Node {
    const token = this.nextNonSpace();
    switch (token.typ) {
      case itemBlock: return this.blockControl();
      case itemBreak: return this.breakControl(token.pos, token.line);
      case itemContinue: return this.continueControl(token.pos, token.line);
      case itemElse: return this.elseControl();
      case itemEnd: return this.endControl();
      case itemIf: return this.ifControl();
      case itemRange: return this.rangeControl();
      case itemTemplate: return this.templateControl();
      case itemWith: return this.withControl();
    }
    this.backup();
    const t = this.peek();
    // Do not pop variables; they persist until "end".
    return new ActionNode(this, t.pos, t.line, this.pipeline("command", itemRightDelim));
  }

  breakControl(pos: Pos, line: number): Node {
    const token = this.nextNonSpace();
    if (token.typ !== itemRightDelim) this.unexpected(token, "{{break}}");
    if (this.rangeDepth === 0) this.errorf("{{break}} outside {{range}}");
    return new BreakNode(this, pos, line);
  }

  continueControl(pos: Pos, line: number): Node {
    const token = this.nextNonSpace();
    if (token.typ !== itemRightDelim) this.unexpected(token, "{{continue}}");
    if (this.rangeDepth === 0) this.errorf("{{continue}} outside {{range}}");
    return new ContinueNode(this, pos, line);
  }

  /** pipeline: declarations? command ('|' command)* */
  pipeline(context: string, end: ItemType): PipeNode {
    const token = this.peekNonSpace();
    const pipe = new PipeNode(this, token.pos, token.line);
    // Are there declarations or assignments?
    decls: for (;;) {
      const v = this.peekNonSpace();
      if (v.typ === itemVariable) {
        this.next();
        // Since space is a token, we need 3-token look-ahead here in the worst case: in "$x foo" we
        // need to read "foo" (as opposed to ":=") to know that $x is an argument variable.
        const tokenAfterVariable = this.peek();
        const next = this.peekNonSpace();
        if (next.typ === itemAssign || next.typ === itemDeclare) {
          pipe.IsAssign = next.typ === itemAssign;
          this.nextNonSpace();
          pipe.Decl.push(new VariableNode(this, v.pos, v.val));
          this.vars.push(v.val);
        } else if (next.typ === itemChar && next.val === ",") {
          this.nextNonSpace();
          pipe.Decl.push(new VariableNode(this, v.pos, v.val));
          this.vars.push(v.val);
          if (context === "range" && pipe.Decl.length < 2) {
            const p = this.peekNonSpace().typ;
            if (p === itemVariable || p === itemRightDelim || p === itemRightParen) continue decls; // second initialized variable in a range pipeline
            this.errorf("range can only initialize variables");
          }
          this.errorf("too many declarations in %s", context);
        } else if (tokenAfterVariable.typ === itemSpace) this.backup3(v, tokenAfterVariable);
        else this.backup2(v);
      }
      break;
    }
    for (;;) {
      const token = this.nextNonSpace();
      switch (token.typ) {
        case end:
          // At this point, the pipeline is complete
          this.checkPipeline(pipe, context);
          return pipe;
        case itemBool: case itemCharConstant: case itemComplex: case itemDot: case itemField: case itemIdentifier:
        case itemNumber: case itemNil: case itemRawString: case itemString: case itemVariable: case itemLeftParen:
          this.backup();
          pipe.append(this.command());
          if (pipe.Cmds.length > maxPipelineCmds) this.errorf("pipeline too long");
          break;
        default:
          this.unexpected(token, context);
      }
    }
  }

  checkPipeline(pipe: PipeNode, context: string): void {
    // Reject empty pipelines
    if (pipe.Cmds.length === 0) this.errorf("missing value for %s", context);
    // Only the first command of a pipeline can start with a non executable operand
    pipe.Cmds.slice(1).forEach((c, i) => {
      switch (c.Args[0].Type()) {
        case NodeBool: case NodeDot: case NodeNil: case NodeNumber: case NodeString:
          // With A|B|C, pipeline stage 2 is B
          this.errorf("non executable command in pipeline stage %d", i + 2);
      }
    });
  }

  parseControl(context: string): [Pos, number, PipeNode, ListNode, ListNode | null] {
    const mark = this.vars.length;
    try {
      const pipe = this.pipeline(context, itemRightDelim);
      if (context === "range") this.rangeDepth++;
      let [list, next] = this.itemList();
      if (context === "range") this.rangeDepth--;
      let elseList: ListNode | null = null;
      if (next.Type() === nodeElse) {
        // Special case for "else if" and "else with": {{if a}}_{{else if b}}_{{end}} is treated as
        // {{if a}}_{{else}}{{if b}}_{{end}}{{end}}; the inner {{end}} closes both.
        if (context === "if" && this.peek().typ === itemIf) {
          this.next(); // Consume the "if" token.
          elseList = new ListNode(this, next.Position());
          elseList.append(this.ifControl());
        } else if (context === "with" && this.peek().typ === itemWith) {
          this.next();
          elseList = new ListNode(this, next.Position());
          elseList.append(this.withControl());
        } else {
          [elseList, next] = this.itemList();
          if (next.Type() !== nodeEnd) this.errorf("expected end; found %s", next);
        }
      }
      list = list as ListNode;
      return [pipe.Position(), pipe.Line, pipe, list, elseList];
    } finally {
      this.vars.length = mark;
    }
  }

  ifControl(): Node {
    const [pos, line, pipe, list, elseList] = this.parseControl("if");
    return new IfNode(this, pos, line, pipe, list, elseList);
  }

  rangeControl(): Node {
    const [pos, line, pipe, list, elseList] = this.parseControl("range");
    return new RangeNode(this, pos, line, pipe, list, elseList);
  }

  withControl(): Node {
    const [pos, line, pipe, list, elseList] = this.parseControl("with");
    return new WithNode(this, pos, line, pipe, list, elseList);
  }

  endControl(): Node {
    return new EndNode(this, this.expect(itemRightDelim, "end").pos);
  }

  elseControl(): Node {
    const peek = this.peekNonSpace();
    // "{{else if ..." and "{{else with ..." are treated as "{{else}}{{if ..." and "{{else}}{{with ...".
    if (peek.typ === itemIf || peek.typ === itemWith) return new ElseNode(this, peek.pos, peek.line);
    const token = this.expect(itemRightDelim, "else");
    return new ElseNode(this, token.pos, token.line);
  }

  /** Block: {{block stringValue pipeline}}; the pipeline is mandatory. */
  blockControl(): Node {
    const context = "block clause";
    const token = this.nextNonSpace();
    const name = this.parseTemplateName(token, context);
    const pipe = this.pipeline(context, itemRightDelim);
    const block = new Tree(name); // name will be updated once we know it.
    block.text = this.text;
    block.Mode = this.Mode;
    block.ParseName = this.ParseName;
    block.startParse(this.funcs, this.lex!, this.treeSet!);
    const [root, end] = block.itemList();
    block.Root = root;
    if (end.Type() !== nodeEnd) this.errorf("unexpected %s in %s", end, context);
    block.add();
    block.stopParse();
    return new TemplateNode(this, token.pos, token.line, name, pipe);
  }

  /** Template: {{template stringValue pipeline}} */
  templateControl(): Node {
    const context = "template clause";
    const token = this.nextNonSpace();
    const name = this.parseTemplateName(token, context);
    let pipe: PipeNode | null = null;
    if (this.nextNonSpace().typ !== itemRightDelim) {
      this.backup();
      // Do not pop variables; they persist until "end".
      pipe = this.pipeline(context, itemRightDelim);
    }
    return new TemplateNode(this, token.pos, token.line, name, pipe);
  }

  parseTemplateName(token: Item, context: string): string {
    if (token.typ === itemString || token.typ === itemRawString) {
      try {
        return unquote(token.val);
      } catch (e) {
        return this.error(e as Error);
      }
    }
    return this.unexpected(token, context);
  }

  /** command: operand (space operand)*, up to a pipe character or right delimiter. */
  command(): CommandNode {
    const cmd = new CommandNode(this, this.peekNonSpace().pos);
    for (;;) {
      this.peekNonSpace(); // skip leading spaces.
      const operand = this.operand();
      if (operand !== null) cmd.append(operand);
      const token = this.next();
      if (token.typ === itemSpace) continue;
      if (token.typ === itemRightDelim || token.typ === itemRightParen) this.backup();
      else if (token.typ !== itemPipe) this.unexpected(token, "operand");
      break;
    }
    if (cmd.Args.length === 0) this.errorf("empty command");
    return cmd;
  }

  /** operand: term .Field*. A null return means the next item is not an operand. */
  operand(): Node | null {
    let node = this.term();
    if (node === null) return null;
    if (this.peek().typ === itemField) {
      const chain = new ChainNode(this, this.peek().pos, node);
      while (this.peek().typ === itemField) chain.Add(this.next().val);
      // Compatibility with the original API: fields after a field or variable extend it; literals
      // followed by a field are errors; anything else keeps the Chain node.
      switch (node.Type()) {
        case NodeField:
          node = new FieldNode(this, chain.Position(), chain.String());
          break;
        case NodeVariable:
          node = new VariableNode(this, chain.Position(), chain.String());
          break;
        case NodeBool: case NodeString: case NodeNumber: case NodeNil: case NodeDot:
          this.errorf("unexpected . after term %q", node.String());
          break;
        default:
          node = chain;
      }
    }
    return node;
  }

  /** term: literal | function | . | .Field | $ | '(' pipeline ')'. A null return means no term. */
  term(): Node | null {
    const token = this.nextNonSpace();
    switch (token.typ) {
      case itemIdentifier: {
        const checkFunc = (this.Mode & SkipFuncCheck) === 0;
        if (checkFunc && !this.hasFunction(token.val)) this.errorf("function %q not defined", token.val);
        return new IdentifierNode(this, token.pos, token.val);
      }
      case itemDot: return new DotNode(this, token.pos);
      case itemNil: return new NilNode(this, token.pos);
      case itemVariable: return this.useVar(token.pos, token.val);
      case itemField: return new FieldNode(this, token.pos, token.val);
      case itemBool: return new BoolNode(this, token.pos, token.val === "true");
      case itemCharConstant: case itemComplex: case itemNumber:
        try {
          return newNumber(this, token.pos, token.val, token.typ);
        } catch (e) {
          return this.error(e as Error);
        }
      case itemLeftParen:
        if (this.stackDepth >= maxStackDepth) this.errorf("max expression depth exceeded");
        this.stackDepth++;
        try {
          return this.pipeline("parenthesized pipeline", itemRightParen);
        } finally {
          this.stackDepth--;
        }
      case itemString: case itemRawString: {
        let s = "";
        try {
          s = unquote(token.val);
        } catch (e) {
          this.error(e as Error);
        }
        return new StringNode(this, token.pos, token.val, s);
      }
    }
    this.backup();
    return null;
  }

  /** hasFunction reports if a function name exists in the Tree's maps. */
  hasFunction(name: string): boolean {
    for (const funcMap of this.funcs) {
      if (!funcMap) continue;
      const v = funcMap instanceof Map ? funcMap.get(name) : Object.hasOwn(funcMap, name) ? funcMap[name] : undefined;
      if (v !== undefined && v !== null) return true;
    }
    return false;
  }

  useVar(pos: Pos, name: string): Node {
    const v = new VariableNode(this, pos, name);
    if (this.vars.includes(v.Ident[0])) return v;
    return this.errorf("undefined variable %q", v.Ident[0]);
  }
}

/** IsEmptyTree reports whether this tree (node) is empty of everything but space or comments. */
export const IsEmptyTree = (n: Node | null): boolean => {
  if (n === null) return true;
  if (n instanceof CommentNode) return true;
  if (n instanceof ListNode) return n.Nodes.every(IsEmptyTree);
  if (n instanceof TextNode) return n.Text.trim() === "";
  if (n instanceof ActionNode || n instanceof IfNode || n instanceof RangeNode || n instanceof TemplateNode || n instanceof WithNode) return false;
  if (n instanceof BreakNode || n instanceof ContinueNode) return false;
  throw new Error("unknown node: " + n.String());
};

/**
 * Parse returns a map from template name to Tree, created by parsing the templates described in
 * the argument string. The top-level template will be given the specified name.
 */
export const Parse = (name: string, text: string, leftDelim: string, rightDelim: string, ...funcs: FuncNames[]): Map<string, Tree> => {
  const treeSet = new Map<string, Tree>();
  const t = new Tree(name);
  t.text = text;
  t.Parse(text, leftDelim, rightDelim, treeSet, ...funcs);
  return treeSet;
};

