// Port of Go's text/template/exec.go: walks the tree against data.
//
// Go's call is synchronous; ours may meet a function that returns a Promise (a secret lookup over
// HTTP). The walk is written once, as generators: a call that returns a Promise yields it, and the
// driver either awaits it (execute) or, on the synchronous path, reports that the template needs
// execute(). Calls are awaited one at a time in template order, so output order is deterministic.
import { sprintf } from "./fmt.js";
import type { TemplateFunction } from "./funcs.js";
import { call, findFunction, indirect, indirectInterface, isTrue, truth } from "./funcs.js";
import type { Node } from "./node.js";
import {
  ActionNode, BoolNode, BreakNode, ChainNode, CommandNode, CommentNode, ContinueNode, DotNode, FieldNode,
  IdentifierNode, IfNode, ListNode, NilNode, NodeNil, NodeWith, NumberNode, PipeNode, RangeNode, StringNode,
  TemplateNode, TextNode, VariableNode, WithNode, NodeIf,
} from "./node.js";
import type { Tree } from "./parse.js";
import {
  GoNumber, assignableTo, canBeNil, elemType, isFloatKind, isIntKind, isUintKind, keyType, kindOf, kindOfType,
  makeFloat, makeInt, methodByName, signatureOf, typeOf, zeroOf,
} from "./value.js";
import type { FloatKind, IntKind, UintKind } from "./value.js";

/**
 * maxExecDepth specifies the maximum stack depth of templates within templates, Go's figure. A
 * JavaScript stack overflow before it is reported with the same message (see walkTemplate).
 */
export const maxExecDepth = 100000;

export type MissingKeyAction = "invalid" | "zero" | "error";

/** What execution needs from a template: Go's *Template with its common part. */
export interface ExecTemplate {
  Name(): string;
  tree(): Tree | null;
  lookup(name: string): ExecTemplate | undefined;
  missingKey(): MissingKeyAction;
  execFuncs(): Map<string, TemplateFunction>;
}

/**
 * ExecError is returned when Execute has an error evaluating its template. Its message is Go's
 * ("template: NAME:LINE:COL: executing \"NAME\" at <NODE>: ..."); cause is the function's error, if any.
 */
export class ExecError extends Error {
  constructor(readonly templateName: string, message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "ExecError";
  }
}

/** Thrown by executeSync when a template function returned a Promise. */
export class AsyncFunctionError extends Error {
  constructor() {
    super("template: a function returned a Promise; use execute() instead of executeSync()");
    this.name = "AsyncFunctionError";
  }
}

interface Variable {
  name: string;
  value: unknown;
}

type Gen<T> = Generator<unknown, T, unknown>;

const missingVal = Symbol("missingVal");
type Final = unknown;

const breakSignal = Symbol("break");
const continueSignal = Symbol("continue");

/**
 * A value held in an interface{}: a range element of a []interface {} or map[string]interface {}, or
 * a map element in the middle of a field chain. Go reports its type as "interface {}" in errors
 * about fields, so we carry that until the value is used.
 */
class Boxed {
  constructor(readonly v: unknown) {}
}
const unbox = (x: unknown): unknown => (x instanceof Boxed ? x.v : x);
const boxIfInterface = (elem: unknown, containerType: string): unknown =>
  elem !== null && elem !== undefined && elemType(containerType) === "interface {}" ? new Boxed(elem) : elem;

const isPromise = (v: unknown): v is PromiseLike<unknown> =>
  typeof v === "object" && v !== null && typeof (v as { then?: unknown }).then === "function";

/** state represents the state of an execution, kept apart so executions can run in parallel. */
class State {
  node: Node | null = null;
  templateNode: Node | null = null;
  constructor(
    public tmpl: ExecTemplate,
    readonly wr: string[],
    public vars: Variable[],
    public depth: number,
  ) {}

  push(name: string, value: unknown): void {
    this.vars.push({ name, value });
  }

  mark(): number {
    return this.vars.length;
  }

  pop(mark: number): void {
    this.vars.length = mark;
  }

  /** setVar overwrites the last declared variable with the given name. */
  setVar(name: string, value: unknown): void {
    for (let i = this.mark() - 1; i >= 0; i--) {
      if (this.vars[i].name === name) {
        this.vars[i].value = value;
        return;
      }
    }
    this.errorf("undefined variable: %s", name);
  }

