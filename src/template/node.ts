// Port of Go's text/template/parse/node.go: the parse tree. String() renders a node back to
// template source; it is what error messages show after "executing ... at <...>".
import type { Pos } from "./lex.js";
import { itemCharConstant, itemComplex } from "./lex.js";
import { parseFloat64, parseInt64, parseUint, quote, unquoteChar } from "./strconv.js";
import { GoComplex } from "./value.js";

/** The tree a node belongs to; the parser's Tree satisfies it (parse.ts imports node.ts, not the reverse). */
export interface TreeRef {
  Name: string;
  ParseName: string;
  text: string;
}

export type NodeType = number;

export const NodeText = 0; // Plain text.
export const NodeAction = 1; // A non-control action such as a field evaluation.
export const NodeBool = 2; // A boolean constant.
export const NodeChain = 3; // A sequence of field accesses.
export const NodeCommand = 4; // An element of a pipeline.
export const NodeDot = 5; // The cursor, dot.
export const nodeElse = 6; // An else action. Not added to tree.
export const nodeEnd = 7; // An end action. Not added to tree.
export const NodeField = 8; // A field or method name.
export const NodeIdentifier = 9; // An identifier; always a function name.
export const NodeIf = 10; // An if action.
export const NodeList = 11; // A list of Nodes.
export const NodeNil = 12; // An untyped nil constant.
export const NodeNumber = 13; // A numerical constant.
export const NodePipe = 14; // A pipeline of commands.
export const NodeRange = 15; // A range action.
export const NodeString = 16; // A string constant.
export const NodeTemplate = 17; // A template invocation action.
export const NodeVariable = 18; // A $ variable.
export const NodeWith = 19; // A with action.
export const NodeComment = 20; // A comment.
export const NodeBreak = 21; // A break action.
export const NodeContinue = 22; // A continue action.

export abstract class Node {
  abstract readonly type: NodeType;
  constructor(readonly tr: TreeRef | null, public pos: Pos) {}
  Type(): NodeType {
    return this.type;
  }
  Position(): Pos {
    return this.pos;
  }
  tree(): TreeRef | null {
    return this.tr;
  }
  String(): string {
    const sb: string[] = [];
    this.writeTo(sb);
    return sb.join("");
  }
  toString(): string {
    return this.String();
  }
  abstract writeTo(sb: string[]): void;
  abstract Copy(): Node;
}

export class ListNode extends Node {
  readonly type = NodeList;
  Nodes: Node[] = [];
  append(n: Node): void {
    this.Nodes.push(n);
  }
  writeTo(sb: string[]): void {
    for (const n of this.Nodes) n.writeTo(sb);
  }
  CopyList(): ListNode {
    const n = new ListNode(this.tr, this.pos);
    for (const elem of this.Nodes) n.append(elem.Copy());
    return n;
  }
  Copy(): Node {
    return this.CopyList();
  }
}

export class TextNode extends Node {
  readonly type = NodeText;
  constructor(tr: TreeRef | null, pos: Pos, public Text: string) {
    super(tr, pos);
  }
  override String(): string {
    return textFormat(this.Text);
  }
  writeTo(sb: string[]): void {
    sb.push(this.String());
  }
  Copy(): Node {
    return new TextNode(this.tr, this.pos, this.Text);
  }
}

/** Go's textFormat ("%s"; the parse tests switch it to "%q"). */
export let textFormat = (s: string): string => s;
export const setTextFormatQuoted = (quoted: boolean): void => {
  textFormat = quoted ? quote : (s) => s;
};

export class CommentNode extends Node {
  readonly type = NodeComment;
  constructor(tr: TreeRef | null, pos: Pos, public Text: string) {
    super(tr, pos);
  }
  writeTo(sb: string[]): void {
    sb.push("{{", this.Text, "}}");
  }
  Copy(): Node {
    return new CommentNode(this.tr, this.pos, this.Text);
  }
}

export class PipeNode extends Node {
  readonly type = NodePipe;
  IsAssign = false;
  Cmds: CommandNode[] = [];
  constructor(tr: TreeRef | null, pos: Pos, public Line: number, public Decl: VariableNode[] = []) {
    super(tr, pos);
  }
  append(command: CommandNode): void {
    this.Cmds.push(command);
  }
  writeTo(sb: string[]): void {
    if (this.Decl.length > 0) {
      this.Decl.forEach((v, i) => {
        if (i > 0) sb.push(", ");
        v.writeTo(sb);
      });
      sb.push(" := ");
    }
    this.Cmds.forEach((c, i) => {
      if (i > 0) sb.push(" | ");
      c.writeTo(sb);
    });
  }
  CopyPipe(): PipeNode {
    const n = new PipeNode(this.tr, this.pos, this.Line, this.Decl.map((d) => d.Copy() as VariableNode));
    n.IsAssign = this.IsAssign;
    for (const c of this.Cmds) n.append(c.Copy() as CommandNode);
    return n;
  }
  Copy(): Node {
    return this.CopyPipe();
  }
}