  /** setTopVar overwrites the top-nth variable on the stack. Used by range iterations. */
  setTopVar(n: number, value: unknown): void {
    this.vars[this.vars.length - n].value = value;
  }

  varValue(name: string): unknown {
    for (let i = this.mark() - 1; i >= 0; i--) if (this.vars[i].name === name) return this.vars[i].value;
    return this.errorf("undefined variable: %s", name);
  }

  at(node: Node): void {
    this.node = node;
  }

  /** errorf records an ExecError and terminates processing. */
  errorf(format: string, ...args: unknown[]): never {
    const name = doublePercent(this.tmpl.Name());
    format = format.replaceAll("%w", "%v"); // Go's Errorf verb for wrapping; the cause goes in ErrorOptions.
    let f: string;
    if (this.node === null) f = sprintf("template: %s: %s", name, format);
    else {
      const tree = this.tmpl.tree();
      const { location, context } = tree!.ErrorContext(this.node);
      f = sprintf("template: %s: executing %q at <%s>: %s", location, name, doublePercent(context), format);
    }
    const cause = args.find((a) => a instanceof Error) as Error | undefined;
    throw new ExecError(this.tmpl.Name(), sprintf(f, ...args), cause ? { cause } : undefined);
  }

  // Walk functions step through the major pieces of the template structure, generating output as they go.

  *walk(dot: unknown, node: Node): Gen<void> {
    this.at(node);
    if (node instanceof ActionNode) {
      // Do not pop variables so they persist until next end.
      // Also, if the action declares variables, don't print the result.
      const val = yield* this.evalPipeline(dot, node.Pipe);
      if (node.Pipe.Decl.length === 0) this.printValue(node, val);
    } else if (node instanceof BreakNode) throw breakSignal;
    else if (node instanceof CommentNode) {
      // nothing
    } else if (node instanceof ContinueNode) throw continueSignal;
    else if (node instanceof IfNode) yield* this.walkIfOrWith(NodeIf, dot, node.Pipe, node.List, node.ElseList);
    else if (node instanceof ListNode) for (const n of node.Nodes) yield* this.walk(dot, n);
    else if (node instanceof RangeNode) yield* this.walkRange(dot, node);
    else if (node instanceof TemplateNode) yield* this.walkTemplate(dot, node);
    else if (node instanceof TextNode) this.wr.push(node.Text);
    else if (node instanceof WithNode) yield* this.walkIfOrWith(NodeWith, dot, node.Pipe, node.List, node.ElseList);
    else this.errorf("unknown node: %s", node);
  }

  /** walkIfOrWith walks an 'if' or 'with' node; they differ only in that 'with' sets dot. */
  *walkIfOrWith(typ: number, dot: unknown, pipe: PipeNode, list: ListNode, elseList: ListNode | null): Gen<void> {
    const mark = this.mark();
    try {
      const val = yield* this.evalPipeline(dot, pipe);
      const [t, ok] = isTrue(indirectInterface(val));
      if (!ok) this.errorf("if/with can't use %v", val);
      if (t) {
        if (typ === NodeWith) yield* this.walk(val, list);
        else yield* this.walk(dot, list);
      } else if (elseList !== null) yield* this.walk(dot, elseList);
    } finally {
      this.pop(mark);
    }
  }

  *walkRange(dot: unknown, r: RangeNode): Gen<void> {
    this.at(r);
    const outer = this.mark();
    try {
      const [val] = indirect(yield* this.evalPipeline(dot, r.Pipe));
      // mark top of stack before any variables in the body are pushed.
      const mark = this.mark();
      const self = this;
      const oneIteration = function* (index: unknown, elem: unknown): Gen<void> {
        if (r.Pipe.Decl.length > 0) {
          if (r.Pipe.IsAssign) {
            // With two variables, index comes first. With one, we use the element.
            if (r.Pipe.Decl.length > 1) self.setVar(r.Pipe.Decl[0].Ident[0], index);
            else self.setVar(r.Pipe.Decl[0].Ident[0], elem);
          } else self.setTopVar(1, elem); // Set top var (lexically the second if there are two) to the element.
        }
        if (r.Pipe.Decl.length > 1) {
          if (r.Pipe.IsAssign) self.setVar(r.Pipe.Decl[1].Ident[0], elem);
          else self.setTopVar(2, index); // Set next var (lexically the first if there are two) to the index.
        }
        try {
          yield* self.walk(elem, r.List);
        } catch (e) {
          if (e !== continueSignal) throw e;
        } finally {
          self.pop(mark);
        }
      };
      const k = kindOf(val);
      try {
        if (isIntKind(k) || isUintKind(k)) {
          if (r.Pipe.Decl.length > 1) this.errorf("can't use %v to iterate over more than one variable", val);
          const n = val instanceof GoNumber ? BigInt(val.value) : BigInt(val as number);
          if (n > 0n) {
            for (let i = 0n; i < n; i++) yield* oneIteration(undefined, makeInt(i, k as IntKind | UintKind));
            return;
          }
        } else if (k === "slice") {
          const a = val as unknown[];
          if (a.length > 0) {
            const t = typeOf(a);
            for (let i = 0; i < a.length; i++) yield* oneIteration(i, boxIfInterface(a[i], t));
            return;
          }
        } else if (k === "map") {
          const m = val as Record<string, unknown>;
          const keys = Object.keys(m).filter((key) => m[key] !== undefined).sort(compareKeys);
          if (keys.length > 0) {
            const t = typeOf(m);
            for (const key of keys) yield* oneIteration(key, boxIfInterface(m[key], t));
            return;
          }
        } else if (k !== "invalid") {
          // An invalid value is likely a nil map, etc. and acts like an empty map.
          this.errorf("range can't iterate over %v", val);
        }
      } catch (e) {
        if (e === breakSignal) return;
        throw e;
      }
      if (r.ElseList !== null) yield* this.walk(dot, r.ElseList);
    } finally {
      this.pop(outer);
    }
  }

  *walkTemplate(dot: unknown, t: TemplateNode): Gen<void> {
    this.at(t);
    const tmpl = this.tmpl.lookup(t.Name);
    if (tmpl === undefined) this.errorf("template %q not defined", t.Name);
    if (this.depth === maxExecDepth) this.errorf("exceeded maximum template depth (%v)", maxExecDepth);
    // Variables declared by the pipeline persist.
    dot = yield* this.evalPipeline(dot, t.Pipe);
    const newState = new State(tmpl, this.wr, [{ name: "$", value: dot }], this.depth + 1);
    // No dynamic scoping: template invocations inherit no variables.
    try {
      const root = tmpl.tree()?.Root;
      if (root) yield* newState.walk(dot, root);
    } catch (e) {
      if (e instanceof RangeError && /call stack/.test(e.message)) {
        this.at(t);
        this.errorf("exceeded maximum template depth (%v)", maxExecDepth);
      }
      throw e;
    }
  }

  // Eval functions evaluate pipelines, commands, and their elements and extract values from the data
  // structure by examining fields, calling methods, and so on. Printing happens only in walk.

  /**
   * evalPipeline returns the value acquired by evaluating a pipeline. A declared variable is pushed;
   * callers pop the stack when done.
   */
  *evalPipeline(dot: unknown, pipe: PipeNode | null): Gen<unknown> {
    if (pipe === null) return undefined;
    this.at(pipe);
    let value: unknown = missingVal;
    for (const cmd of pipe.Cmds) {
      value = yield* this.evalCommand(dot, cmd, value); // previous value is this one's final arg.
      // If the object has type interface{}, dig down one level to the thing inside.
      if (value === null) value = undefined;
    }
    for (const variable of pipe.Decl) {
      if (pipe.IsAssign) this.setVar(variable.Ident[0], value);
      else this.push(variable.Ident[0], value);
    }
    return value;
  }

  notAFunction(args: Node[] | null, final: Final): void {
    if ((args !== null && args.length > 1) || final !== missingVal) this.errorf("can't give argument to non-function %s", args![0]);
  }