export class ActionNode extends Node {
  readonly type = NodeAction;
  constructor(tr: TreeRef | null, pos: Pos, public Line: number, public Pipe: PipeNode) {
    super(tr, pos);
  }
  writeTo(sb: string[]): void {
    sb.push("{{");
    this.Pipe.writeTo(sb);
    sb.push("}}");
  }
  Copy(): Node {
    return new ActionNode(this.tr, this.pos, this.Line, this.Pipe.CopyPipe());
  }
}

export class CommandNode extends Node {
  readonly type = NodeCommand;
  Args: Node[] = [];
  append(arg: Node): void {
    this.Args.push(arg);
  }
  writeTo(sb: string[]): void {
    this.Args.forEach((arg, i) => {
      if (i > 0) sb.push(" ");
      if (arg instanceof PipeNode) {
        sb.push("(");
        arg.writeTo(sb);
        sb.push(")");
        return;
      }
      arg.writeTo(sb);
    });
  }
  Copy(): Node {
    const n = new CommandNode(this.tr, this.pos);
    for (const c of this.Args) n.append(c.Copy());
    return n;
  }
}

export class IdentifierNode extends Node {
  readonly type = NodeIdentifier;
  constructor(tr: TreeRef | null, pos: Pos, public Ident: string) {
    super(tr, pos);
  }
  writeTo(sb: string[]): void {
    sb.push(this.Ident);
  }
  Copy(): Node {
    return new IdentifierNode(this.tr, this.pos, this.Ident);
  }
}

export class VariableNode extends Node {
  readonly type = NodeVariable;
  Ident: string[];
  constructor(tr: TreeRef | null, pos: Pos, ident: string | string[]) {
    super(tr, pos);
    this.Ident = typeof ident === "string" ? ident.split(".") : ident;
  }
  writeTo(sb: string[]): void {
    sb.push(this.Ident.join("."));
  }
  Copy(): Node {
    return new VariableNode(this.tr, this.pos, [...this.Ident]);
  }
}

export class DotNode extends Node {
  readonly type = NodeDot;
  writeTo(sb: string[]): void {
    sb.push(".");
  }
  Copy(): Node {
    return new DotNode(this.tr, this.pos);
  }
}

export class NilNode extends Node {
  readonly type = NodeNil;
  writeTo(sb: string[]): void {
    sb.push("nil");
  }
  Copy(): Node {
    return new NilNode(this.tr, this.pos);
  }
}

export class FieldNode extends Node {
  readonly type = NodeField;
  Ident: string[];
  constructor(tr: TreeRef | null, pos: Pos, ident: string | string[]) {
    super(tr, pos);
    this.Ident = typeof ident === "string" ? ident.slice(1).split(".") : ident; // drop leading period
  }
  writeTo(sb: string[]): void {
    for (const id of this.Ident) sb.push(".", id);
  }
  Copy(): Node {
    return new FieldNode(this.tr, this.pos, [...this.Ident]);
  }
}

export class ChainNode extends Node {
  readonly type = NodeChain;
  Field: string[] = [];
  constructor(tr: TreeRef | null, pos: Pos, public Node: Node) {
    super(tr, pos);
  }
  /** Add adds the named field (which should start with a period) to the end of the chain. */
  Add(field: string): void {
    if (field.length === 0 || field[0] !== ".") throw new Error("no dot in field");
    field = field.slice(1);
    if (field === "") throw new Error("empty field");
    this.Field.push(field);
  }
  writeTo(sb: string[]): void {
    if (this.Node instanceof PipeNode) {
      sb.push("(");
      this.Node.writeTo(sb);
      sb.push(")");
    } else this.Node.writeTo(sb);
    for (const f of this.Field) sb.push(".", f);
  }
  Copy(): Node {
    const c = new ChainNode(this.tr, this.pos, this.Node);
    c.Field = [...this.Field];
    return c;
  }
}