  *evalCommand(dot: unknown, cmd: CommandNode, final: Final): Gen<unknown> {
    const firstWord = cmd.Args[0];
    if (firstWord instanceof FieldNode) return yield* this.evalFieldNode(dot, firstWord, cmd.Args, final);
    if (firstWord instanceof ChainNode) return yield* this.evalChainNode(dot, firstWord, cmd.Args, final);
    if (firstWord instanceof IdentifierNode) return yield* this.evalFunction(dot, firstWord, cmd, cmd.Args, final); // Must be a function.
    if (firstWord instanceof PipeNode) {
      // Parenthesized pipeline. The arguments are all inside the pipeline; final must be absent.
      this.notAFunction(cmd.Args, final);
      return yield* this.evalPipeline(dot, firstWord);
    }
    if (firstWord instanceof VariableNode) return yield* this.evalVariableNode(dot, firstWord, cmd.Args, final);
    this.at(firstWord);
    this.notAFunction(cmd.Args, final);
    if (firstWord instanceof BoolNode) return firstWord.True;
    if (firstWord instanceof DotNode) return unbox(dot);
    if (firstWord instanceof NilNode) this.errorf("nil is not a command");
    if (firstWord instanceof NumberNode) return this.idealConstant(firstWord);
    if (firstWord instanceof StringNode) return firstWord.Text;
    return this.errorf("can't evaluate command %q", firstWord);
  }

  /**
   * idealConstant returns the value of a number in a context where we don't know the type: the
   * syntax decides, by Go's rules. There is no uint ideal constant: the value must fit an int.
   */
  idealConstant(constant: NumberNode): unknown {
    this.at(constant);
    if (constant.IsComplex) return constant.Complex128; // incontrovertible.
    if (constant.IsFloat && !isHexInt(constant.Text) && !isRuneInt(constant.Text) && /[.eEpP]/.test(constant.Text)) {
      return makeFloat(constant.Float64);
    }
    if (constant.IsInt) return makeInt(constant.Int64);
    if (constant.IsUint) this.errorf("%s overflows int", constant.Text);
    return undefined;
  }

  *evalFieldNode(dot: unknown, field: FieldNode, args: Node[] | null, final: Final): Gen<unknown> {
    this.at(field);
    return yield* this.evalFieldChain(dot, dot, field, field.Ident, args, final);
  }

  *evalChainNode(dot: unknown, chain: ChainNode, args: Node[] | null, final: Final): Gen<unknown> {
    this.at(chain);
    if (chain.Field.length === 0) this.errorf("internal error: no fields in evalChainNode");
    if (chain.Node.Type() === NodeNil) this.errorf("indirection through explicit nil in %s", chain);
    // (pipe).Field1.Field2 has pipe as .Node, fields as .Field. Eval the pipeline, then the fields.
    const pipe = yield* this.evalArg(dot, null, chain.Node);
    return yield* this.evalFieldChain(dot, pipe, chain, chain.Field, args, final);
  }

  *evalVariableNode(dot: unknown, variable: VariableNode, args: Node[] | null, final: Final): Gen<unknown> {
    // $x.Field has $x as the first ident, Field as the second. Eval the var, then the fields.
    this.at(variable);
    const value = this.varValue(variable.Ident[0]);
    if (variable.Ident.length === 1) {
      this.notAFunction(args, final);
      return unbox(value);
    }
    return yield* this.evalFieldChain(dot, value, variable, variable.Ident.slice(1), args, final);
  }

  /**
   * evalFieldChain evaluates .X.Y.Z possibly followed by arguments. dot is the environment in which
   * to evaluate arguments, while receiver is the value being walked along the chain.
   */
  *evalFieldChain(dot: unknown, receiver: unknown, node: Node, ident: string[], args: Node[] | null, final: Final): Gen<unknown> {
    const n = ident.length;
    for (let i = 0; i < n - 1; i++) receiver = yield* this.evalField(dot, ident[i], node, null, missingVal, receiver);
    // Now if it's a method, it gets the arguments.
    return unbox(yield* this.evalField(dot, ident[n - 1], node, args, final, receiver));
  }

  *evalFunction(dot: unknown, node: IdentifierNode, cmd: Node, args: Node[] | null, final: Final): Gen<unknown> {
    this.at(node);
    const name = node.Ident;
    const found = findFunction(name, this.tmpl.execFuncs());
    if (!found) this.errorf("%q is not a defined function", name);
    return yield* this.evalCall(dot, found.fn, found.isBuiltin, cmd, name, args, final);
  }

  /** evalField evaluates an expression like (.Field) or (.Field arg1 arg2). */
  *evalField(dot: unknown, fieldName: string, node: Node, args: Node[] | null, final: Final, receiver: unknown): Gen<unknown> {
    if (receiver === undefined) {
      // Treat invalid value as missing map key.
      if (this.tmpl.missingKey() === "error") this.errorf("nil data; no entry for key %q", fieldName);
      return undefined;
    }
    const typ = receiver instanceof Boxed ? "interface {}" : typeOf(receiver);
    const [rcv, isNil] = indirect(unbox(receiver));
    if (isNil) {
      // Calling a method on a nil interface can't work.
      this.errorf("nil pointer evaluating %s.%s", typ, fieldName);
    }
    const method = methodByName(rcv, fieldName);
    if (method) return yield* this.evalCall(dot, method, false, node, fieldName, args, final);
    const hasArgs = (args !== null && args.length > 1) || final !== missingVal;
    // It's not a method; must be a field of a struct or an element of a map.
    const k = kindOf(rcv);
    if (k === "struct") {
      const o = rcv as Record<string, unknown>;
      if (Object.hasOwn(o, fieldName)) {
        if (!/^\p{Lu}/u.test(fieldName)) this.errorf("%s is an unexported field of struct type %s", fieldName, typ);
        // If it's a function, we must call it.
        if (hasArgs) this.errorf("%s has arguments but cannot be invoked as function", fieldName);
        return o[fieldName];
      }
    } else if (k === "map") {
      // If it's a map, attempt to use the field name as a key.
      const mapType = typeOf(rcv);
      const kt = keyType(mapType);
      if (kt === "string" || kt === "interface {}") {
        if (hasArgs) this.errorf("%s is not a method but has arguments", fieldName);
        const o = rcv as Record<string, unknown>;
        let result = Object.hasOwn(o, fieldName) ? o[fieldName] : undefined;
        if (result === undefined) {
          switch (this.tmpl.missingKey()) {
            case "invalid": break; // Just use the invalid value.
            case "zero": result = zeroOf(elemType(mapType)); break;
            case "error": this.errorf("map has no entry for key %q", fieldName);
          }
        }
        return boxIfInterface(result, mapType);
      }
    }
    return this.errorf("can't evaluate field %s in type %s", fieldName, typ);
  }

  /**
   * evalCall executes a function or method call. If it's a method, fun already has the receiver
   * bound. The arg list, if non-null, includes arg[0] as the function itself, shell style.
   */
  *evalCall(dot: unknown, fun: TemplateFunction, isBuiltin: boolean, node: Node, name: string, argNodes: Node[] | null, final: Final): Gen<unknown> {
    const args = argNodes !== null ? argNodes.slice(1) : []; // Zeroth arg is function name/node; not passed to function.
    const sig = signatureOf(fun);
    let numIn = args.length;
    if (final !== missingVal) numIn++;
    let numFixed = args.length;
    if (sig.variadic) {
      numFixed = sig.in.length - 1; // last arg is the variadic one.
      if (numIn < numFixed) this.errorf("wrong number of args for %s: want at least %d got %d", name, sig.in.length - 1, args.length);
    } else if (numIn !== sig.in.length) this.errorf("wrong number of args for %s: want %d got %d", name, sig.in.length, numIn);

    // Special case for builtin and/or, which short-circuit.
    if (isBuiltin && (name === "and" || name === "or")) {
      const argType = sig.in[0];
      let v: unknown = undefined;
      for (const arg of args) {
        v = yield* this.evalArg(dot, argType, arg);
        if (truth(v) === (name === "or")) return v;
      }
      // The last argument to and/or is coming from the pipeline. We didn't short circuit on an
      // earlier argument, so we are going to return this one, after checking its type.
      if (final !== missingVal) v = this.validateType(final, argType);
      return v;
    }

    // Build the arg list. Args must be evaluated. Fixed args first.
    const argv: unknown[] = new Array(numIn);
    let i = 0;
    for (; i < numFixed && i < args.length; i++) argv[i] = yield* this.evalArg(dot, sig.in[i], args[i]);
    // Now the ... args.
    if (sig.variadic) {
      const argType = sig.in[sig.in.length - 1];
      for (; i < args.length; i++) argv[i] = yield* this.evalArg(dot, argType, args[i]);
    }
    // Add final value if necessary.
    if (final !== missingVal) {
      let t = sig.in[sig.in.length - 1];
      // The added final argument may correspond to a fixed parameter of a variadic function.
      if (sig.variadic && numIn - 1 < numFixed) t = sig.in[numIn - 1];
      argv[i] = this.validateType(final, t);
    }

    let f: (...a: unknown[]) => unknown = fun as (...a: unknown[]) => unknown;
    // Special case for the "call" builtin: insert the name of the callee function as the first argument.
    if (isBuiltin && name === "call") {
      const calleeName = args.length === 0 ? sprintf("%v", final) : args[0].String();
      argv.unshift(calleeName);
      f = call as (...a: unknown[]) => unknown;
    }

    let v: unknown;
    try {
      v = f(...argv);
      if (isPromise(v)) v = yield v;
    } catch (e) {
      if (e instanceof ExecError) throw e;
      // If we have an error that is not nil, stop execution and return that error to the caller.
      const err = e instanceof Error ? e : new Error(sprintf("%v", e));
      this.at(node);
      this.errorf("error calling %s: %w", name, err);
    }
    if (v === undefined && sig.out === "interface {}") v = null;
    return v;
  }