export class BoolNode extends Node {
  readonly type = NodeBool;
  constructor(tr: TreeRef | null, pos: Pos, public True: boolean) {
    super(tr, pos);
  }
  writeTo(sb: string[]): void {
    sb.push(this.True ? "true" : "false");
  }
  Copy(): Node {
    return new BoolNode(this.tr, this.pos, this.True);
  }
}

/** A numerical constant; like Go's, it records every type the literal can be. Ints are exact (bigint). */
export class NumberNode extends Node {
  readonly type = NodeNumber;
  IsInt = false;
  IsUint = false;
  IsFloat = false;
  IsComplex = false;
  Int64 = 0n;
  Uint64 = 0n;
  Float64 = 0;
  Complex128 = new GoComplex(0, 0);
  constructor(tr: TreeRef | null, pos: Pos, public Text: string) {
    super(tr, pos);
  }
  simplifyComplex(): void {
    this.IsFloat = this.Complex128.im === 0;
    if (this.IsFloat) {
      this.Float64 = this.Complex128.re;
      this.IsInt = Number.isInteger(this.Float64) && Math.abs(this.Float64) < 2 ** 63;
      if (this.IsInt) this.Int64 = BigInt(this.Float64);
      this.IsUint = Number.isInteger(this.Float64) && this.Float64 >= 0 && this.Float64 < 2 ** 64;
      if (this.IsUint) this.Uint64 = BigInt(this.Float64);
    }
  }
  writeTo(sb: string[]): void {
    sb.push(this.Text);
  }
  Copy(): Node {
    return Object.assign(new NumberNode(this.tr, this.pos, this.Text), this);
  }
}

const parseComplex = (text: string): GoComplex | undefined => {
  // Split "re+imi" at the sign that starts the imaginary part (not one inside an exponent).
  for (let i = text.length - 2; i > 0; i--) {
    const c = text[i];
    if ((c === "+" || c === "-") && !/[eEpP]/.test(text[i - 1])) {
      const re = parseFloat64(text.slice(0, i));
      const im = parseFloat64(text.slice(i, -1));
      if (re.ok && im.ok && text.endsWith("i")) return new GoComplex(re.value, im.value);
      return undefined;
    }
  }
  return undefined;
};

/** newNumber from node.go; throws an Error with Go's message on bad syntax. */
export const newNumber = (tr: TreeRef | null, pos: Pos, text: string, typ: number): NumberNode => {
  const n = new NumberNode(tr, pos, text);
  if (typ === itemCharConstant) {
    const { value, tail } = unquoteChar(text.slice(1), text.charCodeAt(0));
    if (tail !== "'") throw new Error(`malformed character constant: ${text}`);
    n.Int64 = BigInt(value);
    n.IsInt = true;
    n.Uint64 = BigInt(value);
    n.IsUint = true;
    n.Float64 = value; // odd but those are the rules.
    n.IsFloat = true;
    return n;
  }
  if (typ === itemComplex) {
    const c = parseComplex(text);
    if (!c) throw new Error(`expected integer`);
    n.IsComplex = true;
    n.Complex128 = c;
    n.simplifyComplex();
    return n;
  }
  // Imaginary constants can only be complex unless they are zero.
  if (text.length > 0 && text[text.length - 1] === "i") {
    const f = parseFloat64(text.slice(0, -1));
    if (f.ok) {
      n.IsComplex = true;
      n.Complex128 = new GoComplex(0, f.value);
      n.simplifyComplex();
      return n;
    }
  }
  // Do integer test first so we get 0x123 etc.
  const u = parseUint(text); // will fail for -0; fixed below.
  if (u.ok) {
    n.IsUint = true;
    n.Uint64 = u.value;
  }
  const i = parseInt64(text);
  if (i.ok) {
    n.IsInt = true;
    n.Int64 = i.value;
    if (i.value === 0n) {
      n.IsUint = true; // in case of -0.
      n.Uint64 = u.ok ? u.value : 0n;
    }
  }
  // If an integer extraction succeeded, promote the float.
  if (n.IsInt) {
    n.IsFloat = true;
    n.Float64 = Number(n.Int64);
  } else if (n.IsUint) {
    n.IsFloat = true;
    n.Float64 = Number(n.Uint64);
  } else {
    const f = parseFloat64(text);
    if (f.ok) {
      // If we parsed it as a float but it looks like an integer,
      // it's a huge number too large to fit in an int. Reject it.
      if (!/[.eEpP]/.test(text)) throw new Error(`integer overflow: ${quote(text)}`);
      n.IsFloat = true;
      n.Float64 = f.value;
      // If a floating-point extraction succeeded, extract the int if needed.
      if (!n.IsInt && Number.isInteger(f.value) && Math.abs(f.value) < 2 ** 63) {
        n.IsInt = true;
        n.Int64 = BigInt(f.value);
      }
      if (!n.IsUint && Number.isInteger(f.value) && f.value >= 0 && f.value < 2 ** 64) {
        n.IsUint = true;
        n.Uint64 = BigInt(f.value);
      }
    }
  }
  if (!n.IsInt && !n.IsUint && !n.IsFloat) throw new Error(`illegal number syntax: ${quote(text)}`);
  return n;
};