  /** validateType guarantees that the value is valid and assignable to the type. */
  validateType(value: unknown, typ: string | null): unknown {
    if (value === undefined) {
      if (typ === null) return undefined; // An untyped nil interface{}. Accept as a proper nil value.
      if (canBeNil(typ)) return zeroOf(typ); // Like above, but use the zero value of the non-nil type.
      this.errorf("invalid value; expected %s", typ);
    }
    if (typ === "reflect.Value" || typ === null) return value;
    if (!assignableTo(value, typ)) this.errorf("wrong type for value; expected %s; got %s", typ, typeOf(value));
    return value;
  }

  *evalArg(dot: unknown, typ: string | null, n: Node): Gen<unknown> {
    this.at(n);
    if (n instanceof DotNode) return this.validateType(unbox(dot), typ);
    if (n instanceof NilNode) {
      if (typ !== null && canBeNil(typ)) return zeroOf(typ);
      this.errorf("cannot assign nil to %s", typ);
    }
    if (n instanceof FieldNode) return this.validateType(yield* this.evalFieldNode(dot, n, [n], missingVal), typ);
    if (n instanceof VariableNode) return this.validateType(yield* this.evalVariableNode(dot, n, null, missingVal), typ);
    if (n instanceof PipeNode) return this.validateType(yield* this.evalPipeline(dot, n), typ);
    if (n instanceof IdentifierNode) return this.validateType(yield* this.evalFunction(dot, n, n, null, missingVal), typ);
    if (n instanceof ChainNode) return this.validateType(yield* this.evalChainNode(dot, n, null, missingVal), typ);
    const k = typ === null ? "invalid" : kindOfType(typ);
    if (k === "bool") return this.evalBool(n);
    if (k === "complex128") return this.evalComplex(n);
    if (isFloatKind(k)) return this.evalFloat(k as FloatKind, n);
    if (isIntKind(k)) return this.evalInteger(k as IntKind, n);
    if (k === "interface" && typ === "interface {}") return yield* this.evalEmptyInterface(dot, n);
    if (k === "reflect") return yield* this.evalEmptyInterface(dot, n);
    if (k === "string") return this.evalString(n);
    if (isUintKind(k)) return this.evalUnsignedInteger(k as UintKind, n);
    return this.errorf("can't handle %s for arg of type %s", n, typ);
  }

  evalBool(n: Node): unknown {
    this.at(n);
    if (n instanceof BoolNode) return n.True;
    return this.errorf("expected bool; found %s", n);
  }

  evalString(n: Node): unknown {
    this.at(n);
    if (n instanceof StringNode) return n.Text;
    return this.errorf("expected string; found %s", n);
  }

  evalInteger(kind: IntKind, n: Node): unknown {
    this.at(n);
    if (n instanceof NumberNode && n.IsInt) return makeInt(n.Int64, kind);
    return this.errorf("expected integer; found %s", n);
  }

  evalUnsignedInteger(kind: UintKind, n: Node): unknown {
    this.at(n);
    if (n instanceof NumberNode && n.IsUint) return makeInt(n.Uint64, kind);
    return this.errorf("expected unsigned integer; found %s", n);
  }

  evalFloat(kind: FloatKind, n: Node): unknown {
    this.at(n);
    if (n instanceof NumberNode && n.IsFloat) return makeFloat(n.Float64, kind);
    return this.errorf("expected float; found %s", n);
  }

  evalComplex(n: Node): unknown {
    if (n instanceof NumberNode && n.IsComplex) return n.Complex128;
    return this.errorf("expected complex; found %s", n);
  }

  *evalEmptyInterface(dot: unknown, n: Node): Gen<unknown> {
    this.at(n);
    if (n instanceof BoolNode) return n.True;
    if (n instanceof DotNode) return unbox(dot);
    if (n instanceof FieldNode) return yield* this.evalFieldNode(dot, n, null, missingVal);
    if (n instanceof IdentifierNode) return yield* this.evalFunction(dot, n, n, null, missingVal);
    if (n instanceof NilNode) this.errorf("evalEmptyInterface: nil (can't happen)"); // NilNode is handled in evalArg
    if (n instanceof NumberNode) return this.idealConstant(n);
    if (n instanceof StringNode) return n.Text;
    if (n instanceof VariableNode) return yield* this.evalVariableNode(dot, n, null, missingVal);
    if (n instanceof PipeNode) return yield* this.evalPipeline(dot, n);
    return this.errorf("can't handle assignment of %s to empty interface argument", n);
  }

  /** printValue writes the textual representation of the value to the output of the template. */
  printValue(n: Node, v: unknown): void {
    this.at(n);
    const [iface, ok] = printableValue(v);
    if (!ok) this.errorf("can't print %s of type %s", n, typeOf(v));
    this.wr.push(sprintf("%v", iface));
  }
}

const isRuneInt = (s: string): boolean => s.length > 0 && s[0] === "'";
const isHexInt = (s: string): boolean => s.length > 2 && s[0] === "0" && (s[1] === "x" || s[1] === "X") && !/[pP]/.test(s);

const compareKeys = (a: string, b: string): number => Buffer.compare(Buffer.from(a, "utf8"), Buffer.from(b, "utf8"));

/** doublePercent returns the string with %'s replaced by %%, so it can be used in a format. */
const doublePercent = (str: string): string => str.replaceAll("%", "%%");

/** printableValue returns the value to hand to fmt, and false for values that cannot be printed. */
export const printableValue = (v: unknown): [unknown, boolean] => {
  if (v === undefined) return ["<no value>", true];
  if (typeof v === "function" && !methodByName(v, "String")) return [undefined, false];
  return [v, true];
};

type Driver<T> = (gen: Gen<T>) => T | Promise<T>;

const runSync = <T>(gen: Gen<T>): T => {
  let r = gen.next();
  while (!r.done) {
    if (isPromise(r.value)) {
      // Let the promise settle quietly; its result belongs to nobody now.
      Promise.resolve(r.value).catch(() => undefined);
      gen.return(undefined as T);
      throw new AsyncFunctionError();
    }
    r = gen.next(r.value);
  }
  return r.value;
};

const runAsync = async <T>(gen: Gen<T>): Promise<T> => {
  let r = gen.next();
  while (!r.done) {
    let sent: unknown;
    try {
      sent = await r.value;
    } catch (e) {
      r = gen.throw(e);
      continue;
    }
    r = gen.next(sent);
  }
  return r.value;
};

const executeWith = <R>(t: ExecTemplate, data: unknown, drive: (gen: Gen<string>) => R): R => {
  const value = data === null ? undefined : data;
  const wr: string[] = [];
  const state = new State(t, wr, [{ name: "$", value }], 0);
  const gen = (function* (): Gen<string> {
    const tree = t.tree();
    if (tree === null || tree.Root === null) state.errorf("%q is an incomplete or empty template", t.Name());
    try {
      yield* state.walk(value, tree!.Root!);
    } catch (e) {
      if (e instanceof ExecError) Object.defineProperty(e, "partialOutput", { value: wr.join(""), enumerable: false });
      throw e;
    }
    return wr.join("");
  })();
  return drive(gen);
};

/** Executes t against data; awaits every function result that is a Promise, in template order. */
export const execute = (t: ExecTemplate, data: unknown): Promise<string> => executeWith(t, data, runAsync as Driver<string>) as Promise<string>;

/** Executes t synchronously; throws AsyncFunctionError if a function returns a Promise. */
export const executeSync = (t: ExecTemplate, data: unknown): string => executeWith(t, data, runSync);

/** IsTrue reports whether the value is 'true' by the rules of if, and whether it has a truth value. */
export const IsTrue = (val: unknown): [boolean, boolean] => isTrue(val);