export class StringNode extends Node {
  readonly type = NodeString;
  constructor(tr: TreeRef | null, pos: Pos, public Quoted: string, public Text: string) {
    super(tr, pos);
  }
  writeTo(sb: string[]): void {
    sb.push(this.Quoted);
  }
  Copy(): Node {
    return new StringNode(this.tr, this.pos, this.Quoted, this.Text);
  }
}

export class EndNode extends Node {
  readonly type = nodeEnd;
  writeTo(sb: string[]): void {
    sb.push("{{end}}");
  }
  Copy(): Node {
    return new EndNode(this.tr, this.pos);
  }
}

export class ElseNode extends Node {
  readonly type = nodeElse;
  constructor(tr: TreeRef | null, pos: Pos, public Line: number) {
    super(tr, pos);
  }
  writeTo(sb: string[]): void {
    sb.push("{{else}}");
  }
  Copy(): Node {
    return new ElseNode(this.tr, this.pos, this.Line);
  }
}

/** BranchNode is the common representation of if, range, and with. */
export abstract class BranchNode extends Node {
  constructor(
    tr: TreeRef | null,
    pos: Pos,
    public Line: number,
    public Pipe: PipeNode,
    public List: ListNode,
    public ElseList: ListNode | null,
  ) {
    super(tr, pos);
  }
  abstract readonly keyword: string;
  writeTo(sb: string[]): void {
    sb.push("{{", this.keyword, " ");
    this.Pipe.writeTo(sb);
    sb.push("}}");
    this.List.writeTo(sb);
    if (this.ElseList !== null) {
      sb.push("{{else}}");
      this.ElseList.writeTo(sb);
    }
    sb.push("{{end}}");
  }
}

export class IfNode extends BranchNode {
  readonly type = NodeIf;
  readonly keyword = "if";
  Copy(): Node {
    return new IfNode(this.tr, this.pos, this.Line, this.Pipe.CopyPipe(), this.List.CopyList(), this.ElseList?.CopyList() ?? null);
  }
}

export class RangeNode extends BranchNode {
  readonly type = NodeRange;
  readonly keyword = "range";
  Copy(): Node {
    return new RangeNode(this.tr, this.pos, this.Line, this.Pipe.CopyPipe(), this.List.CopyList(), this.ElseList?.CopyList() ?? null);
  }
}

export class WithNode extends BranchNode {
  readonly type = NodeWith;
  readonly keyword = "with";
  Copy(): Node {
    return new WithNode(this.tr, this.pos, this.Line, this.Pipe.CopyPipe(), this.List.CopyList(), this.ElseList?.CopyList() ?? null);
  }
}

export class BreakNode extends Node {
  readonly type = NodeBreak;
  constructor(tr: TreeRef | null, pos: Pos, public Line: number) {
    super(tr, pos);
  }
  writeTo(sb: string[]): void {
    sb.push("{{break}}");
  }
  Copy(): Node {
    return new BreakNode(this.tr, this.pos, this.Line);
  }
}

export class ContinueNode extends Node {
  readonly type = NodeContinue;
  constructor(tr: TreeRef | null, pos: Pos, public Line: number) {
    super(tr, pos);
  }
  writeTo(sb: string[]): void {
    sb.push("{{continue}}");
  }
  Copy(): Node {
    return new ContinueNode(this.tr, this.pos, this.Line);
  }
}

/** TemplateNode represents a {{template}} action. */
export class TemplateNode extends Node {
  readonly type = NodeTemplate;
  constructor(tr: TreeRef | null, pos: Pos, public Line: number, public Name: string, public Pipe: PipeNode | null) {
    super(tr, pos);
  }
  writeTo(sb: string[]): void {
    sb.push("{{template ", quote(this.Name));
    if (this.Pipe !== null) {
      sb.push(" ");
      this.Pipe.writeTo(sb);
    }
    sb.push("}}");
  }
  Copy(): Node {
    return new TemplateNode(this.tr, this.pos, this.Line, this.Name, this.Pipe?.CopyPipe() ?? null);
  }
}
